import type { IncomingMessage, ServerResponse } from "node:http";
import { parse as parseCookieHeader } from "cookie";
import {
  type CallbackStore,
  fromLegacyStore,
  isTesseraStore,
  registerSessionFactory,
  toStore,
} from "../store/legacy.js";
import { storeError } from "../store/record.js";
import {
  IN_PROCESS_STORE,
  type SessionMeta,
  type SessionPatch,
  type SessionRecord,
  type Store,
  SYNC_ACCESS,
  type SyncAccess,
} from "../store/types.js";
import { channels, publish } from "./channels.js";
import {
  Cookie,
  type CookieOptions,
  cookieFromRecord,
  type SafeAttributes,
  safeAttributesOf,
  serializeCookie,
} from "./cookie.js";
import { Deadlines } from "./deadlines.js";
import { type RequestFacts, shouldSave, shouldSetCookie, touchDue } from "./decisions.js";
import { TesseraError } from "./errors.js";
import {
  checkCookieOptions,
  hasSecurePrefix,
  isSecret,
  type LegacyStore,
  type NormalizedOptions,
  normalizeOptions,
  type SessionOptions,
  warnOnce,
} from "./options.js";
import { headersSentError, writeHeadWithCookie } from "./response.js";
import {
  changesOf,
  fullPatchOf,
  kState,
  markStored,
  notRenewed,
  type RegenerateOptions,
  recordOf,
  Session,
  type SessionController,
} from "./session.js";
import { type Secret, sign, UnsignCache, unsign } from "./signing.js";
import { type Tombstones, tombstonesOf } from "./tombstones.js";

/** The request as the engine sees it: node's, plus what Express or the app may have added. */
export interface SessionRequest extends IncomingMessage {
  session?: Session | null | undefined;
  sessionID?: string | undefined;
  sessionStore?: Store | LegacyStore;
  originalUrl?: string;
  secure?: boolean;
  /** cookie-parser's secret, used when `session()` was given none (as express-session does). */
  secret?: unknown;
  /** cookie-parser's parsed cookies, read when the Cookie header does not carry the session. */
  cookies?: Record<string, unknown>;
  signedCookies?: Record<string, unknown>;
}

/** The response as the engine sees it: node:http's, or node:http2's compatibility response. */
export type SessionResponse = Pick<
  ServerResponse,
  "getHeader" | "setHeader" | "getHeaderNames" | "removeHeader" | "end" | "writeHead"
> & {
  readonly headersSent: boolean;
};

export type Next = (error?: unknown) => void;

/**
 * Each request's lifecycle, for `store.generate(req)`. A WeakMap rather than a property on the
 * request, so that the request holds only what express-session's API puts on it.
 */
const contexts = new WeakMap<object, RequestContext>();

/** True when the request came over TLS, or through a trusted proxy that says so. As express-session decides. */
export function isSecureRequest(req: SessionRequest, proxy: boolean | undefined): boolean {
  if ((req.socket as { encrypted?: boolean } | undefined)?.encrypted) return true;
  if (proxy === false) return false;
  if (proxy !== true) return req.secure === true;
  const header = req.headers["x-forwarded-proto"];
  const value = (Array.isArray(header) ? header[0] : header) ?? "";
  const comma = value.indexOf(",");
  return (comma === -1 ? value : value.slice(0, comma)).trim().toLowerCase() === "https";
}

/**
 * Browsers treat http://localhost as a secure context and keep Secure cookies from it: the
 * `localhostIsSecure` option sends them there.
 */
function isLocalhost(req: SessionRequest): boolean {
  const host = req.headers.host ?? (req.headers[":authority"] as string | undefined) ?? "";
  return /^(localhost|127\.\d+\.\d+\.\d+|\[::1\])(:\d+)?$/i.test(host);
}

function now(): number {
  return Date.now();
}

function isRecord(value: unknown): value is SessionRecord {
  return (
    typeof value === "object" &&
    value !== null &&
    typeof (value as SessionRecord).cookie === "object" &&
    (value as SessionRecord).cookie !== null
  );
}

/**
 * The session engine, framework-free: it loads a request's session from the store, hands it
 * to the app as `req.session`, and commits it when the response ends. The Express and node:http
 * adapters only call {@link SessionManager.handle}.
 */
export class SessionManager {
  readonly options: NormalizedOptions;
  /** The store as the app gave it: `req.sessionStore`. */
  readonly userStore: Store | LegacyStore;
  /** The same store, speaking the Promise contract. */
  readonly store: Store;
  readonly storeName: string;
  private storeReady = true;
  /** The store calls waiting on `storeTimeoutMs`, or `undefined` when it is off. */
  private readonly deadlines: Deadlines | undefined;
  /** Cookies this middleware has verified, so each one's HMAC runs once, not per request. */
  private readonly verified: UnsignCache;
  /** The cookie's name has a __Secure- or __Host- prefix: browsers keep it only if Secure. */
  readonly securePrefix: boolean;
  /** The store speaks Tessera's contract (else it is wrapped, as written for express-session). */
  readonly native: boolean;
  /** Ids this process destroyed, for writes that go through a `set`, which cannot refuse them. */
  readonly tombstones: Tombstones;
  /**
   * The store's methods that its class defines on each instance (arrow-function fields), as
   * they were when the middleware was made: those are the store's own, not replacements.
   */
  private readonly fieldMethods = new Map<string, unknown>();
  /** The store seen as one written for express-session, for the methods the app replaced. */
  private replacedView: Store | undefined;
  /** The safe cookie attributes when the options fix them for every request (no function, no "auto"). */
  readonly staticAttributes: SafeAttributes | undefined;

