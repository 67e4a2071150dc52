// The example store of docs/writing-a-store.md (examples/stores/map-store.ts), proven the two
// ways the guide asks of every store: the conformance suite, and a visitor's journey through
// session() as an app uses it. The guide shows the file as it is tested here.
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { describe, it } from "node:test";
import express from "express";
import request from "supertest";
import { type MapEntry, MapStore } from "../../examples/stores/map-store.js";
import { session } from "../../src/express/index.js";
import type { TesseraError } from "../../src/index.js";
import { testStore } from "../../src/store-conformance/index.js";
import { cookiePair, SECRET, SIGNED, sessionIdOf } from "../helpers/http.js";

/** A Map that fails as a database client fails while its server is down. */
class DownMap extends Map<string, MapEntry> {
  override get(): never {
    throw Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:1"), { code: "ECONNREFUSED" });
  }
  override set(): never {
    return this.get();
  }
  override delete(): never {
    return this.get();
  }
  override clear(): never {
    return this.get();
  }
  override values(): never {
    return this.get();
  }
}

testStore("MapStore (the example store)", () => new MapStore(), {
  failingFactory: () => new MapStore(new DownMap()),
});

/** The error handler of the app: the error's status, and its code for the test to read. */
const answerWithCode: express.ErrorRequestHandler = (error: TesseraError, _req, res, next) => {
  if (res.headersSent) return next(error);
  res.status(error.status ?? 500).json({ code: error.code });
};

function appWith(store: MapStore): express.Express {
  const app = express();
  app.use(session({ secret: SECRET, store, resave: false, saveUninitialized: false }));
  app.get("/count", (req, res) => {
    const count = ((req.session.count as number | undefined) ?? 0) + 1;
    req.session.count = count;
    res.send(String(count));
  });
  app.get("/me", (req, res) => {
    res.send(String(req.session.member ?? "nobody"));
  });
  app.post("/login", async (req, res) => {
    await req.session.regenerate();
    req.session.member = "alice";
    res.send("welcome");
  });
  app.post("/logout", async (req, res) => {
    await req.session.destroy();
    res.send("bye");
  });
  app.use(answerWithCode);
  return app;
}

describe("MapStore under session()", () => {
  it("a visitor counts, logs in with a new id, and logs out", async () => {
    const store = new MapStore();
    const app = appWith(store);

    const first = await request(app).get("/count").expect(200, "1");
    const visitor = cookiePair(first);
    assert.equal(await store.length(), 1, "the new visitor's session was not stored");
    await request(app).get("/count").set("Cookie", visitor).expect(200, "2");

    const login = await request(app).post("/login").set("Cookie", visitor).expect(200, "welcome");
    const member = cookiePair(login);
    assert.notEqual(sessionIdOf(login), sessionIdOf(first), "login kept the visitor's id");
    assert.equal((await store.get(sessionIdOf(login)))?.member, "alice");
    assert.equal(await store.get(sessionIdOf(first)), undefined, "the old session survived login");
    await request(app).get("/me").set("Cookie", member).expect("alice");
    await request(app).get("/me").set("Cookie", visitor).expect("nobody");

    await request(app).post("/logout").set("Cookie", member).expect(200, "bye");
    assert.equal(await store.length(), 0, "logout left the session in the store");
    await request(app).get("/me").set("Cookie", member).expect("nobody");
  });

  it("a store that cannot be reached answers 503 with ERR_STORE_UNAVAILABLE", async () => {
    const res = await request(appWith(new MapStore(new DownMap())))
      .get("/count")
      .set("Cookie", `connect.sid=${encodeURIComponent(SIGNED)}`)
      .expect(503);
    assert.deepEqual(res.body, { code: "ERR_STORE_UNAVAILABLE" });
  });
});

describe("MapStore keeps what the suite does not check", () => {
  it("a key named __proto__ stays data, through set and patch", async () => {
    const store = new MapStore();
    const cookie = { originalMaxAge: null };
    await store.set("a", { cookie, ...JSON.parse('{"__proto__":{"via":"set"}}') }, 60_000);
    await store.set("b", { cookie }, 60_000);
    const patch = { set: JSON.parse('{"__proto__":{"via":"patch"}}'), unset: [] };
    assert.equal(await store.patch("b", patch, 60_000), true);
    for (const [id, via] of [
      ["a", "set"],
      ["b", "patch"],
    ]) {
      const got = (await store.get(id as string)) as Record<string, unknown>;
      assert.equal(Object.getPrototypeOf(got), Object.prototype, `${via} replaced the prototype`);
      assert.deepEqual(Object.getOwnPropertyDescriptor(got, "__proto__")?.value, { via });
    }
  });
});

describe("docs/writing-a-store.md", () => {
  it("shows the example store as it is tested here, importing from tessera", async () => {
    const read = (path: string) => readFile(new URL(path, import.meta.url), "utf8");
    const [guide, source] = await Promise.all([
      read("../../docs/writing-a-store.md"),
      read("../../examples/stores/map-store.ts"),
    ]);
    const listing = guide
      .split("```ts\n")
      .map((block) => block.slice(0, block.indexOf("```")))
      .find((block) => block.includes("export class MapStore"));
    const shown = source
      .replace(/^(\/\/.*\n)+/, "")
      .replace('"../../src/store/index.js"', '"tessera/store"');
    assert.equal(listing, shown, "the guide's listing differs from examples/stores/map-store.ts");
  });
});
