// The CLI against a PostgreSQL table holding sessions written by PostgresStore.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import pg from "pg";
import { PostgresStore } from "../../src/stores/postgres.js";
import { DATABASE_URL, needServer, uniqueName } from "../helpers/services.js";
import { assertOk, assertOneLineError, cliScenario, seed, tessera } from "./helpers.js";

const available = await needServer("PostgreSQL", DATABASE_URL);

describe("tessera sessions › PostgreSQL", { skip: !available }, () => {
  const table = uniqueName("cli");
  const envTable = uniqueName("cli_env");
  let pool: pg.Pool;
  let store: PostgresStore;

  before(async () => {
    pool = new pg.Pool({ connectionString: DATABASE_URL, max: 2, connectionTimeoutMillis: 5000 });
    pool.on("error", () => {});
    store = new PostgresStore({ pool, tableName: table, createTable: true, pruneIntervalMs: 0 });
  });
  after(async () => {
    await store.close();
    await pool.query(`DROP TABLE IF EXISTS "${table}", "${envTable}"`);
    await pool.end();
  });

  cliScenario(
    "PostgreSQL",
    async () => ({ store, args: ["--store", DATABASE_URL, "--table", table], prunes: true }),
    async () => {},
  );

  it("falls back to DATABASE_URL when --store and REDIS_URL are not given", async () => {
    const other = new PostgresStore({
      pool,
      tableName: envTable,
      createTable: true,
      pruneIntervalMs: 0,
    });
    await seed(other);
    await other.close();
    const result = await tessera(["sessions", "list", "--json", "--table", envTable], {
      DATABASE_URL,
    });
    assertOk(result);
    assert.equal((JSON.parse(result.stdout) as unknown[]).length, 4);
  });

  it("names a missing table instead of listing nothing", async () => {
    const result = await tessera([
      "sessions",
      "list",
      "--store",
      DATABASE_URL,
      "--table",
      "no_such_table",
    ]);
    assertOneLineError(result, 1, /has no table no_such_table: pass --table/);
  });

  it("reports an unreachable server in one line, without the password", async () => {
    const result = await tessera([
      "sessions",
      "stats",
      "--store",
      "postgres://app:hunter2@127.0.0.1:1/app",
      "--timeout",
      "2s",
    ]);
    assertOneLineError(result, 1, /cannot reach PostgreSQL at postgres:\/\/127\.0\.0\.1:1\/app/);
    assert.ok(!result.stderr.includes("hunter2"));
  });
});
