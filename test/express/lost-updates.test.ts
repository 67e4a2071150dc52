// Lost updates, end to end: 50 parallel requests on one session, each setting its own key. With a
// store that can `patch`, Tessera writes only the key each request changed, so all 50 survive.
// express-session writes the whole session it loaded, so the last write erases the others.
import assert from "node:assert/strict";
import type { Server } from "node:http";
import { createRequire } from "node:module";
import type { AddressInfo } from "node:net";
import { after, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import express, { type Express, type RequestHandler } from "express";
import { Redis } from "ioredis";
import pg from "pg";
import { createClient } from "redis";
import { session } from "../../src/express/index.js";
import type { Store } from "../../src/store/types.js";
import { MemoryStore } from "../../src/stores/memory.js";
import { PostgresStore } from "../../src/stores/postgres.js";
import { type RedisClientLike, RedisStore } from "../../src/stores/redis.js";
import { SqliteStore } from "../../src/stores/sqlite.js";
import { SECRET } from "../helpers/http.js";
import { DATABASE_URL, needServer, REDIS_URL, uniqueName } from "../helpers/services.js";

const require = createRequire(import.meta.url);
const expressSession = require("express-session") as typeof import("express-session");

const PARALLEL = 50;
/** Each request waits this long at most, at random, before it writes its key. */
const MAX_DELAY_MS = 30;

/** The session as this app uses it: one numbered key per request. */
type Keys = Record<string, unknown>;

/** A store to run the scenario on, and how to release it afterwards. */
interface Subject {
  store: Store;
  dispose(): Promise<void>;
}

/** One Tessera store under test: `open` resolves a reason to skip instead when it cannot run. */
interface Candidate {
  name: string;
  open(): Promise<Subject | string>;
}

/** RedisStore on a client of one library, under a prefix of its own. */
function redisCandidate(
  library: string,
  connect: () => Promise<{ client: RedisClientLike; disconnect: () => void }>,
): Candidate {
  return {
    name: `RedisStore (${library})`,
    async open() {
      if (!(await needServer("Redis", REDIS_URL))) return "Redis is not running";
      const { client, disconnect } = await connect();
      const store = new RedisStore({ client, prefix: `${uniqueName("lost")}:` });
      return {
        store,
        async dispose() {
          try {
            await store.clear?.();
            await store.close?.();
          } finally {
            disconnect();
          }
        },
      };
    },
  };
}

const candidates: Candidate[] = [
  {
    name: "MemoryStore",
    async open() {
      const store = new MemoryStore();
      return { store, dispose: () => store.close() };
    },
  },
  {
    name: "SqliteStore",
    async open() {
      const store = new SqliteStore({ path: ":memory:" });
      return { store, dispose: () => store.close() };
    },
  },
  redisCandidate("node-redis", async () => {
    const client = createClient({ url: REDIS_URL });
    client.on("error", () => {});
    await client.connect();
    return { client, disconnect: () => client.destroy() };
  }),
  redisCandidate("ioredis", async () => {
    const client = new Redis(REDIS_URL, { lazyConnect: true });
    client.on("error", () => {});
    await client.connect();
    return { client, disconnect: () => client.disconnect() };
  }),
  {
    name: "PostgresStore",
    async open() {
      if (!(await needServer("PostgreSQL", DATABASE_URL))) return "PostgreSQL is not running";
      const pool = new pg.Pool({
        connectionString: DATABASE_URL,
        max: 8,
        connectionTimeoutMillis: 3000,
      });
      pool.on("error", () => {});
      const tableName = uniqueName("lost");
      const store = new PostgresStore({
        pool,
        tableName,
        createTable: true,
        pruneIntervalMs: 0,
      });
      return {
        store,
        async dispose() {
          try {
            await store.close?.();
            await pool.query(`DROP TABLE IF EXISTS "${tableName}"`);
          } finally {
            await pool.end();
          }
        },
      };
    },
  },
];

/**
 * Holds each request until all of them have loaded the session, so every write starts from the
 * same loaded state whatever the machine's speed: the case the test is about. Past `timeoutMs`
 * the requests go on anyway, and the count of keys tells what happened.
 */
function barrier(parties: number, timeoutMs = 10_000): () => Promise<void> {
  let arrived = 0;
  let open: () => void = () => {};
  const opened = new Promise<void>((resolve) => {
    open = resolve;
  });
  return () => {
    arrived++;
    if (arrived === parties) open();
    return Promise.race([opened, sleep(timeoutMs, undefined, { ref: false })]);
  };
}

/** An app on which each `POST /key/:i` sets the session key `k<i>` after a random delay. */
function app(middleware: RequestHandler): Express {
  const site = express();
  site.use(middleware);
  const allLoaded = barrier(PARALLEL);
  site.post("/start", (req, res) => {
    (req.session as Keys).base = true;
    res.send("started");
  });
  site.post("/key/:i", async (req, res) => {
    await allLoaded();
    await sleep(Math.random() * MAX_DELAY_MS);
    (req.session as Keys)[`k${Number(req.params.i)}`] = Number(req.params.i);
    res.send("set");
  });
  site.get("/keys", (req, res) => {
    res.json(Object.keys(req.session).filter((key) => /^k\d+$/.test(key)));
  });
  return site;
}

/** Runs the scenario against an app and resolves how many of the 50 keys the session kept. */
async function keysKept(site: Express): Promise<number> {
  const server: Server = site.listen(0, "127.0.0.1");
  await new Promise((resolve) => server.once("listening", resolve));
  const { port } = server.address() as AddressInfo;
  const base = `http://127.0.0.1:${port}`;
  try {
    const start = await fetch(`${base}/start`, { method: "POST" });
    assert.equal(start.status, 200);
    const cookie = start.headers.get("set-cookie")?.split(";")[0];
    assert.ok(cookie, "the first request got no session cookie");
    const statuses = await Promise.all(
      Array.from({ length: PARALLEL }, async (_, i) => {
        const response = await fetch(`${base}/key/${i}`, {
          method: "POST",
          headers: { cookie },
        });
        await response.text();
        return response.status;
      }),
    );
    assert.deepEqual(statuses, Array(PARALLEL).fill(200));
    const keys = (await (await fetch(`${base}/keys`, { headers: { cookie } })).json()) as string[];
    return keys.length;
  } finally {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
}

const counts: string[] = [];
after(() => {
  console.log(`\nLost updates, ${PARALLEL} parallel requests on one session, keys kept:`);
  for (const line of counts) console.log(`  ${line}`);
});

describe(`${PARALLEL} parallel requests on one session, each setting its own key`, () => {
  for (const candidate of candidates) {
    it(`Tessera with ${candidate.name} keeps all ${PARALLEL} keys`, async (t) => {
      const subject = await candidate.open();
      if (typeof subject === "string") {
        t.skip(subject);
        counts.push(`Tessera + ${candidate.name}: skipped (${subject})`);
        return;
      }
      try {
        const middleware = session({
          secret: SECRET,
          store: subject.store,
          resave: false,
          saveUninitialized: false,
        }) as unknown as RequestHandler;
        const kept = await keysKept(app(middleware));
        counts.push(`Tessera + ${candidate.name}: ${kept} of ${PARALLEL}`);
        assert.equal(kept, PARALLEL, `${PARALLEL - kept} updates were lost`);
      } finally {
        await subject.dispose();
      }
    });
  }

  it("express-session with its MemoryStore keeps only a few of them", async () => {
    const middleware = expressSession({
      secret: SECRET,
      store: new expressSession.MemoryStore(),
      resave: false,
      saveUninitialized: false,
    });
    const kept = await keysKept(app(middleware));
    counts.push(`express-session + its MemoryStore: ${kept} of ${PARALLEL}`);
    // Every request saves the whole session as it loaded it, plus its own key: the last save
    // wins and erases the others' keys.
    assert.ok(kept >= 1, "not even the last write survived");
    assert.ok(kept <= 5, `express-session kept ${kept} keys: the scenario did not race`);
  });
});
