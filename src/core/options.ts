import type { IncomingMessage } from "node:http";
import type { Store } from "../store/types.js";
import type { CookieOptions } from "./cookie.js";
import { TesseraError } from "./errors.js";
import { generateId } from "./id.js";
import type { SessionData } from "./session.js";

/** A store written for express-session: callback-style methods on an EventEmitter. */
export interface LegacyStore {
  get(id: string, callback: (error: unknown, session?: unknown) => void): unknown;
  set(id: string, session: unknown, callback?: (error?: unknown) => void): unknown;
  destroy(id: string, callback?: (error?: unknown) => void): unknown;
  touch?(id: string, session: unknown, callback?: (error?: unknown) => void): unknown;
  on?(event: string, listener: (...args: unknown[]) => void): unknown;
}

/** Options of `session()`: express-session's, with the same defaults, plus Tessera's own. */
export interface SessionOptions {
  /**
   * The secret that signs the session cookie, or a list for rotation: cookies are signed with
   * the first and accepted with any. Required. In production it must be at least 32 characters.
   */
  secret: string | readonly string[];
  /** Name of the session cookie. @default "connect.sid" */
  name?: string;
  /** Cookie attributes, or a function of the request that returns them. @default { path: "/", httpOnly: true, secure: false, maxAge: null } */
  cookie?: CookieOptions | ((req: IncomingMessage) => CookieOptions);
  /** Makes a new session id. It must return a unique, unguessable string. @default 256 random bits, base64url */
  genid?: (req: IncomingMessage) => string;
  /**
   * Trust `X-Forwarded-Proto` when deciding whether the request is secure. `undefined` follows
   * Express's "trust proxy" setting (`req.secure`). @default undefined
   */
  proxy?: boolean;
  /** Write the session back to the store on every request, even unchanged. @default true (with a warning; set it) */
  resave?: boolean;
  /** Send the cookie (and reset its expiry) on every response. @default false */
  rolling?: boolean;
  /** Store new sessions even when nothing was put in them. @default true (with a warning; set it) */
  saveUninitialized?: boolean;
  /** Where sessions live: a Tessera store or any store written for express-session. @default a new MemoryStore */
  store?: Store | LegacyStore;
  /** What `delete req.session` or `req.session = null` does: `"destroy"` removes the session from the store. @default "keep" */
  unset?: "destroy" | "keep";

  /**
   * A session ends this long after it was created, whatever the activity (OWASP's absolute
   * timeout). `0` disables it. @default 0
   */
  absoluteTimeoutMs?: number;
  /**
   * A session ends after this long without a request, even if its cookie lives on (OWASP's
   * idle timeout). `0` disables it. @default 0
   */
  idleTimeoutMs?: number;
  /**
   * Refresh an unchanged session's expiry in the store at most once per this interval, instead
   * of on every request: read-mostly traffic then stops writing. `0` touches on every request,
   * as express-session does. @default 0
   */
  touchAfterMs?: number;
  /** A store call that takes longer fails with `ERR_STORE_UNAVAILABLE` (HTTP 503). `0` waits forever. The MemoryStore, which answers from the process itself, is not timed. @default 5000 */
  storeTimeoutMs?: number;
  /** How long the store keeps a session whose cookie has no `maxAge` (a browser-session cookie). @default 86_400_000 (one day) */
  sessionTtlMs?: number;
  /**
   * Ties sessions to a user, for "log out everywhere": the name of a session field holding the
   * user's id (a dotted path such as `"user.id"`), or a function that returns it.
   * @default undefined (sessions are tied to a user only through `req.session.setUser()`)
   */
  userKey?: string | ((data: Partial<SessionData> & Record<string, unknown>) => unknown);
  /** Also record the user agent and IP of each session, for "your active sessions" pages. @default false */
  recordClient?: boolean;
}