  constructor(options: SessionOptions, defaultStore: () => Store) {
    this.options = normalizeOptions(options);
    this.verified = new UnsignCache(this.options.secrets);
    this.securePrefix = hasSecurePrefix(this.options.name);
    const cookie = this.options.cookie;
    if (typeof cookie === "object" && cookie.secure !== "auto" && cookie.sameSite !== "auto") {
      this.staticAttributes = Object.freeze(safeAttributesOf(cookie, () => false));
    }
    const given = options.store;
    if (
      given !== undefined &&
      (typeof given !== "object" || given === null || typeof given.get !== "function")
    ) {
      throw new TesseraError(
        "ERR_OPTION",
        "the store option must be a session store (an object with get, set and destroy).",
      );
    }
    this.userStore = given ?? defaultStore();
    const inProcess =
      (this.userStore as { [IN_PROCESS_STORE]?: boolean })[IN_PROCESS_STORE] === true;
    // A store that answers from this process cannot be unreachable: its calls need no deadline.
    if (this.options.storeTimeoutMs > 0 && !inProcess)
      this.deadlines = new Deadlines(this.options.storeTimeoutMs);
    if (process.env.NODE_ENV === "production" && inProcess) {
      warnOnce(
        "TESSERA_MEMORY_STORE",
        "tessera: the MemoryStore keeps sessions in this process only: they are lost on restart and not shared between instances. In production use SqliteStore (one machine), RedisStore or PostgresStore (several instances).",
      );
    }
    // A store written for express-session fails with its own errors, as under express-session.
    this.store = toStore(this.userStore as Store | CallbackStore, { ownErrors: true });
    this.native = isTesseraStore(this.userStore);
    this.tombstones = tombstonesOf(this.userStore);
    if (this.native) {
      const store = this.userStore as unknown as Record<string, unknown>;
      const proto = Object.getPrototypeOf(store) as Record<string, unknown> | null;
      for (const name of ["get", "set", "destroy", "touch"]) {
        if (Object.hasOwn(store, name) && typeof proto?.[name] !== "function") {
          this.fieldMethods.set(name, store[name]);
        }
      }
    }
    this.storeName = this.userStore.constructor?.name || "the session store";
    const emitter = this.userStore as { on?: (event: string, listener: () => void) => unknown };
    if (typeof emitter.on === "function") {
      // express-session's behaviour while a store says it is disconnected: requests go on
      // without a session rather than waiting on a store that cannot answer.
      emitter.on("disconnect", () => {
        this.storeReady = false;
      });
      emitter.on("connect", () => {
        this.storeReady = true;
      });
    }
    (this.userStore as { generate?: (req: SessionRequest) => void }).generate = (req) => {
      contexts.get(req as object)?.generate();
    };
  }

  /** Runs one request: sets `req.session`, calls `next`, and commits the session when the response ends. */
  handle(req: SessionRequest, res: SessionResponse, next: Next): void {
    if (req.session) {
      next();
      return;
    }
    if (!this.storeReady) {
      next();
      return;
    }
    const options = this.options;
    let cookieOptions: CookieOptions;
    if (typeof options.cookie === "function") {
      cookieOptions = options.cookie(req);
      try {
        checkCookieOptions(options.name, cookieOptions);
      } catch (error) {
        next(error);
        return;
      }
    } else {
      cookieOptions = options.cookie;
    }
    const path = cookieOptions.path;
    if (path !== undefined && path !== "/") {
      const url = req.originalUrl ?? req.url ?? "/";
      const query = url.indexOf("?");
      const pathname = query === -1 ? url : url.slice(0, query);
      if (!pathname.startsWith(path)) {
        next();
        return;
      }
    }

    let secrets = options.secrets;
    if (secrets.length === 0) {
      // express-session's fallback: cookie-parser's secret, when session() was given none.
      const secret = req.secret;
      if (!isSecret(secret)) {
        next(
          new TesseraError(
            "ERR_OPTION",
            "secret option required for sessions: pass session({ secret }) (or a secret to cookie-parser before it).",
          ),
        );
        return;
      }
      secrets = [secret];
    }

    req.sessionStore = this.userStore;
    const found = this.readCookie(req, secrets);
    const context = new RequestContext(this, req, res, next, cookieOptions, found, secrets);
    req.sessionID = found?.value;
    contexts.set(req, context);
    context.hook();

    if (found === undefined) {
      try {
        context.generate(true);
      } catch (error) {
        next(error);
        return;
      }
      next();
      return;
    }
    const sync = this.syncAccess();
    if (sync !== undefined) {
      let record: SessionRecord | undefined;
      try {
        record = sync.get(found.value);
      } catch (error) {
        next(storeError(this.storeName, "get", error));
        return;
      }
      context.loadThenNext(record);
      return;
    }
    this.get(found.value).then(
      (record) => context.loadThenNext(record),
      (error: unknown) => next(error),
    );
  }

