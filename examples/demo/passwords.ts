import { randomBytes, type ScryptOptions, scrypt, timingSafeEqual } from "node:crypto";

/**
 * scrypt's cost: one of the equivalent settings OWASP's Password Storage Cheat Sheet lists
 * (N = 2^14, r = 8, p = 5), the one needing least memory (16 MiB per hash, 128 * N * r bytes),
 * so a burst of logins cannot exhaust the server's memory.
 */
const COST: Required<Pick<ScryptOptions, "N" | "r" | "p">> = { N: 2 ** 14, r: 8, p: 5 };
const MAX_MEMORY = 64 * 1024 * 1024;
const KEY_BYTES = 32;
const SALT_BYTES = 16;

function derive(password: string, salt: Buffer, cost: typeof COST): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    // The async form runs on libuv's thread pool: a login never blocks other requests.
    scrypt(
      password.normalize("NFKC"),
      salt,
      KEY_BYTES,
      { ...cost, maxmem: MAX_MEMORY },
      (e, key) => (e ? reject(e) : resolve(key)),
    );
  });
}

/**
 * Hashes a password with scrypt and a random salt, as `scrypt$N$r$p$salt$key` (base64url), so
 * the cost can be raised later without breaking stored hashes.
 *
 * @example
 * const hash = await hashPassword("correct horse battery staple");
 */
export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(SALT_BYTES);
  const key = await derive(password, salt, COST);
  return [
    "scrypt",
    COST.N,
    COST.r,
    COST.p,
    salt.toString("base64url"),
    key.toString("base64url"),
  ].join("$");
}

/** A real hash of nothing anyone can type, checked when the user does not exist (see below). */
let decoy: Promise<string> | undefined;

/**
 * True when `password` matches `stored`. With `stored` undefined (no such user) it still does
 * the full scrypt work and resolves false, so response time does not tell which usernames exist.
 *
 * @example
 * const ok = await verifyPassword(input, user?.passwordHash);
 */
export async function verifyPassword(
  password: string,
  stored: string | undefined,
): Promise<boolean> {
  if (stored === undefined) {
    decoy ??= hashPassword(randomBytes(16).toString("hex"));
    await verifyPassword(password, await decoy);
    return false;
  }
  const [scheme, n, r, p, salt, key] = stored.split("$");
  if (scheme !== "scrypt" || salt === undefined || key === undefined) return false;
  const expected = Buffer.from(key, "base64url");
  const actual = await derive(password, Buffer.from(salt, "base64url"), {
    N: Number(n),
    r: Number(r),
    p: Number(p),
  });
  return actual.length === expected.length && timingSafeEqual(actual, expected);
}
