import type { SessionMeta, SessionPatch, SessionRecord } from "../store/types.js";
import { META_KEY } from "../store/types.js";
import type { Cookie } from "./cookie.js";
import { TesseraError } from "./errors.js";

/**
 * The data of a session. Declare your own keys on it by declaration merging:
 *
 * @example
 * declare module "tessera" {
 *   interface SessionData {
 *     user: { id: string; name: string };
 *     views: number;
 *   }
 * }
 */
export interface SessionData {
  /** The session cookie's settings; as in @types/express-session, which custom stores read. */
  cookie: Cookie;
}

/** What a session method calls back with, Node style. */
export type SessionCallback = (error?: unknown) => void;

/** Options of {@link Session.regenerate}. */
export interface RegenerateOptions {
  /** Carry the session's data over to the new id (the cart survives logging in). @default false */
  keepData?: boolean;
}

/** A session's own timeouts, set by {@link Session.setLifetime}. */
export interface SessionLifetime {
  /** Ends the session after this long without activity; 0 for never. @default the `idleTimeoutMs` option */
  idleTimeoutMs?: number;
  /** Ends the session this long after it was created; 0 for never. @default the `absoluteTimeoutMs` option */
  absoluteTimeoutMs?: number;
  /**
   * Also gives the cookie this `maxAge`, so that it outlives the browser session ("remember
   * me"); usually the absolute timeout. @default the cookie keeps its options' `maxAge`
   */
  cookieMaxAgeMs?: number;
}

/** The engine behind a session's methods; implemented by the request lifecycle in manager.ts. */
export interface SessionController {
  save(session: Session): Promise<void>;
  reload(session: Session): Promise<void>;
  regenerate(session: Session, options: RegenerateOptions): Promise<void>;
  destroy(session: Session): Promise<void>;
  /** destroy() on behalf of the user-session helpers (reported as revoked), where supported. */
  revoke?(session: Session): Promise<void>;
  /** How the user-session helpers report sessions they revoke by id; `undefined`: nobody listens. */
  revokedReporter?(): ((id: string, user: string) => void) | undefined;
}

/**
 * Session keys that `regenerate({ keepData: true })` leaves behind: secrets bound to one id,
 * such as the CSRF secret (csrf() adds its key). Renewing an id must change them too.
 */
export const notRenewed = new Set<string>();

/** Keys of a session that are not session data. */
const RESERVED = new Set(["cookie", "id", "req"]);

/** @internal Per-session bookkeeping, reachable only through this symbol. */
export const kState: unique symbol = Symbol("tessera.session");

/** @internal */
export interface SessionState {
  readonly controller: SessionController;
  /** The object behind the proxy: reading it records nothing. */
  readonly target: Record<string, unknown>;
  /** The id as stored; `req.sessionID` follows it. */
  id: string;
  /** The request the session belongs to: `req.session.req`, as in express-session. */
  readonly req: unknown;
  /** The tracking proxy that is the session as the app sees it. */
  proxy: Session | undefined;
  /** True once the record exists in the store (loaded, or saved by this request). */
  stored: boolean;
  meta: SessionMeta;
  /**
   * For each top-level key this request may have changed, its JSON when first seen
   * (`undefined` for "absent"). Created on first use: an untouched session allocates nothing.
   */
  before: Map<string, string | undefined> | undefined;
  /** Keys as they were in the store; lets a full rewrite also remove deleted keys. */
  storedKeys: readonly string[];
  /** The session was destroyed or replaced: its methods no longer apply. */
  gone: boolean;
  /** `setUser()` changed the metadata: the session must be written even if its data did not change. */
  metaChanged: boolean;
  /** `notActivity()`: this request must not move the session's idle deadline. */
  notActivity: boolean;
}

function jsonOf(value: unknown, key: string): string | undefined {
  if (typeof value === "bigint") throw unserializable(key, "a BigInt");
  try {
    return JSON.stringify(value);
  } catch (cause) {
    throw unserializable(key, "a value JSON cannot represent (a cycle?)", cause);
  }
}

function unserializable(key: string, what: string, cause?: unknown): TesseraError {
  return new TesseraError(
    "ERR_SESSION_DATA",
    `req.session.${key} holds ${what}, which cannot be stored. Store plain JSON data (strings, numbers, booleans, arrays, objects, Dates).`,
    cause === undefined ? {} : { cause },
  );
}

