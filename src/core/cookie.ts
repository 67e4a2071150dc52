import type { CookieRecord } from "../store/types.js";
import { TesseraError } from "./errors.js";
import { warnOnce } from "./warnings.js";

export type SameSite = boolean | "lax" | "strict" | "none";

/** Options of the session cookie, as express-session 1.19 takes them. */
export interface CookieOptions {
  /**
   * Lifetime in ms from each response that sets the cookie. `null` (or `false`) makes a
   * browser-session cookie. A `Date` is taken as `expires`, as express-session does (deprecated).
   * @default null
   */
  maxAge?: number | Date | null | false;
  /**
   * A fixed expiry. Prefer `maxAge`; when both are given the last one set wins, as in
   * express-session. `null` or `false` makes a browser-session cookie.
   */
  expires?: Date | null | false;
  /** Keeps the cookie out of `document.cookie`. @default true */
  httpOnly?: boolean;
  /** Send only over HTTPS. `"auto"` follows the request (see the `proxy` option). @default false */
  secure?: boolean | "auto";
  /** `"auto"` is `"none"` on secure requests and `"lax"` otherwise. @default undefined (the browser's default, Lax) */
  sameSite?: SameSite | "auto";
  /** @default undefined (host-only) */
  domain?: string;
  /** @default "/" */
  path?: string;
  /** CHIPS partitioned cookie. @default undefined */
  partitioned?: boolean;
  /** @default undefined */
  priority?: "low" | "medium" | "high";
}

/** The attributes handed to the `cookie` package, as express-session's `Cookie#data`. */
export interface CookieData {
  originalMaxAge: number | null;
  partitioned: boolean | undefined;
  priority: "low" | "medium" | "high" | undefined;
  expires: Date | null | false | undefined;
  secure: boolean | undefined;
  httpOnly: boolean;
  domain: string | undefined;
  path: string;
  sameSite: SameSite | undefined;
}

/**
 * The session cookie: `req.session.cookie`. Same fields and behaviour as express-session's
 * Cookie, so `req.session.cookie.maxAge = 3600_000` works as before.
 */
export class Cookie {
  path = "/";
  httpOnly = true;
  secure: boolean | undefined;
  domain: string | undefined;
  sameSite: SameSite | undefined;
  partitioned: boolean | undefined;
  priority: "low" | "medium" | "high" | undefined;
  originalMaxAge: number | null = null;
  private _expires: Date | null | false | undefined;

  constructor(options?: CookieOptions | CookieRecord) {
    this.maxAge = null;
    if (options) {
      if (typeof options !== "object") {
        // express-session's words, which apps and their tests may match.
        throw new TesseraError("ERR_OPTION", "argument options must be a object");
      }
      // Same order of assignment as express-session: its keys in order (inherited ones too, as
      // its for...in takes them), so `expires` and `maxAge` given together resolve the same way.
      for (const key in options) {
        if (key === "data") continue;
        (this as Record<string, unknown>)[key] = (options as Record<string, unknown>)[key];
      }
    }
    if (this.originalMaxAge === undefined || this.originalMaxAge === null) {
      this.originalMaxAge = this.maxAge;
    }
  }

  set expires(date: Date | null | false | undefined) {
    this._expires = date;
    this.originalMaxAge = this.maxAge;
  }

  get expires(): Date | null | false | undefined {
    return this._expires;
  }

  /**
   * Milliseconds left, or `null` for a browser-session cookie. Setting it moves `expires`; a
   * `Date` is taken as the expiry itself (express-session's deprecated form), and `false` or
   * `null` make a browser-session cookie.
   */
  set maxAge(ms: number | Date | null | false | undefined) {
    if (ms && typeof ms !== "number" && !(ms instanceof Date)) {
      throw new TesseraError("ERR_OPTION", "maxAge must be a number or Date");
    }
    if (ms instanceof Date) {
      warnOnce(
        "TESSERA_MAXAGE_DATE",
        "tessera: maxAge as Date; pass number of milliseconds instead",
      );
    }
    this.expires = typeof ms === "number" ? new Date(Date.now() + ms) : ms;
    // express-session recomputes this from `expires - Date.now()`, which loses a millisecond
    // whenever the clock ticks in between and so drifts down request after request.
    if (typeof ms === "number") this.originalMaxAge = ms;
  }

  get maxAge(): number | null {
    const expires = this._expires;
    // express-session answers `expires` itself when it is not a Date: null, false or undefined.
    return expires instanceof Date
      ? expires.getTime() - Date.now()
      : ((expires as unknown as number | null | undefined) ?? null);
  }

  get data(): CookieData {
    return {
      originalMaxAge: this.originalMaxAge,
      partitioned: this.partitioned,
      priority: this.priority,
      expires: this._expires,
      secure: this.secure,
      httpOnly: this.httpOnly,
      domain: this.domain,
      path: this.path,
      sameSite: this.sameSite,
    };
  }

  /** The `Set-Cookie` value for this cookie carrying `value`. */
  serialize(name: string, value: string): string {
    return serializeCookie(name, value, this.data);
  }

