import type { KeyObject } from "node:crypto";
import { toBase64 } from "./base64.js";
import { NodeBuffer, nodeCrypto } from "./builtins.js";
import { ownString } from "./id.js";
import { type HmacSha256Key, hmacSha256, hmacSha256Key } from "./sha256.js";

// A secret as a KeyObject is imported once instead of on every HMAC, which makes each
// signature about a fifth cheaper. Secrets come from the app's options, so few are ever seen;
// the bound only guards against a caller that signs with ever-new secrets. Without node:crypto,
// the same caches hold the key's precomputed HMAC states.
const MAX_KEYS = 64;

/** A secret as `session({ secret })` takes it: text, or bytes. */
export type Secret = string | Buffer;

/** Caches of prepared keys: by text, and by Buffer for as long as the Buffer lives. */
function keyCache<K>(prepare: (bytes: Uint8Array) => K): (secret: Secret) => K {
  const keys = new Map<string, K>();
  const bufferKeys = new WeakMap<Buffer, K>();
  return (secret) => {
    if (typeof secret !== "string") {
      let key = bufferKeys.get(secret);
      if (key === undefined) {
        key = prepare(new Uint8Array(secret));
        bufferKeys.set(secret, key);
      }
      return key;
    }
    let key = keys.get(secret);
    if (key === undefined) {
      if (keys.size >= MAX_KEYS) keys.clear();
      key = prepare(utf8.encode(secret));
      keys.set(secret, key);
    }
    return key;
  };
}

const utf8 = new TextEncoder();

/** base64 of an HMAC-SHA256, without its padding: 32 bytes are always 43 characters and one `=`. */
const signatureOf: (value: string, secret: Secret) => string =
  nodeCrypto === undefined ? portableSignatureOf() : nodeSignatureOf(nodeCrypto);

function nodeSignatureOf(crypto: typeof import("node:crypto")): typeof signatureOf {
  const { createHmac, createSecretKey } = crypto;
  const keyOf = keyCache<KeyObject>((bytes) => createSecretKey(bytes));
  return (value, secret) =>
    createHmac("sha256", keyOf(secret)).update(value).digest("base64").slice(0, 43);
}

function portableSignatureOf(): typeof signatureOf {
  const keyOf = keyCache<HmacSha256Key>(hmacSha256Key);
  return (value, secret) => toBase64(hmacSha256(keyOf(secret), utf8.encode(value))).slice(0, 43);
}

/**
 * The index of the first secret under which `signature` is the signature of `value`, or -1.
 * Comparison is constant-time for equal lengths.
 */
const matchingSecret: (value: string, signature: string, secrets: readonly Secret[]) => number =
  nodeCrypto === undefined || NodeBuffer === undefined
    ? portableMatchingSecret
    : nodeMatchingSecret(nodeCrypto.timingSafeEqual, NodeBuffer);

function nodeMatchingSecret(
  timingSafeEqual: typeof import("node:crypto").timingSafeEqual,
  buffer: typeof Buffer,
): typeof matchingSecret {
  return (value, signature, secrets) => {
    const given = buffer.from(signature, "utf8");
    for (let index = 0; index < secrets.length; index++) {
      const expected = buffer.from(signatureOf(value, secrets[index] as Secret), "utf8");
      if (expected.length === given.length && timingSafeEqual(expected, given)) return index;
    }
    return -1;
  };
}

// Signatures are base64, one byte per character: XOR-ing the characters compares the bytes.
function portableMatchingSecret(value: string, signature: string, secrets: readonly Secret[]) {
  for (let index = 0; index < secrets.length; index++) {
    const expected = signatureOf(value, secrets[index] as Secret);
    if (expected.length !== signature.length) continue;
    let difference = 0;
    for (let i = 0; i < expected.length; i++) {
      difference |= expected.charCodeAt(i) ^ signature.charCodeAt(i);
    }
    if (difference === 0) return index;
  }
  return -1;
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
  const index = matchingSecret(value, signed.slice(dot + 1), secrets);
  return index === -1 ? undefined : { value, secretIndex: index };
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
