import assert from "node:assert/strict";
import { EventEmitter } from "node:events";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import express from "express";
import request from "supertest";
import { isTesseraError } from "../../src/core/errors.js";
import { session } from "../../src/express/index.js";
import type { SessionRecord } from "../../src/store/types.js";
import { runScript } from "../../src/store-conformance/child.js";
import { pollUntil } from "../../src/store-conformance/waiting.js";
import { MemoryStore, type StoreCallback } from "../../src/stores/memory.js";
import { SECRET } from "../helpers/http.js";
import { describeSyncStore } from "../helpers/sync-store.js";

const fixture = (name: string) =>
  fileURLToPath(new URL(`../fixtures/stores/${name}`, import.meta.url));

const START = 1_700_000_000_000;

/** A MemoryStore on a clock the test moves by hand. */
function storeWithClock(options: { max?: number; ttlMs?: number } = {}) {
  const clock = { now: START };
  const store = new MemoryStore({ ...options, sweepIntervalMs: 0, now: () => clock.now });
  return { store, clock };
}

function record(data: Record<string, unknown> = {}, expires?: Date | null): SessionRecord {
  return { cookie: { originalMaxAge: null, expires: expires ?? null, path: "/" }, ...data };
}

/** Calls a callback-style method and resolves what its callback got, checking it came later. */
function viaCallback<T>(
  call: (callback: StoreCallback<T>) => unknown,
): Promise<[unknown, T | undefined]> {
  return new Promise((resolve, reject) => {
    let returned = false;
    call((error, value) => {
      if (!returned) reject(new Error("the callback ran before the call returned"));
      resolve([error, value]);
    });
    returned = true;
  });
}

/** What makes each store made by `breakableStore` fail from then on. */
const breakers = new WeakMap<MemoryStore, () => void>();

/** A MemoryStore whose clock can be made to throw, so that every later call fails. */
function breakableStore(): MemoryStore {
  let broken = false;
  const store = new MemoryStore({
    sweepIntervalMs: 0,
    now: () => {
      if (broken) throw new Error("the clock stopped");
      return Date.now();
    },
  });
  breakers.set(store, () => {
    broken = true;
  });
  return store;
}

/** Runs a fixture under `node --expose-gc` and parses the JSON line it prints. */
async function measure(name: string, args: string[]): Promise<Record<string, number>> {
  const outcome = await runScript(fixture(name), args, 50_000, ["--expose-gc"]);
  assert.equal(outcome.code, 0, outcome.stderr);
  return JSON.parse(outcome.stdout) as Record<string, number>;
}

