// The Store contract through encryptRecords() over the real stores: the wrapper reads and
// rewrites records in patch and touch, so each store's own guarantees (expiry, atomic patches,
// a destroyed session staying destroyed, the user index) must still hold through it.
import { randomBytes } from "node:crypto";
import { after, before, describe } from "node:test";
import Database from "better-sqlite3";
import type pg from "pg";
import { encryptRecords } from "../../src/store/encrypted.js";
import { hashIds } from "../../src/store/hashed-ids.js";
import type { Store } from "../../src/store/types.js";
import { testStore } from "../../src/store-conformance/index.js";
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
import { DATABASE_URL, needServer, REDIS_URL, uniqueName } from "../helpers/services.js";

const KEYS = [randomBytes(32), randomBytes(32).toString("base64")];
const encrypted = (store: Store) => encryptRecords(store, { keys: KEYS });
const conformance = { iterationCount: 300 };

testStore("encryptRecords(SqliteStore)", () => encrypted(new SqliteStore({ path: ":memory:" })), {
  ...conformance,
  failingFactory: () => {
    const db = new Database(":memory:");
    const store = new SqliteStore({ database: db });
    db.close();
    return encrypted(store);
  },
});

const redisAvailable = await needServer("Redis", REDIS_URL);
describe("on Redis", { skip: !redisAvailable }, () => {
  let redis: TestClient;
  const prefixes: string[] = [];
  before(async () => {
    redis = await connectClient("node-redis");
  });
  after(async () => {
    for (const prefix of prefixes) await deleteUnder(redis, prefix);
    await redis.close();
  });
  function redisStore(): RedisStore {
    const prefix = testPrefix();
    prefixes.push(prefix);
    return new RedisStore({ client: redis.client, prefix });
  }
  testStore("encryptRecords(RedisStore)", () => encrypted(redisStore()), conformance);
  testStore(
    "hashIds(encryptRecords(RedisStore))",
    () => hashIds(encrypted(redisStore())),
    conformance,
  );
});

const postgresAvailable = await needServer("PostgreSQL", DATABASE_URL);
describe("on PostgreSQL", { skip: !postgresAvailable }, () => {
  let pool: pg.Pool;
  const tables: string[] = [];
  before(() => {
    pool = testPool(DATABASE_URL);
  });
  after(async () => {
    for (const table of tables) await pool.query(`DROP TABLE IF EXISTS "${table}"`);
    await pool.end();
  });
  testStore(
    "encryptRecords(PostgresStore)",
    () => {
      const tableName = uniqueName("tessera_encrypted");
      tables.push(tableName);
      return encrypted(
        new PostgresStore({ pool, tableName, createTable: true, pruneIntervalMs: 0 }),
      );
    },
    conformance,
  );
});