  /**
   * The store to call for `name`. A method the app replaced on a Tessera store's instance
   * (`store.set = function (sid, sess, cb) {...}`, as test doubles and instrumentation do) is
   * called the way express-session calls it, through the same adapter as a store written for
   * express-session, which looks the method up at each call: what it answers is what happens.
   */
  private storeFor(name: "get" | "set" | "destroy" | "touch"): Store {
    if (!this.native) return this.store;
    const store = this.userStore as unknown as Record<string, unknown>;
    if (!Object.hasOwn(store, name)) return this.store;
    const method = store[name];
    if (typeof method !== "function" || method === this.fieldMethods.get(name)) return this.store;
    this.replacedView ??= fromLegacyStore(this.userStore as CallbackStore, { ownErrors: true });
    return this.replacedView;
  }

  /**
   * A store call, with the store's own errors passed on as they are when the call went to a
   * store written for express-session (or a replaced method), as under express-session.
   */
  private callStore<T>(
    name: "get" | "set" | "destroy" | "touch",
    run: (store: Store) => Promise<T>,
  ): Promise<T> {
    const store = this.storeFor(name);
    return this.call(name, () => run(store), !this.native || store !== this.store);
  }

  get(id: string): Promise<SessionRecord | undefined> {
    return this.callStore("get", (store) => store.get(id));
  }

  set(id: string, record: SessionRecord, ttlMs: number): Promise<void> {
    return this.callStore("set", (store) => store.set(id, record, ttlMs));
  }

  destroy(id: string): Promise<void> {
    this.tombstones.add(id);
    return this.callStore("destroy", (store) => store.destroy(id));
  }

  touch(id: string, record: SessionRecord, ttlMs: number): Promise<void> {
    return this.callStore("touch", (store) => store.touch(id, record, ttlMs));
  }

  /** The store has `patch`, and the app did not replace its `set`: then every write goes through that. */
  canPatch(): boolean {
    return typeof this.store.patch === "function" && this.storeFor("set") === this.store;
  }

  /**
   * The store's synchronous way in (the MemoryStore's), or `undefined` to go through its
   * Promises: always so while someone listens to the store's diagnostics channel, which times
   * each call.
   */
  syncAccess(): SyncAccess | undefined {
    if (channels.store.hasSubscribers) return undefined;
    return (this.store as { [SYNC_ACCESS]?: SyncAccess })[SYNC_ACCESS];
  }

  /**
   * The verified session id the request carries: from the Cookie header, or else, as
   * express-session reads them, from cookie-parser's `req.signedCookies` and `req.cookies`.
   * Unsigned, tampered or foreign cookies are not errors: the visitor gets a fresh session.
   */
  private readCookie(
    req: SessionRequest,
    secrets: readonly Secret[],
  ): { value: string; secretIndex: number } | undefined {
    const name = this.options.name;
    const header = req.headers.cookie;
    if (header) {
      const found = this.unsignCookie(parseCookieHeader(header)[name], secrets);
      if (found !== undefined) return found;
    }
    const signed = req.signedCookies?.[name];
    const parsed = req.cookies?.[name];
    const found =
      typeof signed === "string" && signed !== ""
        ? { value: signed, secretIndex: 0 }
        : typeof parsed === "string"
          ? this.unsignCookie(parsed, secrets)
          : undefined;
    // express-session's deprecation, for ids found only where cookie-parser put them.
    if (found !== undefined) {
      warnOnce(
        "TESSERA_COOKIE_PARSER",
        "tessera: cookie should be available in req.headers.cookie",
      );
    }
    return found;
  }

  private unsignCookie(
    raw: string | undefined,
    secrets: readonly Secret[],
  ): { value: string; secretIndex: number } | undefined {
    if (raw === undefined || !raw.startsWith("s:")) return undefined;
    // The cache belongs to the configured secrets; cookie-parser's req.secret is checked as is.
    return secrets === this.options.secrets
      ? this.verified.unsign(raw.slice(2))
      : unsign(raw.slice(2), secrets);
  }

