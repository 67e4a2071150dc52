import { isTesseraError, TesseraError } from "../core/errors.js";
import {
  META_KEY,
  type SessionPatch,
  type SessionRecord,
  type Store,
  type StoreCapability,
} from "./types.js";

/** The user key a record belongs to, or `undefined` when it is not tied to a user. */
export function recordUser(record: SessionRecord): string | undefined {
  return record[META_KEY]?.user;
}

/**
 * The user key a patch sets: a string when `__tessera` is written with a user, `null` when it
 * is written without one (the session was detached from its user), `undefined` when the patch
 * leaves the metadata alone.
 */
export function patchUser(patch: SessionPatch): string | null | undefined {
  if (patch.unset.includes(META_KEY)) return null;
  if (!Object.hasOwn(patch.set, META_KEY)) return undefined;
  const meta = patch.set[META_KEY] as SessionRecord[typeof META_KEY];
  return meta?.user ?? null;
}

/** Applies a patch to a record in place and returns it. For stores that keep whole records. */
export function applyPatch(record: SessionRecord, patch: SessionPatch): SessionRecord {
  for (const key of patch.unset) delete record[key];
  for (const key of Object.keys(patch.set)) setKey(record, key, patch.set[key]);
  return record;
}

/**
 * `object[key] = value` for a key that may be any string. Assigning to `__proto__` would replace
 * the object's prototype rather than store the key (and lose it from the JSON); every other name
 * that objects inherit (`constructor`, `toString`...) becomes an own key by plain assignment.
 */
export function setKey(object: Record<string, unknown>, key: string, value: unknown): void {
  if (key === "__proto__") {
    Object.defineProperty(object, key, {
      value,
      writable: true,
      enumerable: true,
      configurable: true,
    });
  } else {
    object[key] = value;
  }
}

/**
 * Throws `ERR_STORE_CAPABILITY` unless the store has the optional method. Used wherever Tessera
 * needs more than the four required methods, so a missing capability is a clear error.
 */
export function requireCapability<C extends StoreCapability>(
  store: Store,
  capability: C,
  purpose: string,
): asserts store is Store & Required<Pick<Store, C>> {
  if (typeof store[capability] !== "function") {
    const name = store.constructor?.name ?? "the store";
    throw new TesseraError(
      "ERR_STORE_CAPABILITY",
      `${name} has no ${capability}(), which ${purpose} needs. Use a store that has it (MemoryStore, SqliteStore, RedisStore or PostgresStore).`,
    );
  }
}

const UNAVAILABLE_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ETIMEDOUT",
  "EPIPE",
  "ENOTFOUND",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "EAI_AGAIN",
  "57P01", // PostgreSQL admin_shutdown
  "57P03", // PostgreSQL cannot_connect_now
  "08000", // PostgreSQL connection_exception and its subclasses
  "08003",
  "08006",
  "SQLITE_BUSY",
]);

const UNAVAILABLE_MESSAGES =
  /connection (is )?(closed|terminated|refused)|client is closed|socket closed|connection timeout|timeout exceeded when trying to connect|stream isn't writeable|the client is closed|reconnect|ECONNREFUSED/i;

/** True when a client library's error means the server could not be reached. */
export function isUnavailableError(error: unknown): boolean {
  if (typeof error !== "object" || error === null) return false;
  const { code, name, message, errors } = error as {
    code?: unknown;
    name?: unknown;
    message?: unknown;
    errors?: unknown;
  };
  if (typeof code === "string" && UNAVAILABLE_CODES.has(code)) return true;
  if (name === "ClientClosedError" || name === "ConnectionTimeoutError") return true;
  if (typeof message === "string" && UNAVAILABLE_MESSAGES.test(message)) return true;
  // AggregateError from net.connect trying several addresses.
  return Array.isArray(errors) && errors.some(isUnavailableError);
}

/**
 * Wraps a client library's error as a `TesseraError` for one store operation. The message names
 * the store and the operation only: never the session id or the record.
 */
export function storeError(storeName: string, operation: string, cause: unknown): TesseraError {
  if (isTesseraError(cause)) return cause;
  if (isUnavailableError(cause)) {
    return new TesseraError(
      "ERR_STORE_UNAVAILABLE",
      `${storeName} is unavailable (${operation} failed): check that its server is running and reachable.`,
      { cause },
    );
  }
  return new TesseraError("ERR_STORE", `${storeName} failed during ${operation}.`, { cause });
}

/**
 * JSON for a store to write, or a `TesseraError` (`ERR_SESSION_DATA`) naming the store and the
 * operation when the data does not survive JSON: a BigInt or a cycle.
 */
export function storeJson(storeName: string, operation: string, value: unknown): string {
  try {
    return JSON.stringify(value);
  } catch (cause) {
    throw new TesseraError(
      "ERR_SESSION_DATA",
      `${storeName} cannot store this session (${operation}): its data does not survive JSON (a BigInt or a cycle). Keep only JSON values in the session.`,
      { cause },
    );
  }
}

/** Checks a TTL handed to a store: a positive, finite number of milliseconds. */
export function assertTtl(ttlMs: number): number {
  if (!Number.isFinite(ttlMs) || ttlMs <= 0) {
    throw new TesseraError(
      "ERR_OPTION",
      `a store was given a TTL of ${String(ttlMs)} ms: a TTL must be a positive number of milliseconds.`,
    );
  }
  return Math.ceil(ttlMs);
}
