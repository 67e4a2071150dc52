// Keys that name what a session does (`__proto__`, `constructor`, its methods, `id`, `req`,
// Object.prototype's methods) are data in a store and never behaviour in the app. A record
// holding them, written straight into each store (as an attacker with store access or an older
// app version would), still serves a session whose prototype and methods are Tessera's; a patch
// holding them is applied by each store as plain keys; flash types named like them are types;
// and an app assigning them on req.session is told so at once.
import assert from "node:assert/strict";
import { after, afterEach, before, describe, it } from "node:test";
import express, { type Express } from "express";
import type pg from "pg";
import request from "supertest";
import { csrf } from "../../src/csrf/index.js";
import { session } from "../../src/express/index.js";
import { flash } from "../../src/flash/index.js";
import {
  isTesseraError,
  Session,
  type SessionPatch,
  type SessionRecord,
  type Store,
} from "../../src/index.js";
import { encryptRecords } from "../../src/store/encrypted.js";
import { MemoryStore } from "../../src/stores/memory.js";
import { PostgresStore } from "../../src/stores/postgres.js";
import { RedisStore } from "../../src/stores/redis.js";
import { SqliteStore } from "../../src/stores/sqlite.js";
import { testPool } from "../fixtures/postgres/pools.js";
import {
  CLIENT_KINDS,
  connectClient,
  deleteUnder,
  type TestClient,
  testPrefix,
} from "../fixtures/redis/clients.js";
import { cookiePair, ID, SECRET, SIGNED } from "../helpers/http.js";
import { DATABASE_URL, needServer, REDIS_URL, uniqueName } from "../helpers/services.js";

const COOKIE = `connect.sid=${encodeURIComponent(SIGNED)}`;
const TTL_MS = 600_000;
const METHODS = [
  "save",
  "reload",
  "regenerate",
  "destroy",
  "touch",
  "resetMaxAge",
  "setUser",
  "getUser",
  "getAuthenticatedAt",
  "setLifetime",
  "notActivity",
] as const;
/** Every key a hostile record sets to a plain string. */
const NAMES = [
  ...METHODS,
  "id",
  "req",
  "constructor",
  "hasOwnProperty",
  "toString",
  "valueOf",
  "isPrototypeOf",
] as const;

/**
 * An object with own keys, `__proto__` included. An object literal `{ __proto__: x }` would set
 * the prototype instead, which is exactly the confusion under test.
 */
function own(entries: [string, unknown][]): Record<string, unknown> {
  return Object.fromEntries(entries);
}

/** A record holding every such key, as JSON keeps it: `__proto__` an own key like the rest. */
function hostileRecord(): SessionRecord {
  return own([
    ["cookie", { originalMaxAge: null, httpOnly: true, path: "/" }],
    ["__tessera", { createdAt: Date.now() }],
    ["__proto__", { isAdmin: true, save: "from the prototype" }],
    ["constructor", { prototype: { isAdmin: true } }],
    ...NAMES.filter((name) => name !== "constructor").map((name): [string, unknown] => [
      name,
      `stored ${name}`,
    ]),
    ["views", 1],
  ]) as unknown as SessionRecord;
}

function plainRecord(): SessionRecord {
  return {
    cookie: { originalMaxAge: null, httpOnly: true, path: "/" },
    __tessera: { createdAt: Date.now() },
    views: 1,
  };
}

/** What a request sees of its session: all of it must be Tessera's behaviour. */
function probe(value: unknown) {
  const s = value as Record<string, unknown>;
  return {
    prototypeIsSession: Object.getPrototypeOf(s) === Session.prototype,
    constructorIsSession: s.constructor === Session,
    methodsReplaced: METHODS.filter(
      (name) => s[name] !== (Session.prototype as unknown as Record<string, unknown>)[name],
    ),
    idIsTheCookies: s.id === ID || s.id === (s.req as { sessionID?: unknown }).sessionID,
    keys: Object.keys(s).sort(),
    inheritedIsAdmin: s.isAdmin ?? null,
    objectPrototypePolluted: "isAdmin" in {},
  };
}

const SOUND = {
  prototypeIsSession: true,
  constructorIsSession: true,
  methodsReplaced: [],
  idIsTheCookies: true,
  keys: ["cookie", "views"],
  inheritedIsAdmin: null,
  objectPrototypePolluted: false,
};

