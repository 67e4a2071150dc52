// Timeouts: a session past its idle or absolute timeout is removed from the store, not merely
// ignored. The engine hands every store a TTL that never outlives either deadline, so a store
// that expires or prunes deletes the session by itself, even if its cookie never comes back.
// (A session read after a deadline is destroyed on the spot: test/express/session.test.ts,
// "a stored session past the absolute timeout is removed from the store, not merely ignored".)
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import Database from "better-sqlite3";
import express, { type Express } from "express";
import request from "supertest";
import { session } from "../../src/express/index.js";
import type { SessionOptions } from "../../src/node/options.js";
import type { Store } from "../../src/store/types.js";
import { MemoryStore } from "../../src/stores/memory.js";
import { RedisStore } from "../../src/stores/redis.js";
import { SqliteStore } from "../../src/stores/sqlite.js";
import {
  connectClient,
  deleteUnder,
  eventually,
  type TestClient,
  testPrefix,
} from "../fixtures/redis/clients.js";
import { cookiePair, SECRET, sessionIdOf } from "../helpers/http.js";
import { needServer, REDIS_URL } from "../helpers/services.js";

// Wide enough that the requests each test makes while the session must still be alive fit
// inside them on a loaded machine, with more than a second to spare.
const IDLE_MS = 2000;
const ABSOLUTE_MS = 2000;

function counter(store: Store, options: Partial<SessionOptions>): Express {
  const app = express();
  app.use(
    session({
      secret: SECRET,
      store,
      resave: false,
      saveUninitialized: false,
      // A long-lived cookie: only the timeouts under test may end the session.
      cookie: { maxAge: 3_600_000 },
      ...options,
    }),
  );
  app.get("/", (req, res) => {
    res.send(String(req.session.views ?? 0));
  });
  app.get("/count", (req, res) => {
    req.session.views = (Number(req.session.views) || 0) + 1;
    res.send(String(req.session.views));
  });
  return app;
}

declare module "../../src/core/session.js" {
  interface SessionData {
    views: number;
  }
}

/** A store, and how to ask its backend directly whether a session is still held. */
interface Backend {
  name: string;
  store: Store;
  /** Whether the backend still holds the session, expired or not: the proof of removal. */
  holds(id: string): Promise<boolean>;
  /** The TTL the backend keeps for the session, in ms, where it can tell. */
  ttlMs?(id: string): Promise<number>;
  close(): Promise<void>;
}

const redisAvailable = await needServer("Redis", REDIS_URL);

const backends: { name: string; skip: boolean; make: () => Promise<Backend> }[] = [
  {
    name: "MemoryStore (sweeping every 50 ms)",
    skip: false,
    async make() {
      const store = new MemoryStore({ sweepIntervalMs: 50 });
      return {
        name: "MemoryStore",
        store,
        // `size` counts expired sessions until the sweep removes them.
        holds: async () => store.size > 0,
        close: () => store.close(),
      };
    },
  },
  {
    name: "SqliteStore (pruning every 50 ms)",
    skip: false,
    async make() {
      const database = new Database(":memory:");
      const store = new SqliteStore({ database, pruneIntervalMs: 50 });
      return {
        name: "SqliteStore",
        store,
        // Counts rows whatever their expiry: a row that is merely ignored still counts.
        holds: async () => {
          const row = database.prepare("SELECT count(*) AS n FROM tessera_sessions").get() as {
            n: number;
          };
          return row.n > 0;
        },
        async close() {
          await store.close();
          database.close();
        },
      };
    },
  },
  {
    name: "RedisStore (native expiry)",
    skip: !redisAvailable,
    async make() {
      const redis: TestClient = await connectClient("node-redis");
      const prefix = testPrefix();
      const store = new RedisStore({ client: redis.client, prefix });
      return {
        name: "RedisStore",
        store,
        holds: async (id) => Number(await redis.command("EXISTS", `${prefix}${id}`)) === 1,
        ttlMs: async (id) => Number(await redis.command("PTTL", `${prefix}${id}`)),
        async close() {
          await store.close();
          await deleteUnder(redis, prefix);
          await redis.close();
        },
      };
    },
  },
];

for (const { name, skip, make } of backends) {
  describe(`timeouts on ${name}`, { skip }, () => {
    let backend: Backend;
    before(async () => {
      backend = await make();
    });
    after(() => backend.close());

    it("idleTimeoutMs: an idle session is removed from the store, though its cookie lives on", async () => {
      const app = counter(backend.store, { idleTimeoutMs: IDLE_MS });
      const first = await request(app).get("/count").expect("1");
      const id = sessionIdOf(first);
      assert.ok(await backend.holds(id));
      if (backend.ttlMs) {
        const ttl = await backend.ttlMs(id);
        assert.ok(ttl > 0 && ttl <= IDLE_MS, `the store keeps it ${ttl} ms, not the cookie's hour`);
      }
      // Nobody asks for it again: the store itself lets it go.
      assert.ok(await eventually(async () => !(await backend.holds(id)), IDLE_MS + 3000, 25));
      const later = await request(app).get("/").set("Cookie", cookiePair(first)).expect("0");
      assert.equal(later.headers["set-cookie"], undefined, "an empty fresh session is not sent");
    });

    it("idleTimeoutMs: each request renews the idle deadline", async () => {
      const app = counter(backend.store, { idleTimeoutMs: IDLE_MS });
      const first = await request(app).get("/count");
      const cookie = cookiePair(first);
      for (let i = 0; i < 4; i++) {
        await sleep(IDLE_MS / 4);
        await request(app).get("/").set("Cookie", cookie).expect("1");
      }
      assert.ok(await backend.holds(sessionIdOf(first)), "an active session stays");
    });

    it("absoluteTimeoutMs: the store's TTL never outlives the deadline, activity or not", async () => {
      const app = counter(backend.store, { absoluteTimeoutMs: ABSOLUTE_MS });
      const first = await request(app).get("/count");
      const id = sessionIdOf(first);
      const cookie = cookiePair(first);
      const created = Date.now();
      await sleep(ABSOLUTE_MS / 4);
      await request(app).get("/count").set("Cookie", cookie).expect("2");
      if (backend.ttlMs) {
        // Read the clock before asking: the TTL is at most what was left at that moment,
        // however long the answer then takes to come back.
        const asked = Date.now();
        const ttl = await backend.ttlMs(id);
        const left = ABSOLUTE_MS - (asked - created);
        assert.ok(ttl > 0 && ttl <= left + 50, `TTL ${ttl} ms outlives the ${left} ms left`);
      }
      // No request after this one: the session still goes at the absolute deadline.
      assert.ok(await eventually(async () => !(await backend.holds(id)), ABSOLUTE_MS + 3000, 25));
      await request(app).get("/").set("Cookie", cookie).expect("0");
    });
  });
}
