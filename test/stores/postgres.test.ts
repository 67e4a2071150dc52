import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { after, before, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import express from "express";
import session from "express-session";
import type pg from "pg";
import request from "supertest";
import { isTesseraError, type TesseraError } from "../../src/core/errors.js";
import { session as tessera } from "../../src/express/index.js";
import type { SessionRecord } from "../../src/store/types.js";
import { runScript } from "../../src/store-conformance/child.js";
import { PostgresStore, type PostgresStoreOptions } from "../../src/stores/postgres.js";
import { countingPool, createPgSimpleTable, testPool } from "../fixtures/postgres/pools.js";
import { DATABASE_URL, needServer, uniqueName } from "../helpers/services.js";

const available = await needServer("PostgreSQL", DATABASE_URL);
const docs = readFileSync(new URL("../../docs/stores-postgres.md", import.meta.url), "utf8");

/** The SQL block that follows `<!-- marker -->` in the docs. */
function docSql(marker: string): string {
  const match = docs.match(new RegExp(`<!-- ${marker} -->\\s*\`\`\`sql\\n([\\s\\S]*?)\`\`\``));
  assert.ok(match?.[1], `docs/stores-postgres.md has no SQL block after <!-- ${marker} -->`);
  return match[1];
}

/** A record shaped as the engine writes it. */
function record(data: Record<string, unknown> = {}, user?: string): SessionRecord {
  const now = Date.now();
  return {
    cookie: {
      originalMaxAge: 3_600_000,
      expires: new Date(now + 3_600_000).toISOString(),
      httpOnly: true,
      path: "/",
    },
    ...data,
    __tessera: user === undefined ? { createdAt: now } : { createdAt: now, user },
  };
}

/** The record as any store hands it back: through JSON. */
function stored(value: SessionRecord): unknown {
  return JSON.parse(JSON.stringify(value));
}

async function collect<T>(iterable: AsyncIterable<T>, limit = 1_000_000): Promise<T[]> {
  const items: T[] = [];
  for await (const item of iterable) {
    items.push(item);
    assert.ok(items.length <= limit, "the iterator yields more items than there are sessions");
  }
  return items;
}

async function rejectsWith(promise: Promise<unknown>, code: string): Promise<TesseraError> {
  try {
    await promise;
  } catch (error) {
    assert.ok(isTesseraError(error), `expected a TesseraError, got ${String(error)}`);
    assert.equal(error.code, code, error.message);
    assert.match(error.message, /^tessera: /);
    return error;
  }
  assert.fail(`expected a rejection with ${code}`);
}

// The Store contract itself is checked by test/store-conformance/postgres.test.ts; this file
// covers what is PostgreSQL's own: the table, the SQL, timeouts and migration.
describe("PostgresStore", { skip: !available }, () => {
  let pool: pg.Pool;
  const tables: string[] = [];
  const schemas: string[] = [];
  const stores: PostgresStore[] = [];

  /** A store on a fresh table of its own, created by the store. */
  function freshStore(options: Partial<PostgresStoreOptions> = {}): {
    store: PostgresStore;
    table: string;
  } {
    const table = options.tableName ?? uniqueName("tessera_pg");
    tables.push(table);
    const store = new PostgresStore({
      pool,
      tableName: table,
      createTable: true,
      pruneIntervalMs: 0,
      ...options,
    });
    stores.push(store);
    return { store, table };
  }

  async function sql(text: string, values: unknown[] = []): Promise<pg.QueryResult> {
    return pool.query(text, values);
  }

  /** Ages sessions past their expiry on the server's clock, without waiting for it. */
  async function expire(table: string, ...ids: string[]): Promise<void> {
    await sql(
      `UPDATE "${table}" SET expires_at = now() - interval '1 second' WHERE id = ANY($1::text[])`,
      [ids],
    );
  }

  async function rowCount(table: string): Promise<number> {
    const { rows } = await sql(`SELECT count(*)::int AS n FROM "${table}"`);
    return rows[0].n;
  }

  before(() => {
    pool = testPool(DATABASE_URL, { max: 6 });
  });

  after(async () => {
    for (const store of stores) await store.close();
    for (const table of tables) await sql(`DROP TABLE IF EXISTS "${table}"`);
    for (const schema of schemas) await sql(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await pool.end();
  });

  describe("options", () => {
    it("refuses a missing pool, with the fix in the message", () => {
      assert.throws(
        () => new PostgresStore({} as PostgresStoreOptions),
        (error: unknown) =>
          isTesseraError(error, "ERR_OPTION") && /new PostgresStore\(\{ pool/.test(error.message),
      );
    });

    it("refuses table and schema names that are not plain identifiers", () => {
      for (const tableName of [
        'x"; DROP TABLE users; --',
        "sessions.v2",
        "1sessions",
        "",
        "sessions-table",
        "séances",
        "a".repeat(52),
      ]) {
        assert.throws(
          () => new PostgresStore({ pool, tableName, pruneIntervalMs: 0 }),
          (error: unknown) => isTesseraError(error, "ERR_OPTION"),
          tableName,
        );
      }
      assert.throws(
        () => new PostgresStore({ pool, schemaName: "public; --", pruneIntervalMs: 0 }),
        (error: unknown) => isTesseraError(error, "ERR_OPTION"),
      );
      // The longest name whose index names still fit PostgreSQL's 63 bytes.
      assert.ok(new PostgresStore({ pool, tableName: "a".repeat(51), pruneIntervalMs: 0 }));
    });

    it("refuses timeouts, intervals and page sizes that are not sensible numbers", () => {
      const bad: Partial<PostgresStoreOptions>[] = [
        { queryTimeoutMs: -1 },
        { queryTimeoutMs: Number.NaN },
        { pruneIntervalMs: Number.POSITIVE_INFINITY },
        { pruneIntervalMs: 2 ** 31 },
        { pageSize: 0 },
        { pageSize: 1.5 },
      ];
      for (const options of bad) {
        assert.throws(
          () => new PostgresStore({ pool, pruneIntervalMs: 0, ...options }),
          (error: unknown) => isTesseraError(error, "ERR_OPTION"),
          JSON.stringify(options),
        );
      }
    });
  });

  describe("createTable", () => {
    it("creates the table with its columns and both indexes", async () => {
      const { store, table } = freshStore();
      await store.set("a", record(), 60_000);
      const { rows: columns } = await sql(
        `SELECT column_name, data_type, is_nullable FROM information_schema.columns
         WHERE table_name = $1 ORDER BY ordinal_position`,
        [table],
      );
      assert.deepEqual(columns, [
        { column_name: "id", data_type: "text", is_nullable: "NO" },
        { column_name: "data", data_type: "jsonb", is_nullable: "NO" },
        { column_name: "expires_at", data_type: "timestamp with time zone", is_nullable: "NO" },
        { column_name: "user_key", data_type: "text", is_nullable: "YES" },
      ]);
      const { rows: indexes } = await sql(
        "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = $1 ORDER BY indexname",
        [table],
      );
      assert.deepEqual(
        indexes.map((row) => row.indexname),
        [`${table}_expires_idx`, `${table}_pkey`, `${table}_user_idx`],
      );
      assert.match(indexes[2].indexdef, /\(user_key\) WHERE \(user_key IS NOT NULL\)$/);
    });

    it("is idempotent, also when several instances create the same table at once", async () => {
      for (let round = 0; round < 3; round += 1) {
        const table = uniqueName("tessera_pg_race");
        const racers = Array.from({ length: 4 }, () => freshStore({ tableName: table }).store);
        await Promise.all(racers.map((store, i) => store.set(`id${i}`, record(), 60_000)));
        assert.equal(await racers[0]?.length(), 4);
      }
      // A later store on an existing table finds it and keeps its rows.
      const { store, table } = freshStore();
      await store.set("kept", record({ n: 1 }), 60_000);
      const again = freshStore({ tableName: table }).store;
      assert.equal((await again.get("kept"))?.n, 1);
      assert.equal(await again.length(), 1);
    });

    it("puts the table in schemaName when one is given", async () => {
      const schema = uniqueName("tessera_schema");
      schemas.push(schema);
      await sql(`CREATE SCHEMA "${schema}"`);
      const { store, table } = freshStore({ schemaName: schema });
      await store.set("s", record({ where: "schema" }), 60_000);
      const { rows } = await sql(
        `SELECT table_schema FROM information_schema.tables WHERE table_name = $1`,
        [table],
      );
      assert.deepEqual(rows, [{ table_schema: schema }]);
      assert.equal((await store.get("s"))?.where, "schema");
    });

    it("without createTable, a missing table is ERR_STORE saying how to fix it", async () => {
      const store = new PostgresStore({
        pool,
        tableName: uniqueName("tessera_pg_missing"),
        pruneIntervalMs: 0,
      });
      const error = await rejectsWith(store.get("secret-session-id"), "ERR_STORE");
      assert.match(error.message, /createTable: true/);
      assert.doesNotMatch(error.message, /secret-session-id/);
      assert.equal((error.cause as { code?: string }).code, "42P01");
    });

    it("the docs give exactly the table createTable makes", async () => {
      const { store, table: made } = freshStore();
      await store.length();
      const fromDocs = uniqueName("tessera_pg_docs");
      tables.push(fromDocs);
      await sql(docSql("create-table-sql").replaceAll("tessera_sessions", fromDocs));
      const shape = async (table: string) => {
        const { rows: columns } = await sql(
          `SELECT column_name, data_type, is_nullable, column_default FROM information_schema.columns
           WHERE table_name = $1 ORDER BY ordinal_position`,
          [table],
        );
        const { rows: indexes } = await sql(
          "SELECT indexdef FROM pg_indexes WHERE tablename = $1 ORDER BY indexname",
          [table],
        );
        return { columns, indexes: indexes.map((row) => row.indexdef.replaceAll(table, "T")) };
      };
      assert.deepEqual(await shape(fromDocs), await shape(made));
      // And the store works on the table made from the docs.
      const onDocs = freshStore({ tableName: fromDocs, createTable: false }).store;
      await onDocs.set("d", record({}, "u"), 60_000);
      assert.deepEqual(await onDocs.idsForUser("u"), ["d"]);
    });
  });

  describe("get / set / destroy", () => {
    it("round-trips nested data, every JSON type and text from many scripts", async () => {
      const { store } = freshStore();
      const data = record({
        cart: { items: [{ sku: "A-1", qty: 2, price: 9.99 }], coupon: null, total: 0.1 + 0.2 },
        flags: [true, false],
        big: Number.MAX_SAFE_INTEGER,
        tiny: 1.5e-10,
        text: '😀 👩‍👩‍👧‍👦 مرحبا 你好 e\u0301 tab\t"quote" \\ \u2028 <script>',
        "key.with.dots": 1,
        'quote"and\\backslash': 2,
        "🔑": "emoji key",
        large: "é€😀x".repeat(50_000),
      });
      await store.set("id-1", data, 60_000);
      assert.deepEqual(await store.get("id-1"), stored(data));
    });

    it("returns undefined for an id it does not have", async () => {
      const { store } = freshStore();
      assert.equal(await store.get("nope"), undefined);
    });

    it("set replaces the whole record: keys left out are gone", async () => {
      const { store } = freshStore();
      await store.set("id", record({ a: 1, b: 2 }), 60_000);
      await store.set("id", record({ b: 3 }), 60_000);
      const got = await store.get("id");
      assert.equal(got?.a, undefined);
      assert.equal(got?.b, 3);
      assert.equal(await store.length(), 1);
    });

    it("set makes the row expire ttlMs from now, by the server's clock", async () => {
      const { store, table } = freshStore();
      await store.set("id", record(), 90_000);
      const { rows } = await sql(
        `SELECT extract(epoch FROM expires_at - now()) * 1000 AS ms FROM "${table}"`,
      );
      const ms = Number(rows[0].ms);
      assert.ok(ms > 85_000 && ms <= 90_000, `expires in ${ms} ms`);
    });

    it("destroy removes the row; destroying a missing id is no error", async () => {
      const { store, table } = freshStore();
      await store.set("id", record(), 60_000);
      await store.destroy("id");
      await store.destroy("id");
      await store.destroy("never-existed");
      assert.equal(await store.get("id"), undefined);
      assert.equal(await rowCount(table), 0);
    });

    it("refuses data JSON cannot hold, or jsonb cannot, with ERR_SESSION_DATA", async () => {
      const { store, table } = freshStore();
      await rejectsWith(store.set("id", record({ n: 10n }), 60_000), "ERR_SESSION_DATA");
      const cyclic: Record<string, unknown> = {};
      cyclic.self = cyclic;
      await rejectsWith(store.set("id", record({ cyclic }), 60_000), "ERR_SESSION_DATA");
      const nul = await rejectsWith(
        store.set("id", record({ s: "a\u0000b" }), 60_000),
        "ERR_SESSION_DATA",
      );
      assert.equal(nul.message.includes("a\u0000b"), false, "no session data in the message");
      await rejectsWith(store.set("id", record({ s: "\ud800" }), 60_000), "ERR_SESSION_DATA");
      assert.equal(await rowCount(table), 0);
    });

    it("refuses a TTL that is not a positive number", async () => {
      const { store } = freshStore();
      for (const ttl of [0, -5, Number.NaN]) {
        await rejectsWith(store.set("id", record(), ttl), "ERR_OPTION");
      }
    });
  });

  describe("expiry", () => {
    it("an expired session is invisible to every read, before any prune", async () => {
      const { store, table } = freshStore();
      await store.set("live", record({}, "u"), 60_000);
      await store.set("dead", record({}, "u"), 60_000);
      await expire(table, "dead");
      assert.equal(await store.get("dead"), undefined);
      assert.deepEqual(await collect(store.ids()), ["live"]);
      assert.deepEqual(
        (await collect(store.entries())).map(([id]) => id),
        ["live"],
      );
      assert.equal(await store.length(), 1);
      assert.deepEqual(await store.idsForUser("u"), ["live"]);
      assert.equal(await rowCount(table), 2, "the row is still there until pruned");
    });

    it("a short TTL really expires, on its own", async () => {
      const { store } = freshStore();
      // A second: long enough for the read right after the write to come before the expiry on
      // a loaded machine, still short enough to wait out.
      await store.set("short", record(), 1_000);
      assert.ok(await store.get("short"), "readable before its TTL");
      const deadline = Date.now() + 6_000;
      while ((await store.get("short")) !== undefined) {
        assert.ok(Date.now() < deadline, "still readable 6 s after a 1 s TTL");
        await sleep(50);
      }
    });

    it("touch and patch never bring an expired session back", async () => {
      const { store, table } = freshStore();
      await store.set("dead", record({ a: 1 }), 60_000);
      await expire(table, "dead");
      await store.touch("dead", record({ a: 1 }), 60_000);
      assert.equal(await store.patch("dead", { set: { a: 2 }, unset: [] }, 60_000), false);
      assert.equal(await store.get("dead"), undefined);
      const { rows } = await sql(`SELECT data->'a' AS a FROM "${table}" WHERE id = 'dead'`);
      assert.deepEqual(rows, [{ a: 1 }], "the expired row was not written");
    });

    it("prune deletes only expired rows and resolves how many, in batches", async () => {
      const { store, table } = freshStore();
      await store.length();
      // More than one batch (5 000) of expired rows, and live rows that must stay.
      await sql(
        `INSERT INTO "${table}" (id, data, expires_at)
         SELECT 'gone' || g, '{"cookie":{"originalMaxAge":null}}', now() - interval '1 minute'
         FROM generate_series(1, 12345) g`,
      );
      await store.set("live-1", record(), 60_000);
      await store.set("live-2", record(), 60_000);
      assert.equal(await store.prune(), 12_345);
      assert.equal(await rowCount(table), 2);
      assert.equal(await store.prune(), 0);
    });

    it("the prune timer never keeps the process alive, even without close()", async () => {
      const script = fileURLToPath(new URL("../fixtures/postgres/close-store.ts", import.meta.url));
      const outcome = await runScript(script, [DATABASE_URL, "keep-open"], 15_000);
      assert.equal(outcome.timedOut, false, `the process did not exit:\n${outcome.stderr}`);
      assert.equal(outcome.code, 0, outcome.stderr);
    });

    it("the prune timer deletes expired rows in the background, and close() stops it", async () => {
      const { store, table } = freshStore({ pruneIntervalMs: 40 });
      await store.set("dead", record(), 60_000);
      await store.set("live", record(), 60_000);
      await expire(table, "dead");
      const deadline = Date.now() + 5_000;
      while ((await rowCount(table)) !== 1) {
        assert.ok(Date.now() < deadline, "the timer did not prune within 5 s");
        await sleep(40);
      }
      assert.ok(await store.get("live"));
      await store.close();
      await store.set("dead-after-close", record(), 60_000);
      await expire(table, "dead-after-close");
      await sleep(300);
      assert.equal(await rowCount(table), 2, "a closed store kept pruning");
    });

    it("a failing background prune reaches onPruneError, without session data", async () => {
      const errors: TesseraError[] = [];
      const store = new PostgresStore({
        pool,
        tableName: uniqueName("tessera_pg_missing"),
        pruneIntervalMs: 20,
        onPruneError: (error) => errors.push(error),
      });
      stores.push(store);
      const deadline = Date.now() + 5_000;
      while (errors.length === 0) {
        assert.ok(Date.now() < deadline, "onPruneError was not called within 5 s");
        await sleep(20);
      }
      await store.close();
      assert.equal(errors[0]?.code, "ERR_STORE");
      assert.match(errors[0]?.message ?? "", /^tessera: PostgresStore .*prune/);
    });
  });

  describe("touch", () => {
    it("moves the expiry and writes cookie and __tessera, keeping the data", async () => {
      const { store, table } = freshStore();
      await store.set("id", record({ cart: [1, 2] }), 1_000);
      const later = record({ cart: ["ignored"] });
      later.cookie.expires = "2099-01-01T00:00:00.000Z";
      later.__tessera = { createdAt: 1, seenAt: 2 };
      await store.touch("id", later, 120_000);
      const got = await store.get("id");
      assert.deepEqual(got?.cart, [1, 2], "touch must not rewrite the data");
      assert.equal(got?.cookie.expires, "2099-01-01T00:00:00.000Z");
      assert.deepEqual(got?.__tessera, { createdAt: 1, seenAt: 2 });
      const { rows } = await sql(
        `SELECT extract(epoch FROM expires_at - now()) * 1000 AS ms FROM "${table}"`,
      );
      assert.ok(Number(rows[0].ms) > 100_000, "the expiry moved");
    });

    it("never inserts a session that does not exist", async () => {
      const { store, table } = freshStore();
      await store.touch("ghost", record(), 60_000);
      assert.equal(await rowCount(table), 0);
    });

    it("keeps the user index in step with the __tessera it writes", async () => {
      const { store } = freshStore();
      await store.set("id", record({}, "alice"), 60_000);
      await store.touch("id", record({}, "bob"), 60_000);
      assert.deepEqual(await store.idsForUser("alice"), []);
      assert.deepEqual(await store.idsForUser("bob"), ["id"]);
      const noMeta = record();
      delete noMeta.__tessera;
      await store.touch("id", noMeta, 60_000);
      assert.deepEqual(await store.idsForUser("bob"), ["id"], "no __tessera: user unchanged");
    });
  });

  describe("patch", () => {
    it("writes the set keys and removes the unset keys, leaving the rest", async () => {
      const { store } = freshStore();
      await store.set("id", record({ a: 1, b: 2, c: { deep: true } }), 60_000);
      const ok = await store.patch("id", { set: { b: 20, d: [4] }, unset: ["a"] }, 60_000);
      assert.equal(ok, true);
      const got = await store.get("id");
      assert.equal(got?.a, undefined);
      assert.equal(got?.b, 20);
      assert.deepEqual(got?.c, { deep: true });
      assert.deepEqual(got?.d, [4]);
      assert.ok(got?.cookie, "the cookie is untouched");
    });

    it("handles keys that need quoting in a PostgreSQL array", async () => {
      const { store } = freshStore();
      const keys = ['q"uote', "back\\slash", "com,ma", "{brace}", "NULL", "sp ace", "🔑", ""];
      await store.set("id", record(Object.fromEntries(keys.map((k) => [k, 1]))), 60_000);
      assert.equal(await store.patch("id", { set: {}, unset: keys }, 60_000), true);
      const got = (await store.get("id")) ?? {};
      for (const key of keys) assert.equal(Object.hasOwn(got, key), false, key);
    });

    it("removes a key set to undefined, as a JSON round trip would", async () => {
      const { store } = freshStore();
      await store.set("id", record({ a: 1 }), 60_000);
      await store.patch("id", { set: { a: undefined }, unset: [] }, 60_000);
      assert.equal(Object.hasOwn((await store.get("id")) ?? {}, "a"), false);
    });

    it("resolves false and writes nothing when the session is missing or destroyed", async () => {
      const { store, table } = freshStore();
      assert.equal(await store.patch("never", { set: { a: 1 }, unset: [] }, 60_000), false);
      await store.set("id", record(), 60_000);
      await store.destroy("id");
      assert.equal(await store.patch("id", { set: { a: 1 }, unset: [] }, 60_000), false);
      assert.equal(await rowCount(table), 0);
    });

    it("parallel patches of different keys all survive", async () => {
      const { store } = freshStore();
      await store.set("id", record({ base: true }), 60_000);
      const keys = Array.from({ length: 60 }, (_, i) => `k${i}`);
      const results = await Promise.all(
        keys.map((key, i) => store.patch("id", { set: { [key]: i }, unset: [] }, 60_000)),
      );
      assert.ok(results.every(Boolean));
      const got: Record<string, unknown> = (await store.get("id")) ?? {};
      for (const [i, key] of keys.entries()) assert.equal(got[key], i, key);
      assert.equal(got.base, true);
    });

    it("a patch racing a destroy never brings the session back", async () => {
      const { store, table } = freshStore();
      for (let round = 0; round < 10; round += 1) {
        await store.set("id", record(), 60_000);
        const patches = Array.from({ length: 8 }, (_, i) =>
          store.patch("id", { set: { [`k${i}`]: i }, unset: [] }, 60_000),
        );
        await Promise.all([...patches.slice(0, 4), store.destroy("id"), ...patches.slice(4)]);
        assert.equal(await store.get("id"), undefined, `round ${round}`);
        assert.equal(await rowCount(table), 0, `round ${round}`);
      }
    });

    it("moves the expiry to ttlMs from now", async () => {
      const { store, table } = freshStore();
      // A first TTL the patch cannot race (a patch of an expired row writes nothing), and
      // still far from the new one.
      await store.set("id", record(), 60_000);
      assert.equal(await store.patch("id", { set: { a: 1 }, unset: [] }, 120_000), true);
      const { rows } = await sql(
        `SELECT extract(epoch FROM expires_at - now()) * 1000 AS ms FROM "${table}"`,
      );
      assert.ok(Number(rows[0].ms) > 100_000, `expires in ${rows[0].ms} ms`);
    });

    it("keeps the user index in step with __tessera.user", async () => {
      const { store } = freshStore();
      await store.set("id", record({}, "alice"), 60_000);
      await store.patch("id", { set: { other: 1 }, unset: [] }, 60_000);
      assert.deepEqual(await store.idsForUser("alice"), ["id"], "untouched meta keeps the user");
      await store.patch(
        "id",
        { set: { __tessera: { createdAt: 1, user: "bob" } }, unset: [] },
        60_000,
      );
      assert.deepEqual(await store.idsForUser("alice"), []);
      assert.deepEqual(await store.idsForUser("bob"), ["id"]);
      await store.patch("id", { set: { __tessera: { createdAt: 1 } }, unset: [] }, 60_000);
      assert.deepEqual(await store.idsForUser("bob"), []);
      await store.patch(
        "id",
        { set: { __tessera: { createdAt: 1, user: "carol" } }, unset: [] },
        60_000,
      );
      await store.patch("id", { set: {}, unset: ["__tessera"] }, 60_000);
      assert.deepEqual(await store.idsForUser("carol"), []);
      assert.equal((await store.get("id"))?.__tessera, undefined);
    });
  });

  describe("user index", () => {
    it("idsForUser lists a user's live sessions only", async () => {
      const { store, table } = freshStore();
      await store.set("a1", record({}, "alice"), 60_000);
      await store.set("a2", record({}, "alice"), 60_000);
      await store.set("a3", record({}, "alice"), 60_000);
      await store.set("b1", record({}, "bob"), 60_000);
      await store.set("anon", record(), 60_000);
      await expire(table, "a3");
      assert.deepEqual((await store.idsForUser("alice")).sort(), ["a1", "a2"]);
      assert.deepEqual(await store.idsForUser("nobody"), []);
      // set moves a session from one user to another.
      await store.set("b1", record({}, "alice"), 60_000);
      assert.deepEqual(await store.idsForUser("bob"), []);
    });

    it("destroyForUser removes them all, or all but one, and counts live ones", async () => {
      const { store, table } = freshStore();
      for (const id of ["a1", "a2", "a3", "a4"]) await store.set(id, record({}, "alice"), 60_000);
      await store.set("b1", record({}, "bob"), 60_000);
      await expire(table, "a4");
      assert.equal(await store.destroyForUser("alice", { except: "a2" }), 2);
      assert.deepEqual(await store.idsForUser("alice"), ["a2"]);
      assert.equal(await store.destroyForUser("alice"), 1);
      assert.equal(await store.destroyForUser("alice"), 0);
      assert.ok(await store.get("b1"), "another user's session stays");
      assert.equal(await rowCount(table), 1, "the expired row of the user went too");
    });
  });

  describe("ids / entries / length / clear", () => {
    it("stream every live session across many small pages, each exactly once", async () => {
      const { pool: counting, stats } = countingPool(pool);
      const { store, table } = freshStore({ pool: counting, pageSize: 7 });
      const ids = Array.from({ length: 50 }, (_, i) => `s${String(i).padStart(2, "0")}`);
      for (const id of ids) await store.set(id, record({ id }), 60_000);
      await expire(table, "s13");
      const expected = ids.filter((id) => id !== "s13");
      stats.queries = 0;
      stats.maxRows = 0;
      assert.deepEqual((await collect(store.ids(), 50)).sort(), expected);
      assert.ok(stats.maxRows <= 7, `a page held ${stats.maxRows} rows`);
      assert.equal(stats.queries, 8, "49 ids in pages of 7: 7 full pages, then an empty one");
      const entries = await collect(store.entries(), 50);
      assert.deepEqual(entries.map(([id]) => id).sort(), expected);
      for (const [id, got] of entries) assert.equal(got.id, id);
      assert.equal(await store.length(), 49);
    });

    it("sessions deleted while iterating are neither repeated nor fatal", async () => {
      const { store } = freshStore({ pageSize: 5 });
      for (let i = 0; i < 40; i += 1)
        await store.set(`s${String(i).padStart(2, "0")}`, record(), 60_000);
      const seen: string[] = [];
      for await (const id of store.ids()) {
        seen.push(id);
        // Delete the next few sessions and one already seen, as a concurrent logout would.
        if (seen.length === 10)
          for (const n of ["00", "11", "12", "13"]) await store.destroy(`s${n}`);
      }
      assert.equal(new Set(seen).size, seen.length, "no id twice");
      assert.equal(seen.length, 37);
      assert.ok(!seen.includes("s12"));
    });

    it("stops querying when the caller stops iterating", async () => {
      const { pool: counting, stats } = countingPool(pool);
      const { store } = freshStore({ pool: counting, pageSize: 3 });
      for (let i = 0; i < 20; i += 1) await store.set(`s${i}`, record(), 60_000);
      stats.queries = 0;
      for await (const id of store.ids()) {
        assert.ok(id);
        break;
      }
      assert.equal(stats.queries, 1);
    });

    it("iterates 100 000 sessions in pages, never loading them at once", async () => {
      const { pool: counting, stats } = countingPool(pool);
      const { store, table } = freshStore({ pool: counting });
      await store.length();
      await sql(
        `INSERT INTO "${table}" (id, data, expires_at)
         SELECT 'id' || lpad(g::text, 6, '0'),
                jsonb_build_object('cookie', jsonb_build_object('originalMaxAge', 1000), 'n', g),
                CASE WHEN g % 10 = 0 THEN now() - interval '1 second' ELSE now() + interval '1 hour' END
         FROM generate_series(1, 100000) g`,
      );
      stats.queries = 0;
      stats.maxRows = 0;
      const heapBefore = process.memoryUsage().heapUsed;
      let count = 0;
      let peakHeap = heapBefore;
      let previous = "";
      const started = performance.now();
      for await (const id of store.ids()) {
        assert.ok(id > previous, "ids come in key order, each once");
        previous = id;
        count += 1;
        if (count % 10_000 === 0) peakHeap = Math.max(peakHeap, process.memoryUsage().heapUsed);
      }
      const idsMs = performance.now() - started;
      assert.equal(count, 90_000);
      assert.ok(stats.maxRows <= 1000, `one query returned ${stats.maxRows} rows`);
      assert.equal(stats.queries, 91, "90 full pages, then an empty one");

      let entries = 0;
      const entriesStarted = performance.now();
      for await (const [, got] of store.entries()) {
        assert.equal(got.cookie.originalMaxAge, 1000);
        entries += 1;
      }
      const entriesMs = performance.now() - entriesStarted;
      assert.equal(entries, 90_000);
      assert.equal(await store.length(), 90_000);
      console.log(
        `  100 000 rows (90 000 live): ids() ${idsMs.toFixed(0)} ms, entries() ${entriesMs.toFixed(0)} ms, ` +
          `largest page ${stats.maxRows} rows, heap growth during ids() ${((peakHeap - heapBefore) / 1e6).toFixed(1)} MB`,
      );
    });

    it("clear empties this store's table and no other", async () => {
      const { store, table } = freshStore();
      const { store: neighbour } = freshStore();
      for (let i = 0; i < 5; i += 1) await store.set(`s${i}`, record(), 60_000);
      await neighbour.set("n", record(), 60_000);
      await store.clear();
      assert.equal(await store.length(), 0);
      assert.equal(await rowCount(table), 0);
      assert.ok(await neighbour.get("n"));
    });

    it("close() leaves the app's pool open", async () => {
      const { store } = freshStore();
      await store.set("id", record(), 60_000);
      await store.close();
      const { rows } = await pool.query("SELECT 1 AS one");
      assert.deepEqual(rows, [{ one: 1 }]);
    });
  });

  describe("errors and timeouts", () => {
    it("an unreachable server is ERR_STORE_UNAVAILABLE, quickly", async () => {
      // A port nothing listens on: the connection is refused at once.
      const deadPool = testPool("postgres://postgres@127.0.0.1:1/test");
      try {
        const store = new PostgresStore({ pool: deadPool, pruneIntervalMs: 0 });
        const started = performance.now();
        const error = await rejectsWith(store.get("secret-id"), "ERR_STORE_UNAVAILABLE");
        assert.ok(performance.now() - started < 2_000);
        assert.equal(error.status, 503);
        assert.doesNotMatch(error.message, /secret-id/);
        await rejectsWith(store.set("secret-id", record(), 60_000), "ERR_STORE_UNAVAILABLE");
        await rejectsWith(collect(store.ids()), "ERR_STORE_UNAVAILABLE");
      } finally {
        await deadPool.end();
      }
    });

    it("queryTimeoutMs bounds a call stuck on a lock; the pool stays usable", async () => {
      const { store, table } = freshStore({ queryTimeoutMs: 300 });
      await store.set("locked", record({ a: 0 }), 60_000);
      const holder = await pool.connect();
      try {
        await holder.query("BEGIN");
        await holder.query(`SELECT 1 FROM "${table}" WHERE id = 'locked' FOR UPDATE`);
        const started = performance.now();
        const error = await rejectsWith(
          store.patch("locked", { set: { a: 1 }, unset: [] }, 60_000),
          "ERR_STORE_UNAVAILABLE",
        );
        const tookMs = performance.now() - started;
        assert.match(error.message, /queryTimeoutMs/);
        assert.match(error.message, /within 300 ms/);
        // Not before the 300 ms, and well before the 5 s default (the message names the option):
        // the upper margin is for a loaded machine.
        assert.ok(tookMs >= 290 && tookMs < 3_000, `took ${tookMs.toFixed(0)} ms`);
        // Other sessions are served meanwhile: the stuck connection was not handed back.
        await store.set("other", record(), 60_000);
        assert.ok(await store.get("other"));
      } finally {
        await holder.query("ROLLBACK");
        holder.release();
      }
    });

    it("with statement_timeout on the pool, the server abandons the statement too", async () => {
      const timedPool = testPool(DATABASE_URL, { max: 2, statement_timeout: 200 });
      const { store, table } = freshStore({ pool: timedPool, queryTimeoutMs: 2_000 });
      const holder = await pool.connect();
      try {
        await store.set("locked", record({ a: 0 }), 60_000);
        await holder.query("BEGIN");
        await holder.query(`SELECT 1 FROM "${table}" WHERE id = 'locked' FOR UPDATE`);
        await rejectsWith(
          store.patch("locked", { set: { a: 1 }, unset: [] }, 60_000),
          "ERR_STORE_UNAVAILABLE",
        );
        await holder.query("COMMIT");
        // The lock is gone; the abandoned patch must not land late.
        await sleep(100);
        assert.equal((await store.get("locked"))?.a, 0);
      } finally {
        holder.release();
        await store.close();
        await timedPool.end();
      }
    });
  });

  describe("through Express", () => {
    // connect-redis #328: a slow request that loaded the session before the user logged out
    // elsewhere wrote it back when it finished, and the user was logged in again.
    it("a request that loaded the session before a logout does not bring it back", async () => {
      const { store, table } = freshStore();
      let entered: () => void = () => {};
      let release: () => void = () => {};
      const app = express();
      app.use(
        tessera({
          secret: "a secret of at least thirty-two characters",
          store,
          resave: false,
          saveUninitialized: false,
        }),
      );
      app.post("/login", (req, res) => {
        Object.assign(req.session, { user: "ada", cart: [] });
        res.send("ok");
      });
      app.post("/slow-cart", async (req, res) => {
        Object.assign(req.session, { cart: ["apple"] });
        const gate = new Promise<void>((resolve) => {
          release = resolve;
        });
        entered();
        await gate;
        res.send("ok");
      });
      app.post("/logout", async (req, res) => {
        await req.session.destroy();
        res.send("bye");
      });
      app.get("/me", (req, res) => {
        res.json((req.session as unknown as Record<string, unknown>).user ?? null);
      });

      const login = await request(app).post("/login").expect(200);
      const cookie = String(login.headers["set-cookie"]?.[0]).split(";")[0] ?? "";
      const inHandler = new Promise<void>((resolve) => {
        entered = resolve;
      });
      const slow = request(app)
        .post("/slow-cart")
        .set("Cookie", cookie)
        .then((r) => r);
      await inHandler;
      await request(app).post("/logout").set("Cookie", cookie).expect(200, "bye");
      release();
      const late = await slow;
      assert.equal(late.status, 200);
      assert.match(String(late.headers["set-cookie"]?.[0]), /Expires=Thu, 01 Jan 1970/);
      assert.equal(await rowCount(table), 0, "the slow request wrote the session back");
      assert.equal((await request(app).get("/me").set("Cookie", cookie).expect(200)).body, null);
    });
  });

  describe("migration from connect-pg-simple", () => {
    interface LegacyStore {
      set(sid: string, sess: unknown, cb: (error?: Error) => void): void;
      get(sid: string, cb: (error: Error | null, sess?: unknown) => void): void;
      close(): Promise<void>;
    }
    const require = createRequire(import.meta.url);
    const connectPgSimple = require("connect-pg-simple") as (
      s: typeof session,
    ) => new (
      options: Record<string, unknown>,
    ) => LegacyStore & InstanceType<typeof session.Store>;

    it("copies sessions connect-pg-simple v10 wrote; PostgresStore then serves them", async () => {
      const legacyTable = uniqueName("tessera_cps");
      tables.push(legacyTable);
      await createPgSimpleTable(pool, legacyTable);
      const PGStore = connectPgSimple(session);
      const legacy = new PGStore({
        pool,
        tableName: legacyTable,
        createTableIfMissing: true,
        pruneSessionInterval: false,
      });
      const legacyGet = (sid: string) =>
        new Promise<unknown>((resolve, reject) =>
          legacy.get(sid, (error, sess) => (error ? reject(error) : resolve(sess))),
        );
      const legacySet = (sid: string, sess: unknown) =>
        new Promise<void>((resolve, reject) =>
          legacy.set(sid, sess, (error) => (error ? reject(error) : resolve())),
        );

      // Sessions made the real way: express-session with connect-pg-simple behind an app.
      const app = express();
      app.use(
        session({
          secret: "migration-test-secret",
          store: legacy,
          resave: false,
          saveUninitialized: false,
          cookie: { maxAge: 3_600_000 },
        }),
      );
      app.get("/login/:name", (req, res) => {
        (req.session as unknown as Record<string, unknown>).user = {
          name: req.params.name,
          roles: ["reader"],
          greeting: "héllo 😀",
        };
        res.send("ok");
      });
      const sids: string[] = [];
      const cookies: string[] = [];
      for (const name of ["ada", "grace", "linus"]) {
        const response = await request(app).get(`/login/${name}`).expect(200);
        const cookie = String(response.headers["set-cookie"]?.[0]).split(";")[0] ?? "";
        const signed = decodeURIComponent(cookie.split("=")[1] ?? "");
        sids.push(signed.slice(2, signed.lastIndexOf(".")));
        cookies.push(cookie);
      }
      // One written by Tessera through connect-pg-simple (it carries __tessera.user), one
      // expired, one with a \u0000 that jsonb refuses.
      const soon = new Date(Date.now() + 3_600_000).toISOString();
      await legacySet("tessera-made", {
        cookie: { originalMaxAge: 3_600_000, expires: soon, httpOnly: true, path: "/" },
        __tessera: { createdAt: Date.now(), user: "user-7" },
      });
      await legacySet("expired", {
        cookie: { originalMaxAge: 1000, expires: new Date(Date.now() - 60_000).toISOString() },
      });
      await legacySet("nul", {
        cookie: { originalMaxAge: 3_600_000, expires: soon },
        s: "a\u0000b",
      });

      const { store, table } = freshStore();
      await store.length();
      const migration = docSql("migration-sql")
        .replaceAll('"tessera_sessions"', `"${table}"`)
        .replaceAll('"session"', `"${legacyTable}"`);
      // The \u0000 row stops the copy, as the docs warn; their filter skips it.
      await assert.rejects(sql(migration), { code: "22P05" });
      const filtered = migration.replace(
        "WHERE ",
        String.raw`WHERE sess::text NOT LIKE '%\\u0000%' AND `,
      );
      await sql(filtered);
      await sql(filtered); // again: harmless

      for (const sid of [...sids, "tessera-made"]) {
        assert.deepEqual(await store.get(sid), await legacyGet(sid), sid);
      }
      assert.equal(await store.get("expired"), undefined);
      assert.equal(await store.get("nul"), undefined);
      assert.equal(await rowCount(table), 4, "the expired and the \\u0000 rows stay behind");
      assert.equal(await store.length(), 4);
      assert.deepEqual(await store.idsForUser("user-7"), ["tessera-made"]);
      // The expiry carried over (connect-pg-simple keeps whole seconds).
      const { rows } = await sql(
        `SELECT abs(extract(epoch FROM t.expires_at - (c.sess->'cookie'->>'expires')::timestamptz)) AS drift
         FROM "${table}" t JOIN "${legacyTable}" c ON c.sid = t.id`,
      );
      for (const row of rows) assert.ok(Number(row.drift) <= 1, `expiry drifted ${row.drift} s`);
      // And the migrated sessions behave like any other.
      const first = sids[0] ?? "";
      assert.equal(await store.patch(first, { set: { migrated: true }, unset: [] }, 60_000), true);
      assert.equal((await store.get(first))?.migrated, true);

      // Nobody is logged out: the browser's express-session cookie opens the same session in
      // an app now running Tessera on the copied table.
      const switched = express();
      switched.use(
        tessera({
          secret: "migration-test-secret",
          store,
          resave: false,
          saveUninitialized: false,
        }),
      );
      switched.get("/me", (req, res) => {
        res.json((req.session as unknown as Record<string, unknown>).user ?? null);
      });
      for (const [i, name] of ["ada", "grace", "linus"].entries()) {
        const response = await request(switched)
          .get("/me")
          .set("Cookie", cookies[i] ?? "")
          .expect(200);
        assert.deepEqual(response.body, { name, roles: ["reader"], greeting: "héllo 😀" });
      }
      await legacy.close();
    });
  });
});