  toJSON(): CookieData {
    return this.data;
  }

  /** Resets the expiry to a full `originalMaxAge` from now, as express-session's `touch()` does. */
  resetMaxAge(): void {
    this.maxAge = this.originalMaxAge;
  }
}

// The checks of the `cookie` package's serialize (RFC 6265 section 4.1.1), which express-session
// uses. Ours writes the same bytes in the same attribute order, at a fraction of the cost: the
// package's generic version spends about 9 µs per call, one of the largest costs of a request
// that sets the session cookie.
const NAME = /^[\u0021-\u003A\u003C\u003E-\u007E]+$/;
const VALUE = /^[\u0021-\u003A\u003C-\u007E]*$/;
const DOMAIN =
  /^([.]?[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)([.][a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/i;
const PATH = /^[\u0020-\u003A\u003D-\u007E]*$/;

/** A `Domain` attribute the cookie format accepts (RFC 6265 section 4.1.1). */
export function isCookieDomain(domain: string): boolean {
  return DOMAIN.test(domain);
}

/** A `Path` attribute the cookie format accepts (RFC 6265 section 4.1.1). */
export function isCookiePath(path: string): boolean {
  return PATH.test(path);
}

/**
 * The `cookie` package's own error, word for word (`option expires is invalid`): express-session
 * passes it to `next`, and apps and their tests match on it. It names the attribute, never the
 * value, which may be the session cookie.
 */
function invalid(what: string, _value: unknown): TesseraError {
  return new TesseraError(
    "ERR_OPTION",
    what === "name" || what === "value"
      ? `argument ${what === "value" ? "val" : what} is invalid`
      : `option ${what} is invalid`,
    { verbatim: true },
  );
}

/** The `Set-Cookie` value for `name=value` with express-session's stored attributes. */
export function serializeCookie(name: string, value: string, data: Partial<CookieData>): string {
  if (!NAME.test(name)) throw invalid("name", name);
  const encoded = value ? encodeURIComponent(value) : "";
  if (!VALUE.test(encoded)) throw invalid("value", value);
  let out = `${name}=${encoded}`;
  if (data.domain) {
    if (!DOMAIN.test(data.domain)) throw invalid("domain", data.domain);
    out += `; Domain=${data.domain}`;
  }
  if (data.path) {
    if (!PATH.test(data.path)) throw invalid("path", data.path);
    out += `; Path=${data.path}`;
  }
  const expires = data.expires;
  if (expires) {
    if (!(expires instanceof Date) || !Number.isFinite(expires.valueOf())) {
      throw invalid("expires", expires);
    }
    out += `; Expires=${expires.toUTCString()}`;
  }
  if (data.httpOnly) out += "; HttpOnly";
  if (data.secure) out += "; Secure";
  if (data.partitioned) out += "; Partitioned";
  const priority = data.priority;
  if (priority) {
    const key = typeof priority === "string" ? priority.toLowerCase() : undefined;
    const text =
      key === "low" ? "Low" : key === "medium" ? "Medium" : key === "high" ? "High" : undefined;
    if (text === undefined) throw invalid("priority", priority);
    out += `; Priority=${text}`;
  }
  const sameSite = data.sameSite;
  if (sameSite) {
    const key = typeof sameSite === "string" ? sameSite.toLowerCase() : sameSite;
    const text =
      key === true || key === "strict"
        ? "Strict"
        : key === "lax"
          ? "Lax"
          : key === "none"
            ? "None"
            : undefined;
    if (text === undefined) throw invalid("sameSite", sameSite);
    out += `; SameSite=${text}`;
  }
  return out;
}

/** A cookie rebuilt from a stored record, as express-session's `Store#createSession` does it. */
export function cookieFromRecord(record: CookieRecord): Cookie {
  const { expires, originalMaxAge } = record;
  const cookie = new Cookie(record);
  if (typeof expires === "string") cookie.expires = new Date(expires);
  cookie.originalMaxAge = originalMaxAge;
  return cookie;
}

/** The attributes of the session cookie that keep it safe: always the options', never the store's. */
export type SafeAttributes = Pick<
  CookieData,
  "httpOnly" | "secure" | "sameSite" | "domain" | "path" | "partitioned" | "priority"
>;

/** What `new Cookie(options)` would hold for these attributes, with "auto" resolved. */
export function safeAttributesOf(
  options: CookieOptions,
  secureRequest: () => boolean,
): SafeAttributes {
  // express-session's "auto": Secure and SameSite=None on a secure request, else neither (Lax).
  const isSecure =
    options.secure === "auto" || options.sameSite === "auto" ? secureRequest() : false;
  const secure = options.secure === "auto" ? isSecure : options.secure;
  const sameSite = options.sameSite === "auto" ? (isSecure ? "none" : "lax") : options.sameSite;
  return {
    httpOnly: "httpOnly" in options ? (options.httpOnly as boolean) : true,
    secure,
    sameSite,
    domain: options.domain,
    path: "path" in options ? (options.path as string) : "/",
    partitioned: options.partitioned,
    priority: options.priority,
  };
}
