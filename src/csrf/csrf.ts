import type { IncomingHttpHeaders } from "node:http";
import type { Socket } from "node:net";
import { fromBase64Url, toBase64Url } from "../core/base64.js";
import { nodeCrypto } from "../core/builtins.js";
import { TesseraError } from "../core/errors.js";
import { fillRandom } from "../core/id.js";
import { isDataKey, notRenewed } from "../core/session.js";

declare global {
  // Express's request type is extended by declaration merging, as @types/csurf did.
  namespace Express {
    interface Request {
      /**
       * A CSRF token for this session, to put in a form's `_csrf` field or an `x-csrf-token`
       * header. Set by `csrf()`. Each call returns a differently masked form of the same secret.
       */
      csrfToken(): string;
    }
  }
}

/** Options of {@link csrf}. */
export interface CsrfOptions {
  /**
   * The form field the token is read from. The body must be parsed before `csrf()` runs, for
   * example by `express.urlencoded()`.
   * @default "_csrf"
   */
  fieldName?: string;
  /**
   * The request header the token is read from (any case). Used by `fetch()` callers.
   * @default "x-csrf-token"
   */
  headerName?: string;
  /**
   * The session key under which the per-session secret is kept.
   * @default "_csrfSecret"
   */
  sessionKey?: string;
  /**
   * Origins other than the request's own that may send unsafe requests, written as origins:
   * `"https://admin.example.com"` (scheme, host and port only).
   * @default []
   */
  allowedOrigins?: readonly string[];
  /**
   * Replace the session's secret after every accepted unsafe request, so a token works once.
   * Costs a session write per unsafe request and breaks forms left open in another tab.
   * @default false
   */
  rotate?: boolean;
}

/** The parts of a request `csrf()` reads: Express's `req` has them all. */
export interface CsrfRequest {
  method?: string | undefined;
  headers: IncomingHttpHeaders;
  body?: unknown;
  session?: object | undefined;
  /** Express's `req.protocol`: honours `trust proxy` and `X-Forwarded-Proto`. */
  protocol?: string;
  /** Express 5's `req.host` (with the port): honours `trust proxy` and `X-Forwarded-Host`. */
  host?: string | undefined;
  /** A `TLSSocket` (with `encrypted: true`) when the request came over HTTPS. */
  socket?: Socket | undefined;
  csrfToken?: () => string;
}

/** The middleware {@link csrf} returns. */
export type CsrfMiddleware = (
  req: CsrfRequest,
  res: unknown,
  next: (error?: unknown) => void,
) => void;

interface NormalizedCsrfOptions {
  readonly fieldName: string;
  readonly headerName: string;
  readonly sessionKey: string;
  readonly allowedOrigins: ReadonlySet<string>;
  readonly rotate: boolean;
}

const SECRET_BYTES = 32;
/** 32 random bytes in base64url, without padding. */
const SECRET_PATTERN = /^[A-Za-z0-9_-]{43}$/;
/** A masked token: a 32-byte one-time pad, then the secret XORed with it, in base64url. */
const TOKEN_PATTERN = /^[A-Za-z0-9_-]{86}$/;
/** Methods that must not change state (RFC 9110, section 9.2.1), so they are never checked. */
const SAFE_METHODS = new Set(["GET", "HEAD", "OPTIONS", "TRACE"]);
/** RFC 9110 token characters: what a header name may hold. */
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const KNOWN_OPTIONS = new Set([
  "fieldName",
  "headerName",
  "sessionKey",
  "allowedOrigins",
  "rotate",
]);

/**
 * CSRF protection for Express: a synchronizer token kept in the session, checked on every
 * unsafe request (anything but GET, HEAD, OPTIONS and TRACE) together with the `Origin` and
 * `Sec-Fetch-Site` headers the browser sends. A failed check calls `next()` with a
 * `TesseraError` of code `ERR_CSRF_INVALID` and status 403. Mount it after `session()` and after
 * the body parser.
 *
 * @example
 * app.use(session({ secret }));
 * app.use(express.urlencoded({ extended: false }));
 * app.use(csrf());
 * app.get("/form", (req, res) => res.send(`<input type="hidden" name="_csrf" value="${req.csrfToken()}">`));
 * app.post("/form", (req, res) => res.send("accepted"));
 */
