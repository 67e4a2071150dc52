import { randomFillSync } from "node:crypto";

/** Bytes of randomness in a session id: 256 bits, as OWASP asks for at least 64. */
export const ID_BYTES = 32;

// Filling a pool from the OS source in one call and slicing it is several times faster than
// one randomBytes() call per id; every id still comes straight from the CSPRNG, and each slice
// of the pool is handed out once.
const POOL_IDS = 128;
const pool = Buffer.allocUnsafe(ID_BYTES * POOL_IDS);
let offset = pool.length;

/**
 * A new session id: 32 bytes from the operating system's random source, base64url (43 chars).
 *
 * @example
 * const id = generateId(); // "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
 */
export function generateId(): string {
  if (offset === pool.length) {
    randomFillSync(pool);
    offset = 0;
  }
  const id = pool.toString("base64url", offset, offset + ID_BYTES);
  offset += ID_BYTES;
  return id;
}

/**
 * A copy of an id (or a signed cookie value) that owns its characters. A value cut from a
 * Cookie header is a slice that keeps the whole header alive; held as a map key, it would keep
 * one header per entry.
 */
export function ownString(text: string): string {
  return JSON.parse(JSON.stringify(text)) as string;
}
