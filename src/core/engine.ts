import { parse as parseCookieHeader } from "cookie";
import { IN_PROCESS_STORE, isThenable, type MaybePromise, type Store } from "../store/types.js";
import { envVar } from "./builtins.js";
import {
  type Cookie,
  type CookieOptions,
  type SafeAttributes,
  safeAttributesOf,
} from "./cookie.js";
import "./detached-session.js";
import { TesseraError } from "./errors.js";
import {
  checkCookieOptions,
  hasSecurePrefix,
  isSecret,
  type NormalizedOptions,
  normalizeOptions,
  type SessionOptions,
  warnOnce,
} from "./options.js";
import { type CookieFound, RequestState } from "./request-state.js";
import { type Secret, sign, UnsignCache, unsign } from "./signing.js";
import { StoreCalls } from "./store-calls.js";
import { pathnameOf, type RequestView } from "./view.js";

/**
 * Each request's state, by its framework request object, for `store.generate(req)`. A WeakMap
 * rather than a property on the request, so that the request holds only what express-session's
 * API puts on it.
 */
const states = new WeakMap<object, RequestState>();

/**
 * The session engine, with no framework in it. A request goes through two phases:
 *
 * 1. {@link Engine.load} reads the session a request's view names (its signed cookie) from the
 *    store, and puts it in the request's slot (`req.session`): a {@link RequestState}.
 * 2. Once the app is done, {@link RequestState.commit} writes what changed to the store, and
 *    {@link RequestState.setCookie} says which `Set-Cookie` value the response must carry.
 *
 * Adapters own their framework's hooks: Express and node:http wrap `res.end` (src/node),
 * Fastify commits in `onSend`, Koa and Hono after `await next()`.
 */
export class Engine {
  readonly options: NormalizedOptions;
  /** The store, and every call the engine makes to it. */
  readonly calls: StoreCalls;
  /** Cookies this engine has verified, so each one's HMAC runs once, not per request. */
  private readonly verified: UnsignCache;
  /** The cookie's name has a __Secure- or __Host- prefix: browsers keep it only if Secure. */
  readonly securePrefix: boolean;
  /** The safe cookie attributes when the options fix them for every request (no function, no "auto"). */
  readonly staticAttributes: SafeAttributes | undefined;

  // biome-ignore lint/suspicious/noExplicitAny: each adapter types the request its options see
  constructor(options: SessionOptions<any>, defaultStore: () => Store) {
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
    const store = given ?? defaultStore();
    if (
      envVar("NODE_ENV") === "production" &&
      (store as { [IN_PROCESS_STORE]?: boolean })[IN_PROCESS_STORE] === true
    ) {
      warnOnce(
        "TESSERA_MEMORY_STORE",
        "tessera: the MemoryStore keeps sessions in this process only: they are lost on restart and not shared between instances. In production use SqliteStore (one machine), RedisStore or PostgresStore (several instances).",
      );
    }
    this.calls = new StoreCalls(store, this.options.storeTimeoutMs);
    (store as { generate?: (req: unknown) => void }).generate = (req) => {
      if (typeof req === "object" && req !== null) states.get(req)?.generate();
    };
  }

  /** The store as the app gave it (`req.sessionStore`). */
  get store(): Store | NonNullable<SessionOptions["store"]> {
    return this.calls.userStore;
  }

  /**
   * Phase one: the request's session, read from the store (or a new one), put in `view.slot`.
   * Answers at once when the store does (or when there is no cookie), else with a Promise.
   * `undefined` when this engine has nothing to do for the request: a session is already there
   * (a second session() on the path), the store says it is disconnected, or the request is
   * outside the cookie's path. Throws (or rejects) with the error the app's error handler gets.
   */
  load(view: RequestView): MaybePromise<RequestState | undefined> {
    const slot = view.slot;
    if (slot.session) return undefined;
    if (!this.calls.ready) return undefined;
    const cookieOptions = this.cookieOptionsOf(view);
    if (cookieOptions === undefined) return undefined;
    const secrets = this.secretsOf(view);
    const found = this.readCookie(view, secrets);
    const state = new RequestState(this, view, cookieOptions, found, secrets);
    slot.sessionID = found?.value;
    states.set(view.request, state);
    if (found === undefined) {
      state.generate(true);
      return state;
    }
    const record = this.calls.get(found.value);
    if (isThenable(record)) {
      return record.then((answer) => {
        state.load(answer);
        return state;
      });
    }
    state.load(record);
    return state;
  }

