import { createHmac, createSecretKey, type KeyObject, timingSafeEqual } from "node:crypto";

// A secret as a KeyObject is imported once instead of on every HMAC, which makes each
// signature about a fifth cheaper. Secrets come from the app's options, so few are ever seen;
// the bound only guards against a caller that signs with ever-new secrets.
const MAX_KEYS = 64;
const keys = new Map<string, KeyObject>();

function keyOf(secret: string): KeyObject {
  let key = keys.get(secret);
  if (key === undefined) {
    if (keys.size >= MAX_KEYS) keys.clear();
    key = createSecretKey(Buffer.from(secret, "utf8"));
    keys.set(secret, key);
  }
  return key;
}

/** base64 of an HMAC-SHA256, without its padding: 32 bytes are always 43 characters and one `=`. */
function signatureOf(value: string, secret: string): string {
  return createHmac("sha256", keyOf(secret)).update(value).digest("base64").slice(0, 43);
}

/**
 * Signs a value the way express-session (through cookie-signature) does:
 * `value + "." + base64(HMAC-SHA256(secret, value))` without `=` padding. Cookies stay
 * byte-compatible in both directions, so switching libraries logs nobody out.
 */
export function sign(value: string, secret: string): string {
  return `${value}.${signatureOf(value, secret)}`;
}

/** What {@link unsign} found: the signed value, and which secret verified it (0 is current). */
export interface Unsigned {
  value: string;
  secretIndex: number;
}

/**
 * Verifies `value.signature` against each secret in turn and returns the value, or `undefined`
 * when no secret matches. Comparison is constant-time for equal lengths; a length mismatch
 * fails at once, which leaks only the length of a signature whose length is public anyway.
 */
export function unsign(signed: string, secrets: readonly string[]): Unsigned | undefined {
  const dot = signed.lastIndexOf(".");
  if (dot <= 0) return undefined;
  const value = signed.slice(0, dot);
  // The value is the same on both sides, so comparing the signatures compares the whole strings.
  const given = Buffer.from(signed.slice(dot + 1), "utf8");
  for (let index = 0; index < secrets.length; index++) {
    const expected = Buffer.from(signatureOf(value, secrets[index] as string), "utf8");
    if (expected.length === given.length && timingSafeEqual(expected, given)) {
      return { value, secretIndex: index };
    }
  }
  return undefined;
}
