// The four Tessera stores a behaviour is checked on, each made fresh per test: MemoryStore,
// SqliteStore, and RedisStore and PostgresStore on the test servers (skipped with a message when
// one is unreachable, failing under CI). Every Redis prefix and PostgreSQL table made is removed by
// `cleanup()`, which a suite calls in its `after`.
import type { Store } from "../../src/store/types.js";
import { MemoryStore } from "../../src/stores/memory.js";
import { PostgresStore } from "../../src/stores/postgres.js";
import { RedisStore } from "../../src/stores/redis.js";
import { SqliteStore } from "../../src/stores/sqlite.js";
import { testPool } from "../fixtures/postgres/pools.js";
import {
  connectClient,
  deleteUnder,
  type TestClient,
  testPrefix,
} from "../fixtures/redis/clients.js";
import { DATABASE_URL, needServer, REDIS_URL, uniqueName } from "./services.js";

export interface Backend {
  name: string;
  skip: boolean;
  /** "clock": expiry follows `Date` (mockable); "server": the store's server keeps its own time. */
  expiry: "clock" | "server";
  make(): Promise<OpenedStore>;
}

export interface OpenedStore {
  store: Store;
  /** The TTL the store's server holds for the session, in ms ("server" backends only). */
  ttlMs?(id: string): Promise<number>;
  close(): Promise<void>;
}

export interface StoreBackends {
  backends: Backend[];
  /** Runs `run` on a fresh store of `backend`, closing the store after. */
  withStore(backend: Backend, run: (store: Store) => Promise<void>): Promise<void>;
  /** Removes every prefix and table made, and closes the Redis client and the pool. */
  cleanup(): Promise<void>;
}

/** The four stores; `tablePrefix` names the PostgreSQL tables (`<tablePrefix>_<unique>`). */
export async function storeBackends(tablePrefix: string): Promise<StoreBackends> {
  const redisAvailable = await needServer("Redis", REDIS_URL);
  const postgresAvailable = await needServer("PostgreSQL", DATABASE_URL);
  let redis: TestClient | undefined;
  /** A key prefix per store, so that no test sees another's users. */
  const prefixes: string[] = [];
  let pool: ReturnType<typeof testPool> | undefined;
  const tables: string[] = [];

  const backends: Backend[] = [
    {
      name: "MemoryStore",
      skip: false,
      expiry: "clock",
      async make() {
        return { store: new MemoryStore(), close: async () => {} };
      },
    },
    {
      name: "SqliteStore",
      skip: false,
      expiry: "clock",
      async make() {
        const store = new SqliteStore({ path: ":memory:" });
        return { store, close: () => store.close() };
      },
    },
    {
      name: "RedisStore",
      skip: !redisAvailable,
      expiry: "server",
      async make() {
        redis ??= await connectClient("node-redis");
        const client = redis;
        const prefix = testPrefix();
        prefixes.push(prefix);
        return {
          store: new RedisStore({ client: client.client, prefix }),
          ttlMs: async (id) => Number(await client.command("PTTL", `${prefix}${id}`)),
          close: async () => {},
        };
      },
    },
    {
      name: "PostgresStore",
      skip: !postgresAvailable,
      expiry: "server",
      async make() {
        pool ??= testPool(DATABASE_URL);
        const db = pool;
        const tableName = uniqueName(tablePrefix);
        tables.push(tableName);
        const store = new PostgresStore({ pool, tableName, createTable: true, pruneIntervalMs: 0 });
        return {
          store,
          async ttlMs(id) {
            const { rows } = await db.query(
              `SELECT extract(epoch FROM expires_at - now()) * 1000 AS ms FROM "${tableName}" WHERE id = $1`,
              [id],
            );
            return Number((rows[0] as { ms: unknown } | undefined)?.ms ?? -1);
          },
          close: () => store.close(),
        };
      },
    },
  ];

  return {
    backends,
    async withStore(backend, run) {
      const { store, close } = await backend.make();
      try {
        await run(store);
      } finally {
        await close();
      }
    },
    async cleanup() {
      if (redis !== undefined) {
        for (const prefix of prefixes) await deleteUnder(redis, prefix);
        await redis.close();
      }
      if (pool !== undefined) {
        for (const table of tables) await pool.query(`DROP TABLE IF EXISTS "${table}"`);
        await pool.end();
      }
    },
  };
}