function remember(state: SessionState, target: object, key: string): void {
  state.before ??= new Map();
  const before = state.before;
  if (before.has(key)) return;
  before.set(
    key,
    Object.hasOwn(target, key) ? jsonOf((target as Record<string, unknown>)[key], key) : undefined,
  );
}

// One handler for every session. Reads of primitive values cost one trap; an object-valued key
// is snapshotted as JSON the first time it is read, because the app may mutate it in place
// (`req.session.cart.push(item)`), and compared at the end of the request.
const tracking: ProxyHandler<Session> = {
  get(target, key, receiver) {
    const value = Reflect.get(target, key, receiver);
    if (
      typeof key === "string" &&
      typeof value === "object" &&
      value !== null &&
      !RESERVED.has(key) &&
      Object.hasOwn(target, key)
    ) {
      remember(target[kState], target, key);
    }
    return value;
  },
  set(target, key, value, receiver) {
    const state = target[kState];
    if (typeof key === "string") {
      if (NOT_DATA.has(key)) throw notData(key);
      if (!RESERVED.has(key)) remember(state, target, key);
    }
    // Set on the target itself when the assignment is made on the session: with the proxy as
    // receiver, Reflect.set would define the property through the proxy again, a second trap.
    return receiver === state.proxy
      ? Reflect.set(target, key, value)
      : Reflect.set(target, key, value, receiver);
  },
  deleteProperty(target, key) {
    if (typeof key === "string" && !RESERVED.has(key)) remember(target[kState], target, key);
    return Reflect.deleteProperty(target, key);
  },
  defineProperty(target, key, descriptor) {
    if (typeof key === "string") {
      if (NOT_DATA.has(key)) throw notData(key);
      if (!RESERVED.has(key)) remember(target[kState], target, key);
    }
    return Reflect.defineProperty(target, key, descriptor);
  },
  setPrototypeOf() {
    throw new TesseraError(
      "ERR_SESSION_DATA",
      "req.session's prototype cannot be changed: it holds the session's methods. Keep data in its properties.",
    );
  },
};

function notData(key: string): TesseraError {
  return new TesseraError(
    "ERR_SESSION_DATA",
    `req.session.${key} is part of the session's behaviour, not data: keep that value under another key.`,
  );
}

function settle(promise: Promise<void>, callback: SessionCallback | undefined): Promise<void> {
  if (typeof callback === "function") {
    promise.then(() => callback(), callback);
  } else {
    // Code written for express-session often calls save() or regenerate() without a callback
    // and never looks at the result: that must not become an unhandled rejection that stops
    // the process. The error still reaches the app: whoever awaits this promise gets it, and
    // changes left unsaved are written (or fail through next(err)) when the response ends.
    promise.catch(() => {});
  }
  return promise;
}

/**
 * `req.session`: the session's data as plain properties, its `cookie`, and express-session's
 * methods. Each method takes an optional Node-style callback and also returns a Promise.
 */
export class Session {
  cookie: Cookie;
  declare [kState]: SessionState;

  /** @internal Use the middleware: it creates sessions. */
  constructor(
    controller: SessionController,
    req: unknown,
    id: string,
    cookie: Cookie,
    meta: SessionMeta,
    data?: Record<string, unknown>,
  ) {
    const state: SessionState = {
      controller,
      target: this as unknown as Record<string, unknown>,
      id,
      req,
      proxy: undefined,
      stored: data !== undefined,
      meta,
      before: undefined,
      storedKeys: [],
      gone: false,
      metaChanged: false,
      notActivity: false,
    };
    Object.defineProperty(this, kState, { value: state });
    this.cookie = cookie;
    if (data !== undefined) {
      const keys: string[] = [];
      for (const key of Object.keys(data)) {
        // As express-session does (`if (!(prop in this))`): a stored `save` or `__proto__` is
        // left in the store, never copied over the session's methods or prototype.
        if (RESERVED.has(key) || NOT_DATA.has(key)) continue;
        (this as Record<string, unknown>)[key] = data[key];
        keys.push(key);
      }
      state.storedKeys = keys;
    }
    const proxy = new Proxy(this, tracking);
    state.proxy = proxy;
    // biome-ignore lint/correctness/noConstructorReturn: the tracking proxy is the session.
    return proxy;
  }