  /**
   * Runs one store call with the configured timeout, timing it for diagnostics_channel, and
   * turns any failure into a `TesseraError` that names neither the session nor its data, except
   * with `raw`: a store written for express-session (or a method replaced on a store) fails with
   * its own error, as under express-session.
   */
  call<T>(operation: string, run: () => Promise<T>, raw = false): Promise<T> {
    const started = channels.store.hasSubscribers ? performance.now() : 0;
    let promise: Promise<T>;
    try {
      promise = run();
    } catch (error) {
      promise = Promise.reject(error);
    }
    if (this.deadlines === undefined && !started) {
      return promise.then(undefined, (error: unknown) => {
        throw raw ? error : storeError(this.storeName, operation, error);
      });
    }
    // One Promise per call, settled by whichever comes first: the store's answer or the deadline.
    return new Promise<T>((resolve, reject) => {
      const deadline = this.deadlines?.add(() => {
        const error = new TesseraError(
          "ERR_STORE_UNAVAILABLE",
          `${this.storeName} did not answer ${operation} within ${this.options.storeTimeoutMs} ms: check that its server is running, or raise storeTimeoutMs.`,
        );
        if (started) {
          publish(channels.store, { operation, durationMs: performance.now() - started, error });
        }
        reject(error);
      });
      promise.then(
        (value) => {
          if (deadline !== undefined && !this.deadlines?.settle(deadline)) return;
          if (started)
            publish(channels.store, { operation, durationMs: performance.now() - started });
          resolve(value);
        },
        (error: unknown) => {
          if (deadline !== undefined && !this.deadlines?.settle(deadline)) return;
          const wrapped = raw ? error : storeError(this.storeName, operation, error);
          if (started) {
            publish(channels.store, {
              operation,
              durationMs: performance.now() - started,
              error: wrapped,
            });
          }
          reject(wrapped);
        },
      );
    });
  }

  /**
   * Touches rewrite the record: the store was written for express-session, so its touch keeps
   * only its own expiry, and the idle timeout is read from the record's last-seen time.
   */
  get touchRewrites(): boolean {
    return !this.native && this.options.idleTimeoutMs > 0;
  }

  /** The session has lived longer than `absoluteTimeoutMs`. */
  pastAbsoluteTimeout(session: Session): boolean {
    const { absoluteTimeoutMs } = this.options;
    return absoluteTimeoutMs > 0 && session[kState].meta.createdAt + absoluteTimeoutMs <= now();
  }

  /** How long the store should keep the session from now, or 0 when it has already expired. */
  ttlOf(session: Session): number {
    const options = this.options;
    const expires = session.cookie.expires;
    const at = expires instanceof Date ? expires.getTime() : Number.NaN;
    // No expiry, or one no cookie can carry (an invalid Date: the cookie fails on its own, as in
    // express-session): the store keeps the session for `sessionTtlMs`.
    let ttl = Number.isNaN(at) ? options.sessionTtlMs : at - now();
    if (options.idleTimeoutMs > 0) ttl = Math.min(ttl, options.idleTimeoutMs);
    if (options.absoluteTimeoutMs > 0) {
      ttl = Math.min(ttl, session[kState].meta.createdAt + options.absoluteTimeoutMs - now());
    }
    return Math.max(ttl, 0);
  }

  /**
   * Why a stored session must not be used any more, or `undefined` while it is alive.
   *
   * The cookie's stored expiry is not checked: the store's own expiry is the authority, as under
   * express-session. Stores written for it (connect-redis, connect-pg-simple, ...) move only
   * their own expiry on `touch`, so a stored `cookie.expires` can be long past for a session in
   * use with `rolling`. A Tessera store keeps the idle timeout as the TTL of every write and
   * touch; a store written for express-session ignores that TTL, so there the last-seen time in
   * the record decides, and touches of such a store rewrite the record (see `touch`).
   */
  expiredBecause(meta: SessionMeta | undefined): string | undefined {
    if (meta === undefined || typeof meta !== "object") return undefined;
    const { absoluteTimeoutMs, idleTimeoutMs } = this.options;
    const time = now();
    if (absoluteTimeoutMs > 0 && meta.createdAt + absoluteTimeoutMs <= time) return "absolute";
    if (idleTimeoutMs > 0 && !this.native) {
      const seen = typeof meta.seenAt === "number" ? meta.seenAt : meta.createdAt;
      if (seen + idleTimeoutMs <= time) return "idle";
    }
    return undefined;
  }

  /**
   * A `Session` around a stored record. The cookie's expiry comes from the record; the
   * attributes that keep it safe (httpOnly, secure, sameSite, domain, path, partitioned,
   * priority) come from this request's options, never from the store, so that whoever can write
   * the store cannot make the browser keep the cookie without HttpOnly, or send it cross-site.
   */
  inflate(
    controller: SessionController,
    req: unknown,
    id: string,
    record: SessionRecord,
    attributes: SafeAttributes,
  ): Session {
    const stored = record.__tessera;
    const meta: SessionMeta =
      stored && typeof stored === "object" && typeof stored.createdAt === "number"
        ? { ...stored }
        : { createdAt: now() };
    const cookie = Object.assign(cookieFromRecord(record.cookie), attributes);
    return new Session(controller, req, id, cookie, meta, record);
  }

  /** The Set-Cookie value that carries `id`, signed with `secret` (the current one). */
  signedCookie(id: string, cookie: Cookie, secret: Secret): string {
    return cookie.serialize(this.options.name, `s:${sign(id, secret)}`);
  }
}

/**
 * One request's session lifecycle. It is the controller behind `req.session`'s methods, and it
 * holds the response until the store has the session: a redirect sent right after login never
 * reaches the browser before the session is saved (express-session #360).
 */