  /**
   * The stored session a request with no response names (a WebSocket upgrade), put in
   * `view.slot`; `undefined` when the cookie names no live session. Unlike {@link load}, it
   * never makes a new session, since no cookie could reach the browser. Rejects when the store
   * fails or says it is disconnected.
   */
  async loadExisting(view: RequestView): Promise<RequestState | undefined> {
    if (!this.calls.ready) {
      throw new TesseraError(
        "ERR_STORE_UNAVAILABLE",
        `tessera: ${this.calls.name} says it is disconnected: the session cannot be read until it reconnects.`,
      );
    }
    const cookieOptions = this.cookieOptionsOf(view);
    if (cookieOptions === undefined) return undefined;
    const secrets = this.secretsOf(view);
    const found = this.readCookie(view, secrets);
    if (found === undefined) return undefined;
    const state = new RequestState(this, view, cookieOptions, found, secrets);
    if (!state.adopt(await this.calls.get(found.value))) return undefined;
    view.slot.sessionID = found.value;
    return state;
  }

  /**
   * The request's cookie options, or `undefined` when the request is outside the cookie's path
   * (the browser does not send the cookie there).
   */
  private cookieOptionsOf(view: RequestView): CookieOptions | undefined {
    const options = this.options;
    let cookieOptions: CookieOptions;
    if (typeof options.cookie === "function") {
      cookieOptions = options.cookie(view.request);
      checkCookieOptions(options.name, cookieOptions);
    } else {
      cookieOptions = options.cookie;
    }
    const path = cookieOptions.path;
    if (path !== undefined && path !== "/" && !pathnameOf(view.url).startsWith(path)) {
      return undefined;
    }
    return cookieOptions;
  }

  /** The request's secrets, current first: the options', or cookie-parser's `req.secret`. */
  private secretsOf(view: RequestView): readonly Secret[] {
    const secrets = this.options.secrets;
    if (secrets.length > 0) return secrets;
    // express-session's fallback: cookie-parser's secret, when session() was given none.
    const secret = view.secret;
    if (!isSecret(secret)) {
      throw new TesseraError(
        "ERR_OPTION",
        "secret option required for sessions: pass session({ secret }) (or a secret to cookie-parser before it).",
      );
    }
    return [secret];
  }

  /** The Set-Cookie value that carries `id`, signed with `secret` (the current one). */
  signedCookie(id: string, cookie: Cookie, secret: Secret): string {
    return cookie.serialize(this.options.name, `s:${sign(id, secret)}`);
  }

  /**
   * The verified session id the request carries: from the Cookie header, or else, as
   * express-session reads them, from cookie-parser's `req.signedCookies` and `req.cookies`.
   * Unsigned, tampered or foreign cookies are not errors: the visitor gets a fresh session.
   */
  private readCookie(view: RequestView, secrets: readonly Secret[]): CookieFound | undefined {
    const name = this.options.name;
    const header = view.cookieHeader;
    if (header) {
      const found = this.unsignCookie(parseCookieHeader(header)[name], secrets);
      if (found !== undefined) return found;
    }
    const signed = view.signedCookies?.[name];
    const parsed = view.cookies?.[name];
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
  ): CookieFound | undefined {
    if (raw === undefined || !raw.startsWith("s:")) return undefined;
    // The cache belongs to the configured secrets; cookie-parser's req.secret is checked as is.
    return secrets === this.options.secrets
      ? this.verified.unsign(raw.slice(2))
      : unsign(raw.slice(2), secrets);
  }
}
