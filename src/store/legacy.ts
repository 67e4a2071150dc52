import type { EventEmitter as NodeEventEmitter } from "node:events";
import { TesseraError } from "../core/errors.js";
import { EventEmitter } from "./event-emitter.js";
import { storeError } from "./record.js";
import type { SessionRecord, Store as StoreContract } from "./types.js";

/**
 * The mark of a store written for Tessera's Promise contract: the sure sign, whatever the
 * store's methods look like. {@link isTesseraStore} also recognises an unmarked store by its
 * shape, but a method wrapped by instrumentation, or given an optional parameter, changes that
 * shape; the mark does not.
 *
 * @example
 * class MyStore implements Store {
 *   readonly [TESSERA_STORE] = true;
 *   async get(id: string) { … }
 * }
 */
export const TESSERA_STORE: unique symbol = Symbol.for("tessera.store") as never;

/**
 * True for a store that speaks Tessera's Promise contract; false for one written for
 * express-session, which is then wrapped by {@link fromLegacyStore}. In order:
 *
 * 1. The {@link TESSERA_STORE} mark set to `true`, or a `patch` method (no express-session store
 *    has one): a Tessera store.
 * 2. A `createSession` method: express-session's. express-session calls it on every store that
 *    loads a session, so every store that works under it has one, from express-session's `Store`
 *    base class. It outranks the parameters because they can mislead: connect-redis 7 declares
 *    `async get(sid, cb = noop)`, whose `length` is 1.
 * 3. `get` and `destroy` both declaring exactly one parameter, the contract's `get(id)` and
 *    `destroy(id)`: a Tessera store.
 * 4. Anything else is express-session's, whose `get(sid, callback)` and `destroy(sid, callback)`
 *    declare two; so are the unclear cases (a rest parameter or a wrapper, whose `length` is 0,
 *    or `get` and `destroy` disagreeing), since taking an express-session store for a Tessera
 *    store would hand its callback parameter a TTL, and a store written for Tessera can always
 *    carry the mark.
 *
 * @example
 * isTesseraStore({ async get(id) {}, async set(id, record, ttlMs) {}, async destroy(id) {}, async touch(id, record, ttlMs) {} }); // true
 * isTesseraStore(new (connectPgSimple(session))({ pool })); // false: wrapped as express-session's
 */
export function isTesseraStore(store: unknown): store is StoreContract {
  if (typeof store !== "object" || store === null) return false;
  const candidate = store as Record<string | symbol, unknown>;
  if (candidate[TESSERA_STORE] === true || typeof candidate.patch === "function") return true;
  if (typeof candidate.createSession === "function") return false;
  return takesOneParameter(candidate.get) && takesOneParameter(candidate.destroy);
}

/** A function declaring exactly one parameter (before any default value or rest parameter). */
function takesOneParameter(method: unknown): boolean {
  return typeof method === "function" && method.length === 1;
}

type Callback = (error?: unknown, value?: unknown) => void;
type LegacyMethod = (...args: unknown[]) => unknown;

/** A store written for express-session, as far as the adapter needs to know it. */
export interface CallbackStore {
  get(id: string, callback: Callback): unknown;
  set(id: string, session: unknown, callback: Callback): unknown;
  destroy(id: string, callback: Callback): unknown;
  touch?(id: string, session: unknown, callback: Callback): unknown;
  all?(callback: Callback): unknown;
  length?(callback: Callback): unknown;
  clear?(callback: Callback): unknown;
  on?(event: string, listener: (...args: unknown[]) => void): unknown;
}

/**
 * Calls a store method that takes a trailing Node-style callback. Stores such as connect-redis
 * v9 also return a Promise: whichever answers first wins, and the other is ignored.
 */
function invoke(store: object, method: LegacyMethod, args: unknown[]): Promise<unknown> {
  return new Promise((resolve, reject) => {
    let settled = false;
    const done: Callback = (error, value) => {
      if (settled) return;
      settled = true;
      if (error) reject(error);
      else resolve(value);
    };
    try {
      const result = method.call(store, ...args, done) as { then?: unknown } | undefined;
      if (result && typeof result.then === "function") {
        (result as Promise<unknown>).then(
          (value) => done(undefined, value),
          (error: unknown) =>
            done(error ?? new TesseraError("ERR_STORE", "the store rejected without a reason.")),
        );
      }
    } catch (error) {
      done(error);
    }
  });
}

/** express-session's convention: a `get` failing with ENOENT means "no such session". */
function isMissing(error: unknown): boolean {
  return (error as { code?: unknown } | null)?.code === "ENOENT";
}

/** Options of {@link fromLegacyStore}. */
export interface LegacyStoreOptions {
  /**
   * Fail with the store's own errors, unchanged, as express-session passes them on (the session
   * middleware asks for this, so that apps matching on their messages and codes keep working).
   * Otherwise they are `TesseraError`s (`ERR_STORE`, `ERR_STORE_UNAVAILABLE`) with the store's
   * error as `cause`, as every Tessera store fails.
   * @default false
   */
  ownErrors?: boolean;
}

/**
 * Wraps a store written for express-session (connect-redis, connect-pg-simple, memorystore, or
 * your own callback store) in Tessera's Promise contract. The optional capabilities it offers
 * are exactly those the store has: `all` gives `ids`/`entries`, `length`, `clear`. It has no
 * `patch` and no user index, and says so through `requireCapability`.
 *
 * Each call looks the method up on the store when it is made, so a method replaced on the
 * instance later (a test double, instrumentation) is the one that runs.
 */