/** The options after normalisation: one frozen shape, so the request path never re-checks them. */
export interface NormalizedOptions {
  readonly secrets: readonly string[];
  readonly name: string;
  readonly cookie: CookieOptions | ((req: IncomingMessage) => CookieOptions);
  readonly cookiePath: string | undefined;
  readonly genid: (req: IncomingMessage) => string;
  readonly proxy: boolean | undefined;
  readonly resave: boolean;
  readonly rolling: boolean;
  readonly saveUninitialized: boolean;
  readonly unsetDestroy: boolean;
  readonly absoluteTimeoutMs: number;
  readonly idleTimeoutMs: number;
  readonly touchAfterMs: number;
  readonly storeTimeoutMs: number;
  readonly sessionTtlMs: number;
  readonly userKey: ((data: Record<string, unknown>) => unknown) | undefined;
  readonly recordClient: boolean;
}

const warned = new Set<string>();

/** Prints a warning once per process, as express-session's deprecations do. */
export function warnOnce(code: string, message: string): void {
  if (warned.has(code)) return;
  warned.add(code);
  process.emitWarning(message, { type: "TesseraWarning", code });
}

function optionError(message: string): TesseraError {
  return new TesseraError("ERR_OPTION", message);
}

function duration(options: SessionOptions, key: keyof SessionOptions, fallback: number): number {
  const value = options[key];
  if (value === undefined) return fallback;
  if (typeof value !== "number" || !Number.isFinite(value) || value < 0) {
    throw optionError(`the ${key} option must be a number of milliseconds, 0 or more.`);
  }
  return value;
}

function flag(options: SessionOptions, key: keyof SessionOptions): boolean | undefined {
  const value = options[key];
  if (value === undefined || typeof value === "boolean") return value;
  throw optionError(`the ${key} option must be true or false.`);
}

function userKeyReader(
  userKey: SessionOptions["userKey"],
): ((data: Record<string, unknown>) => unknown) | undefined {
  if (userKey === undefined) return undefined;
  if (typeof userKey === "function") return userKey as (data: Record<string, unknown>) => unknown;
  if (typeof userKey !== "string" || userKey === "") {
    throw optionError('the userKey option must be a field name such as "user.id", or a function.');
  }
  const path = userKey.split(".");
  return (data) => {
    let value: unknown = data;
    for (const part of path) {
      if (typeof value !== "object" || value === null) return undefined;
      value = (value as Record<string, unknown>)[part];
    }
    return value;
  };
}

const PRODUCTION_SECRET_LENGTH = 32;

