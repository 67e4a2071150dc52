import { createHash } from "node:crypto";
import { TesseraError } from "../core/errors.js";
import { TESSERA_STORE } from "./legacy.js";
import type { DestroyForUserOptions, SessionPatch, SessionRecord, Store } from "./types.js";

/** Options of {@link hashIds}. */
export interface HashIdsOptions {
  /**
   * How the SHA-256 of an id is written as the inner store's key. Hex is what `sha256sum`
   * prints, so an operator can find the record of a cookie's id by hand.
   * @default "hex"
   */
  encoding?: "hex" | "base64url";
}

/**
 * A store that keys every session by the SHA-256 of its id, so a leaked dump or backup of the
 * inner store holds no id that could be replayed as a cookie. Records are not changed.
 *
 * It cannot give real ids back, so it has no `ids()`, `entries()` or `idsForUser()`: asking
 * for them throws `ERR_STORE_CAPABILITY`. `destroyForUser()` ("log out everywhere") still works,
 * and `hashedIdsForUser()` lists a user's sessions by hashed id, to compare with `hashId()`.
 * Sessions written before it was enabled, or by another library, are not found.
 */
export class HashedIdStore implements Store {
  /** A wrapper speaks Tessera's contract, whatever capabilities its inner store lends it. */
  readonly [TESSERA_STORE] = true;
  declare readonly patch?: NonNullable<Store["patch"]>;
  declare readonly length?: NonNullable<Store["length"]>;
  declare readonly clear?: NonNullable<Store["clear"]>;
  /**
   * The hashed ids of a user's live sessions: what the inner store's `idsForUser()` returns.
   * They cannot be passed to `get` or `destroy`; compare them with `hashId(req.sessionID)`.
   */
  declare readonly hashedIdsForUser?: NonNullable<Store["idsForUser"]>;
  declare readonly destroyForUser?: NonNullable<Store["destroyForUser"]>;
  declare readonly prune?: NonNullable<Store["prune"]>;
  declare readonly close?: NonNullable<Store["close"]>;

  readonly #inner: Store;
  readonly #encoding: "hex" | "base64url";

  constructor(inner: Store, options: HashIdsOptions = {}) {
    this.#inner = checkStore(inner, "hashIds()");
    this.#encoding = checkEncoding(options);
    // Each optional method exists only when the inner store has it, so the wrapper advertises
    // exactly the inner store's capabilities, minus those that would have to give ids back.
    const own = this as { -readonly [K in keyof HashedIdStore]: HashedIdStore[K] };
    if (inner.patch) {
      const patch = inner.patch.bind(inner);
      own.patch = async (id: string, changes: SessionPatch, ttlMs: number) =>
        patch(this.hashId(id), changes, ttlMs);
    }
    if (inner.length) own.length = inner.length.bind(inner);
    if (inner.clear) own.clear = inner.clear.bind(inner);
    // Not idsForUser: the contract promises ids that get() accepts, and these are not.
    if (inner.idsForUser) own.hashedIdsForUser = inner.idsForUser.bind(inner);
    if (inner.destroyForUser) {
      const destroyForUser = inner.destroyForUser.bind(inner);
      own.destroyForUser = async (user: string, options?: DestroyForUserOptions) =>
        options?.except === undefined
          ? destroyForUser(user)
          : destroyForUser(user, { except: this.hashId(options.except) });
    }
    if (inner.prune) own.prune = inner.prune.bind(inner);
    if (inner.close) own.close = inner.close.bind(inner);
  }

  /** The key the inner store uses for a session id. */
  hashId(id: string): string {
    return createHash("sha256").update(id, "utf8").digest(this.#encoding);
  }

  async get(id: string): Promise<SessionRecord | undefined> {
    return this.#inner.get(this.hashId(id));
  }

  async set(id: string, record: SessionRecord, ttlMs: number): Promise<void> {
    return this.#inner.set(this.hashId(id), record, ttlMs);
  }

  async destroy(id: string): Promise<void> {
    return this.#inner.destroy(this.hashId(id));
  }

  async touch(id: string, record: SessionRecord, ttlMs: number): Promise<void> {
    return this.#inner.touch(this.hashId(id), record, ttlMs);
  }
}

/**
 * Wraps a store so it keys sessions by the SHA-256 of their ids. See {@link HashedIdStore}.
 *
 * @example
 * const store = hashIds(new SqliteStore({ path: "sessions.db" }));
 * app.use(session({ secret, store }));
 */
export function hashIds(store: Store, options?: HashIdsOptions): HashedIdStore {
  return new HashedIdStore(store, options);
}

function checkEncoding(options: HashIdsOptions): "hex" | "base64url" {
  if (typeof options !== "object" || options === null) {
    throw new TesseraError(
      "ERR_OPTION",
      "hashIds() takes an options object as its second argument.",
    );
  }
  const encoding = options.encoding ?? "hex";
  if (encoding !== "hex" && encoding !== "base64url") {
    throw new TesseraError("ERR_OPTION", 'hashIds() option encoding must be "hex" or "base64url".');
  }
  return encoding;
}

/** Throws `ERR_OPTION` unless `store` has the four required Store methods. */
export function checkStore(store: unknown, wrapper: string): Store {
  const candidate = store as Partial<Store> | null;
  const ok =
    typeof candidate === "object" &&
    candidate !== null &&
    typeof candidate.get === "function" &&
    typeof candidate.set === "function" &&
    typeof candidate.destroy === "function" &&
    typeof candidate.touch === "function";
  if (!ok) {
    throw new TesseraError(
      "ERR_OPTION",
      `${wrapper} needs a Tessera store (get, set, destroy, touch): wrap a callback-style express-session store with fromLegacyStore() first.`,
    );
  }
  return store as Store;
}