function site(store: Store): Express {
  const app = express();
  app.use(session({ secret: SECRET, store, resave: false, saveUninitialized: false }));
  app.use(flash());
  app.get("/probe", (req, res) => {
    res.json(probe(req.session));
  });
  // Every method of the session, in one request, on a session loaded from a hostile record.
  app.post("/use", async (req, res, next) => {
    try {
      const s = req.session as Session & Record<string, unknown>;
      s.views = Number(s.views) + 1;
      await s.save();
      s.touch().resetMaxAge().setUser("ada");
      const user = s.getUser();
      await s.reload();
      const reloaded = probe(req.session);
      await req.session.regenerate({ keepData: true });
      const regenerated = req.session as Session & Record<string, unknown>;
      res.json({ user, views: regenerated.views, reloaded, regenerated: probe(regenerated) });
    } catch (error) {
      next(error);
    }
  });
  app.post("/destroy", async (req, res, next) => {
    try {
      await req.session.destroy();
      res.json({ destroyed: req.session === undefined });
    } catch (error) {
      next(error);
    }
  });
  app.get("/flash", (req, res) => {
    // Sorted pairs: PostgreSQL's jsonb keeps keys in its own order.
    res.json(Object.entries(req.flash()).sort(([a], [b]) => (a < b ? -1 : 1)));
  });
  app.get("/flash/:type", (req, res) => {
    res.json(req.flash(String(req.params.type)));
  });
  app.post("/flash/:type", (req, res) => {
    res.json(req.flash(String(req.params.type), "added"));
  });
  app.post("/assign", (req, res) => {
    const s = req.session as unknown as Record<string, unknown>;
    // Pairs, not an object: `outcome["__proto__"] = ...` is the very mistake under test.
    const outcome: [string, string][] = [];
    const attempt = (what: string, act: () => void) => {
      try {
        act();
        outcome.push([what, "allowed"]);
      } catch (error) {
        outcome.push([
          what,
          isTesseraError(error, "ERR_SESSION_DATA") ? error.message : `other: ${String(error)}`,
        ]);
      }
    };
    for (const name of [...NAMES, "__proto__", "__tessera"]) {
      attempt(`${name} =`, () => {
        s[name] = name === "__proto__" ? { isAdmin: true } : "data";
      });
    }
    attempt("defineProperty save", () => {
      Object.defineProperty(s, "save", { value: "data", enumerable: true });
    });
    attempt("setPrototypeOf", () => {
      Object.setPrototypeOf(s, { isAdmin: true });
    });
    s.views = 1;
    res.json({ outcome, probe: probe(s) });
  });
  app.use(
    (error: unknown, _req: express.Request, res: express.Response, _next: express.NextFunction) => {
      res.status(500).json({ code: isTesseraError(error) ? error.code : String(error) });
    },
  );
  return app;
}

function assertPlainRecord(record: SessionRecord | undefined): Record<string, unknown> {
  assert.ok(record, "the record is there");
  assert.equal(Object.getPrototypeOf(record), Object.prototype, "the record's prototype");
  assert.equal((record as Record<string, unknown>).isAdmin, undefined, "nothing inherited");
  return record as Record<string, unknown>;
}

function ownValue(object: object, key: string): unknown {
  return Object.getOwnPropertyDescriptor(object, key)?.value;
}

/** The scenarios, for one store. */
function scenarios(make: () => Store | Promise<Store>): void {
  let store: Store;
  before(async () => {
    store = await make();
  });
  afterEach(async () => {
    await store.destroy(ID);
    assert.equal("isAdmin" in {}, false, "Object.prototype stays clean");
  });

  it("reads a record holding such keys as data, and serves it as a sound session", async () => {
    await store.set(ID, hostileRecord(), TTL_MS);
    const read = assertPlainRecord(await store.get(ID));
    assert.deepEqual(ownValue(read, "__proto__"), { isAdmin: true, save: "from the prototype" });
    assert.deepEqual(ownValue(read, "constructor"), { prototype: { isAdmin: true } });
    for (const name of NAMES) {
      if (name !== "constructor") assert.equal(ownValue(read, name), `stored ${name}`, name);
    }

    const app = site(store);
    assert.deepEqual(
      (await request(app).get("/probe").set("Cookie", COOKIE).expect(200)).body,
      SOUND,
    );
    const used = await request(app).post("/use").set("Cookie", COOKIE).expect(200);
    assert.deepEqual(used.body, { user: "ada", views: 2, reloaded: SOUND, regenerated: SOUND });
    const renewed = cookiePair(used);
    assert.deepEqual((await request(app).get("/probe").set("Cookie", renewed)).body, SOUND);
    await request(app).post("/destroy").set("Cookie", renewed).expect(200, { destroyed: true });
  });

  it("applies a patch holding such keys as plain keys", async (t) => {
    if (typeof store.patch !== "function") return t.skip("the store has no patch()");
    await store.set(ID, plainRecord(), TTL_MS);
    const patch: SessionPatch = {
      set: own([
        ["__proto__", { isAdmin: true }],
        ["constructor", { prototype: { isAdmin: true } }],
        ["save", "patched"],
        ["views", 2],
      ]),
      unset: [],
    };
    assert.equal(await store.patch(ID, patch, TTL_MS), true);
    const read = assertPlainRecord(await store.get(ID));
    assert.deepEqual(ownValue(read, "__proto__"), { isAdmin: true });
    assert.deepEqual(ownValue(read, "constructor"), { prototype: { isAdmin: true } });
    assert.equal(ownValue(read, "save"), "patched");
    assert.equal(read.views, 2);

    // Served after the patch, the session is still Tessera's.
    const app = site(store);
    const seen = (await request(app).get("/probe").set("Cookie", COOKIE).expect(200)).body;
    assert.deepEqual(seen, SOUND);

    // Unsetting them removes the data keys and nothing else.
    const unset: SessionPatch = { set: {}, unset: ["__proto__", "constructor", "save"] };
    assert.equal(await store.patch(ID, unset, TTL_MS), true);
    const after = assertPlainRecord(await store.get(ID));
    assert.deepEqual(Object.keys(after).sort(), ["__tessera", "cookie", "views"]);
  });

  it("keeps flash types named like them as types", async () => {
    const record = plainRecord();
    record.flash = own([
      ["__proto__", ["stored proto"]],
      ["constructor", ["stored constructor"]],
    ]);
    await store.set(ID, record, TTL_MS);
    const app = site(store);
    await request(app).get("/flash/toString").set("Cookie", COOKIE).expect(200, []);
    await request(app).post("/flash/toString").set("Cookie", COOKIE).expect(200, "1");
    await request(app).post("/flash/__proto__").set("Cookie", COOKIE).expect(200, "2");
    await request(app)
      .get("/flash/__proto__")
      .set("Cookie", COOKIE)
      .expect(200, ["stored proto", "added"]);
    await request(app)
      .get("/flash")
      .set("Cookie", COOKIE)
      .expect(200, [
        ["constructor", ["stored constructor"]],
        ["toString", ["added"]],
      ]);
    assert.deepEqual((await request(app).get("/probe").set("Cookie", COOKIE)).body, SOUND);
  });
}

