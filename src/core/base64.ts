// base64 without Buffer, for runtimes that have no Buffer. Each function gives what node's
// Buffer gives for the same bytes ("base64" and "base64url" encodings), so ids, signatures and
// tokens have one form whichever runtime made them.

const STANDARD = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const URL_SAFE = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/** The value of each character of either alphabet, or -1. */
const VALUES = new Int8Array(128).fill(-1);
for (let i = 0; i < 64; i++) {
  VALUES[STANDARD.charCodeAt(i)] = i;
  VALUES[URL_SAFE.charCodeAt(i)] = i;
}

function encode(bytes: Uint8Array, start: number, end: number, alphabet: string): string {
  let out = "";
  let i = start;
  for (; i + 3 <= end; i += 3) {
    const n =
      ((bytes[i] as number) << 16) | ((bytes[i + 1] as number) << 8) | (bytes[i + 2] as number);
    out +=
      alphabet.charAt(n >>> 18) +
      alphabet.charAt((n >>> 12) & 63) +
      alphabet.charAt((n >>> 6) & 63) +
      alphabet.charAt(n & 63);
  }
  if (end - i === 1) {
    const n = (bytes[i] as number) << 16;
    out += alphabet.charAt(n >>> 18) + alphabet.charAt((n >>> 12) & 63);
  } else if (end - i === 2) {
    const n = ((bytes[i] as number) << 16) | ((bytes[i + 1] as number) << 8);
    out +=
      alphabet.charAt(n >>> 18) +
      alphabet.charAt((n >>> 12) & 63) +
      alphabet.charAt((n >>> 6) & 63);
  }
  return out;
}

/**
 * Bytes as base64, padded with `=`: `Buffer.from(bytes).toString("base64")`.
 *
 * @example
 * toBase64(new Uint8Array([1, 2])); // "AQI="
 */
export function toBase64(bytes: Uint8Array): string {
  const text = encode(bytes, 0, bytes.length, STANDARD);
  return text + "==".slice(0, (4 - (text.length % 4)) % 4);
}

/**
 * Bytes (or the part from `start` to `end`) as base64url, unpadded:
 * `buffer.toString("base64url", start, end)`.
 *
 * @example
 * toBase64Url(new Uint8Array([251, 255])); // "-_8"
 */
export function toBase64Url(bytes: Uint8Array, start = 0, end = bytes.length): string {
  return encode(bytes, start, end, URL_SAFE);
}

/**
 * base64url (or base64) text as bytes, or `undefined` if it has a character of neither
 * alphabet. Bits left over past the last whole byte are dropped, as `Buffer.from` drops them.
 *
 * @example
 * fromBase64Url("-_8"); // Uint8Array [251, 255]
 */
export function fromBase64Url(text: string): Uint8Array | undefined {
  const length = text.endsWith("==")
    ? text.length - 2
    : text.endsWith("=")
      ? text.length - 1
      : text.length;
  const out = new Uint8Array(Math.floor((length * 6) / 8));
  let bits = 0;
  let buffered = 0;
  let at = 0;
  for (let i = 0; i < length; i++) {
    const code = text.charCodeAt(i);
    const value = code < 128 ? (VALUES[code] as number) : -1;
    if (value < 0) return undefined;
    buffered = ((buffered << 6) | value) & 0xffffff;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[at++] = (buffered >>> bits) & 0xff;
    }
  }
  return out;
}