class RequestContext implements SessionController {
  /** The session id the browser sent (verified), if any. */
  private readonly cookieId: string | undefined;
  private readonly signedWithOldSecret: boolean;
  /** The id the session had when loaded or generated; a different id means regenerated. */
  private originalId: string | undefined;
  /** Whether the session counts as saved when unchanged (express-session's `savedHash`). */
  private hasSaved = false;
  /** Whether the session changed since it was loaded, including changes already written. */
  private modified = false;
  private ended = false;
  private failed = false;
  private headersDone = false;
  /**
   * `end()` was called and waits for the store: the response must act as one whose headers
   * went out (late header changes throw, a second `end()` does nothing), as under
   * express-session, though nothing has been sent yet.
   */
  private holding = false;
  /** The browser holds a cookie for a session that no longer exists: clear it. */
  private clearCookie = false;
  /** Store writes of this request run one after the other. */
  private queue: Promise<void> = Promise.resolve();
  private realEnd: SessionResponse["end"] | undefined;
  /** No store work of this request is under way: new work can start at once. */
  private idle = true;

  constructor(
    private readonly manager: SessionManager,
    private readonly req: SessionRequest,
    private readonly res: SessionResponse,
    private readonly next: Next,
    private readonly cookieOptions: CookieOptions,
    found: { value: string; secretIndex: number } | undefined,
    /** The secrets of this request, current first (the options', or cookie-parser's). */
    private readonly secrets: readonly Secret[],
  ) {
    this.cookieId = found?.value;
    this.signedWithOldSecret = found !== undefined && found.secretIndex > 0;
  }

  hook(): void {
    const res = this.res;
    const realEnd = res.end;
    const realWriteHead = res.writeHead;
    this.realEnd = realEnd;
    const context = this;
    // Two properties, the fewest that can hold the response and add the cookie (each one added
    // to a response costs a little, see `prepareForProperties`).
    // Unnamed on purpose: a compiler that keeps function names (esbuild's keepNames, as tsx
    // runs) would define `name` on each of these per request, a property added to a function
    // every time. Stack traces still call them res.writeHead and res.end.
    res.writeHead = function (this: SessionResponse, ...args: unknown[]) {
      if (context.holding) throw headersSentError("write");
      return (realWriteHead as (...a: unknown[]) => unknown).apply(this, context.onHeaders(args));
    } as SessionResponse["writeHead"];
    res.end = ((...args: unknown[]) => context.onEnd(args)) as SessionResponse["end"];
  }

  /**
   * While `end()` waits for the store, the response refuses header changes as a sent one does
   * (express-session has sent the headers by then), and ignores writes. Installed only on the
   * responses that wait.
   */
  private hold(): void {
    this.holding = true;
    const res = this.res as unknown as Record<string, unknown>;
    const context = this;
    const guard = (name: string, verb: "set" | "append" | "remove") => {
      const real = res[name];
      if (typeof real !== "function") return;
      res[name] = function (this: unknown, ...args: unknown[]) {
        if (context.holding) throw headersSentError(verb);
        return (real as (...a: unknown[]) => unknown).apply(this, args);
      };
    };
    guard("setHeader", "set");
    guard("appendHeader", "append");
    guard("removeHeader", "remove");
    const write = res.write;
    if (typeof write === "function") {
      res.write = function (this: unknown, ...args: unknown[]) {
        if (context.holding) return false;
        return (write as (...a: unknown[]) => unknown).apply(this, args);
      };
    }
  }

  /** The safe attributes of this request's cookie options, for a session loaded from the store. */
  private safeAttributes(): SafeAttributes {
    const options = this.cookieOptions;
    if (options === this.manager.options.cookie && this.manager.staticAttributes !== undefined) {
      return this.manager.staticAttributes;
    }
    return safeAttributesOf(options, () => isSecureRequest(this.req, this.manager.options.proxy));
  }

  /** The cookie a new session of this request starts with. */
  private freshCookie(): Cookie {
    const cookie = new Cookie(this.cookieOptions);
    const options = this.cookieOptions;
    if (options.secure === "auto" || options.sameSite === "auto") {
      const { secure, sameSite } = this.safeAttributes();
      cookie.secure = secure;
      cookie.sameSite = sameSite;
    }
    return cookie;
  }

  /**
   * A new, empty session with a new id, as `req.session`. On load (`initial`), it is what the
   * request started with; from `regenerate()` or `store.generate(req)` it replaces that, and so
   * counts as a change: express-session saves the regenerated session and sends its cookie even
   * with `saveUninitialized: false` (passport's `logout()` relies on it).
   */
  generate(initial = false): Session {
    const manager = this.manager;
    const req = this.req;
    const id = manager.options.genid(req);
    if (typeof id !== "string" || id === "") {
      throw new TesseraError(
        "ERR_OPTION",
        "the genid option returned something other than a non-empty string.",
      );
    }
    const meta: SessionMeta = { createdAt: now() };
    if (manager.options.recordClient) this.recordClient(meta);
    const session = new Session(this, req, id, this.freshCookie(), meta);
    req.sessionID = id;
    req.session = session;
    if (initial) {
      this.originalId = id;
      this.hasSaved = false;
      this.modified = false;
    }
    publish(channels.created, {});
    return session;
  }

