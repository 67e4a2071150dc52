import assert from "node:assert/strict";
import { createRequire } from "node:module";
import { describe, it } from "node:test";
import { generateId, ID_BYTES } from "../../src/core/id.js";
import { sign, unsign } from "../../src/core/signing.js";
import { ID, OLD_SECRET, SECRET, TAMPERED } from "../helpers/http.js";

// cookie-signature is what express-session signs with; our output must be byte-identical.
const require = createRequire(import.meta.url);
const cookieSignature = require("cookie-signature") as {
  sign(value: string, secret: string): string;
};

describe("signing", () => {
  it("signs exactly as express-session's cookie-signature does", () => {
    for (const value of [ID, "a", "ünïcödé", "x".repeat(500)]) {
      assert.equal(sign(value, SECRET), cookieSignature.sign(value, SECRET));
    }
  });

  it("unsigns with the current secret and reports which one matched", () => {
    assert.deepEqual(unsign(sign(ID, SECRET), [SECRET]), { value: ID, secretIndex: 0 });
    assert.deepEqual(unsign(sign(ID, OLD_SECRET), [SECRET, OLD_SECRET]), {
      value: ID,
      secretIndex: 1,
    });
  });

  describe("rejects", () => {
    for (const [what, input] of TAMPERED) {
      it(what, () => assert.equal(unsign(input, [SECRET]), undefined));
    }
  });
});

describe("generateId", () => {
  it("gives 256 bits as 43 base64url characters", () => {
    assert.equal(ID_BYTES, 32);
    const id = generateId();
    assert.match(id, /^[A-Za-z0-9_-]{43}$/);
    assert.equal(Buffer.from(id, "base64url").length, 32);
  });

  it("never repeats across many pool refills", () => {
    const seen = new Set<string>();
    for (let i = 0; i < 20_000; i++) seen.add(generateId());
    assert.equal(seen.size, 20_000);
  });
});
