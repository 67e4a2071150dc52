import { createHmac, createSecretKey, type KeyObject, timingSafeEqual } from "node:crypto";
import { ownString } from "./id.js";

// A secret as a KeyObject is imported once instead of on every HMAC, which makes each
// signature about a fifth cheaper. Secrets come from the app's options, so few are ever seen;
// the bound only guards against a caller that signs with ever-new secrets.
const MAX_KEYS = 64;
const keys = new Map<string, KeyObject>();
/** Keys of Buffer secrets (express-session takes those too), for as long as the Buffer lives. */
const bufferKeys = new WeakMap<Buffer, KeyObject>();

/** A secret as `session({ secret })` takes it: text, or bytes. */
export type Secret = string | Buffer;

function keyOf(secret: Secret): KeyObject {
  if (typeof secret !== "string") {
    let key = bufferKeys.get(secret);
    if (key === undefined) {
      key = createSecretKey(Buffer.from(secret));
      bufferKeys.set(secret, key);
    }
    return key;
  }
  let key = keys.get(secret);
  if (key === undefined) {
    if (keys.size >= MAX_KEYS) keys.clear();
    key = createSecretKey(Buffer.from(secret, "utf8"));
    keys.set(secret, key);
  }
  return key;
}

/** base64 of an HMAC-SHA256, without its padding: 32 bytes are always 43 characters and one `=`. */
function signatureOf(value: string, secret: Secret): string {
  return createHmac("sha256", keyOf(secret)).update(value).digest("base64").slice(0, 43);
}

/**
 * Signs a value the way express-session (through cookie-signature) does:
 * `value + "." + base64(HMAC-SHA256(secret, value))` without `=` padding. Cookies stay
 * byte-compatible in both directions, so switching libraries logs nobody out.
 */
export function sign(value: string, secret: Secret): string {
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
export function unsign(signed: string, secrets: readonly Secret[]): Unsigned | undefined {
  const dot = signed.lastIndexOf(".");
  if (dot <= 0) return undefined;
  const value = signed.slice(0, dot);
  // The value is the same on both sides, so comparing the signatures compares the whole strings.
  const given = Buffer.from(signed.slice(dot + 1), "utf8");
  for (let index = 0; index < secrets.length; index++) {
    const expected = Buffer.from(signatureOf(value, secrets[index] as Secret), "utf8");
    if (expected.length === given.length && timingSafeEqual(expected, given)) {
      return { value, secretIndex: index };
    }
  }
  return undefined;
}

/**
 * {@link unsign} with a memory of the signed values it has verified: a browser sends the same
 * cookie on every request, and its HMAC then runs once rather than per request.
 *
 * A value is found only by its exact, full text (value and signature), and only values that
 * passed verification are kept, so the cache never accepts a signature that `unsign` would
 * refuse, and a tampered or unknown cookie always takes the constant-time path. Each entry keeps
 * the index of the secret that verified it: a cookie signed with an older secret is still
 * reported as such, and re-signed. The cache belongs to one frozen list of secrets (one
 * middleware), so a new list starts empty.
 */
export class UnsignCache {
  readonly #secrets: readonly Secret[];
  readonly #maxEntries: number;
  readonly #verified = new Map<string, Unsigned>();

  /**
   * @param secrets The secrets to verify with, current first.
   * @param maxEntries The most signed values remembered; past it the oldest is forgotten.
   * @default maxEntries 4096
   */
  constructor(secrets: readonly Secret[], maxEntries = 4096) {
    this.#secrets = secrets;
    this.#maxEntries = maxEntries;
  }

  /** Values remembered right now. */
  get size(): number {
    return this.#verified.size;
  }

  /** The same answer as `unsign(signed, secrets)`, frozen: it may be shared between calls. */
  unsign(signed: string): Unsigned | undefined {
    const known = this.#verified.get(signed);
    if (known !== undefined) return known;
    const found = unsign(signed, this.#secrets);
    if (found === undefined) return undefined;
    const verified = this.#verified;
    if (verified.size >= this.#maxEntries) {
      // The oldest entry first: a flood of valid cookies cycles through a bounded map.
      verified.delete(verified.keys().next().value as string);
    }
    // Own copies: a value cut from a Cookie header is a slice that keeps the whole header alive.
    const entry = Object.freeze({ value: ownString(found.value), secretIndex: found.secretIndex });
    verified.set(ownString(signed), entry);
    return entry;
  }
}