  private recordClient(meta: SessionMeta): void {
    const agent = this.req.headers["user-agent"];
    if (typeof agent === "string") meta.userAgent = agent.slice(0, 256);
    const ip = (this.req as { ip?: string }).ip ?? this.req.socket?.remoteAddress;
    if (ip) meta.ip = ip;
  }

  /** {@link load}, then on to the next middleware, or to the error handler if loading failed. */
  loadThenNext(record: SessionRecord | undefined): void {
    try {
      this.load(record);
    } catch (error) {
      this.next(error);
      return;
    }
    this.next();
  }

  /** Turns what the store answered into `req.session`: the stored session, or a fresh one. */
  load(record: SessionRecord | undefined): void {
    const manager = this.manager;
    const id = this.cookieId as string;
    if (!isRecord(record)) {
      // Nothing stored, or a record that is not a session (corrupt, or written by something
      // else): the visitor gets a fresh session, as with a tampered cookie.
      this.generate(true);
      return;
    }
    const reason = manager.expiredBecause(record.__tessera);
    if (reason !== undefined) {
      // A session past a timeout is removed from the store, not merely ignored.
      manager.destroy(id).catch(() => {});
      publish(channels.expired, { reason });
      this.generate(true);
      return;
    }
    const session = manager.inflate(this, this.req, id, record, this.safeAttributes());
    this.req.session = session;
    this.originalId = id;
    this.hasSaved = !manager.options.resave;
    publish(channels.loaded, {});
  }

  private current(): Session | undefined {
    const session = this.req.session;
    return session instanceof Session && !session[kState].gone ? session : undefined;
  }

  private enqueue(work: () => Promise<void>): Promise<void> {
    // Starting at once when nothing is under way saves a turn of the microtask queue.
    const run = this.idle ? work() : this.queue.then(work);
    this.idle = false;
    const settled: Promise<void> = run.then(
      () => this.settled(settled),
      () => this.settled(settled),
    );
    this.queue = settled;
    return run;
  }

  private settled(work: Promise<void>): void {
    if (this.queue === work) this.idle = true;
  }

  // ---- the decisions, as express-session makes them ----

  /** The app replaced `req.sessionID` with something that is not an id: nothing is saved or sent. */
  private bogusId(): boolean {
    return typeof this.req.sessionID !== "string";
  }

  /** What this request saw of `session`, for the decisions. */
  private facts(session: Session, changes: SessionPatch | undefined): RequestFacts {
    return {
      cookieId: this.cookieId,
      originalId: this.originalId,
      sessionId: session.id,
      idValid: !this.bogusId(),
      hasSaved: this.hasSaved,
      pending: changes !== undefined,
      written: this.modified,
    };
  }

  private shouldSave(session: Session, changes: SessionPatch | undefined): boolean {
    return shouldSave(this.facts(session, changes), this.manager.options);
  }

  private shouldSetCookie(session: Session, changes: SessionPatch | undefined): boolean {
    return shouldSetCookie(this.facts(session, changes), this.manager.options, {
      expires: session.cookie.expires != null,
      signedWithOldSecret: this.signedWithOldSecret,
    });
  }

  // ---- writing ----

  /** Writes the session: a patch of what changed when the store can, else the whole record. */
  private async write(session: Session, changes: SessionPatch | undefined): Promise<void> {
    const manager = this.manager;
    const state = session[kState];
    const ttlMs = manager.ttlOf(session);
    if (ttlMs === 0) {
      if (manager.pastAbsoluteTimeout(session)) {
        await manager.destroy(state.id);
        state.gone = true;
        publish(channels.expired, { reason: "absolute" });
        return;
      }
      // The app gave the cookie an expiry that has passed (maxAge 0, expires in the past): the
      // browser is sent that cookie, as express-session sends it, and the store keeps nothing.
      if (state.stored) await manager.destroy(state.id);
      return;
    }
    this.updateMeta(session);
    const id = state.id;
    if (state.stored && manager.canPatch()) {
      const store = manager.store;
      const written = await manager.call("patch", () =>
        (store.patch as NonNullable<Store["patch"]>)(
          id,
          changes === undefined || manager.options.resave
            ? fullPatchOf(session)
            : {
                set: { ...changes.set, cookie: session.cookie, __tessera: state.meta },
                unset: changes.unset,
              },
          ttlMs,
        ),
      );
      if (!written) {
        this.destroyedMeanwhile(session);
        return;
      }
    } else {
      if (state.stored && manager.tombstones.has(id)) {
        // A `set` cannot refuse the write itself, as `patch` does: a store written for
        // express-session, a Tessera store without patch, or a set the app replaced.
        this.destroyedMeanwhile(session);
        return;
      }
      await manager.set(id, recordOf(session), ttlMs);
    }
    if (changes !== undefined) this.modified = true;
    markStored(session);
    publish(channels.saved, {});
  }

  /**
   * Another request destroyed this session while this one ran (a logout): it stays destroyed,
   * and the browser's cookie is cleared.
   */
  private destroyedMeanwhile(session: Session): void {
    const state = session[kState];
    state.gone = true;
    this.clearCookie = this.cookieId === state.id;
    publish(channels.destroyed, { reason: "concurrent" });
  }

