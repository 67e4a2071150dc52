import { toBase64Url } from "./base64.js";
import { NodeBuffer, nodeCrypto } from "./builtins.js";

/** Bytes of randomness in a session id: 256 bits, as OWASP asks for at least 64. */
export const ID_BYTES = 32;

// Filling a pool from the OS source in one call and slicing it is several times faster than
// one randomBytes() call per id; every id still comes straight from the CSPRNG, and each slice
// of the pool is handed out once. Without node:crypto the pool is filled by Web Crypto's
// getRandomValues, the same operating system source.
const POOL_IDS = 128;

/**
 * A new session id: 32 bytes from the operating system's random source, base64url (43 chars).
 *
 * @example
 * const id = generateId(); // "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
 */
export const generateId: () => string =
  nodeCrypto === undefined || NodeBuffer === undefined
    ? portableIds()
    : nodeIds(nodeCrypto.randomFillSync, NodeBuffer);

function nodeIds(
  randomFillSync: typeof import("node:crypto").randomFillSync,
  buffer: typeof Buffer,
): () => string {
  const pool = buffer.allocUnsafe(ID_BYTES * POOL_IDS);
  let offset = pool.length;
  return function generateId() {
    if (offset === pool.length) {
      randomFillSync(pool);
      offset = 0;
    }
    const id = pool.toString("base64url", offset, offset + ID_BYTES);
    offset += ID_BYTES;
    return id;
  };
}

function portableIds(): () => string {
  const pool = new Uint8Array(ID_BYTES * POOL_IDS);
  let offset = pool.length;
  return function generateId() {
    if (offset === pool.length) {
      fillRandom(pool);
      offset = 0;
    }
    const id = toBase64Url(pool, offset, offset + ID_BYTES);
    offset += ID_BYTES;
    return id;
  };
}

/**
 * Fills bytes from the operating system's random source: node's `randomFillSync`, or Web
 * Crypto's `getRandomValues` (at most 65,536 bytes a call) where node:crypto is missing.
 */
export const fillRandom: (bytes: Uint8Array) => void =
  nodeCrypto === undefined
    ? (bytes) => {
        globalThis.crypto.getRandomValues(bytes);
      }
    : nodeCrypto.randomFillSync;

/**
 * A copy of an id (or a signed cookie value) that owns its characters. A value cut from a
 * Cookie header is a slice that keeps the whole header alive; held as a map key, it would keep
 * one header per entry.
 */
export function ownString(text: string): string {
  return JSON.parse(JSON.stringify(text)) as string;
}