  /** The session's id; read-only, and never stored with the data (it is not enumerable). */
  get id(): string {
    return this[kState].id;
  }

  /** The request this session belongs to, as in express-session; never stored. */
  get req(): unknown {
    return this[kState].req;
  }

  /** Writes the session to the store now. */
  save(callback?: SessionCallback): Promise<void> {
    return settle(this[kState].controller.save(this), callback);
  }

  /** Replaces the session's data with what the store holds now. */
  reload(callback?: SessionCallback): Promise<void> {
    return settle(this[kState].controller.reload(this), callback);
  }

  /**
   * Gives the session a new id (do it on login, to block session fixation) and, unless
   * `keepData` is set, empty data. The old id stops working at once.
   *
   * @example
   * await req.session.regenerate({ keepData: true }); // new id, cart kept
   */
  regenerate(callback?: SessionCallback): Promise<void>;
  regenerate(options: RegenerateOptions, callback?: SessionCallback): Promise<void>;
  regenerate(
    optionsOrCallback?: RegenerateOptions | SessionCallback,
    callback?: SessionCallback,
  ): Promise<void> {
    const options = typeof optionsOrCallback === "object" ? optionsOrCallback : {};
    const done = typeof optionsOrCallback === "function" ? optionsOrCallback : callback;
    return settle(this[kState].controller.regenerate(this, options), done);
  }

  /** Removes the session from the store and clears the cookie in the browser. */
  destroy(callback?: SessionCallback): Promise<void> {
    return settle(this[kState].controller.destroy(this), callback);
  }

  /**
   * Resets the cookie's expiry to a full `maxAge` from now, as express-session does. It is
   * synchronous and returns the session, so `req.session.touch().save()` keeps working.
   */
  touch(callback?: SessionCallback): this {
    this.cookie.resetMaxAge();
    if (typeof callback === "function") queueMicrotask(() => callback());
    return this;
  }

  /**
   * Ties this session to a user (or detaches it with `null`), so that the user's sessions can
   * be listed and revoked together ("log out everywhere"), and records now as the time the user
   * authenticated, for `requireRecentLogin()`. Call it at login, after `regenerate()`, and again
   * with the same user once they have re-entered their password.
   *
   * @example
   * await req.session.regenerate();
   * req.session.setUser(user.id);
   */
  setUser(user: string | number | null): this {
    const meta = this[kState].meta;
    if (user === null || user === "") {
      delete meta.user;
      delete meta.authenticatedAt;
    } else {
      meta.user = String(user);
      meta.authenticatedAt = Date.now();
    }
    this[kState].metaChanged = true;
    return this;
  }

  /** The user this session is tied to, if any. */
  getUser(): string | undefined {
    return this[kState].meta.user;
  }

  /**
   * When the session's user last authenticated (see {@link setUser}), or `undefined` for a
   * session without a user. Named like `getUser` rather than `authenticatedAt`: every method name
   * is refused as a data key, and `authenticatedAt` is a name apps already keep in their data.
   */
  getAuthenticatedAt(): Date | undefined {
    const at = this[kState].meta.authenticatedAt;
    return typeof at === "number" ? new Date(at) : undefined;
  }

  /**
   * Gives this session its own idle and absolute timeouts, in place of the options' (longer for
   * "remember me", shorter for an administrator). They are kept by `regenerate({ keepData: true })`
   * and dropped by a plain `regenerate()`. Each call replaces the previous one: a timeout left
   * out is the option's again. With `cookieMaxAgeMs`, the cookie gets that `maxAge` too.
   *
   * @example
   * await req.session.regenerate();
   * req.session.setUser(user.id);
   * if (req.body.remember) {
   *   const month = 30 * 86_400_000;
   *   req.session.setLifetime({ idleTimeoutMs: month, absoluteTimeoutMs: month, cookieMaxAgeMs: month });
   * }
   */
  setLifetime(lifetime: SessionLifetime): this {
    const state = this[kState];
    const meta = state.meta;
    for (const key of ["idleTimeoutMs", "absoluteTimeoutMs", "cookieMaxAgeMs"] as const) {
      const value = lifetime[key];
      if (value === undefined) {
        delete meta[key];
      } else if (typeof value === "number" && Number.isFinite(value) && value >= 0) {
        meta[key] = value;
      } else {
        throw new TesseraError(
          "ERR_OPTION",
          `setLifetime(): ${key} must be a number of milliseconds, 0 or more.`,
        );
      }
    }
    if (meta.cookieMaxAgeMs !== undefined) this.cookie.maxAge = meta.cookieMaxAgeMs;
    state.metaChanged = true;
    return this;
  }