export function fromLegacyStore(
  store: CallbackStore,
  options: LegacyStoreOptions = {},
): StoreContract {
  const name =
    store.constructor?.name && store.constructor.name !== "Object"
      ? store.constructor.name
      : "the session store";
  const fail = (operation: string, error: unknown): never => {
    throw options.ownErrors ? error : storeError(name, operation, error);
  };
  const call = (operation: string, method: LegacyMethod, args: unknown[]) =>
    invoke(store, method, args).catch((error: unknown) => fail(operation, error));
  const adapted: StoreContract & {
    readonly legacy: CallbackStore;
    readonly [TESSERA_STORE]: true;
  } = {
    legacy: store,
    // What it answers is the Promise contract, whatever shape its methods have.
    [TESSERA_STORE]: true,
    async get(id) {
      try {
        const session = await invoke(store, store.get as LegacyMethod, [id]);
        return session ? (session as SessionRecord) : undefined;
      } catch (error) {
        if (isMissing(error)) return undefined;
        return fail("get", error);
      }
    },
    async set(id, record) {
      await call("set", store.set as LegacyMethod, [id, record]);
    },
    async destroy(id) {
      await call("destroy", store.destroy as LegacyMethod, [id]);
    },
    async touch(id, record) {
      if (typeof store.touch === "function") {
        await call("touch", store.touch as LegacyMethod, [id, record]);
      }
    },
  };
  if (typeof store.all === "function") {
    const all = store.all as LegacyMethod;
    const entries = async function* (): AsyncGenerator<[string, SessionRecord]> {
      const sessions = (await call("all", all, [])) as unknown;
      if (Array.isArray(sessions)) {
        // connect-redis answers an array of sessions, each with its id.
        for (const session of sessions as (SessionRecord & { id?: string })[]) {
          if (session && typeof session.id === "string") yield [session.id, session];
        }
      } else if (sessions && typeof sessions === "object") {
        for (const [id, session] of Object.entries(sessions as Record<string, SessionRecord>)) {
          yield [
            id,
            typeof session === "string" ? (JSON.parse(session) as SessionRecord) : session,
          ];
        }
      }
    };
    adapted.entries = entries;
    adapted.ids = async function* () {
      for await (const [id] of entries()) yield id;
    };
  }
  if (typeof store.length === "function") {
    const length = store.length as LegacyMethod;
    adapted.length = async () => Number(await call("length", length, []));
  }
  if (typeof store.clear === "function") {
    const clear = store.clear as LegacyMethod;
    adapted.clear = async () => {
      await call("clear", clear, []);
    };
  }
  return adapted;
}

/** A Tessera store as is; anything else wrapped as an express-session store. */
export function toStore(
  store: StoreContract | CallbackStore,
  options: LegacyStoreOptions = {},
): StoreContract {
  return isTesseraStore(store) ? store : fromLegacyStore(store as CallbackStore, options);
}

/** What `Store.prototype` offers stores that extend it, as express-session's does. */
export interface LegacyStoreBase extends NodeEventEmitter {
  /** Set by the middleware: replaces `req.session` with a new, empty session. */
  generate?: (req: unknown) => void;
  regenerate(req: { sessionID?: string }, callback: (error?: unknown) => void): void;
  load(id: string, callback: (error?: unknown, session?: unknown) => void): void;
  createSession(req: Record<string, unknown>, session: SessionRecord): unknown;
}

export interface StoreConstructor {
  new (): LegacyStoreBase;
  (this: LegacyStoreBase): void;
  prototype: LegacyStoreBase;
}

/**
 * express-session's abstract `Store`, for stores written the old way:
 * `function MyStore() { Store.call(this) }` with `util.inherits(MyStore, Store)`, or
 * `class MyStore extends Store`. It is an EventEmitter; emit `disconnect` and `connect` to tell
 * the middleware the store is down or back.
 */
export const Store = function Store(this: LegacyStoreBase) {
  EventEmitter.call(this);
} as unknown as StoreConstructor;
// What util.inherits(Store, EventEmitter) does, as express-session's Store is made, without
// needing node:util.
Object.setPrototypeOf(Store.prototype, EventEmitter.prototype);
Object.defineProperty(Store, "super_", { value: EventEmitter, writable: true, configurable: true });

type SessionFactory = (
  store: LegacyStoreBase,
  req: Record<string, unknown>,
  record: SessionRecord,
) => unknown;
let sessionFactory: SessionFactory | undefined;

/** @internal The core registers how a stored record becomes a `Session` (avoids an import cycle). */
export function registerSessionFactory(factory: SessionFactory): void {
  sessionFactory = factory;
}

Store.prototype.regenerate = function regenerate(
  this: LegacyStoreBase & CallbackStore,
  req,
  callback,
) {
  this.destroy(String(req.sessionID), (error?: unknown) => {
    this.generate?.(req);
    callback(error);
  });
};

Store.prototype.load = function load(this: LegacyStoreBase & CallbackStore, id, callback) {
  this.get(id, (error?: unknown, session?: unknown) => {
    if (error) return callback(error);
    if (!session) return callback();
    const req = { sessionID: id, sessionStore: this };
    callback(undefined, this.createSession(req, session as SessionRecord));
  });
};

Store.prototype.createSession = function createSession(this: LegacyStoreBase, req, record) {
  if (sessionFactory === undefined) {
    throw new TesseraError(
      "ERR_OPTION",
      "Store#createSession needs the session engine: import tessera/express (or tessera/node) first.",
    );
  }
  const session = sessionFactory(this, req, record);
  req.session = session;
  return session;
};
