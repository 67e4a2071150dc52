import type { Store } from "../store/types.js";
import { envVar, NodeBuffer } from "./builtins.js";
import { type CookieOptions, isCookieDomain, isCookiePath } from "./cookie.js";
import { TesseraError } from "./errors.js";
import type { SessionEventHook } from "./events.js";
import { generateId } from "./id.js";
import type { Secret } from "./signing.js";
import { warnOnce } from "./warnings.js";

export { warnOnce };

import type { SessionData } from "./session.js";

/** A store written for express-session: callback-style methods on an EventEmitter. */
export interface LegacyStore {
  get(id: string, callback: (error: unknown, session?: unknown) => void): unknown;
  set(id: string, session: unknown, callback?: (error?: unknown) => void): unknown;
  destroy(id: string, callback?: (error?: unknown) => void): unknown;
  touch?(id: string, session: unknown, callback?: (error?: unknown) => void): unknown;
  on?(event: string, listener: (...args: unknown[]) => void): unknown;
}

/**
 * A function of the request. Declared as a method so that a function written for a narrower
 * request type (Express's `Request`, as code typed for express-session has it) is accepted, as
 * @types/express-session accepts it.
 */
export type OfRequest<T, Req = object> = { of(req: Req): T }["of"];

/**
 * Options of `session()`: express-session's, with the same defaults, plus Tessera's own. `Req`
 * is what the `genid` and `cookie` functions are called with: each adapter says which request
 * object it passes (node's `IncomingMessage` under Express and node:http).
 */
export interface SessionOptions<Req = object> {
  /**
   * The secret that signs the session cookie, or a list for rotation: cookies are signed with
   * the first and accepted with any. A string or a Buffer. Required in production, where it must
   * be at least 32 characters (or bytes) and not an obvious pattern; elsewhere, as in
   * express-session, a missing secret falls back to `req.secret` (set by cookie-parser).
   */
  secret: string | Buffer | readonly (string | Buffer)[];
  /** Name of the session cookie. @default "connect.sid" */
  name?: string;
  /** express-session's older name for {@link name}; `name` wins when both are given. @deprecated */
  key?: string;
  /** Cookie attributes, or a function of the request that returns them. @default { path: "/", httpOnly: true, secure: false, maxAge: null } */
  cookie?: CookieOptions | OfRequest<CookieOptions, Req>;
  /** Makes a new session id. It must return a unique, unguessable string. @default 256 random bits, base64url */
  genid?: OfRequest<string, Req>;
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
  /**
   * Send a `Secure` cookie over plain HTTP when the request's Host is localhost, 127.x or [::1]
   * (browsers treat those as secure contexts and keep the cookie). Off by default: like
   * express-session, a `Secure` cookie is only ever sent over HTTPS.
   * @default false
   */
  localhostIsSecure?: boolean;
  /**
   * What the visitor gets when the store write at the end of a request fails. `"app"`: the
   * response the app wrote, and the error goes to the error handler afterwards, as
   * express-session does. `"error"`: the app's response is dropped and the error handler
   * answers instead (503 while the store is unreachable), so nobody is told "saved" when
   * nothing was.
   * @default "app"
   */
  saveErrorResponse?: "app" | "error";
  /**
   * Called synchronously after each session lifecycle event (created, regenerated, destroyed,
   * revoked, expired), for an audit log. Events carry the session's handle and user, never its
   * id. An error thrown by the hook does not fail the request: it becomes a process warning.
   * @default undefined
   * @example
   * session({ secret, onSessionEvent: (event) => audit.write(`${JSON.stringify(event)}\n`) })
   */
  onSessionEvent?: SessionEventHook;
}

/** The options after normalisation: one frozen shape, so the request path never re-checks them. */
export interface NormalizedOptions {
  /** The secrets, current first; empty when `req.secret` (cookie-parser's) must supply one. */
  readonly secrets: readonly Secret[];
  readonly name: string;
  readonly cookie: CookieOptions | ((req: object) => CookieOptions);
  readonly cookiePath: string | undefined;
  readonly genid: (req: object) => string;
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
  readonly localhostIsSecure: boolean;
  readonly replaceResponseOnSaveError: boolean;
  readonly onSessionEvent: SessionEventHook | undefined;
}

// biome-ignore lint/suspicious/noExplicitAny: options typed for any adapter's request
type AnyOptions = SessionOptions<any>;

function optionError(message: string): TesseraError {
  return new TesseraError("ERR_OPTION", message);
}

