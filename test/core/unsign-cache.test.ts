import assert from "node:assert/strict";
import { describe, it } from "node:test";
import express from "express";
import request from "supertest";
import { sign, UnsignCache, unsign } from "../../src/core/signing.js";
import { session } from "../../src/express/index.js";
import { MemoryStore } from "../../src/stores/memory.js";
import {
  cookiePair,
  ID,
  OLD_SECRET,
  SECRET,
  sessionIdOf,
  shouldNotSetCookie,
  shouldSetCookie,
  TAMPERED,
} from "../helpers/http.js";

const OTHER_ID = "Zz9yX8wV7uT6sR5qP4oN3mL2kJ1iH0gF-_aBcDeFgHi";

describe("UnsignCache", () => {
  describe("answers as unsign does", () => {
    it("for a cookie signed with the current secret, first and later", () => {
      const cache = new UnsignCache([SECRET]);
      const signed = sign(ID, SECRET);
      assert.deepEqual(cache.unsign(signed), { value: ID, secretIndex: 0 });
      assert.deepEqual(cache.unsign(signed), { value: ID, secretIndex: 0 });
      assert.equal(cache.size, 1);
    });

    it("for a cookie signed with an older secret: still reported as old when served from the cache", () => {
      const cache = new UnsignCache([SECRET, OLD_SECRET]);
      const signed = sign(ID, OLD_SECRET);
      assert.deepEqual(cache.unsign(signed), unsign(signed, [SECRET, OLD_SECRET]));
      assert.deepEqual(cache.unsign(signed), { value: ID, secretIndex: 1 });
    });

    it("with answers the caller cannot change for the next request", () => {
      const cache = new UnsignCache([SECRET]);
      const signed = sign(ID, SECRET);
      const first = cache.unsign(signed);
      assert.ok(first);
      assert.throws(() => {
        (first as { value: string }).value = OTHER_ID;
      }, TypeError);
      assert.deepEqual(cache.unsign(signed), { value: ID, secretIndex: 0 });
    });
  });

  describe("never serves what does not verify", () => {
    const signed = sign(ID, SECRET);
    for (const [what, input] of TAMPERED) {
      it(`${what}, even after the genuine cookie was cached`, () => {
        const cache = new UnsignCache([SECRET]);
        assert.ok(cache.unsign(signed));
        assert.equal(cache.unsign(input), undefined);
        assert.equal(cache.unsign(input), undefined);
        assert.equal(cache.size, 1, "a cookie that failed verification is not remembered");
      });
    }

    it("a cookie verified by another list of secrets", () => {
      const before = new UnsignCache([OLD_SECRET]);
      const signed = sign(ID, OLD_SECRET);
      assert.ok(before.unsign(signed));
      const after = new UnsignCache([SECRET]);
      assert.equal(after.unsign(signed), undefined);
    });
  });

  describe("bound", () => {
    it("keeps at most maxEntries values, forgetting the oldest first", () => {
      const cache = new UnsignCache([SECRET], 3);
      const ids = ["a1", "b2", "c3", "d4", "e5"];
      for (const id of ids)
        assert.deepEqual(cache.unsign(sign(id, SECRET)), { value: id, secretIndex: 0 });
      assert.equal(cache.size, 3);
      // A forgotten value is verified again, and still answers correctly.
      assert.deepEqual(cache.unsign(sign("a1", SECRET)), { value: "a1", secretIndex: 0 });
      assert.equal(cache.size, 3);
    });

    it("holds 4096 values by default", () => {
      const cache = new UnsignCache([SECRET]);
      for (let i = 0; i < 5000; i++) cache.unsign(sign(`id-${i}`, SECRET));
      assert.equal(cache.size, 4096);
    });
  });
});

describe("session() with verified cookies remembered", () => {
  function counter(store: MemoryStore, secret: string | string[]) {
    const app = express();
    app.use(session({ secret, store, resave: false, saveUninitialized: false }));
    app.get("/", (req, res) => {
      res.send(String(req.session.views ?? 0));
    });
    app.get("/count", (req, res) => {
      req.session.views = (req.session.views ?? 0) + 1;
      res.send(String(req.session.views));
    });
    return app;
  }

  it("re-signs a cookie signed with an older secret on every request until the browser has the new one", async () => {
    const store = new MemoryStore();
    const first = await request(counter(store, OLD_SECRET)).get("/count").expect("1");
    const rotated = counter(store, [SECRET, OLD_SECRET]);
    const expected = `connect.sid=s:${sign(sessionIdOf(first), SECRET)}`;
    // The second request finds the old cookie in the cache: it must be re-signed all the same.
    for (let i = 0; i < 2; i++) {
      const res = await request(rotated).get("/").set("Cookie", cookiePair(first)).expect("1");
      assert.equal(decodeURIComponent(shouldSetCookie(res).split(";")[0] as string), expected);
    }
    const renewed = await request(rotated).get("/").set("Cookie", expected).expect("1");
    shouldNotSetCookie(renewed);
  });

  it("gives a fresh session for a tampered cookie after the genuine one was cached", async () => {
    const store = new MemoryStore();
    const app = counter(store, SECRET);
    const first = await request(app).get("/count").expect("1");
    await request(app).get("/count").set("Cookie", cookiePair(first)).expect("2");
    const pair = cookiePair(first);
    const forged = `${pair.slice(0, -1)}${pair.endsWith("A") ? "B" : "A"}`;
    await request(app).get("/").set("Cookie", forged).expect("0");
  });
});