export function csrf(options: CsrfOptions = {}): CsrfMiddleware {
  const config = normalizeOptions(options);

  return function csrfMiddleware(req, _res, next) {
    const session = req.session as Record<string, unknown> | undefined;
    if (session === undefined || session === null) {
      next(
        new TesseraError(
          "ERR_OPTION",
          "csrf() found no session on the request: session() must run before csrf() (add it to the app first).",
        ),
      );
      return;
    }

    // Memoised per request: a page asking for the token in several forms masks it once. The
    // session is read on each call, and the memo follows its secret, because
    // `req.session.regenerate()` on login replaces the session (and its secret) mid-request.
    let token: string | undefined;
    let tokenSecret: string | undefined;
    req.csrfToken = function csrfToken() {
      const current = req.session as Record<string, unknown> | undefined;
      if (current === undefined || current === null) {
        throw new TesseraError(
          "ERR_OPTION",
          "csrfToken() was called without a session (it was destroyed): call it before destroy().",
        );
      }
      const secret = ensureSecret(current, config.sessionKey);
      if (token === undefined || secret !== tokenSecret) {
        token = maskSecret(secret);
        tokenSecret = secret;
      }
      return token;
    };

    if (SAFE_METHODS.has(req.method ?? "")) {
      next();
      return;
    }

    const failure = checkOrigin(req, config) ?? checkToken(req, session, config);
    if (failure !== undefined) {
      next(new TesseraError("ERR_CSRF_INVALID", failure, { status: 403 }));
      return;
    }
    if (config.rotate) session[config.sessionKey] = newSecret();
    next();
  };
}

function normalizeOptions(options: CsrfOptions): NormalizedCsrfOptions {
  if (typeof options !== "object" || options === null) {
    throw optionError("csrf() takes an options object.");
  }
  for (const key of Object.keys(options)) {
    if (!KNOWN_OPTIONS.has(key)) {
      throw optionError(
        `csrf() has no option "${key}": use fieldName, headerName, sessionKey, allowedOrigins or rotate.`,
      );
    }
  }
  const fieldName = nonEmptyString(options.fieldName, "fieldName", "_csrf");
  const headerName = nonEmptyString(options.headerName, "headerName", "x-csrf-token");
  if (!HEADER_NAME.test(headerName)) {
    throw optionError("csrf() option headerName is not a valid HTTP header name.");
  }
  const sessionKey = nonEmptyString(options.sessionKey, "sessionKey", "_csrfSecret");
  // `cookie`, `__tessera`, and names of the session's behaviour (`save`, `__proto__`...).
  if (!isDataKey(sessionKey)) {
    throw optionError(`csrf() option sessionKey cannot be "${sessionKey}": that key is reserved.`);
  }
  // The secret belongs to one session id: a renewed id (regenerate({ keepData: true })) gets a
  // new one, so a token issued before login does not work after it.
  notRenewed.add(sessionKey);
  if (options.rotate !== undefined && typeof options.rotate !== "boolean") {
    throw optionError("csrf() option rotate must be true or false.");
  }
  const origins = options.allowedOrigins ?? [];
  if (!Array.isArray(origins)) {
    throw optionError(
      'csrf() option allowedOrigins must be an array of origins ("https://a.example").',
    );
  }
  const allowedOrigins = new Set<string>();
  for (const origin of origins) allowedOrigins.add(normalizeAllowedOrigin(origin));

  return Object.freeze({
    fieldName,
    headerName: headerName.toLowerCase(),
    sessionKey,
    allowedOrigins,
    rotate: options.rotate ?? false,
  });
}

function normalizeAllowedOrigin(origin: unknown): string {
  const fix = 'write each as scheme, host and optional port, like "https://admin.example.com".';
  if (typeof origin !== "string")
    throw optionError(`csrf() allowedOrigins holds a non-string: ${fix}`);
  let url: URL;
  try {
    url = new URL(origin);
  } catch {
    throw optionError(`csrf() allowedOrigins holds "${origin}", which is not a URL: ${fix}`);
  }
  // The Origin header is exactly scheme://host[:port]; a path or query would never match.
  const bare =
    url.pathname === "/" && url.search === "" && url.hash === "" && !origin.endsWith("/");
  if ((url.protocol !== "https:" && url.protocol !== "http:") || !bare || url.username !== "") {
    throw optionError(`csrf() allowedOrigins holds "${origin}", which is not an origin: ${fix}`);
  }
  return url.origin;
}

function nonEmptyString(value: unknown, name: string, fallback: string): string {
  if (value === undefined) return fallback;
  if (typeof value !== "string" || value === "") {
    throw optionError(`csrf() option ${name} must be a non-empty string.`);
  }
  return value;
}

function optionError(message: string): TesseraError {
  return new TesseraError("ERR_OPTION", message);
}

/**
 * The Origin check, which stops a cross-site form post even when the attacker holds a valid
 * token (leaked through a log, a Referer, or a page on a sibling subdomain). Browsers send
 * `Origin` on every unsafe request, and `Sec-Fetch-Site` where they support Fetch Metadata
 * (https://www.w3.org/TR/fetch-metadata/). A request with neither comes from a client that is
 * not a browser, or a very old one, and relies on the token alone.
 */
function checkOrigin(req: CsrfRequest, config: NormalizedCsrfOptions): string | undefined {
  const origin = req.headers.origin;
  if (origin !== undefined && config.allowedOrigins.has(origin)) return undefined;

  const site = req.headers["sec-fetch-site"];
  // "same-site" is a sibling subdomain: often run by someone else, so not trusted by default.
  if (site === "cross-site" || site === "same-site") {
    return `CSRF check failed: the request came from another site (Sec-Fetch-Site: ${site}). List the origin in csrf({ allowedOrigins }) if it is yours.`;
  }
  if (origin === undefined) return undefined;
  if (origin !== ownOrigin(req)) {
    return "CSRF check failed: the request's Origin is not this site's origin. List the origin in csrf({ allowedOrigins }) if it is yours. Behind a proxy, the site's origin comes from the request's protocol and host: make the framework trust the proxy (Express's 'trust proxy', Fastify's trustProxy, Koa's app.proxy), or list the public origin.";
  }
  return undefined;
}