function duration(options: AnyOptions, key: keyof AnyOptions, fallback: number): number {
  const value = options[key];
  if (value === undefined) return fallback;
  if (typeof value !== "number" || !Number.isFinite(value) || value < 0) {
    throw optionError(`the ${key} option must be a number of milliseconds, 0 or more.`);
  }
  return value;
}

function flag(options: AnyOptions, key: keyof AnyOptions): boolean | undefined {
  const value = options[key];
  if (value === undefined || typeof value === "boolean") return value;
  throw optionError(`the ${key} option must be true or false.`);
}

function userKeyReader(
  userKey: AnyOptions["userKey"],
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
/** Below this many bits of estimated entropy a production secret is refused. */
const PRODUCTION_SECRET_BITS = 96;
const MAKE_A_SECRET =
  "generate one with `node -e \"console.log(require('crypto').randomBytes(32).toString('base64url'))\"` and pass it through the environment";
/** Placeholders copied from examples (express-session's README says "keyboard cat"). */
const PLACEHOLDERS = /keyboard[ _-]?cat|change[ _-]?me|replace[ _-]?me/i;

/** True for `production`, however the deployment spells it (`Production`, ` prod `). */
export function isProduction(): boolean {
  const env = envVar("NODE_ENV")?.trim().toLowerCase();
  return env === "production" || env === "prod";
}

/**
 * Why a secret is too weak for production, or `undefined`. Not a strength meter: it refuses
 * what is obviously not random (short, few distinct symbols, a repeated unit, a placeholder),
 * which is what a real secret never looks like.
 */
export function weakSecretReason(secret: Secret): string | undefined {
  const symbols: (string | number)[] = typeof secret === "string" ? [...secret] : [...secret];
  const unit = typeof secret === "string" ? "characters" : "bytes";
  if (symbols.length < PRODUCTION_SECRET_LENGTH) {
    return `it has ${symbols.length} ${unit}; at least ${PRODUCTION_SECRET_LENGTH} ${unit} are needed`;
  }
  if (typeof secret === "string" && PLACEHOLDERS.test(secret)) {
    return 'it contains a placeholder ("keyboard cat", "changeme", ...)';
  }
  const counts = new Map<string | number, number>();
  for (const symbol of symbols) counts.set(symbol, (counts.get(symbol) ?? 0) + 1);
  if (counts.size < 10) return `it uses only ${counts.size} distinct ${unit}`;
  // A short unit repeated ("abcd1234abcd1234..."): the secret is no stronger than the unit.
  for (let period = 1; period <= symbols.length / 2; period++) {
    let repeats = true;
    for (let index = period; index < symbols.length && repeats; index++) {
      repeats = symbols[index] === symbols[index - period];
    }
    if (repeats) return "it repeats a shorter pattern";
  }
  // Shannon's estimate of the symbols' entropy, for the whole secret.
  let bits = 0;
  for (const count of counts.values()) {
    const share = count / symbols.length;
    bits -= count * Math.log2(share);
  }
  if (bits < PRODUCTION_SECRET_BITS) {
    return `it holds about ${Math.round(bits)} bits of entropy; at least ${PRODUCTION_SECRET_BITS} are needed`;
  }
  return undefined;
}

/** A secret `session()` can sign with: a non-empty string or Buffer. */
export function isSecret(value: unknown): value is Secret {
  return (
    (typeof value === "string" && value !== "") ||
    (NodeBuffer?.isBuffer(value) === true && value.length > 0)
  );
}

/** Checks and normalises the options once, at `session()` time. Throws `ERR_OPTION` on misuse. */
export function normalizeOptions(input: AnyOptions | undefined): NormalizedOptions {
  if (input === undefined || input === null || typeof input !== "object") {
    throw optionError(
      "session() needs an options object with at least a secret: session({ secret: process.env.SESSION_SECRET }).",
    );
  }
  const options = input;
  // The checks run in express-session's order, with its messages, so that an app's own checks
  // of a misconfiguration (a test asserting the message) keep passing.
  const genid = options.genid ?? generateId;
  if (typeof genid !== "function") {
    throw optionError("genid option must be a function returning a new session id.");
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

  // express-session ignores a falsy unset ("", null) and takes it as "keep".
  const unset = options.unset as unknown;
  if (unset && unset !== "destroy" && unset !== "keep") {
    throw optionError('unset option must be "destroy" or "keep".');
  }

  const secret = options.secret as unknown;
  if (Array.isArray(secret) && secret.length === 0) {
    throw optionError(
      "secret option array must contain one or more strings: session({ secret: [current, previous] }).",
    );
  }
  const secrets: unknown[] = Array.isArray(secret) ? secret : secret ? [secret] : [];
  if (!secrets.every(isSecret)) {
    throw optionError(
      "the secret option must be a non-empty string or Buffer, or an array of them for rotation (session({ secret: process.env.SESSION_SECRET })).",
    );
  }
  if (isProduction()) {
    if (secrets.length === 0) {
      throw optionError(
        `in production the secret option is required (req.secret is not enough): ${MAKE_A_SECRET}.`,
      );
    }
    for (const [index, given] of secrets.entries()) {
      const reason = weakSecretReason(given);
      if (reason !== undefined) {
        throw optionError(
          `in production every secret must be strong, and secret ${index === 0 ? "" : `#${index + 1} `}is not: ${reason}. ${MAKE_A_SECRET}.`,
        );
      }
    }
  } else if (secrets.length === 0) {
    warnOnce("TESSERA_REQ_SECRET", "tessera: req.secret; provide secret option");
  }

  const name = options.name || options.key || "connect.sid";
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

  const saveErrorResponse = options.saveErrorResponse ?? "app";
  if (saveErrorResponse !== "app" && saveErrorResponse !== "error") {
    throw optionError('the saveErrorResponse option must be "app" or "error".');
  }

  const onSessionEvent = options.onSessionEvent;
  if (onSessionEvent !== undefined && typeof onSessionEvent !== "function") {
    throw optionError(
      "the onSessionEvent option must be a function: session({ onSessionEvent: (event) => log(event) }).",
    );
  }

  const touchAfterMs = duration(options, "touchAfterMs", 0);
  const idleTimeoutMs = duration(options, "idleTimeoutMs", 0);
  if (idleTimeoutMs > 0 && touchAfterMs >= idleTimeoutMs) {
    throw optionError(
      "touchAfterMs must be shorter than idleTimeoutMs, or active sessions would time out between touches.",
    );
  }

  return Object.freeze({
    secrets: Object.freeze([...(secrets as Secret[])]),
    name,
    cookie: typeof cookie === "object" ? Object.freeze({ ...cookie }) : cookie,
    cookiePath: typeof cookie === "object" ? cookie.path : undefined,
    genid,
    proxy: flag(options, "proxy"),
    resave,
    rolling: flag(options, "rolling") ?? false,
    saveUninitialized,
    unsetDestroy: unset === "destroy",
    absoluteTimeoutMs: duration(options, "absoluteTimeoutMs", 0),
    idleTimeoutMs,
    touchAfterMs,
    storeTimeoutMs: duration(options, "storeTimeoutMs", 5000),
    sessionTtlMs: duration(options, "sessionTtlMs", 86_400_000) || 86_400_000,
    userKey: userKeyReader(options.userKey),
    recordClient: flag(options, "recordClient") ?? false,
    localhostIsSecure: flag(options, "localhostIsSecure") ?? false,
    replaceResponseOnSaveError: saveErrorResponse === "error",
    onSessionEvent,
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
  // express-session's Cookie takes a number, a Date (deprecated) or anything falsy (null, false:
  // a browser-session cookie).
  if (
    maxAge &&
    (typeof maxAge !== "number" || Number.isNaN(maxAge)) &&
    !((maxAge as unknown) instanceof Date)
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
  // Checked here rather than when the first response is sent, where the cookie would fail. An
  // empty domain or path is left out of the cookie, as express-session leaves it out.
  if (cookie.domain && !(typeof cookie.domain === "string" && isCookieDomain(cookie.domain))) {
    throw optionError('cookie.domain is invalid: give a host name such as "example.com".');
  }
  if (cookie.path && !(typeof cookie.path === "string" && isCookiePath(cookie.path))) {
    throw optionError('cookie.path is invalid: give a path such as "/" or "/app", without ";".');
  }
  if (priority !== undefined && !["low", "medium", "high"].includes(priority)) {
    throw optionError('cookie.priority must be "low", "medium" or "high".');
  }
  if (
    typeof sameSite === "string" &&
    sameSite.toLowerCase() === "none" &&
    cookie.secure !== true &&
    cookie.secure !== "auto"
  ) {
    // Browsers drop a SameSite=None cookie that is not Secure. express-session sends it all the
    // same, and an app's tests may rely on that, so this warns rather than refuses.
    warnOnce(
      "TESSERA_SAMESITE_NONE_INSECURE",
      'tessera: cookie.sameSite is "none" but cookie.secure is not set, so browsers will drop the session cookie: set cookie.secure to true (or "auto"), or use sameSite "lax".',
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
