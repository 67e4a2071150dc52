import { join } from "node:path";
import type { Store } from "../../src/store/types.js";
import type { DemoConfig } from "./config.js";
import { privateDatabaseFile } from "./private-files.js";

/** The session store the demo runs on, and how to let go of it. */
export interface DemoStore {
  store: Store;
  /** What the footer shows: "SQLite", "Redis" or "PostgreSQL". */
  label: string;
  /** Closes what the demo opened for the store (the client or pool, or the SQLite file). */
  close(): Promise<void>;
}

/** The default of `DemoConfig.storeNamespace`: its own keys and table, never another app's. */
const DEFAULT_NAMESPACE = "tessera_demo";

/**
 * Opens the store `config` asks for: Redis with `redisUrl`, PostgreSQL with `databaseUrl`,
 * otherwise SQLite in the data folder (mode 0600). Client libraries are imported only when chosen, as an
 * app with one store would only install that one.
 */
export async function openSessionStore(config: DemoConfig): Promise<DemoStore> {
  const namespace = config.storeNamespace ?? DEFAULT_NAMESPACE;
  if (config.redisUrl !== undefined) return openRedis(config.redisUrl, `${namespace}:sess:`);
  if (config.databaseUrl !== undefined) {
    return openPostgres(config.databaseUrl, `${namespace}_sessions`);
  }
  const { SqliteStore } = await import("../../src/stores/sqlite.js");
  // Session ids are in the file: whoever reads it can open any signed-in session.
  const path = privateDatabaseFile(join(config.dataDir, "sessions.db"));
  const store = new SqliteStore({ path });
  return { store, label: "SQLite", close: () => store.close() };
}

async function openRedis(url: string, prefix: string): Promise<DemoStore> {
  const [{ createClient }, { RedisStore }] = await Promise.all([
    import("redis"),
    import("../../src/stores/redis.js"),
  ]);
  let connected = false;
  const client = createClient({
    url,
    // Give up on a request at once while Redis is down (the page says 503) instead of queueing
    // it until Redis returns; keep reconnecting in the background.
    disableOfflineQueue: true,
    socket: {
      connectTimeout: 5000,
      // At start-up, fail after a few tries with a clear message rather than wait forever;
      // once connected, retry for as long as it takes.
      reconnectStrategy: (retries) =>
        !connected && retries >= 3
          ? new Error("cannot reach Redis at REDIS_URL; is it running?")
          : Math.min(retries * 200, 5000),
    },
  });
  // Without a listener, a lost connection would be an unhandled 'error' event: a crash.
  client.on("error", (error: Error) => console.error(`tessera demo: Redis: ${error.message}`));
  await client.connect();
  connected = true;
  const store = new RedisStore({ client, prefix });
  return {
    store,
    label: "Redis",
    close: async () => {
      await store.close();
      await client.close();
    },
  };
}

async function openPostgres(url: string, tableName: string): Promise<DemoStore> {
  const [{ default: pg }, { PostgresStore }] = await Promise.all([
    import("pg"),
    import("../../src/stores/postgres.js"),
  ]);
  const pool = new pg.Pool({ connectionString: url, max: 5, connectionTimeoutMillis: 5000 });
  // pg emits 'error' on idle clients when the server restarts: log it rather than crash.
  pool.on("error", (error: Error) => console.error(`tessera demo: PostgreSQL: ${error.message}`));
  const store = new PostgresStore({ pool, tableName, createTable: true });
  return {
    store,
    label: "PostgreSQL",
    close: async () => {
      await store.close();
      await pool.end();
    },
  };
}