/** The origin the request was addressed to, or `undefined` when it has no usable Host. */
function ownOrigin(req: CsrfRequest): string | undefined {
  const encrypted = (req.socket as { encrypted?: boolean } | undefined)?.encrypted === true;
  const protocol = req.protocol ?? (encrypted ? "https" : "http");
  const header = req.headers.host;
  let host = req.host ?? header;
  // Express 4's req.host is the host name without the port; the Host header still has it.
  if (
    host !== undefined &&
    header !== undefined &&
    !host.includes(":") &&
    header.startsWith(`${host}:`)
  ) {
    host = header;
  }
  if (host === undefined || host === "") return undefined;
  try {
    // URL lowercases the host and drops a default port, as browsers do when writing Origin.
    return new URL(`${protocol}://${host}`).origin;
  } catch {
    return undefined;
  }
}

function checkToken(
  req: CsrfRequest,
  session: Record<string, unknown>,
  config: NormalizedCsrfOptions,
): string | undefined {
  const submitted = submittedToken(req, config);
  if (submitted === undefined) {
    return `CSRF check failed: the request has no CSRF token. Send the csrfToken() value in the "${config.headerName}" header, or in the "${config.fieldName}" form field with the body parsed before csrf() runs (express.urlencoded(), @fastify/formbody, a Koa body parser).`;
  }
  const secret = session[config.sessionKey];
  if (typeof secret !== "string" || !SECRET_PATTERN.test(secret)) {
    return "CSRF check failed: this session has no CSRF token (it expired or was regenerated since the form was served). Serve the form again.";
  }
  if (!tokenMatches(submitted, secret)) {
    return "CSRF check failed: the CSRF token is wrong for this session. Serve the form again to get a fresh token.";
  }
  return undefined;
}

/** The header wins over the form field, so a JSON `fetch()` never needs a body field. */
function submittedToken(req: CsrfRequest, config: NormalizedCsrfOptions): string | undefined {
  const header = req.headers[config.headerName];
  if (typeof header === "string" && header !== "") return header;
  const body = req.body;
  if (typeof body === "object" && body !== null && Object.hasOwn(body, config.fieldName)) {
    const field = (body as Record<string, unknown>)[config.fieldName];
    if (typeof field === "string" && field !== "") return field;
  }
  // Tokens in the query string are not accepted: URLs end up in logs and Referer headers.
  return undefined;
}

function ensureSecret(session: Record<string, unknown>, key: string): string {
  const existing = session[key];
  if (typeof existing === "string" && SECRET_PATTERN.test(existing)) return existing;
  const secret = newSecret();
  session[key] = secret;
  return secret;
}

function newSecret(): string {
  return toBase64Url(randomBytes(SECRET_BYTES));
}

function randomBytes(length: number): Uint8Array {
  const bytes = new Uint8Array(length);
  fillRandom(bytes);
  return bytes;
}

/**
 * Masks the secret with a fresh one-time pad, so the token in each response is different and
 * a compressed HTTPS page leaks nothing about it to a BREACH-style length attack
 * (https://www.breachattack.com/), as Rails and Django do.
 */
function maskSecret(secret: string): string {
  const raw = fromBase64Url(secret) ?? new Uint8Array(0);
  const out = randomBytes(SECRET_BYTES * 2);
  for (let i = 0; i < SECRET_BYTES; i++) out[SECRET_BYTES + i] = (out[i] ?? 0) ^ (raw[i] ?? 0);
  return toBase64Url(out);
}

function tokenMatches(token: string, secret: string): boolean {
  // A token of the wrong length or alphabet is a plain failure: timingSafeEqual would throw.
  if (!TOKEN_PATTERN.test(token)) return false;
  const masked = fromBase64Url(token) ?? new Uint8Array(0);
  const unmasked = new Uint8Array(SECRET_BYTES);
  for (let i = 0; i < SECRET_BYTES; i++) {
    unmasked[i] = (masked[i] ?? 0) ^ (masked[SECRET_BYTES + i] ?? 0);
  }
  const expected = fromBase64Url(secret);
  return expected?.length === SECRET_BYTES && bytesMatch(unmasked, expected);
}

/** node's timingSafeEqual, or the same XOR over every byte where node:crypto is missing. */
const bytesMatch: (a: Uint8Array, b: Uint8Array) => boolean =
  nodeCrypto?.timingSafeEqual ??
  ((a, b) => {
    let difference = 0;
    for (let i = 0; i < a.length; i++) difference |= (a[i] ?? 0) ^ (b[i] ?? 0);
    return difference === 0;
  });
