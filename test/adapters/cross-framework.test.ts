// One browser goes from framework to framework without logging out, and its session goes with
// it: the same secret, the same cookie and the same stored record, whichever app serves the
// request. Each app is a server of its own with its own session() and its own store instance
// (and client or pool), as separate deployments of one site would be, and all of them use one
// backing store: one Redis prefix, one PostgreSQL table, one SQLite file. The apps are the
// journey suite's (apps/<framework>.ts); an adapter's app joins here as soon as its file exists.
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it, type TestContext } from "node:test";
import expressSession from "express-session";
import { Redis } from "ioredis";
import type pg from "pg";
import type { SessionRecord } from "../../src/store/types.js";
import { PostgresStore } from "../../src/stores/postgres.js";
import { RedisStore } from "../../src/stores/redis.js";
import { SqliteStore } from "../../src/stores/sqlite.js";
import { testPool } from "../fixtures/postgres/pools.js";
import {
  createNodeRedis,
  DATABASE,
  deleteUnder,
  type TestClient,
  testPrefix,
  wrapIoRedis,
  wrapNodeRedis,
} from "../fixtures/redis/clients.js";
import { SECRET } from "../helpers/http.js";
import { DATABASE_URL, needServer, REDIS_URL, uniqueName } from "../helpers/services.js";
import { makeExpressApp } from "./apps/express.js";
import { makeNodeApp } from "./apps/node.js";
import type { JourneyApp, MakeApp } from "./journey.js";
import {
  type Reply,
  sessionIdOf,
  shouldClearSessionCookie,
  shouldNotSetSessionCookie,
  Visitor,
} from "./visitor.js";

/** The frameworks whose apps take part, in the order the browser visits them. */
const frameworks: [name: string, makeApp: MakeApp][] = [
  ["Express", makeExpressApp],
  ["node:http", makeNodeApp],
];

// Apps of adapters written apart from this file: each takes part once its file is there.
const ARRIVING: readonly [name: string, file: string, maker: string][] = [
  ["Fastify", "fastify", "makeFastifyApp"],
  ["Koa", "koa", "makeKoaApp"],
  ["Hono", "hono", "makeHonoApp"],
];
for (const [name, file, maker] of ARRIVING) {
  const url = new URL(`./apps/${file}.ts`, import.meta.url);
  if (!existsSync(url)) continue;
  const makeApp = ((await import(url.href)) as Record<string, unknown>)[maker];
  if (typeof makeApp !== "function") throw new Error(`apps/${file}.ts does not export ${maker}`);
  frameworks.push([name, makeApp as MakeApp]);
}

const names = frameworks.map(([name]) => name);
/** A step of the journey: with one app there is none, and only the test that says so runs. */
const step = { skip: frameworks.length < 2 && "fewer than two frameworks have an app" };

/** Bounds each store's whole journey, start-up and requests included; it takes well under 1 s. */
const JOURNEY_TIMEOUT_MS = 10_000;

/** The options every app gets: the journey suite's, with the one store of the test. */
const BASE = { secret: SECRET, resave: false, saveUninitialized: false } as const;

/** What GET /me answers for a session that holds nothing. */
const NOBODY = { views: null, user: null, indexed: null };

/**
 * What express-session itself stores as `cookie` under these options: its Cookie as JSON, which
 * drops the attributes left undefined.
 */
const EXPRESS_SESSION_COOKIE: unknown = JSON.parse(JSON.stringify(new expressSession.Cookie()));

/** The keys of `__tessera` (SessionMeta in src/store/types.ts). */
const META_KEYS = ["createdAt", "seenAt", "user", "authenticatedAt", "userAgent", "ip"];

/** A store as the test needs it: what the apps get, plus the reads the test makes. */
type SharedStore = RedisStore | PostgresStore | SqliteStore;

/** The backing store of one run: a store instance per app, all on the same data. */
interface Backing {
  /** A new store instance, with a client or pool of its own, on the shared data. */
  open(): Promise<SharedStore>;
  /** Removes the test's data and closes everything `open` made. */
  close(): Promise<void>;
}

/** Asserts the reply's status and JSON body, naming the app that answered when either is wrong. */
function answers(reply: Reply, status: number, body: unknown, app: string): void {
  assert.equal(reply.status, status, `${app}: status ${reply.status}, body ${reply.text}`);
  assert.deepEqual(reply.body, body, `${app} answered ${reply.text}`);
}

/**
 * The record has express-session's shape, `{ cookie, ...data }`, plus Tessera's `__tessera`
 * metadata, and nothing of the framework that wrote it.
 */
