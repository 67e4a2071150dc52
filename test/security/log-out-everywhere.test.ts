// Log out everywhere, on every store that keeps a user index, against the real servers: list a
// user's sessions (with client details when the app opts in), revoke one, revoke all others,
// revoke all. Sessions are tied to the user through the `userKey` option here; `setUser()` is
// covered in test/express/users.test.ts. A store without the index, or one that cannot give
// ids back (hashed ids), says so with ERR_STORE_CAPABILITY where it must.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import express, { type Express } from "express";
import type pg from "pg";
import request from "supertest";
import { session } from "../../src/express/index.js";
import { isTesseraError, type Store } from "../../src/index.js";
import { encryptRecords } from "../../src/store/encrypted.js";
import { hashIds } from "../../src/store/hashed-ids.js";
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
import { cookiePair, SECRET, shouldSetCookie } from "../helpers/http.js";
import { DATABASE_URL, needServer, REDIS_URL, uniqueName } from "../helpers/services.js";
import { userSessionRoutes } from "../helpers/user-sessions.js";

const KEY = Buffer.alloc(32, 7);

function site(store: Store): Express {
  const app = express();
  app.use(
    session({
      secret: SECRET,
      store,
      resave: false,
      saveUninitialized: false,
      userKey: "user.id",
      recordClient: true,
    }),
  );
  app.post("/login/:user", async (req, res) => {
    await req.session.regenerate();
    (req.session as unknown as Record<string, unknown>).user = { id: req.params.user };
    res.send("in");
  });
  userSessionRoutes(app);
  app.get("/who", (req, res) => {
    const user = (req.session as unknown as { user?: { id: string } }).user;
    res.send(user?.id ?? "nobody");
  });
  app.use(
    (error: unknown, _req: express.Request, res: express.Response, _next: express.NextFunction) => {
      res.status(500).send(isTesseraError(error) ? error.code : String(error));
    },
  );
  return app;
}

async function login(app: Express, user: string, agent: string): Promise<string> {
  const res = await request(app).post(`/login/${user}`).set("User-Agent", agent).expect("in");
  return cookiePair(res);
}

interface Listed {
  handle: string;
  current: boolean;
  userAgent: string | null;
  ip: string | null;
  createdAt: string;
  lastSeenAt: string | null;
}

/** The whole journey, on a store that can list a user's sessions. */
async function fullJourney(store: Store): Promise<void> {
  const app = site(store);
  const laptop = await login(app, "ada", "Laptop");
  const phone = await login(app, "ada", "Phone");
  const tablet = await login(app, "ada", "Tablet");
  const grace = await login(app, "grace", "Grace's");

  const listed = (await request(app).get("/sessions").set("Cookie", laptop).expect(200))
    .body as Listed[];
  assert.deepEqual(listed.map((s) => s.userAgent).sort(), ["Laptop", "Phone", "Tablet"]);
  assert.deepEqual(
    listed.filter((s) => s.current).map((s) => s.userAgent),
    ["Laptop"],
  );
  for (const entry of listed) {
    assert.match(entry.ip ?? "", /127\.0\.0\.1|::1/);
    assert.ok(Date.now() - Date.parse(entry.createdAt) < 60_000, "created just now");
    assert.ok(entry.lastSeenAt, "last seen is recorded");
    assert.match(entry.handle, /^[A-Za-z0-9_-]{22}$/);
  }

  const graceHandle = (
    (await request(app).get("/sessions").set("Cookie", grace)).body as Listed[]
  )[0]?.handle as string;
  await request(app).post(`/revoke/${graceHandle}`).set("Cookie", laptop).expect("false");
  await request(app).get("/who").set("Cookie", grace).expect("grace");

  const phoneHandle = listed.find((s) => s.userAgent === "Phone")?.handle as string;
  await request(app).post(`/revoke/${phoneHandle}`).set("Cookie", laptop).expect("true");
  await request(app).get("/who").set("Cookie", phone).expect("nobody");

  await request(app).post("/others").set("Cookie", laptop).expect("1");
  await request(app).get("/who").set("Cookie", tablet).expect("nobody");
  await request(app).get("/who").set("Cookie", laptop).expect("ada");

  const all = await request(app).post("/everywhere").set("Cookie", laptop).expect("1");
  assert.match(shouldSetCookie(all), /^connect\.sid=;/, "the current cookie is cleared");
  await request(app).get("/who").set("Cookie", laptop).expect("nobody");
  await request(app).get("/who").set("Cookie", grace).expect("grace");
}

const redisAvailable = await needServer("Redis", REDIS_URL);
const postgresAvailable = await needServer("PostgreSQL", DATABASE_URL);

describe("log out everywhere, on every store with a user index", () => {
  it("MemoryStore", async () => {
    await fullJourney(new MemoryStore());
  });

  it("SqliteStore", async () => {
    const store = new SqliteStore({ path: ":memory:" });
    try {
      await fullJourney(store);
    } finally {
      await store.close();
    }
  });

  for (const kind of CLIENT_KINDS) {
    describe(`RedisStore with ${kind}`, { skip: !redisAvailable }, () => {
      let redis: TestClient;
      const prefix = testPrefix();
      before(async () => {
        redis = await connectClient(kind);
      });
      after(async () => {
        await deleteUnder(redis, prefix);
        await redis.close();
      });
      it("runs the whole journey", async () => {
        await fullJourney(new RedisStore({ client: redis.client, prefix }));
      });
    });
  }

  describe("PostgresStore", { skip: !postgresAvailable }, () => {
    let pool: pg.Pool;
    const tableName = uniqueName("tessera_logout");
    before(() => {
      pool = testPool(DATABASE_URL);
    });
    after(async () => {
      await pool.query(`DROP TABLE IF EXISTS "${tableName}"`);
      await pool.end();
    });
    it("runs the whole journey", async () => {
      const store = new PostgresStore({ pool, tableName, createTable: true, pruneIntervalMs: 0 });
      try {
        await fullJourney(store);
      } finally {
        await store.close();
      }
    });
  });

  it("encryptRecords() over a store with the index keeps the whole journey working", async () => {
    await fullJourney(encryptRecords(new MemoryStore(), { keys: [KEY] }));
  });

  it("hashIds(): revoking works, listing is refused with ERR_STORE_CAPABILITY", async () => {
    const app = site(hashIds(new MemoryStore()));
    const laptop = await login(app, "ada", "Laptop");
    const phone = await login(app, "ada", "Phone");
    const tablet = await login(app, "ada", "Tablet");
    await request(app).get("/sessions").set("Cookie", laptop).expect(500, "ERR_STORE_CAPABILITY");
    await request(app).post("/others").set("Cookie", laptop).expect("2");
    await request(app).get("/who").set("Cookie", phone).expect("nobody");
    await request(app).get("/who").set("Cookie", tablet).expect("nobody");
    await request(app).get("/who").set("Cookie", laptop).expect("ada");
    await request(app).post("/everywhere").set("Cookie", laptop).expect("1");
    await request(app).get("/who").set("Cookie", laptop).expect("nobody");
  });
});