  private updateMeta(session: Session): void {
    const state = session[kState];
    const meta = state.meta;
    meta.seenAt = now();
    const read = this.manager.options.userKey;
    if (read !== undefined) {
      const user = read(state.target);
      if (user === undefined || user === null || user === "") delete meta.user;
      else meta.user = String(user);
    }
  }

  private touchDue(session: Session): boolean {
    return touchDue(session[kState].meta, this.manager.options.touchAfterMs, now());
  }

  /** Refreshes the session's expiry in the store: through `sync` when given, at once. */
  private touch(session: Session, sync?: SyncAccess): Promise<void> | undefined {
    const manager = this.manager;
    const ttlMs = manager.ttlOf(session);
    const state = session[kState];
    // The app moved the cookie's expiry into the past: the session ends, as express-session's
    // store ends it when touched with that expiry.
    if (ttlMs === 0) return manager.destroy(state.id);
    if (manager.touchRewrites) {
      // A store written for express-session keeps only its own expiry on touch, and the idle
      // timeout is read from the record's last-seen time: the record itself must be rewritten.
      // touch() always runs as queued work already: queueing the write again would wait on itself.
      return this.write(session, undefined);
    }
    state.meta.seenAt = now();
    const record = recordOf(session);
    if (sync === undefined) return manager.touch(state.id, record, ttlMs);
    try {
      sync.touch(state.id, record, ttlMs);
    } catch (error) {
      throw storeError(manager.storeName, "touch", error);
    }
    return undefined;
  }

  /** What the end of the response must wait for, or `undefined` when there is nothing to do. */
  private commit(): Promise<void> | undefined {
    const req = this.req;
    const manager = this.manager;
    if (req.session == null && manager.options.unsetDestroy && typeof req.sessionID === "string") {
      const id = req.sessionID;
      this.clearCookie = this.cookieId === id;
      return manager.destroy(id);
    }
    const session = this.current();
    if (session === undefined) return undefined;
    if (!this.headersDone) session.cookie.resetMaxAge();
    const changes = changesOf(session);
    if (this.shouldSave(session, changes)) return this.enqueue(() => this.write(session, changes));
    if (this.cookieId === session.id && !this.bogusId()) {
      if (!this.idle) {
        // Decide once the writes under way are done: they move `seenAt`.
        return this.enqueue(
          () => (this.touchDue(session) && this.touch(session)) || Promise.resolve(),
        );
      }
      if (!this.touchDue(session)) return undefined;
      // A store that answers within the call is touched here, and the response ends at once.
      const sync = manager.syncAccess();
      if (sync !== undefined) return this.touch(session, sync);
      return this.enqueue(() => this.touch(session) ?? Promise.resolve());
    }
    return undefined;
  }

  private onEnd(args: unknown[]): unknown {
    const realEnd = this.realEnd as (...a: unknown[]) => unknown;
    // After a failed commit the error handler's response goes through as it is.
    if (this.failed) return realEnd.apply(this.res, args);
    // express-session ignores every end() after the first.
    if (this.ended) return false;
    this.ended = true;
    let work: Promise<void> | undefined;
    try {
      work = this.commit();
    } catch (error) {
      this.fail(error);
      return this.res;
    }
    if (work === undefined) return realEnd.apply(this.res, args);
    this.hold();
    work.then(
      () => {
        this.holding = false;
        realEnd.apply(this.res, args);
      },
      (error: unknown) => this.fail(error, args),
    );
    return this.res;
  }

  /**
   * The store write at the end of the request failed. As express-session does, the response
   * the app wrote goes out and the error goes to the error handler afterwards (once the
   * response is out, Express's handler only closes the connection), unless
   * `saveErrorResponse: "error"` asks for the error handler's response instead. That is only
   * possible while nothing is sent: then nothing of the app's response, not its Location nor its
   * Content-Type, may leak into the error handler's.
   */
  private fail(error: unknown, endArgs?: unknown[]): void {
    this.failed = true;
    this.holding = false;
    const res = this.res;
    if (
      endArgs !== undefined &&
      (res.headersSent || !this.manager.options.replaceResponseOnSaveError)
    ) {
      (this.realEnd as (...a: unknown[]) => unknown).apply(res, endArgs);
      setImmediate(() => this.next(error));
      return;
    }
    if (!res.headersSent) for (const name of res.getHeaderNames()) res.removeHeader(name);
    this.next(error);
  }

  /** Adds the session cookie as the headers go out; returns the arguments for the real writeHead. */
  private onHeaders(args: unknown[]): unknown[] {
    if (this.headersDone) return args;
    this.headersDone = true;
    if (this.failed) return args;
    const value = this.cookieValue();
    return value === undefined ? args : writeHeadWithCookie(this.res, args, value);
  }

