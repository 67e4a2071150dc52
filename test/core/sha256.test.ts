// The pure-JS SHA-256, HMAC-SHA256 and base64 that stand in for node:crypto and Buffer where a
// runtime has neither (src/core/sha256.ts, src/core/base64.ts): byte for byte what node gives,
// checked against the published test vectors and against node:crypto on many inputs.
import assert from "node:assert/strict";
import { createHash, createHmac, randomBytes } from "node:crypto";
import { describe, it } from "node:test";
import { fromBase64Url, toBase64, toBase64Url } from "../../src/core/base64.js";
import { hmacSha256, hmacSha256Key, sha256 } from "../../src/core/sha256.js";

const utf8 = new TextEncoder();
const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString("hex");
const repeat = (byte: number, length: number) => new Uint8Array(length).fill(byte);
const ascii = (text: string) => utf8.encode(text);
const fromHex = (text: string) => new Uint8Array(Buffer.from(text, "hex"));

/** Every length around the block (64 bytes) and padding (56 bytes) boundaries, and more. */
const LENGTHS = [
  ...Array.from({ length: 200 }, (_, length) => length),
  255,
  256,
  1000,
  1023,
  1024,
  4096,
  65_537,
];

function nodeHmac(key: Uint8Array | string, message: Uint8Array | string): string {
  return createHmac("sha256", key).update(message).digest("hex");
}

function hmac(key: Uint8Array, message: Uint8Array): string {
  return hex(hmacSha256(hmacSha256Key(key), message));
}

/** Text with what UTF-8 has to take care of: 2-, 3- and 4-byte characters, and lone surrogates. */
const TEXTS = [
  "",
  "a",
  "s:dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk",
  "héllo wörld",
  "日本語のセッション",
  "emoji 🍪🔐 and more 🧁",
  "lone high \ud800 surrogate",
  "lone low \udc00 surrogate",
  "reversed pair \udc00\ud800",
  "\u0000 nul and \u007f del",
  "x".repeat(10_000),
  "€".repeat(1000),
];