/** Checks and normalises the options once, at `session()` time. Throws `ERR_OPTION` on misuse. */
export function normalizeOptions(input: SessionOptions | undefined): NormalizedOptions {
  if (input === undefined || input === null || typeof input !== "object") {
    throw optionError(
      "session() needs an options object with at least a secret: session({ secret: process.env.SESSION_SECRET }).",
    );
  }
  const options = input;
  const secret = options.secret as unknown;
  const secrets = typeof secret === "string" ? [secret] : Array.isArray(secret) ? secret : [];
  if (secrets.length === 0 || secrets.some((s) => typeof s !== "string" || s === "")) {
    throw optionError(
      "the secret option is required: a non-empty string, or an array of them for rotation (session({ secret: process.env.SESSION_SECRET })).",
    );
  }
  if (process.env.NODE_ENV === "production") {
    if (secrets.some((s: string) => s.length < PRODUCTION_SECRET_LENGTH)) {
      throw optionError(
        `in production every secret must be at least ${PRODUCTION_SECRET_LENGTH} characters: generate one with \`node -e "console.log(require('crypto').randomBytes(32).toString('base64url'))"\`.`,
      );
    }
  }

  const name = options.name ?? "connect.sid";
  if (typeof name !== "string" || !/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/.test(name)) {
    throw optionError(
      "the name option must be a valid cookie name (letters, digits and !#$%&'*+-.^_`|~).",
    );
  }

  const cookie = options.cookie ?? {};
  if (typeof cookie !== "object" && typeof cookie !== "function") {
    throw optionError(
      "the cookie option must be an object of cookie attributes, or a function of the request returning one.",
    );
  }
  if (typeof cookie === "object") checkCookieOptions(name, cookie);

  const genid = options.genid ?? generateId;
  if (typeof genid !== "function")
    throw optionError("the genid option must be a function returning a new id.");

  if (options.unset !== undefined && options.unset !== "destroy" && options.unset !== "keep") {
    throw optionError('the unset option must be "destroy" or "keep".');
  }

  let resave = flag(options, "resave");
  if (resave === undefined) {
    // express-session's default and its deprecation message, so upgrading changes nothing.
    warnOnce("TESSERA_RESAVE", "tessera: undefined resave option; provide resave option");
    resave = true;
  }
  let saveUninitialized = flag(options, "saveUninitialized");
  if (saveUninitialized === undefined) {
    warnOnce(
      "TESSERA_SAVE_UNINITIALIZED",
      "tessera: undefined saveUninitialized option; provide saveUninitialized option",
    );
    saveUninitialized = true;
  }

  const touchAfterMs = duration(options, "touchAfterMs", 0);
  const idleTimeoutMs = duration(options, "idleTimeoutMs", 0);
  if (idleTimeoutMs > 0 && touchAfterMs >= idleTimeoutMs) {
    throw optionError(
      "touchAfterMs must be shorter than idleTimeoutMs, or active sessions would time out between touches.",
    );
  }

  return Object.freeze({
    secrets: Object.freeze([...secrets]),
    name,
    cookie: typeof cookie === "object" ? Object.freeze({ ...cookie }) : cookie,
    cookiePath: typeof cookie === "object" ? cookie.path : undefined,
    genid,
    proxy: flag(options, "proxy"),
    resave,
    rolling: flag(options, "rolling") ?? false,
    saveUninitialized,
    unsetDestroy: options.unset === "destroy",
    absoluteTimeoutMs: duration(options, "absoluteTimeoutMs", 0),
    idleTimeoutMs,
    touchAfterMs,
    storeTimeoutMs: duration(options, "storeTimeoutMs", 5000),
    sessionTtlMs: duration(options, "sessionTtlMs", 86_400_000) || 86_400_000,
    userKey: userKeyReader(options.userKey),
    recordClient: flag(options, "recordClient") ?? false,
  });
}

/** Cookie names that browsers keep only with the Secure attribute (RFC 6265bis §4.1.3). */
export function hasSecurePrefix(name: string): boolean {
  return name.startsWith("__Secure-") || name.startsWith("__Host-");
}

/**
 * Rules browsers enforce on prefixed cookie names (RFC 6265bis §4.1.3): a cookie they would
 * silently drop is an error at start-up instead.
 */
export function checkCookieOptions(name: string, cookie: CookieOptions): void {
  const { sameSite, priority, maxAge } = cookie;
  if (
    maxAge !== undefined &&
    maxAge !== null &&
    (typeof maxAge !== "number" || Number.isNaN(maxAge))
  ) {
    throw optionError(
      "cookie.maxAge must be a number of milliseconds, or null for a browser-session cookie.",
    );
  }
  if (
    sameSite !== undefined &&
    typeof sameSite !== "boolean" &&
    !["lax", "strict", "none", "auto"].includes(String(sameSite).toLowerCase())
  ) {
    throw optionError('cookie.sameSite must be true, false, "lax", "strict", "none" or "auto".');
  }
  if (priority !== undefined && !["low", "medium", "high"].includes(priority)) {
    throw optionError('cookie.priority must be "low", "medium" or "high".');
  }
  if (sameSite === "none" && cookie.secure === false) {
    throw optionError(
      'cookie.sameSite "none" needs cookie.secure (true or "auto"): browsers reject it otherwise.',
    );
  }
  if (hasSecurePrefix(name)) {
    if (cookie.secure !== true && cookie.secure !== "auto") {
      throw optionError(
        `a cookie named ${name.split("-")[0]}-… must be secure: set cookie.secure to true.`,
      );
    }
  }
  if (name.startsWith("__Host-")) {
    if (cookie.domain !== undefined)
      throw optionError("a __Host- cookie cannot have a domain: remove cookie.domain.");
    if (cookie.path !== undefined && cookie.path !== "/") {
      throw optionError('a __Host- cookie must have path "/": remove cookie.path.');
    }
  }
}
