// PostgresStore against the Store contract's conformance suite, on the real server: a fresh
// table per test, 100 000 sessions in the listing test, a child process for close(), and a
// store on a port nothing listens on for the error test.
import { after } from "node:test";
import { fileURLToPath } from "node:url";
import type pg from "pg";
import { testStore } from "../../src/store-conformance/index.js";
import { PostgresStore } from "../../src/stores/postgres.js";
import { testPool } from "../fixtures/postgres/pools.js";
import { DATABASE_URL, needServer, uniqueName } from "../helpers/services.js";

const available = await needServer("PostgreSQL", DATABASE_URL);

if (available) {
  // Commits that do not wait for the disk: the listing test writes 100 000 sessions through
  // set() and would otherwise measure the shared server's fsync. The store's SQL is the same.
  const pool = testPool(DATABASE_URL, { max: 8, options: "-c synchronous_commit=off" });
  const deadPools: pg.Pool[] = [];
  const tableOf = new WeakMap<PostgresStore, string>();
  after(async () => {
    for (const dead of deadPools) await dead.end();
    await pool.end();
  });

  testStore(
    "PostgresStore",
    () => {
      const tableName = uniqueName("tessera_pg_conf");
      const store = new PostgresStore({ pool, tableName, createTable: true, pruneIntervalMs: 0 });
      tableOf.set(store, tableName);
      return store;
    },
    {
      iterationCount: 100_000,
      // The listing test writes 100 000 sessions: keep it inside its limit on a busy machine.
      timeoutMs: 90_000,
      closeScript: fileURLToPath(new URL("../fixtures/postgres/close-store.ts", import.meta.url)),
      closeScriptArgs: [DATABASE_URL],
      failingFactory: () => {
        // Nothing listens on port 1: every connection is refused.
        const dead = testPool("postgres://postgres@127.0.0.1:1/test");
        deadPools.push(dead);
        return new PostgresStore({ pool: dead, pruneIntervalMs: 0 });
      },
      dispose: async (store) => {
        await store.close();
        await pool.query(`DROP TABLE IF EXISTS "${tableOf.get(store)}"`);
      },
    },
  );
}
