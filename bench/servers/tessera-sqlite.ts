// Tessera's middleware with its SqliteStore (better-sqlite3, WAL) on a file of this run's own.
import { session } from "../../src/express/index.js";
import { SqliteStore } from "../../src/stores/sqlite.js";
import { createApp, requireEnv, SESSION_OPTIONS, serve } from "./app.js";

const store = new SqliteStore({ path: requireEnv("BENCH_SQLITE_PATH") });

serve(createApp(session({ ...SESSION_OPTIONS, store })), async () => {
  await store.close();
});
