// Tessera's middleware with its PostgresStore on a pg Pool, in a table of this run's own.
import pg from "pg";
import { session } from "../../src/express/index.js";
import { PostgresStore } from "../../src/stores/postgres.js";
import { createApp, requireEnv, SESSION_OPTIONS, serve } from "./app.js";

const pool = new pg.Pool({
  connectionString: requireEnv("BENCH_DATABASE_URL"),
  max: 10,
  connectionTimeoutMillis: 5000,
});
pool.on("error", (error) => console.error(error));
const store = new PostgresStore({
  pool,
  tableName: requireEnv("BENCH_PG_TABLE"),
  createTable: true,
});

serve(createApp(session({ ...SESSION_OPTIONS, store })), async () => {
  await store.close?.();
  await pool.end();
});
