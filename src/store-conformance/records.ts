import { randomBytes } from "node:crypto";
import { META_KEY, type SessionRecord } from "../store/types.js";

/** A fresh id shaped like Tessera's own: 256 random bits, base64url. */
export function newId(): string {
  return randomBytes(32).toString("base64url");
}

/** A record as the engine writes it: a cookie, the app's data, and Tessera's metadata. */
export function sampleRecord(data: Record<string, unknown> = {}, user?: string): SessionRecord {
  const now = Date.now();
  return {
    cookie: {
      originalMaxAge: 3_600_000,
      expires: new Date(now + 3_600_000).toISOString(),
      httpOnly: true,
      path: "/",
      sameSite: "lax",
    },
    ...data,
    [META_KEY]: user === undefined ? { createdAt: now } : { createdAt: now, user },
  };
}

/** What a record is once it has been through JSON, as every store keeps it. */
export function asStored<T>(value: T): unknown {
  return JSON.parse(JSON.stringify(value));
}

/** Nested data of every JSON type, with keys and strings that trip up naive encodings. */
export function nestedData(): Record<string, unknown> {
  return {
    cart: {
      items: [
        { sku: "A-1", qty: 2, price: 9.99, tags: ["red", "small"] },
        { sku: "B-2", qty: 1, price: 0.1, tags: [] },
      ],
      coupon: null,
      totals: { net: 19.98, gross: 23.78, currency: "EUR" },
    },
    flags: { admin: false, beta: true },
    counters: [0, -1, 1.5e-10, Number.MAX_SAFE_INTEGER, -Number.MAX_SAFE_INTEGER],
    empty: { object: {}, array: [], string: "" },
    deep: { a: { b: { c: { d: { e: { f: { g: { h: "bottom" } } } } } } } },
    "key.with.dots": 1,
    "key with spaces": 2,
    $dollar: 3,
    'quote"and\\backslash': 4,
  };
}

/** Strings from many scripts, emoji (astral plane, ZWJ sequences, flags), RTL text and escapes. */
export function unicodeData(): Record<string, unknown> {
  return {
    emoji: "😀 👩‍👩‍👧‍👦 🏳️‍🌈 🇫🇷 ❤️",
    rtl: "مرحبا بالعالم — שלום עולם",
    mixedDirection: "abc \u202Eevil\u202C def",
    cjk: "你好，世界 こんにちは 안녕하세요",
    combining: "e\u0301 n\u0303 Å",
    astral: "𝔘𝔫𝔦𝔠𝔬𝔡𝔢 𐍈",
    controls: "tab\tnewline\ncarriage\rbell\u0007 line\u2028paragraph\u2029",
    quotes: `"double" 'single' \`back\` \\ /`,
    htmlish: "<script>alert('x')</script> & &amp;",
    ключ: "значение",
    "🔑": "emoji key",
  };
}

/**
 * A string of about `bytes` UTF-8 bytes, varied enough that a store that truncates, re-encodes
 * or drops multi-byte characters changes it.
 */
export function largeString(bytes: number): string {
  const unit = "0123456789abcdefghijklmnopqrstuvwxyz-é€😀"; // 36 + 1 + 2 + 3 + 4 bytes
  const unitBytes = Buffer.byteLength(unit);
  return unit.repeat(Math.max(1, Math.ceil(bytes / unitBytes)));
}