describe("sha256()", () => {
  it("gives the FIPS 180-4 example digests", () => {
    assert.equal(
      hex(sha256(ascii(""))),
      "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    );
    assert.equal(
      hex(sha256(ascii("abc"))),
      "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
    );
    assert.equal(
      hex(sha256(ascii("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"))),
      "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1",
    );
    assert.equal(
      hex(sha256(repeat(0x61, 1_000_000))),
      "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0",
    );
  });

  it("matches node:crypto for every length around the block boundaries", () => {
    for (const length of LENGTHS) {
      const message = randomBytes(length);
      assert.equal(
        hex(sha256(message)),
        createHash("sha256").update(message).digest("hex"),
        `${length} bytes`,
      );
    }
  });

  it("matches node:crypto on text encoded as node encodes it (lone surrogates included)", () => {
    for (const text of TEXTS) {
      assert.equal(
        hex(sha256(utf8.encode(text))),
        createHash("sha256").update(text).digest("hex"),
        JSON.stringify(text.slice(0, 40)),
      );
    }
  });

  it("hashes a subarray as its own bytes, whatever its offset in the buffer", () => {
    const whole = randomBytes(300);
    const part = new Uint8Array(whole.buffer, whole.byteOffset + 7, 130);
    assert.equal(hex(sha256(part)), createHash("sha256").update(part).digest("hex"));
  });
});

describe("hmacSha256()", () => {
  // RFC 4231, section 4: HMAC-SHA-256 test cases 1 to 7.
  const RFC_4231: [name: string, key: Uint8Array, data: Uint8Array, digest: string][] = [
    [
      "test case 1",
      repeat(0x0b, 20),
      ascii("Hi There"),
      "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7",
    ],
    [
      "test case 2: a key shorter than the output",
      ascii("Jefe"),
      ascii("what do ya want for nothing?"),
      "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
    ],
    [
      "test case 3",
      repeat(0xaa, 20),
      repeat(0xdd, 50),
      "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe",
    ],
    [
      "test case 4",
      fromHex("0102030405060708090a0b0c0d0e0f10111213141516171819"),
      repeat(0xcd, 50),
      "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b",
    ],
    [
      "test case 5: truncated to 128 bits",
      repeat(0x0c, 20),
      ascii("Test With Truncation"),
      "a3b6167473100ee06e0c796c2955552b",
    ],
    [
      "test case 6: a key longer than a block",
      repeat(0xaa, 131),
      ascii("Test Using Larger Than Block-Size Key - Hash Key First"),
      "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54",
    ],
    [
      "test case 7: a key and data longer than a block",
      repeat(0xaa, 131),
      ascii(
        "This is a test using a larger than block-size key and a larger than block-size data. The key needs to be hashed before being used by the HMAC algorithm.",
      ),
      "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2",
    ],
  ];

  for (const [name, key, data, digest] of RFC_4231) {
    it(`gives RFC 4231's ${name}`, () => {
      assert.equal(hmac(key, data).slice(0, digest.length), digest);
    });
  }

  it("matches node:crypto for keys of every length around the block size, and empty", () => {
    for (let length = 0; length <= 150; length++) {
      const key = randomBytes(length);
      const message = randomBytes(length * 3);
      assert.equal(hmac(key, message), nodeHmac(key, message), `a ${length}-byte key`);
    }
  });

  it("matches node:crypto for messages of every length around the block boundaries", () => {
    const key = randomBytes(32);
    for (const length of LENGTHS) {
      const message = randomBytes(length);
      assert.equal(hmac(key, message), nodeHmac(key, message), `${length} bytes`);
    }
  });

  it("matches node:crypto with text secrets and values, as cookies are signed", () => {
    for (const secret of TEXTS) {
      for (const value of TEXTS) {
        assert.equal(
          hmac(utf8.encode(secret), utf8.encode(value)),
          nodeHmac(secret, value),
          JSON.stringify([secret.slice(0, 20), value.slice(0, 20)]),
        );
      }
    }
  });

  it("matches node:crypto with Buffer secrets, as express-session accepts them", () => {
    for (const secret of [Buffer.alloc(0), Buffer.from("buffer secret"), randomBytes(200)]) {
      assert.equal(hmac(secret, ascii("value")), nodeHmac(secret, "value"));
    }
  });

  it("gives the same answer again from one prepared key, which it does not change", () => {
    const key = hmacSha256Key(ascii("a secret"));
    const first = hex(hmacSha256(key, ascii("one")));
    hmacSha256(key, randomBytes(500));
    assert.equal(hex(hmacSha256(key, ascii("one"))), first);
    assert.equal(first, nodeHmac("a secret", "one"));
  });
});

describe("base64", () => {
  it("toBase64 and toBase64Url give what Buffer gives, for every length up to 100", () => {
    for (let length = 0; length <= 100; length++) {
      const bytes = randomBytes(length);
      assert.equal(toBase64(bytes), bytes.toString("base64"), `${length} bytes`);
      assert.equal(toBase64Url(bytes), bytes.toString("base64url"), `${length} bytes`);
    }
  });

  it("toBase64Url encodes the part it is given, as buffer.toString does", () => {
    const bytes = randomBytes(128);
    for (const [start, end] of [
      [0, 32],
      [32, 64],
      [96, 128],
      [5, 6],
      [7, 7],
    ] as const) {
      assert.equal(toBase64Url(bytes, start, end), bytes.toString("base64url", start, end));
    }
  });

  it("fromBase64Url reads what Buffer reads, in either alphabet, padded or not", () => {
    for (let length = 0; length <= 100; length++) {
      const bytes = randomBytes(length);
      for (const text of [
        bytes.toString("base64url"),
        bytes.toString("base64"),
        bytes.toString("base64").replace(/=+$/, ""),
      ]) {
        assert.deepEqual(fromBase64Url(text), new Uint8Array(Buffer.from(text, "base64url")), text);
      }
    }
  });

  it("fromBase64Url drops the bits past the last whole byte, as Buffer does", () => {
    // 43 characters carry 258 bits: 32 bytes and two bits over, as a CSRF secret does.
    const text = `${randomBytes(32).toString("base64url").slice(0, 42)}_`;
    assert.deepEqual(fromBase64Url(text), new Uint8Array(Buffer.from(text, "base64url")));
  });

  it("fromBase64Url refuses a character of neither alphabet", () => {
    for (const text of ["abc$", "ab cd", "abc\u00e9", "a.b", "=abc"]) {
      assert.equal(fromBase64Url(text), undefined, text);
    }
  });
});