const redisAvailable = await needServer("Redis", REDIS_URL);
const postgresAvailable = await needServer("PostgreSQL", DATABASE_URL);

describe("session keys that name behaviour are data, never behaviour", () => {
  describe("MemoryStore", () => {
    scenarios(() => new MemoryStore());
  });

  describe("SqliteStore", () => {
    let store: SqliteStore;
    after(async () => {
      await store.close();
    });
    scenarios(() => {
      store = new SqliteStore({ path: ":memory:", pruneIntervalMs: 0 });
      return store;
    });
  });

  for (const kind of CLIENT_KINDS) {
    describe(`RedisStore with ${kind}`, { skip: !redisAvailable }, () => {
      let redis: TestClient;
      const prefix = testPrefix();
      after(async () => {
        await deleteUnder(redis, prefix);
        await redis.close();
      });
      scenarios(async () => {
        redis = await connectClient(kind);
        return new RedisStore({ client: redis.client, prefix });
      });
    });
  }

  describe("PostgresStore", { skip: !postgresAvailable }, () => {
    let pool: pg.Pool;
    let store: PostgresStore;
    const tableName = uniqueName("tessera_protokeys");
    after(async () => {
      await store.close();
      await pool.query(`DROP TABLE IF EXISTS "${tableName}"`);
      await pool.end();
    });
    scenarios(() => {
      pool = testPool(DATABASE_URL);
      store = new PostgresStore({ pool, tableName, createTable: true, pruneIntervalMs: 0 });
      return store;
    });
  });

  describe("encryptRecords() over MemoryStore", () => {
    scenarios(() => encryptRecords(new MemoryStore(), { keys: [Buffer.alloc(32, 7)] }));
  });

  describe("req.session", () => {
    it("refuses such keys when the app assigns them, with ERR_SESSION_DATA", async () => {
      const app = site(new MemoryStore());
      const res = await request(app).post("/assign").expect(200);
      const { outcome, probe: seen } = res.body as {
        outcome: [string, string][];
        probe: typeof SOUND;
      };
      assert.ok(outcome.length > 0);
      for (const [what, result] of outcome) {
        assert.match(result, /^tessera: req\.session/, what);
        assert.ok(!result.includes(ID), "no session id in the message");
      }
      assert.match(
        new Map(outcome).get("save =") ?? "",
        /^tessera: req\.session\.save is .+ not data/,
      );
      assert.deepEqual(seen, SOUND);
      // The session was saved with its one data key and still works.
      const again = await request(app).get("/probe").set("Cookie", cookiePair(res)).expect(200);
      assert.deepEqual(again.body, SOUND);
      assert.equal("isAdmin" in {}, false);
    });
  });

  describe("csrf()", () => {
    it("refuses a sessionKey that names behaviour of the session", () => {
      for (const sessionKey of ["__proto__", "constructor", "save", "id", "toString"]) {
        assert.throws(
          () => csrf({ sessionKey }),
          (error: unknown) => isTesseraError(error, "ERR_OPTION"),
          sessionKey,
        );
      }
    });
  });
});