  /** The Set-Cookie value this response must carry, if any. */
  private cookieValue(): string | undefined {
    const manager = this.manager;
    const session = this.current();
    if (session === undefined) {
      if (!this.clearCookie) return undefined;
      const cookie = new Cookie(this.cookieOptions);
      return serializeCookie(manager.options.name, "", { ...cookie.data, expires: new Date(0) });
    }
    let changes: SessionPatch | undefined;
    try {
      changes = changesOf(session);
    } catch {
      changes = undefined;
    }
    if (!this.shouldSetCookie(session, changes)) return undefined;
    if (session.cookie.secure || manager.securePrefix) {
      // Browsers drop a Secure cookie sent over plain HTTP, and a __Secure-/__Host- one without
      // Secure. express-session sends no cookie then; so do we, unless told that localhost is a
      // secure context (browsers treat it as one).
      const secure =
        isSecureRequest(this.req, manager.options.proxy) ||
        (manager.options.localhostIsSecure && isLocalhost(this.req));
      if (!secure) {
        warnOnce(
          "TESSERA_INSECURE_COOKIE",
          "tessera: the session cookie must be Secure (cookie.secure, or a __Secure-/__Host- name) but this request came over plain HTTP, so the browser would drop it and no cookie was sent. Behind a TLS proxy set the proxy option (or Express's trust proxy); otherwise use cookie.secure: 'auto' with an unprefixed name, or serve the site over HTTPS.",
        );
        return undefined;
      }
      session.cookie.secure = true;
    }
    if (!this.ended) session.cookie.resetMaxAge();
    try {
      return manager.signedCookie(session.id, session.cookie, this.secrets[0] as Secret);
    } catch (error) {
      // A cookie attribute the cookie format refuses (an invalid Date for expires): as
      // express-session does, the response goes on without the cookie and the error goes to
      // next, once the headers are out.
      process.nextTick(() => this.next(error));
      return undefined;
    }
  }

  // ---- req.session's methods ----

  save(session: Session): Promise<void> {
    return this.enqueue(async () => {
      const state = session[kState];
      if (state.gone) throw gone("save");
      const changes = changesOf(session);
      await this.write(session, changes);
      this.hasSaved = true;
    });
  }

  reload(session: Session): Promise<void> {
    return this.enqueue(async () => {
      const state = session[kState];
      const manager = this.manager;
      const record = await manager.get(state.id);
      if (!isRecord(record) || manager.expiredBecause(record.__tessera) !== undefined) {
        throw gone("reload");
      }
      state.gone = true;
      this.req.session = manager.inflate(this, this.req, state.id, record, this.safeAttributes());
    });
  }

  regenerate(session: Session, options: RegenerateOptions): Promise<void> {
    return this.enqueue(async () => {
      const state = session[kState];
      const manager = this.manager;
      await manager.destroy(state.id);
      state.gone = true;
      const fresh = this.generate();
      if (options.keepData) {
        // Renewal (OWASP's renewal timeout) is not a new login: the session keeps its user, and
        // so its place in the user index for "log out everywhere", and its creation time, so the
        // absolute timeout still counts from the login. What must not outlive an id (the CSRF
        // secret) is left behind.
        const target = fresh[kState].target;
        for (const key of Object.keys(state.target)) {
          if (key !== "cookie" && !notRenewed.has(key)) target[key] = state.target[key];
        }
        const meta = fresh[kState].meta;
        meta.createdAt = state.meta.createdAt;
        if (state.meta.user !== undefined) {
          meta.user = state.meta.user;
          fresh[kState].metaChanged = true;
        }
      }
    });
  }

  destroy(session: Session): Promise<void> {
    return this.enqueue(async () => {
      const state = session[kState];
      const manager = this.manager;
      await manager.destroy(state.id);
      state.gone = true;
      if (this.req.session === session) delete this.req.session;
      // express-session leaves the cookie in the browser (its #241); clear it.
      this.clearCookie = this.cookieId === state.id;
      publish(channels.destroyed, { reason: "destroy" });
    });
  }
}

function gone(method: string): TesseraError {
  // express-session's words for a reload that finds nothing, which apps compare exactly.
  if (method === "reload") {
    return new TesseraError("ERR_SESSION_GONE", "failed to load session", { verbatim: true });
  }
  return new TesseraError(
    "ERR_SESSION_GONE",
    `req.session.${method}() was called on a session that no longer exists (destroyed, regenerated or expired): use the current req.session.`,
  );
}

// express-session's Store#createSession, for stores that extend our legacy Store base.
registerSessionFactory((store, req, record) => {
  const detached: SessionController = {
    async save(session) {
      const adapted = toStore(store as unknown as CallbackStore);
      await adapted.set(session.id, recordOf(session), 86_400_000);
      markStored(session);
    },
    async reload() {
      throw new TesseraError(
        "ERR_SESSION_GONE",
        "reload() needs the session middleware: call it on req.session.",
      );
    },
    async regenerate() {
      throw new TesseraError(
        "ERR_SESSION_GONE",
        "regenerate() needs the session middleware: call it on req.session.",
      );
    },
    async destroy(session) {
      await toStore(store as unknown as CallbackStore).destroy(session.id);
      session[kState].gone = true;
    },
  };
  const meta = record.__tessera ?? { createdAt: now() };
  return new Session(
    detached,
    req,
    String(req.sessionID),
    cookieFromRecord(record.cookie),
    meta,
    record,
  );
});