function shouldBeExpressSessionRecord(
  record: SessionRecord | undefined,
  data: { views: number; user: string },
  writer: string,
): void {
  assert.ok(record, `the store does not hold the session ${writer} wrote`);
  const { cookie, __tessera: meta, ...rest } = record;
  assert.deepEqual(rest, data, `the data ${writer} wrote is not the session's`);
  assert.deepEqual(
    cookie,
    EXPRESS_SESSION_COOKIE,
    `${writer} wrote a cookie unlike express-session's`,
  );
  assert.ok(meta, `${writer} wrote no __tessera`);
  assert.equal(typeof meta.createdAt, "number");
  assert.equal(meta.user, data.user, `${writer} wrote a __tessera.user other than setUser()'s`);
  const unknown = Object.keys(meta).filter((key) => !META_KEYS.includes(key));
  assert.deepEqual(unknown, [], `${writer} wrote __tessera keys that SessionMeta does not define`);
}

/** The browser's journey across every app, on one backing store. */
function acrossFrameworks(storeName: string, skip: string | false, backing: () => Backing): void {
  const settings = { skip, timeout: JOURNEY_TIMEOUT_MS };
  describe(`one session across ${names.join(", ")} › on ${storeName}`, settings, () => {
    const apps: [name: string, app: JourneyApp][] = [];
    let shared: Backing | undefined;
    /** A store instance of no app: what the backing store holds, read as an admin tool would. */
    let inspector: SharedStore;
    /** One browser, one cookie jar, for the whole journey. */
    let browser: Visitor;
    /** The session id before login, then after it. */
    let anonymous = "";
    let id = "";
    let views = 0;

    /** Sends the browser to the app at `index`, keeping its cookies; returns the app's name. */
    function at(index: number): string {
      const [name, app] = apps[index] as [string, JourneyApp];
      browser.moveTo(app.url);
      return name;
    }

    /** Counts once on every app in turn, each going on from what the one before stored. */
    async function countRound(): Promise<void> {
      for (let index = 0; index < apps.length; index++) {
        const name = at(index);
        const reply = await browser.get("/count");
        views += 1;
        answers(reply, 200, { views }, name);
        shouldNotSetSessionCookie(reply);
        shouldBeExpressSessionRecord(await inspector.get(id), { views, user: "alice" }, name);
      }
    }

    before(async () => {
      shared = backing();
      for (const [name, makeApp] of frameworks) {
        apps.push([name, await makeApp({ ...BASE, store: await shared.open() })]);
      }
      inspector = await shared.open();
      browser = new Visitor((apps[0] as [string, JourneyApp])[1].url);
    });
    after(async () => {
      for (const [, app] of apps) await app.close();
      await shared?.close();
    });

    it("every framework with an app takes part, two at least", (t: TestContext) => {
      t.diagnostic(`frameworks: ${names.join(", ")}`);
      assert.ok(
        frameworks.length >= 2,
        `only ${names.join(", ")} has an app: a journey across frameworks needs two or more`,
      );
    });

    it(
      "a new visitor counts 1, 2... from app to app, with the one cookie the first app set",
      step,
      async () => {
        const name = at(0);
        const look = await browser.get("/me");
        answers(look, 200, NOBODY, name);
        shouldNotSetSessionCookie(look);
        const first = await browser.get("/count");
        answers(first, 200, { views: 1 }, name);
        anonymous = sessionIdOf(first);
        const cookie = browser.sessionCookie;
        for (let index = 1; index < apps.length; index++) {
          const name = at(index);
          const reply = await browser.get("/count");
          answers(reply, 200, { views: index + 1 }, name);
          // The same secret and cookie options: nothing to re-sign, nothing to send again.
          shouldNotSetSessionCookie(reply);
        }
        assert.equal(browser.sessionCookie, cookie, "an app replaced the cookie");
        assert.equal((await inspector.get(anonymous))?.views, apps.length);
      },
    );

    it(
      "a login on the second app is seen by every app, and the count goes on across them",
      step,
      async () => {
        const name = at(1);
        const login = await browser.post("/login?user=alice");
        answers(login, 200, { user: "alice" }, name);
        id = sessionIdOf(login);
        assert.notEqual(id, anonymous, "login kept the session id");
        assert.equal(
          await inspector.get(anonymous),
          undefined,
          "the id before login is still stored",
        );
        assert.deepEqual(await inspector.idsForUser("alice"), [id]);
        for (let index = 0; index < apps.length; index++) {
          const name = at(index);
          const reply = await browser.get("/me");
          // regenerate() kept nothing of the anonymous session: the count starts again.
          answers(reply, 200, { views: null, user: "alice", indexed: "alice" }, name);
          shouldNotSetSessionCookie(reply);
        }
        // Two rounds, so every app writes on top of what each of the others wrote.
        await countRound();
        await countRound();
        assert.equal(views, 2 * apps.length);
      },
    );

    it(
      "reload() on the last app answers what the store holds, and every app agrees",
      step,
      async () => {
        const name = at(apps.length - 1);
        answers(await browser.post("/reload"), 200, { views }, name);
        for (let index = 0; index < apps.length; index++) {
          const name = at(index);
          answers(await browser.get("/me"), 200, { views, user: "alice", indexed: "alice" }, name);
        }
      },
    );

    it(
      "the stored record is express-session's shape, whichever app wrote it last",
      step,
      async () => {
        // countRound() checked the record after each app's write; the last write was the last
        // app's, and no request since has changed it.
        const last = (apps[apps.length - 1] as [string, JourneyApp])[0];
        shouldBeExpressSessionRecord(await inspector.get(id), { views, user: "alice" }, last);
      },
    );

    it(
      "logout on the last app ends the session everywhere: every app then sees a new visitor",
      step,
      async () => {
        const cookie = browser.sessionCookie;
        assert.ok(cookie, "the browser holds no session cookie");
        const name = at(apps.length - 1);
        const logout = await browser.post("/logout");
        assert.equal(logout.status, 200, `${name}: ${logout.text}`);
        assert.equal(logout.text, "bye");
        shouldClearSessionCookie(logout);
        assert.equal(browser.sessionCookie, undefined, "the browser kept the cookie");
        assert.equal(await inspector.get(id), undefined, "the store still holds the session");
        assert.deepEqual(await inspector.idsForUser("alice"), []);
        for (let index = 0; index < apps.length; index++) {
          const name = at(index);
          const look = await browser.get("/me");
          answers(look, 200, NOBODY, name);
          shouldNotSetSessionCookie(look);
          // A copy of the cookie from before logout reaches nothing on any app either.
          const replay = new Visitor(browser.origin);
          replay.holdSessionCookie(decodeURIComponent(cookie));
          answers(await replay.get("/me"), 200, NOBODY, name);
        }
        const first = at(0);
        const fresh = await browser.get("/count");
        answers(fresh, 200, { views: 1 }, first);
        assert.notEqual(sessionIdOf(fresh), id, "the new visitor was given the old id");
      },
    );
  });
}

