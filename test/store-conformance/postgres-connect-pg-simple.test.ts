// The Store contract's conformance suite against connect-pg-simple v10, unchanged, behind the
// adapter Tessera wraps every express-session store in. connect-pg-simple has get, set,
// destroy and touch only: the suite skips, and prints, every capability it lacks (patch,
// listing, counting, clear, the user index). No capability is emulated; the one adjustment is
// to the records the expiry tests hand it (see asTheEngineWrites).
import { after, beforeEach } from "node:test";
import { fileURLToPath } from "node:url";
import connectPgSimple from "connect-pg-simple";
import type pg from "pg";
import { session } from "../../src/express/index.js";
import { type CallbackStore, toStore } from "../../src/store/legacy.js";
import type { SessionRecord, Store } from "../../src/store/types.js";
import { testStore } from "../../src/store-conformance/index.js";
import { createPgSimpleTable, testPool } from "../fixtures/postgres/pools.js";
import { DATABASE_URL, needServer, uniqueName } from "../helpers/services.js";

const available = await needServer("PostgreSQL", DATABASE_URL);

/** What the test needs of a connect-pg-simple store besides the callback verbs. */
interface PgSimpleStore extends CallbackStore {
  close(): Promise<void> | void;
}

/** A connect-pg-simple store behind Tessera's adapter, and how to release it. */
interface Adapted {
  store: Store;
  legacy: PgSimpleStore;
  tableName: string;
}

/**
 * Gives connect-pg-simple the record the engine would have written. The engine always stores
 * a record whose `cookie.expires` is `ttlMs` from now (it derives the TTL from the cookie), and
 * express-session stores such as connect-pg-simple take the expiry from that cookie: they are
 * never handed `ttlMs`. The suite's expiry tests pair a one-hour cookie with a TTL of a few
 * hundred ms, which only a store honouring `ttlMs` can follow, so a cookie that outlives the TTL
 * is cut to it. Records whose cookie already agrees with the TTL (every round-trip test) go
 * through untouched.
 */
function asTheEngineWrites(record: SessionRecord, ttlMs: number): SessionRecord {
  const expiresAt = Date.now() + ttlMs;
  const cookieExpires = record.cookie.expires ? new Date(record.cookie.expires).getTime() : 0;
  if (cookieExpires <= expiresAt + 1000) return record;
  return { ...record, cookie: { ...record.cookie, expires: new Date(expiresAt).toISOString() } };
}

function engineShaped(adapted: Store): Store {
  return {
    ...adapted,
    set: (id, record, ttlMs) => adapted.set(id, asTheEngineWrites(record, ttlMs), ttlMs),
    touch: (id, record, ttlMs) => adapted.touch(id, asTheEngineWrites(record, ttlMs), ttlMs),
  };
}

/**
 * Rules of the contract connect-pg-simple breaks, each with the reason. These tests still run
 * and their output says TODO with the reason; they do not fail the file, and nothing is worked
 * around.
 */
const KNOWN_FAILURES: Record<string, string> = {
  "touch and patch never bring back an expired session":
    "connect-pg-simple v10 bug: its touch() is `UPDATE ... SET expire WHERE sid = $1` with no expiry check, so it revives an expired row until the row is pruned. Tessera's engine still refuses such a session when its cookie has a maxAge, because touch() leaves the stored cookie.expires in the past",
};

// A beforeEach hook is handed the context of the test about to run.
beforeEach((t) => {
  const reason = KNOWN_FAILURES[t.name];
  if (reason !== undefined && "todo" in t) t.todo(reason);
});

if (available) {
  const pool = testPool(DATABASE_URL, { max: 8 });
  const deadPools: pg.Pool[] = [];
  const adapted = new WeakMap<Store, Adapted>();
  after(async () => {
    for (const dead of deadPools) await dead.end();
    await pool.end();
  });

  function pgSimple(on: pg.Pool, tableName: string, createTableIfMissing: boolean): PgSimpleStore {
    const PgStore = connectPgSimple(session as never);
    return new PgStore({
      pool: on,
      tableName,
      createTableIfMissing,
      pruneSessionInterval: false,
    }) as unknown as PgSimpleStore;
  }

  testStore(
    "connect-pg-simple v10 (express-session store, adapted)",
    async () => {
      const tableName = uniqueName("tessera_cps_conf");
      await createPgSimpleTable(pool, tableName);
      const legacy = pgSimple(pool, tableName, true);
      const store = engineShaped(toStore(legacy));
      adapted.set(store, { store, legacy, tableName });
      return store;
    },
    {
      // connect-pg-simple keeps expiry in whole seconds, rounded up, and compares it with the
      // current second rounded up: a session may be seen up to 2 s after its TTL.
      expiryGraceMs: 2000,
      closeScript: fileURLToPath(
        new URL("../fixtures/postgres/close-connect-pg-simple.ts", import.meta.url),
      ),
      closeScriptArgs: [DATABASE_URL],
      failingFactory: () => {
        // Nothing listens on port 1: every connection is refused.
        const dead = testPool("postgres://postgres@127.0.0.1:1/test");
        deadPools.push(dead);
        return toStore(pgSimple(dead, "session", false));
      },
      // session() gets connect-pg-simple itself, as apps hand it over, not the adapted view.
      middlewareStore: (store) => (adapted.get(store) as Adapted).legacy,
      dispose: async (store) => {
        const { legacy, tableName } = adapted.get(store) as Adapted;
        await legacy.close();
        await pool.query(`DROP TABLE IF EXISTS "${tableName}"`);
      },
    },
  );
}
