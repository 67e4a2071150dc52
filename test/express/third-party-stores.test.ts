// Stores published for express-session, used unchanged under Tessera's middleware, each against
// its real backend: memorystore, connect-redis (Redis) and connect-pg-simple (PostgreSQL).
// connect-pg-simple and memorystore are handed Tessera's middleware factory where their docs
// hand them express-session's, so they extend Tessera's Store base class.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import connectPgSimple from "connect-pg-simple";
import { RedisStore as ConnectRedis } from "connect-redis";
import express from "express";
import createMemoryStore from "memorystore";
import pg from "pg";
import { createClient } from "redis";
import request from "supertest";
import { session } from "../../src/express/index.js";
import { createPgSimpleTable } from "../fixtures/postgres/pools.js";
import { cookiePair, SECRET, sessionIdOf } from "../helpers/http.js";
import { DATABASE_URL, needServer, REDIS_URL, uniqueName } from "../helpers/services.js";

type AnyStore = NonNullable<Parameters<typeof session>[0]["store"]>;

function appWith(store: AnyStore): express.Express {
  const app = express();
  app.use(session({ secret: SECRET, store, resave: false, saveUninitialized: false }));
  app.get("/count", (req, res) => {
    const count = ((req.session.count as number | undefined) ?? 0) + 1;
    req.session.count = count;
    res.send(String(count));
  });
  app.get("/read", (req, res) => {
    res.send(String(req.session.count ?? "none"));
  });
  app.post("/login", async (req, res) => {
    await req.session.regenerate({ keepData: true });
    res.send("ok");
  });
  app.post("/logout", async (req, res) => {
    await req.session.destroy();
    res.send("bye");
  });
  return app;
}

/** One visitor's journey; returns the data the store holds for the final session ID. */
async function journey(app: express.Express, stored: (id: string) => Promise<unknown>) {
  const first = await request(app).get("/count").expect(200, "1");
  const cookie = cookiePair(first);
  assert.ok(cookie, "the first write sets a cookie");
  await request(app).get("/count").set("Cookie", cookie).expect("2");
  const login = await request(app).post("/login").set("Cookie", cookie).expect("ok");
  const renewed = cookiePair(login);
  assert.ok(renewed && renewed !== cookie, "regenerate issues a new cookie");
  await request(app).get("/read").set("Cookie", cookie).expect("none");
  await request(app).get("/read").set("Cookie", renewed).expect("2");
  const id = sessionIdOf(login);
  const data = await stored(id);
  await request(app).post("/logout").set("Cookie", renewed).expect("bye");
  await request(app).get("/read").set("Cookie", renewed).expect("none");
  assert.equal(await stored(id), undefined, "destroy removed it from the store");
  return data;
}

describe("express-session stores under Tessera, unchanged", () => {
  it("memorystore", async () => {
    const MemoryStore = createMemoryStore(session as never);
    const store = new MemoryStore({ checkPeriod: 60_000 });
    try {
      const data = await journey(
        appWith(store as unknown as AnyStore),
        (id) =>
          new Promise((resolve, reject) =>
            store.get(id, (error: unknown, value: unknown) =>
              error ? reject(error) : resolve(value ?? undefined),
            ),
          ),
      );
      assert.equal((data as { count?: number }).count, 2);
    } finally {
      store.stopInterval();
    }
  });

  describe("connect-redis", async () => {
    const ok = await needServer("Redis", REDIS_URL);
    const client = createClient({ url: REDIS_URL });
    const prefix = `${uniqueName("tessera_cr")}:`;
    before(async () => {
      if (ok) await client.connect();
    });
    after(async () => {
      if (!ok) return;
      for await (const keys of client.scanIterator({ MATCH: `${prefix}*` })) {
        if (keys.length > 0) await client.del(keys);
      }
      client.destroy();
    });
    it("serves, regenerates and destroys sessions kept in Redis", { skip: !ok }, async () => {
      const store = new ConnectRedis({ client, prefix });
      const data = await journey(appWith(store as unknown as AnyStore), async (id) => {
        const json = await client.get(`${prefix}${id}`);
        return json === null ? undefined : JSON.parse(json);
      });
      assert.equal((data as { count?: number }).count, 2);
    });
  });

  describe("connect-pg-simple", async () => {
    const ok = await needServer("PostgreSQL", DATABASE_URL);
    const pool = new pg.Pool({ connectionString: DATABASE_URL, max: 4 });
    const tableName = uniqueName("tessera_cpg");
    after(async () => {
      if (ok) await pool.query(`DROP TABLE IF EXISTS "${tableName}"`);
      await pool.end();
    });
    it("serves, regenerates and destroys sessions kept in PostgreSQL", { skip: !ok }, async () => {
      await createPgSimpleTable(pool, tableName);
      const PgStore = connectPgSimple(session as never);
      const store = new PgStore({
        pool,
        tableName,
        createTableIfMissing: true,
        pruneSessionInterval: false,
      });
      const data = await journey(appWith(store as unknown as AnyStore), async (id) => {
        const { rows } = await pool.query(`SELECT sess FROM "${tableName}" WHERE sid = $1`, [id]);
        return rows[0]?.sess;
      });
      assert.equal((data as { count?: number }).count, 2);
    });
  });
});