const redisReachable = await needServer("Redis", REDIS_URL);
acrossFrameworks("Redis", !redisReachable && "Redis is not reachable", () => {
  const prefix = testPrefix();
  const clients: TestClient[] = [];
  // One database for every client: node-redis's test database of the shared server.
  const database = DATABASE["node-redis"];
  return {
    async open() {
      // node-redis and ioredis in turn, as two deployments may each use their own library.
      let client: TestClient;
      if (clients.length % 2 === 0) {
        const nodeRedis = createNodeRedis(REDIS_URL, database);
        await nodeRedis.connect();
        client = wrapNodeRedis(nodeRedis);
      } else {
        const ioredis = new Redis(REDIS_URL, { db: database, lazyConnect: true });
        ioredis.on("error", () => {});
        await ioredis.connect();
        client = wrapIoRedis(ioredis);
      }
      clients.push(client);
      return new RedisStore({ client: client.client, prefix });
    },
    async close() {
      if (clients[0] !== undefined) await deleteUnder(clients[0], prefix);
      for (const client of clients) await client.close();
    },
  };
});

const postgresReachable = await needServer("PostgreSQL", DATABASE_URL);
acrossFrameworks("PostgreSQL", !postgresReachable && "PostgreSQL is not reachable", () => {
  const tableName = uniqueName("tessera_cross");
  const pools: pg.Pool[] = [];
  const stores: PostgresStore[] = [];
  return {
    async open() {
      const pool = testPool(DATABASE_URL, { max: 2 });
      pools.push(pool);
      // Every app asks for the table, as each deployment would; the store creates it once.
      const store = new PostgresStore({ pool, tableName, createTable: true, pruneIntervalMs: 0 });
      stores.push(store);
      return store;
    },
    async close() {
      for (const store of stores) await store.close();
      await pools[0]?.query(`DROP TABLE IF EXISTS "${tableName}"`);
      for (const pool of pools) await pool.end();
    },
  };
});

acrossFrameworks("SQLite", false, () => {
  const dir = mkdtempSync(join(tmpdir(), "tessera-cross-"));
  const path = join(dir, "sessions.db");
  const stores: SqliteStore[] = [];
  return {
    async open() {
      const store = new SqliteStore({ path, pruneIntervalMs: 0 });
      stores.push(store);
      return store;
    },
    async close() {
      for (const store of stores) await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
});
