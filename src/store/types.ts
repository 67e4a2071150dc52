/**
 * The Store contract: what Tessera asks of a place that keeps sessions.
 *
 * Records have the shape express-session stores have always kept (`{ cookie, ...data }`, JSON),
 * so a store can read what connect-redis or connect-pg-simple wrote, and the other way round.
 * A method answers with a value or a Promise of it ({@link MaybePromise}): a store that can
 * answer within the call (memory, SQLite) returns the value, and the engine waits only for
 * Promises. Stores written for express-session's callbacks are wrapped by `fromLegacyStore()`.
 */

/** A value, or a Promise of it: what a store method may answer. */
export type MaybePromise<T> = T | Promise<T>;

/** True for a Promise, or anything with a `then` method. */
export function isThenable<T>(value: MaybePromise<T>): value is Promise<T> {
  return (
    typeof value === "object" &&
    value !== null &&
    typeof (value as { then?: unknown }).then === "function"
  );
}

/** The `cookie` field of a stored record, as express-session's `Cookie#toJSON()` writes it. */
export interface CookieRecord {
  originalMaxAge: number | null;
  /** An ISO date string in JSON; a `Date` before serialization. */
  expires?: string | Date | null | false | undefined;
  secure?: boolean | "auto" | undefined;
  httpOnly?: boolean | undefined;
  domain?: string | undefined;
  path?: string | undefined;
  sameSite?: boolean | "lax" | "strict" | "none" | "auto" | undefined;
  partitioned?: boolean | undefined;
  priority?: "low" | "medium" | "high" | undefined;
}

/** Tessera's bookkeeping for a session, kept under {@link META_KEY} in the record. */
export interface SessionMeta {
  /** When the session was created, in ms since the epoch. Drives the absolute timeout. */
  createdAt: number;
  /** When the session was last seen by a request that wrote or touched it, in ms since the epoch. */
  seenAt?: number;
  /** The user this session belongs to, for the per-user index ("log out everywhere"). */
  user?: string;
  /**
   * When the user last proved who they are (logged in, or re-entered their password), in ms since
   * the epoch: set by `setUser()`, read by `requireRecentLogin()`.
   */
  authenticatedAt?: number;
  /**
   * This session's own idle timeout (`setLifetime()`), in ms; 0 for none. Overrides the
   * `idleTimeoutMs` option for this session only.
   */
  idleTimeoutMs?: number;
  /** This session's own absolute timeout (`setLifetime()`), in ms; 0 for none. */
  absoluteTimeoutMs?: number;
  /** The cookie `maxAge` `setLifetime()` gave, so that renewal gives the new cookie the same. */
  cookieMaxAgeMs?: number;
  /** Recorded only when the app opts in. */
  userAgent?: string;
  /** Recorded only when the app opts in. */
  ip?: string;
}

/** The record key under which Tessera keeps its {@link SessionMeta}. Never shown on `req.session`. */
export const META_KEY = "__tessera";

/** One stored session: express-session's shape plus Tessera's metadata. */
export interface SessionRecord {
  cookie: CookieRecord;
  [META_KEY]?: SessionMeta;
  [key: string]: unknown;
}

/** The top-level keys one request changed: written keys with their new values, and removed keys. */
export interface SessionPatch {
  set: Readonly<Record<string, unknown>>;
  unset: readonly string[];
}

/**
 * What a session store must do. The four required methods are express-session's verbs; the
 * optional ones are capabilities a store advertises by having them. Asking a store for one it
 * lacks throws `ERR_STORE_CAPABILITY` (see `requireCapability`), never a silent fallback.
 *
 * Rules every store follows (the conformance suite checks each one):
 * - an expired session is never returned by `get`, `ids`, `entries` or `idsForUser`;
 * - `touch` and `patch` never bring back a session that is missing, expired or destroyed;
 * - errors are `TesseraError`s: `ERR_STORE_UNAVAILABLE` when the server cannot be reached,
 *   `ERR_STORE` otherwise, with the client's error as `cause`;
 * - the user index follows `record.__tessera.user`, as written by `set` and `patch`.
 */
export interface Store {
  /** The session's record, or `undefined` when there is none or it has expired. */
  get(id: string): MaybePromise<SessionRecord | undefined>;
  /** Creates or replaces the record; it expires `ttlMs` from now. */
  set(id: string, record: SessionRecord, ttlMs: number): MaybePromise<void>;
  /** Removes the session. Destroying a session that does not exist is not an error. */
  destroy(id: string): MaybePromise<void>;
  /**
   * Moves the expiry to `ttlMs` from now without changing the session's data. A store may also
   * write `record.cookie` and `record.__tessera` (they hold the new expiry and last-seen time).
   * Does nothing when the session does not exist.
   */
  touch(id: string, record: SessionRecord, ttlMs: number): MaybePromise<void>;

  /**
   * Writes only the given top-level keys, atomically, so that parallel requests changing
   * different keys all survive. Resolves `false`, writing nothing, when the session does not
   * exist (it was destroyed or expired meanwhile).
   */
  patch?(id: string, patch: SessionPatch, ttlMs: number): MaybePromise<boolean>;
  /** Every live session id, streamed: a large store is never loaded at once. */
  ids?(): AsyncIterable<string>;
  /** Every live session with its record, streamed. */
  entries?(): AsyncIterable<[id: string, record: SessionRecord]>;
  /** How many live sessions there are. */
  length?(): Promise<number>;
  /** Removes every session. */
  clear?(): Promise<void>;
  /** The ids of a user's live sessions. */
  idsForUser?(user: string): Promise<string[]>;
  /** Removes all of a user's sessions and resolves how many were removed. */
  destroyForUser?(user: string, options?: DestroyForUserOptions): Promise<number>;
  /** Removes expired sessions now; resolves how many. For stores without native expiry. */
  prune?(): Promise<number>;
  /**
   * How long, in ms, this store lets one call run before failing it with
   * `ERR_STORE_UNAVAILABLE`: a store that declares it keeps its own deadlines (a network
   * client's command or query timeout) and the engine adds none. `0` says its calls cannot hang
   * (it answers from this process). Left out, the engine's `storeTimeoutMs` applies, as for every
   * store written for express-session.
   */
  readonly timeoutMs?: number | undefined;
  /** Releases timers and connections the store itself opened. Never closes the app's client. */
  close?(): Promise<void>;
}

export interface DestroyForUserOptions {
  /** A session id to keep ("log out everywhere else"). */
  except?: string;
}

/** The optional methods of {@link Store}: the capabilities a store may have. */
export type StoreCapability = Exclude<
  keyof Store,
  "get" | "set" | "destroy" | "touch" | "timeoutMs"
>;

/**
 * Marks a store that keeps sessions in the app's own process and answers at once (the
 * MemoryStore): with NODE_ENV=production the engine warns once that they are lost on restart
 * and not shared between instances.
 */
export const IN_PROCESS_STORE: unique symbol = Symbol.for("tessera.inProcessStore");
