// SHA-256 (FIPS 180-4) and HMAC-SHA256 (RFC 2104) in plain JavaScript, for runtimes without
// node:crypto. Cookie signatures must be computed synchronously (the engine's API is sync) and
// Web Crypto's `subtle` is asynchronous only, hence this file. Where node:crypto exists, it is
// used instead and nothing here runs.

/** The round constants: the first 32 bits of the cube roots of the first 64 primes. */
const K = new Int32Array([
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
  0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
  0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
  0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
  0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
  0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
  0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
  0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
]);

/** The initial hash value: the first 32 bits of the square roots of the first 8 primes. */
const INITIAL = new Int32Array([
  0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
]);

const BLOCK_BYTES = 64;
/** The message schedule, reused: this file never runs two compressions at once. */
const w = new Int32Array(64);

/** Runs the compression function over `length` bytes of `bytes` from `offset`, a whole number of blocks. */
function compress(state: Int32Array, bytes: Uint8Array, offset: number, length: number): void {
  let h0 = state[0] as number;
  let h1 = state[1] as number;
  let h2 = state[2] as number;
  let h3 = state[3] as number;
  let h4 = state[4] as number;
  let h5 = state[5] as number;
  let h6 = state[6] as number;
  let h7 = state[7] as number;
  for (let block = offset; block < offset + length; block += BLOCK_BYTES) {
    for (let i = 0; i < 16; i++) {
      const at = block + i * 4;
      w[i] =
        ((bytes[at] as number) << 24) |
        ((bytes[at + 1] as number) << 16) |
        ((bytes[at + 2] as number) << 8) |
        (bytes[at + 3] as number);
    }
    for (let i = 16; i < 64; i++) {
      const x = w[i - 15] as number;
      const y = w[i - 2] as number;
      const s0 = ((x >>> 7) | (x << 25)) ^ ((x >>> 18) | (x << 14)) ^ (x >>> 3);
      const s1 = ((y >>> 17) | (y << 15)) ^ ((y >>> 19) | (y << 13)) ^ (y >>> 10);
      w[i] = ((w[i - 16] as number) + s0 + (w[i - 7] as number) + s1) | 0;
    }
    let a = h0;
    let b = h1;
    let c = h2;
    let d = h3;
    let e = h4;
    let f = h5;
    let g = h6;
    let h = h7;
    for (let i = 0; i < 64; i++) {
      const s1 = ((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7));
      const t1 = (h + s1 + ((e & f) ^ (~e & g)) + (K[i] as number) + (w[i] as number)) | 0;
      const s0 = ((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10));
      const t2 = (s0 + ((a & b) ^ (a & c) ^ (b & c))) | 0;
      h = g;
      g = f;
      f = e;
      e = (d + t1) | 0;
      d = c;
      c = b;
      b = a;
      a = (t1 + t2) | 0;
    }
    h0 = (h0 + a) | 0;
    h1 = (h1 + b) | 0;
    h2 = (h2 + c) | 0;
    h3 = (h3 + d) | 0;
    h4 = (h4 + e) | 0;
    h5 = (h5 + f) | 0;
    h6 = (h6 + g) | 0;
    h7 = (h7 + h) | 0;
  }
  state[0] = h0;
  state[1] = h1;
  state[2] = h2;
  state[3] = h3;
  state[4] = h4;
  state[5] = h5;
  state[6] = h6;
  state[7] = h7;
}

/**
 * Finishes a hash whose `state` has already absorbed `prefixBytes` bytes (whole blocks) and
 * must now absorb `message` and the padding. Returns the 32-byte digest.
 */
function finish(state: Int32Array, prefixBytes: number, message: Uint8Array): Uint8Array {
  const whole = message.length - (message.length % BLOCK_BYTES);
  compress(state, message, 0, whole);
  // The tail, the 0x80 byte and the length in bits fit in one block, or in two.
  const rest = message.length - whole;
  const tail = new Uint8Array(rest < 56 ? BLOCK_BYTES : BLOCK_BYTES * 2);
  tail.set(message.subarray(whole));
  tail[rest] = 0x80;
  const bits = (prefixBytes + message.length) * 8;
  const view = new DataView(tail.buffer);
  // Lengths up to 2^53 bits: the high word takes what does not fit in 32 bits.
  view.setUint32(tail.length - 8, Math.floor(bits / 0x100000000));
  view.setUint32(tail.length - 4, bits >>> 0);
  compress(state, tail, 0, tail.length);
  const digest = new Uint8Array(32);
  const out = new DataView(digest.buffer);
  for (let i = 0; i < 8; i++) out.setInt32(i * 4, state[i] as number);
  return digest;
}

/**
 * SHA-256 of some bytes.
 *
 * @example
 * sha256(new TextEncoder().encode("abc")); // ba7816bf…f20015ad, as 32 bytes
 */
export function sha256(message: Uint8Array): Uint8Array {
  return finish(INITIAL.slice(), 0, message);
}

/**
 * A key made ready for HMAC-SHA256: the hash states after the inner and the outer padded key
 * block. Computing them once per secret leaves two compressions or so per signature.
 */
export interface HmacSha256Key {
  readonly inner: Int32Array;
  readonly outer: Int32Array;
}

/**
 * Prepares a key for {@link hmacSha256}. A key longer than a block is hashed first (RFC 2104).
 *
 * @example
 * const key = hmacSha256Key(new TextEncoder().encode("secret"));
 */
export function hmacSha256Key(key: Uint8Array): HmacSha256Key {
  const block = new Uint8Array(BLOCK_BYTES);
  block.set(key.length > BLOCK_BYTES ? sha256(key) : key);
  const inner = INITIAL.slice();
  const outer = INITIAL.slice();
  for (let i = 0; i < BLOCK_BYTES; i++) block[i] = (block[i] as number) ^ 0x36;
  compress(inner, block, 0, BLOCK_BYTES);
  // 0x36 ^ 0x5c: from the inner pad to the outer one without keeping the key around.
  for (let i = 0; i < BLOCK_BYTES; i++) block[i] = (block[i] as number) ^ 0x6a;
  compress(outer, block, 0, BLOCK_BYTES);
  block.fill(0);
  return { inner, outer };
}

/**
 * HMAC-SHA256 of a message under a key prepared by {@link hmacSha256Key}: 32 bytes, the same as
 * `createHmac("sha256", key).update(message).digest()`.
 *
 * @example
 * hmacSha256(hmacSha256Key(key), new TextEncoder().encode("value"));
 */
export function hmacSha256(key: HmacSha256Key, message: Uint8Array): Uint8Array {
  const innerDigest = finish(key.inner.slice(), BLOCK_BYTES, message);
  return finish(key.outer.slice(), BLOCK_BYTES, innerDigest);
}