  /**
   * Marks this request as not activity of the user (a polling endpoint, a status check): it
   * neither refreshes the session's expiry nor moves its idle deadline, even when it writes
   * data, so an open tab that polls does not keep an idle session alive.
   *
   * @example
   * app.get("/api/notifications", (req, res) => {
   *   req.session.notActivity();
   *   res.json(unread(req.session.getUser()));
   * });
   */
  notActivity(): this {
    this[kState].notActivity = true;
    return this;
  }

  /** Same as {@link touch}: express-session's older name. */
  resetMaxAge(): this {
    this.cookie.resetMaxAge();
    return this;
  }
}

/**
 * Names that are the session's behaviour, never its data: its methods and accessors, those every
 * object has (`__proto__`, `constructor`, `hasOwnProperty`...), and the record's metadata key.
 * Loading skips them as express-session does. express-session lets an app assign them
 * (`req.session.save = 1` hides the method until the next load drops the key, and
 * `req.session.__proto__ = x` swaps the prototype); Tessera refuses with ERR_SESSION_DATA
 * instead, because such a value could never be read back as data.
 */
const NOT_DATA: ReadonlySet<string> = new Set([
  ...Object.getOwnPropertyNames(Session.prototype),
  ...Object.getOwnPropertyNames(Object.prototype),
  META_KEY,
]);

/** @internal Whether an app may keep data under `key` in a session (csrf's `sessionKey`). */
export function isDataKey(key: string): boolean {
  return !RESERVED.has(key) && !NOT_DATA.has(key);
}

function dataKeys(target: Record<string, unknown>): string[] {
  const keys: string[] = [];
  for (const key of Object.keys(target)) if (!RESERVED.has(key)) keys.push(key);
  return keys;
}

/** @internal The top-level keys this request changed, or `undefined` when nothing changed. */
export function changesOf(session: Session): SessionPatch | undefined {
  const state = session[kState];
  const before = state.before;
  if (before === undefined || before.size === 0) {
    return state.metaChanged ? { set: {}, unset: [] } : undefined;
  }
  const target = state.target;
  let set: Record<string, unknown> | undefined;
  let unset: string[] | undefined;
  for (const [key, was] of before) {
    const present = Object.hasOwn(target, key);
    const value = present ? target[key] : undefined;
    const now = present ? jsonOf(value, key) : undefined;
    if (now === was) continue;
    if (now === undefined) {
      unset ??= [];
      unset.push(key);
    } else {
      set ??= {};
      set[key] = value;
    }
  }
  if (set === undefined && unset === undefined && !state.metaChanged) return undefined;
  return { set: set ?? {}, unset: unset ?? [] };
}

/** @internal Marks the current data as what the store holds (after a successful write). */
export function markStored(session: Session): void {
  const state = session[kState];
  state.stored = true;
  state.before = undefined;
  state.metaChanged = false;
  state.storedKeys = dataKeys(state.target);
}

/**
 * @internal The full record to store for this session. Call {@link changesOf} first: it has
 * already checked that every key written by this request serializes.
 */
export function recordOf(session: Session): SessionRecord {
  const state = session[kState];
  const record: SessionRecord = { cookie: session.cookie };
  for (const key of dataKeys(state.target)) record[key] = state.target[key];
  record[META_KEY] = state.meta;
  return record;
}

/** @internal A patch that rewrites every key (resave, or a store without patch). */
export function fullPatchOf(session: Session): SessionPatch {
  const record = recordOf(session);
  const present = new Set(Object.keys(record));
  return {
    set: record,
    unset: session[kState].storedKeys.filter((key) => !present.has(key)),
  };
}