describe("MemoryStore", () => {
  describe("express-session's MemoryStore interface", () => {
    it("is an EventEmitter on express-session's Store base, as express-session's is", () => {
      const store = new MemoryStore({ sweepIntervalMs: 0 });
      assert.ok(store instanceof EventEmitter);
      assert.ok(store instanceof session.Store);
    });

    it("load() and regenerate() of the Store base work on it under the middleware", async () => {
      const store = new MemoryStore({ sweepIntervalMs: 0 });
      const app = express();
      app.use(session({ secret: SECRET, store, resave: false, saveUninitialized: false }));
      app.post("/", (req, res) => {
        (req.session as Record<string, unknown>).views = 3;
        res.send("saved");
      });
      app.get("/load", (req, res, next) => {
        store.load(req.sessionID, (error, loaded) => {
          if (error) return next(error);
          const { id, views } = loaded as { id: string; views: number };
          res.json({ same: id === req.sessionID, views });
        });
      });
      app.post("/regenerate", (req, res, next) => {
        const old = req.sessionID;
        store.regenerate(req, (error) => {
          if (error) return next(error);
          const fresh = (req.session as Record<string, unknown>).views === undefined;
          res.json({ fresh, changed: req.sessionID !== old });
        });
      });
      const agent = request.agent(app);
      await agent.post("/").expect(200);
      assert.deepEqual((await agent.get("/load").expect(200)).body, { same: true, views: 3 });
      const regenerated = await agent.post("/regenerate").expect(200);
      assert.deepEqual(regenerated.body, { fresh: true, changed: true });
      // The old session is gone; the regenerated one is saved, as express-session saves it.
      assert.equal(await store.length(), 1, "the old session was not destroyed");
    });

    it("answers get, set, touch, destroy, length, all and clear through callbacks, later", async () => {
      const { store } = storeWithClock();
      const expires = new Date(START + 60_000);
      assert.deepEqual(await viaCallback((cb) => store.set("a", record({ n: 1 }, expires), cb)), [
        null,
        undefined,
      ]);
      await viaCallback((cb) => store.set("b", record({ n: 2 }, expires), cb));
      const [error, got] = await viaCallback<SessionRecord | undefined>((cb) => store.get("a", cb));
      assert.equal(error, null);
      assert.equal(got?.n, 1);
      assert.deepEqual(await viaCallback((cb) => store.get("missing", cb)), [null, undefined]);
      assert.deepEqual(await viaCallback((cb) => store.length(cb)), [null, 2]);
      const [, all] = await viaCallback<Record<string, SessionRecord>>((cb) => store.all(cb));
      assert.deepEqual(Object.keys(all ?? {}).sort(), ["a", "b"]);
      assert.equal(all?.b?.n, 2);
      await viaCallback((cb) => store.touch("a", record({}, new Date(START + 120_000)), cb));
      assert.equal((await store.get("a"))?.cookie.expires, new Date(START + 120_000).toISOString());
      await viaCallback((cb) => store.destroy("a", cb));
      assert.equal(await store.get("a"), undefined);
      await viaCallback((cb) => store.clear(cb));
      assert.equal(await store.length(), 0);
    });

    it("all() leaves out expired sessions, as express-session's does", async () => {
      const { store, clock } = storeWithClock();
      await store.set("short", record(), 1000);
      await store.set("long", record(), 5000);
      clock.now += 1000;
      assert.deepEqual(Object.keys(await store.all()), ["long"]);
    });

    it("set without a TTL takes it from cookie.expires", async () => {
      const { store, clock } = storeWithClock();
      await store.set("id", record({}, new Date(START + 1500)));
      clock.now = START + 1499;
      assert.ok(await store.get("id"));
      clock.now = START + 1500;
      assert.equal(await store.get("id"), undefined);
    });

    it("set without a TTL keeps a browser-session cookie for ttlMs, not forever", async () => {
      const { store, clock } = storeWithClock({ ttlMs: 10_000 });
      await store.set("id", record({}, null));
      clock.now = START + 9_999;
      assert.ok(await store.get("id"));
      clock.now = START + 10_000;
      assert.equal(await store.get("id"), undefined);
      assert.equal(store.size, 0);
    });

    it("set with a cookie that already expired stores nothing", async () => {
      const { store } = storeWithClock();
      await store.set("id", record({}, new Date(START + 1000)), 1000);
      await store.set("id", record({}, new Date(START - 1)));
      assert.equal(await store.get("id"), undefined);
      assert.equal(store.size, 0);
    });

    it("with a callback, an error goes to the callback and nothing is thrown", async () => {
      const { store } = storeWithClock();
      const id = "id-that-must-not-leak";
      const bad = record({ big: 10n });
      const [error] = await viaCallback((cb) => {
        store.set(id, bad, 1000, cb);
      });
      assert.ok(isTesseraError(error, "ERR_SESSION_DATA"));
      assert.ok(!error.message.includes(id));
      assert.throws(
        () => store.set(id, bad, 1000),
        (rejection: unknown) => {
          assert.ok(isTesseraError(rejection, "ERR_SESSION_DATA"));
          assert.match(rejection.message, /^tessera: MemoryStore cannot store this session/);
          assert.ok(!rejection.message.includes(id));
          return true;
        },
      );
      assert.equal(store.size, 0);
    });

    it("refuses a TTL that is not a positive number of ms, naming no id", async () => {
      const { store } = storeWithClock();
      for (const ttl of [0, -5, Number.NaN, Number.POSITIVE_INFINITY]) {
        assert.throws(
          () => store.set("secret-id", record(), ttl),
          (error: unknown) => {
            assert.ok(isTesseraError(error, "ERR_OPTION"));
            assert.ok(!error.message.includes("secret-id"));
            return true;
          },
        );
      }
    });
  });

  describe("options", () => {
    it("refuses a max, sweepIntervalMs or ttlMs that makes no sense", () => {
      const bad = [
        { max: 0 },
        { max: -1 },
        { max: 1.5 },
        { max: Number.NaN },
        { sweepIntervalMs: -1 },
        { sweepIntervalMs: 2 ** 31 },
        { ttlMs: 0 },
      ];
      for (const options of bad) {
        assert.throws(
          () => new MemoryStore(options),
          (error: unknown) => isTesseraError(error, "ERR_OPTION"),
          JSON.stringify(options),
        );
      }
    });
  });

  describe("expiry", () => {
    it("a session expires exactly at its TTL", async () => {
      const { store, clock } = storeWithClock();
      await store.set("id", record({ n: 1 }), 1000);
      clock.now = START + 999;
      assert.equal((await store.get("id"))?.n, 1);
      clock.now = START + 1000;
      assert.equal(await store.get("id"), undefined);
    });

    it("prune() sweeps out expired sessions and says how many", async () => {
      const { store, clock } = storeWithClock();
      await store.set("a", record({}), 1000);
      await store.set("b", record({}), 1000);
      await store.set("c", record({}), 5000);
      clock.now += 1000;
      assert.equal(store.size, 3);
      assert.equal(await store.prune(), 2);
      assert.equal(store.size, 1);
      assert.equal(await store.prune(), 0);
    });

    it("the sweep timer removes expired sessions nobody reads", async () => {
      const store = new MemoryStore({ sweepIntervalMs: 20 });
      try {
        for (let i = 0; i < 50; i++) await store.set(`s${i}`, record(), 30);
        assert.ok(store.size > 0);
        const swept = await pollUntil(async () => store.size === 0, Date.now() + 5000);
        assert.ok(swept, `${store.size} expired sessions are still held`);
      } finally {
        await store.close();
      }
    });

    it("the sweep timer never keeps the process alive, even without close()", async () => {
      const outcome = await runScript(fixture("memory-unref.ts"), [], 15_000);
      assert.equal(outcome.timedOut, false, "the process did not exit on its own");
      assert.equal(outcome.code, 0, outcome.stderr);
      assert.equal(outcome.stdout.trim(), "1");
    });

    it("200 000 one-request visitors with a short TTL leave memory bounded", async (t) => {
      // 1 ms per visitor and a 1000 ms TTL: at most 1000 sessions are alive at any time. If
      // expired ones were kept, 200 000 sessions of ~200 bytes would hold ~40 MB; the 1000 live
      // ones hold ~0.2 MB, so 3 MB leaves room for gc noise and still catches any leak.
      const result = await measure("memory-stream.ts", ["200000", "1000"]);
      t.diagnostic(JSON.stringify(result));
      assert.equal(result.visitors, 200_000);
      assert.ok(
        (result.peak ?? Number.POSITIVE_INFINITY) <= 1002,
        `peak of ${result.peak} sessions`,
      );
      assert.equal(result.left, 0);
      assert.ok((result.heapAtEnd ?? 0) < 3_000_000, `${result.heapAtEnd} heap bytes at the end`);
      assert.ok((result.heapAfterExpiry ?? 0) < 3_000_000, `${result.heapAfterExpiry} bytes kept`);
    });
  });

  describe("touch", () => {
    // touch rewrites the cookie and metadata in the stored text without parsing the data: any
    // data, however awkward its JSON, must come back exactly as a parse-and-rewrite would give.
    const awkward: [string, Record<string, unknown>][] = [
      ["no data", {}],
      ["a number", { views: 3 }],
      [
        "strings with quotes, braces, commas and escapes",
        {
          a: 'say "}],{"',
          b: "back\\slash\\",
          c: "\u2028 line\nbreak",
          d: "ünïcödé 🎉",
        },
      ],
      [
        "a nested key named cookie",
        { prefs: { cookie: { expires: "never" }, list: [1, [2, {}]] } },
      ],
      ["a data key named like the metadata, nested", { x: { __tessera: { user: "mallory" } } }],
      ["values of every JSON type", { t: true, f: false, n: null, z: 0, neg: -1.5e-7, arr: [] }],
      ["a key with an escaped name", { 'we"ird': 1, "back\\": 2 }],
    ];
    for (const [what, data] of awkward) {
      it(`keeps ${what} and writes the new cookie and metadata`, async () => {
        const { store, clock } = storeWithClock();
        const meta = { createdAt: START, seenAt: START };
        await store.set("s", record({ ...data, __tessera: meta }), 60_000);
        clock.now += 10_000;
        const cookie = { originalMaxAge: 60_000, expires: new Date(START + 70_000), path: "/" };
        const seen = { createdAt: START, seenAt: START + 10_000, user: "al}ice" };
        await store.touch("s", { cookie, views: "not written", __tessera: seen }, 60_000);
        const expected = JSON.parse(JSON.stringify({ ...data, cookie, __tessera: seen }));
        assert.deepEqual(await store.get("s"), expected);
        assert.deepEqual(await store.idsForUser("al}ice"), ["s"]);
        clock.now += 59_999;
        assert.ok(await store.get("s"), "the expiry moved with the touch");
        clock.now += 1;
        assert.equal(await store.get("s"), undefined);
      });
    }

    it("adds the metadata to a session stored without it, and keeps it when none is given", async () => {
      const { store } = storeWithClock();
      await store.set("s", record({ views: 1 }), 60_000);
      const seen = { createdAt: START, seenAt: START, user: "bob" };
      await store.touch("s", { ...record(), __tessera: seen }, 60_000);
      assert.deepEqual(await store.get("s"), {
        ...JSON.parse(JSON.stringify(record({ views: 1 }))),
        __tessera: seen,
      });
      await store.touch("s", record(), 60_000);
      assert.deepEqual((await store.get("s"))?.__tessera, seen);
      assert.deepEqual(await store.idsForUser("bob"), ["s"]);
    });

    it("keeps the data of a session stored by a legacy app with the cookie last", async () => {
      const { store } = storeWithClock();
      await store.set("s", { views: 2, cookie: { originalMaxAge: null, path: "/" } }, 60_000);
      await store.touch("s", { cookie: { originalMaxAge: null, path: "/x" } }, 60_000);
      assert.deepEqual(await store.get("s"), {
        views: 2,
        cookie: { originalMaxAge: null, path: "/x" },
      });
    });
  });

  describeSyncStore({
    make: breakableStore,
    breakStore: (store) => breakers.get(store)?.(),
  });

  describe("max", () => {
    it("evicts the least recently used session", async () => {
      const { store } = storeWithClock({ max: 3 });
      await store.set("a", record({ user: 1 }), 60_000);
      await store.set("b", record(), 60_000);
      await store.set("c", record(), 60_000);
      await store.get("a");
      await store.set("d", record(), 60_000);
      assert.equal(await store.get("b"), undefined, "the least recently used session stayed");
      for (const id of ["a", "c", "d"]) assert.ok(await store.get(id), `${id} was evicted`);
      await store.touch("c", record(), 60_000);
      await store.set("e", record(), 60_000);
      assert.equal(await store.get("a"), undefined);
      assert.equal(store.size, 3);
    });

    it("an evicted session leaves its user's index", async () => {
      const { store } = storeWithClock({ max: 2 });
      const meta = (user: string) => ({ __tessera: { createdAt: START, user } });
      await store.set("a1", record(meta("alice")), 60_000);
      await store.set("a2", record(meta("alice")), 60_000);
      await store.set("b1", record(meta("bob")), 60_000);
      assert.deepEqual(await store.idsForUser("alice"), ["a2"]);
      assert.equal(await store.destroyForUser("alice"), 1);
    });

    it("keeps a flood of new visitors under max at every moment", async () => {
      const { store } = storeWithClock({ max: 100 });
      let peak = 0;
      for (let i = 0; i < 10_000; i++) {
        await store.set(`visitor-${i}`, record(), 60_000);
        peak = Math.max(peak, store.size);
      }
      assert.equal(peak, 100);
      assert.ok(await store.get("visitor-9999"));
      assert.equal(await store.get("visitor-9899"), undefined);
    });
  });

  describe("memory", () => {
    it("holds a session in at most 1.2x the heap of express-session's MemoryStore", async (t) => {
      // express-session keeps one JSON string per id in a plain object and nothing else; we
      // also keep the expiry and LRU order, and must not pay much more for them.
      const theirs = await measure("memory-footprint.ts", ["express-session", "100000"]);
      const ours = await measure("memory-footprint.ts", ["tessera", "100000"]);
      t.diagnostic(
        `express-session ${theirs.bytesPerSession} B/session, Tessera ${ours.bytesPerSession} B/session`,
      );
      assert.equal(ours.recordBytes, 82);
      assert.equal(ours.held, 100_000);
      assert.equal(theirs.held, 100_000);
      const ratio = (ours.bytesPerSession ?? 0) / (theirs.bytesPerSession ?? 1);
      assert.ok(ratio <= 1.2, `Tessera needs ${ratio.toFixed(2)}x the memory of express-session`);
    });
  });
});
