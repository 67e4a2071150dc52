import { createHmac, timingSafeEqual } from "node:crypto";

/**
 * Signs a value the way express-session (through cookie-signature) does:
 * `value + "." + base64(HMAC-SHA256(secret, value))` without `=` padding. Cookies stay
 * byte-compatible in both directions, so switching libraries logs nobody out.
 */
export function sign(value: string, secret: string): string {
  return `${value}.${createHmac("sha256", secret).update(value).digest("base64").replace(/=+$/, "")}`;
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
  const given = Buffer.from(signed);
  for (let index = 0; index < secrets.length; index++) {
    const expected = Buffer.from(sign(value, secrets[index] as string));
    if (expected.length === given.length && timingSafeEqual(expected, given)) {
      return { value, secretIndex: index };
    }
  }
  return undefined;
}
