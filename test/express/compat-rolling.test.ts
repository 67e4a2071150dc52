// rolling: true keeps an active session alive on stores whose touch moves only their own
// expiry (connect-redis, connect-pg-simple, Tessera's RedisStore): the stored cookie.expires
// is never rewritten by those touches, so it must not end the session; the store's expiry is
// the authority, as under express-session. Real Redis and PostgreSQL; express-session runs the
// same visits over connect-redis and connect-pg-simple as the reference.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { setTimeout as delay } from "node:timers/promises";
import connectPgSimple from "connect-pg-simple";
import { RedisStore as ConnectRedis } from "connect-redis";
import type pg from "pg";
import { session as tessera } from "../../src/express/index.js";
import { RedisStore } from "../../src/stores/redis.js";
import { createPgSimpleTable, testPool } from "../fixtures/postgres/pools.js";
import {
  createNodeRedis,
  DATABASE,
  deleteUnder,
  type NodeRedisClient,
  testPrefix,
  wrapNodeRedis,
} from "../fixtures/redis/clients.js";
import { cookiePair, SECRET, setCookie } from "../helpers/http.js";
import { DATABASE_URL, needServer, REDIS_URL, uniqueName } from "../helpers/services.js";
import { build, counterRoutes, expressSession, get, type Library } from "./side-by-side.js";

const redisUp = await needServer("Redis", REDIS_URL);
const postgresUp = await needServer("PostgreSQL", DATABASE_URL);

const MAX_AGE_MS = 3000;
/** Reads of the session, this far apart: each well inside MAX_AGE_MS of the one before. */
const READ_EVERY_MS = 1100;
const READS = 4;
/** Idle this long and the store has let the session go (connect-pg-simple rounds up to 1 s). */
const IDLE_MS = MAX_AGE_MS + 1500;

/**
 * One visitor: a write, then reads that change nothing, each re-sending the cookie and touching
 * the store, until well past the first maxAge; then a pause longer than maxAge. Returns the
 * bodies, whether each read re-sent the cookie, and how long after the write the last read was.
 */
async function visit(library: Library, store: object) {
  const { app } = build(
    library,
    {
      secret: SECRET,
      store,
      resave: false,
      saveUninitialized: false,
      rolling: true,
      cookie: { maxAge: MAX_AGE_MS },
    },
    counterRoutes,
  );
  const first = await get(app, "/count").expect(200);
  const written = Date.now();
  let cookie = cookiePair(first);
  const bodies = [first.text];
  const resent: boolean[] = [];
  for (let read = 0; read < READS; read++) {
    await delay(READ_EVERY_MS);
    const res = await get(app, "/read", cookie);
    bodies.push(res.text);
    resent.push(setCookie(res) !== undefined);
    if (setCookie(res) !== undefined) cookie = cookiePair(res);
  }
  const lastReadAfterMs = Date.now() - written;
  await delay(IDLE_MS);
  bodies.push((await get(app, "/read", cookie)).text);
  return { bodies, resent, lastReadAfterMs };
}

/** What every library and store must show: alive while read, gone once idle past maxAge. */
function assertRolling(what: string, result: Awaited<ReturnType<typeof visit>>): void {
  assert.ok(
    result.lastReadAfterMs > MAX_AGE_MS,
    `${what}: the last read came ${result.lastReadAfterMs} ms after the write, past maxAge`,
  );
  assert.deepEqual(
    result.bodies,
    ["1", "1", "1", "1", "1", "none"],
    `${what}: alive while read, gone after ${IDLE_MS} ms idle`,
  );
  assert.deepEqual(
    result.resent,
    [true, true, true, true],
    `${what}: each read re-sent the cookie`,
  );
}

// Each test mostly waits: they run at once.
describe("rolling sessions over stores whose touch moves only their own expiry", {
  concurrency: true,
}, () => {
  describe("Redis", { skip: !redisUp, concurrency: true }, () => {
    let client: NodeRedisClient;
    const prefixes: string[] = [];
    before(async () => {
      client = createNodeRedis(REDIS_URL, DATABASE["node-redis"]);
      await client.connect();
    });
    after(async () => {
      for (const prefix of prefixes) await deleteUnder(wrapNodeRedis(client), prefix);
      client.destroy();
    });
    function prefix(): string {
      const made = testPrefix();
      prefixes.push(made);
      return made;
    }

    it("connect-redis: a session read every second stays alive past maxAge, as under express-session", async () => {
      const [theirs, ours] = await Promise.all([
        visit("express-session", new ConnectRedis({ client, prefix: prefix() })),
        visit("Tessera", new ConnectRedis({ client, prefix: prefix() })),
      ]);
      assertRolling("express-session over connect-redis", theirs);
      assertRolling("Tessera over connect-redis", ours);
    });

    it("Tessera's RedisStore: a session read every second stays alive past maxAge", async () => {
      assertRolling(
        "Tessera over RedisStore",
        await visit("Tessera", new RedisStore({ client, prefix: prefix() })),
      );
    });
  });

  describe("PostgreSQL", { skip: !postgresUp }, () => {
    let pool: pg.Pool;
    const tables: string[] = [];
    before(() => {
      pool = testPool(DATABASE_URL);
    });
    after(async () => {
      for (const table of tables) await pool.query(`DROP TABLE IF EXISTS "${table}"`);
      await pool.end();
    });

    /** A connect-pg-simple store on a table of its own, made with `library`'s session. */
    async function pgSimple(library: Library): Promise<object> {
      const tableName = uniqueName("tessera_rolling");
      tables.push(tableName);
      await createPgSimpleTable(pool, tableName);
      const PgStore = connectPgSimple((library === "Tessera" ? tessera : expressSession) as never);
      return new PgStore({ pool, tableName, pruneSessionInterval: false });
    }

    it("connect-pg-simple: a session read every second stays alive past maxAge, as under express-session", async () => {
      const [theirs, ours] = await Promise.all([
        visit("express-session", await pgSimple("express-session")),
        visit("Tessera", await pgSimple("Tessera")),
      ]);
      assertRolling("express-session over connect-pg-simple", theirs);
      assertRolling("Tessera over connect-pg-simple", ours);
    });
  });
});
