import assert from "node:assert/strict";
import { type ChildProcessWithoutNullStreams, spawn } from "node:child_process";
import { once } from "node:events";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import Database from "better-sqlite3";
import { isTesseraError, type TesseraError } from "../../src/core/errors.js";
import type { SessionRecord } from "../../src/store/types.js";
import { runScript } from "../../src/store-conformance/child.js";
import { pollUntil } from "../../src/store-conformance/waiting.js";
import { SqliteStore } from "../../src/stores/sqlite.js";
import { describeSyncStore } from "../helpers/sync-store.js";

const CHILD = fileURLToPath(new URL("../fixtures/stores/sqlite-child.ts", import.meta.url));
const LAZY = fileURLToPath(new URL("../fixtures/stores/sqlite-lazy.ts", import.meta.url));
const TABLE = "tessera_sessions";
const HOUR_MS = 3_600_000;

const dir = mkdtempSync(join(tmpdir(), "tessera-sqlite-"));
after(() => rmSync(dir, { recursive: true, force: true }));

let files = 0;
/** A database file of its own for one store, in the temporary folder. */
function newFile(): string {
  files++;
  return join(dir, `sessions-${files}.db`);
}

function removeFile(file: string): void {
  for (const suffix of ["", "-wal", "-shm", ".go"]) rmSync(`${file}${suffix}`, { force: true });
}

function record(data: Record<string, unknown> = {}, user?: string): SessionRecord {
  return {
    cookie: { originalMaxAge: HOUR_MS, httpOnly: true, path: "/" },
    ...data,
    ...(user === undefined ? {} : { __tessera: { createdAt: 1, user } }),
  };
}

/** Rows in the table, expired ones included: what only pruning removes. */
function rowCount(db: Database.Database, table = TABLE): number {
  return db.prepare(`SELECT count(*) FROM "${table}"`).pluck().get() as number;
}

/** Whether `error` is a TesseraError of `code` whose message and stack name none of `secrets`. */
function failsCleanly(code: TesseraError["code"], ...secrets: string[]) {
  return (error: unknown): boolean => {
    assert.ok(isTesseraError(error, code), `expected ${code}, got ${String(error)}`);
    for (const secret of secrets) {
      assert.ok(!error.message.includes(secret), "the error message names the session");
      assert.ok(!String(error.stack).includes(secret), "the error stack names the session");
    }
    return true;
  };
}

/** Starts the child script; its stdout is read line by line with {@link nextLine}. */
function startChild(args: string[]): ChildProcessWithoutNullStreams {
  return spawn(process.execPath, ["--import", "tsx", CHILD, ...args], {
    stdio: ["pipe", "pipe", "pipe"],
  });
}

/**
 * Resolves the first complete stdout line of `child` starting with `prefix`; fails when the child
 * exits first or after `ms`, with what it wrote to stderr.
 */
function nextLine(
  child: ChildProcessWithoutNullStreams,
  prefix: string,
  ms = 15_000,
): Promise<string> {
  return new Promise((resolve, reject) => {
    let buffered = "";
    let stderr = "";
    const onStderr = (chunk: string) => {
      stderr += chunk;
    };
    const onStdout = (chunk: string) => {
      buffered += chunk;
      // The last piece has no "\n" yet: it may be a line still being written.
      const line = buffered
        .split("\n")
        .slice(0, -1)
        .find((candidate) => candidate.startsWith(prefix));
      if (line === undefined) return;
      stop();
      resolve(line.slice(prefix.length));
    };
    const fail = (why: string) => () => {
      stop();
      reject(new Error(`the child printed no "${prefix}" line: ${why}\n${stderr}`));
    };
    const onExit = fail("it exited first");
    const timer = setTimeout(fail(`none within ${ms} ms`), ms);
    function stop() {
      clearTimeout(timer);
      child.stdout.off("data", onStdout);
      child.stderr.off("data", onStderr);
      child.off("exit", onExit);
    }
    child.stdout.setEncoding("utf8").on("data", onStdout);
    child.stderr.setEncoding("utf8").on("data", onStderr);
    child.once("exit", onExit);
  });
}

/** Runs the child script to its end and resolves the line starting with `prefix`. */
async function runChild(args: string[], prefix: string): Promise<string> {
  const outcome = await runScript(CHILD, args, 20_000);
  assert.equal(outcome.code, 0, `the child failed:\n${outcome.stderr}`);
  const line = outcome.stdout.split("\n").find((candidate) => candidate.startsWith(prefix));
  assert.ok(line !== undefined, `the child printed no "${prefix}" line:\n${outcome.stdout}`);
  return line.slice(prefix.length);
}

describe("SqliteStore", () => {
  describe("options", () => {
    it("needs exactly one of path and database", () => {
      const db = new Database(":memory:");
      try {
        assert.throws(() => new SqliteStore({} as never), failsCleanly("ERR_OPTION"));
        assert.throws(
          () => new SqliteStore({ path: ":memory:", database: db } as never),
          failsCleanly("ERR_OPTION"),
        );
      } finally {
        db.close();
      }
    });

    it("refuses a tableName that is not a plain identifier, before touching the database", () => {
      const db = new Database(":memory:");
      try {
        for (const tableName of ["", "1st", "a-b", "a b", 'x"; DROP TABLE y; --', "sch.tab"]) {
          assert.throws(
            () => new SqliteStore({ database: db, tableName }),
            failsCleanly("ERR_OPTION"),
            `accepted ${JSON.stringify(tableName)}`,
          );
        }
        assert.deepEqual(db.prepare("SELECT name FROM sqlite_master").pluck().all(), []);
      } finally {
        db.close();
      }
    });

    it("refuses bad durations and page sizes", () => {
      for (const options of [
        { busyTimeoutMs: -1 },
        { pruneIntervalMs: Number.NaN },
        { pruneIntervalMs: 2 ** 31 },
        { pageSize: 0 },
        { pageSize: 1.5 },
      ]) {
        assert.throws(
          () => new SqliteStore({ path: ":memory:", ...options }),
          failsCleanly("ERR_OPTION"),
          JSON.stringify(options),
        );
      }
    });

    it("refuses a table of that name that is not a sessions table", () => {
      const db = new Database(":memory:");
      try {
        db.exec(`CREATE TABLE ${TABLE} (name TEXT)`);
        assert.throws(() => new SqliteStore({ database: db }), failsCleanly("ERR_OPTION"));
      } finally {
        db.close();
      }
    });

    it("says how to fix a path it cannot open", () => {
      assert.throws(
        () => new SqliteStore({ path: join(dir, "no-such-folder", "sessions.db") }),
        (error: unknown) =>
          failsCleanly("ERR_OPTION")(error) && /folder exists/.test((error as Error).message),
      );
    });
  });

  describe("the database it opens", () => {
    it("is in WAL mode, with an index on expires_at and one on the user", async () => {
      const file = newFile();
      const store = new SqliteStore({ path: file });
      const db = new Database(file, { readonly: true });
      try {
        assert.equal(db.pragma("journal_mode", { simple: true }), "wal");
        const plan = (sql: string) =>
          (db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(1, 2) as { detail: string }[])
            .map((row) => row.detail)
            .join("; ");
        assert.match(
          plan(`SELECT id FROM ${TABLE} WHERE user_key = ? AND expires_at > ?`),
          /tessera_sessions_user_idx/,
        );
        assert.match(
          plan(`SELECT rowid FROM ${TABLE} WHERE expires_at <= ? LIMIT ?`),
          /tessera_sessions_expires_idx/,
        );
      } finally {
        db.close();
        await store.close();
        removeFile(file);
      }
    });

    it("keeps its sessions when it is closed and opened again", async () => {
      const file = newFile();
      const first = new SqliteStore({ path: file });
      await first.set("kept", record({ n: 1 }, "user-1"), HOUR_MS);
      await first.set("gone", record({ n: 2 }), HOUR_MS);
      await first.destroy("gone");
      await first.close();
      const again = new SqliteStore({ path: file });
      try {
        assert.deepEqual(await again.get("kept"), record({ n: 1 }, "user-1"));
        assert.equal(await again.get("gone"), undefined);
        assert.deepEqual(await again.idsForUser("user-1"), ["kept"]);
      } finally {
        await again.close();
        removeFile(file);
      }
    });

    it("keeps a session whose write was answered when the process is killed right then", async () => {
      const file = newFile();
      const writer = startChild([file, "write", "crash-id"]);
      try {
        const written = await nextLine(writer, "ANSWERED ");
        writer.kill("SIGKILL");
        const [code, signal] = (await once(writer, "exit")) as [number | null, string | null];
        assert.equal(signal, "SIGKILL", `the writer exited with ${code} before it was killed`);
        // The commit is still only in the log: the restart below has to recover it from there.
        assert.ok(existsSync(`${file}-wal`), "the killed writer left no -wal file");
        const read = await runChild([file, "read", "crash-id"], "RECORD ");
        assert.deepEqual(JSON.parse(read), JSON.parse(written));
      } finally {
        writer.kill("SIGKILL");
        removeFile(file);
      }
    });

    it("applies patches from two processes on one file without losing any", async () => {
      const file = newFile();
      const store = new SqliteStore({ path: file });
      try {
        await store.set("shared", record({ base: true }, "user-1"), HOUR_MS);
        const count = 50;
        const writers = ["a", "b"].map((prefix) =>
          runChild([file, "patch", "shared", prefix, String(count)], "PATCHED "),
        );
        // Both children are up and waiting before either patches: they start together.
        await sleep(1500);
        writeFileSync(`${file}.go`, "");
        assert.deepEqual(await Promise.all(writers), [String(count), String(count)]);
        const got = await store.get("shared");
        assert.ok(got);
        const lost = ["a", "b"]
          .flatMap((prefix) => Array.from({ length: count }, (_, i) => [`${prefix}${i}`, i]))
          .filter(([key, i]) => got[key as string] !== i)
          .map(([key]) => key);
        assert.deepEqual(lost, [], "a patch from one process overwrote the other's");
        assert.equal(got.base, true);
        assert.deepEqual(await store.idsForUser("user-1"), ["shared"]);
      } finally {
        await store.close();
        removeFile(file);
      }
    });

    it("fails with ERR_STORE_UNAVAILABLE, naming no session, when another process holds the write lock past busyTimeoutMs", async () => {
      const file = newFile();
      const store = new SqliteStore({ path: file, busyTimeoutMs: 100 });
      const other = new Database(file);
      try {
        await store.set("before", record({ n: 1 }), HOUR_MS);
        other.exec("BEGIN IMMEDIATE");
        const id = "secret-session-id-7f3a";
        const started = Date.now();
        await assert.rejects(
          async () => store.set(id, record({ n: 2 }), HOUR_MS),
          failsCleanly("ERR_STORE_UNAVAILABLE", id),
        );
        await assert.rejects(
          async () => store.patch("before", { set: { n: 3 }, unset: [] }, HOUR_MS),
          failsCleanly("ERR_STORE_UNAVAILABLE", "before"),
        );
        assert.ok(Date.now() - started >= 180, "the store did not wait busyTimeoutMs for the lock");
        // WAL mode: readers are never blocked by the writer.
        assert.equal((await store.get("before"))?.n, 1);
        other.exec("ROLLBACK");
        await store.set(id, record({ n: 2 }), HOUR_MS);
        assert.equal((await store.get(id))?.n, 2);
      } finally {
        other.close();
        await store.close();
        removeFile(file);
      }
    });
  });

  describe("with the app's database", () => {
    it("uses it, under the tableName given, and leaves it open on close()", async () => {
      const db = new Database(":memory:");
      try {
        const store = new SqliteStore({ database: db, tableName: "web_sessions" });
        await store.set("s1", record({ n: 1 }), HOUR_MS);
        assert.equal(rowCount(db, "web_sessions"), 1);
        await store.close();
        assert.equal(db.open, true, "close() closed the app's database");
        assert.equal(rowCount(db, "web_sessions"), 1);
        await assert.rejects(async () => store.get("s1"), failsCleanly("ERR_STORE", "s1"));
      } finally {
        db.close();
      }
    });

    it("does not change the app's journal mode", async () => {
      const file = newFile();
      const db = new Database(file);
      try {
        const store = new SqliteStore({ database: db });
        assert.equal(db.pragma("journal_mode", { simple: true }), "delete");
        await store.close();
      } finally {
        db.close();
        removeFile(file);
      }
    });

    it("rejects a database that is not an open better-sqlite3 database", () => {
      const db = new Database(":memory:");
      db.close();
      assert.throws(() => new SqliteStore({ database: db }), failsCleanly("ERR_OPTION"));
      assert.throws(
        () => new SqliteStore({ database: {} as Database.Database }),
        failsCleanly("ERR_OPTION"),
      );
    });
  });

  describe("expired rows", () => {
    it("stay in the table, never returned, until prune() deletes them and counts them", async () => {
      const db = new Database(":memory:");
      const store = new SqliteStore({ database: db, pruneIntervalMs: 0 });
      try {
        const doomed = Array.from({ length: 2500 }, (_, i) => `doomed-${i}`);
        for (const id of doomed) await store.set(id, record({}, "user-1"), 1);
        await store.set("live", record({}, "user-1"), HOUR_MS);
        await sleep(5);
        assert.equal(rowCount(db), 2501);
        assert.equal(await store.get("doomed-0"), undefined);
        assert.equal(await store.length(), 1);
        assert.deepEqual(await store.idsForUser("user-1"), ["live"]);
        // More than one batch of expired rows: prune() must go on until none is left.
        assert.equal(await store.prune(), 2500);
        assert.equal(rowCount(db), 1);
        assert.equal(await store.prune(), 0);
        assert.ok(await store.get("live"));
      } finally {
        await store.close();
        db.close();
      }
    });

    it("are deleted by the prune timer", async () => {
      const db = new Database(":memory:");
      const store = new SqliteStore({ database: db, pruneIntervalMs: 20 });
      try {
        for (let i = 0; i < 5; i++) await store.set(`s${i}`, record(), 50);
        await store.set("live", record(), HOUR_MS);
        const pruned = await pollUntil(async () => rowCount(db) === 1, Date.now() + 3000);
        assert.ok(pruned, "the prune timer left expired rows");
        assert.ok(await store.get("live"));
      } finally {
        await store.close();
        db.close();
      }
    });

    it("stay when pruneIntervalMs is 0", async () => {
      const db = new Database(":memory:");
      const store = new SqliteStore({ database: db, pruneIntervalMs: 0 });
      try {
        await store.set("s1", record(), 20);
        await sleep(200);
        assert.equal(rowCount(db), 1);
      } finally {
        await store.close();
        db.close();
      }
    });

    it("a failing background prune reports to onPruneError without naming a session", async () => {
      const db = new Database(":memory:");
      const errors: unknown[] = [];
      const store = new SqliteStore({
        database: db,
        pruneIntervalMs: 10,
        onPruneError: (error) => errors.push(error),
      });
      try {
        await store.set("secret-id-in-table", record(), HOUR_MS);
        db.exec(`DROP TABLE ${TABLE}`);
        assert.ok(await pollUntil(async () => errors.length > 0, Date.now() + 3000));
        failsCleanly("ERR_STORE", "secret-id-in-table")(errors[0]);
      } finally {
        await store.close();
        db.close();
      }
    });
  });

  describe("listing", () => {
    it("ids() and entries() read the table a page at a time, never all at once", async () => {
      const store = new SqliteStore({ path: ":memory:", pageSize: 10 });
      try {
        for (let i = 0; i < 25; i++) {
          await store.set(`a${String(i).padStart(2, "0")}`, record({ i }), HOUR_MS);
        }
        // Written once the first page was read: only a loop that reads later pages later sees it.
        const listed: string[] = [];
        for await (const id of store.ids()) {
          if (listed.push(id) === 1) await store.set("z-late", record(), HOUR_MS);
        }
        assert.equal(listed.length, 26);
        assert.equal(listed.at(-1), "z-late");
        const entries: string[] = [];
        for await (const [id] of store.entries()) {
          if (entries.push(id) === 1) await store.set("zz-later", record(), HOUR_MS);
        }
        assert.deepEqual(entries.slice(-2), ["z-late", "zz-later"]);
      } finally {
        await store.close();
      }
    });
  });

  describe("session data", () => {
    it("refuses what JSON cannot hold with ERR_SESSION_DATA, leaving the stored record as it was", async () => {
      const store = new SqliteStore({ path: ":memory:" });
      try {
        await assert.rejects(
          async () => store.set("s1", record({ big: 1n }), HOUR_MS),
          failsCleanly("ERR_SESSION_DATA", "s1"),
        );
        assert.equal(await store.get("s1"), undefined);
        await store.set("s1", record({ n: 1 }), HOUR_MS);
        await assert.rejects(
          async () => store.patch("s1", { set: { n: 2, big: 1n }, unset: [] }, HOUR_MS),
          failsCleanly("ERR_SESSION_DATA", "s1"),
        );
        assert.deepEqual(await store.get("s1"), record({ n: 1 }));
      } finally {
        await store.close();
      }
    });

    it("a row that is not JSON fails with ERR_STORE, quoting neither the row nor the id", async () => {
      const db = new Database(":memory:");
      const store = new SqliteStore({ database: db, pruneIntervalMs: 0 });
      try {
        await store.set("corrupt-id", record(), HOUR_MS);
        db.prepare(`UPDATE ${TABLE} SET data = ?`).run('{"secret-fragment":');
        const clean = failsCleanly("ERR_STORE", "corrupt-id", "secret-fragment");
        await assert.rejects(async () => store.get("corrupt-id"), clean);
        await assert.rejects(
          async () => store.patch("corrupt-id", { set: { n: 1 }, unset: [] }, HOUR_MS),
          clean,
        );
        await assert.rejects(async () => {
          for await (const _ of store.entries());
        }, clean);
        assert.equal(rowCount(db), 1, "the failed patch changed the row");
      } finally {
        await store.close();
        db.close();
      }
    });

    it("touch writes the cookie and __tessera, keeps every other key's text, and re-files the user", async () => {
      const store = new SqliteStore({ path: ":memory:" });
      try {
        const data = { precise: 0.30000000000000004, huge: 1e21, text: 'a\u2028b😀"\\' };
        await store.set("s1", record(data, "alice"), HOUR_MS);
        const touched: SessionRecord = {
          cookie: { originalMaxAge: HOUR_MS, expires: "2030-01-01T00:00:00.000Z", path: "/" },
          __tessera: { createdAt: 1, seenAt: 2, user: "bob" },
          precise: "ignored",
        };
        await store.touch("s1", touched, HOUR_MS);
        assert.deepEqual(await store.get("s1"), {
          ...data,
          cookie: touched.cookie,
          __tessera: touched.__tessera,
        });
        assert.deepEqual(await store.idsForUser("alice"), []);
        assert.deepEqual(await store.idsForUser("bob"), ["s1"]);
      } finally {
        await store.close();
      }
    });
  });

  it("loads better-sqlite3 only when it opens a file itself", async () => {
    const outcome = await runScript(LAZY, [], 20_000);
    assert.equal(outcome.code, 0, outcome.stderr);
  });
});

describe("SqliteStore through the middleware", () => {
  describeSyncStore({
    make: () => new SqliteStore({ path: ":memory:", pruneIntervalMs: 0 }),
    breakStore: (store) => {
      void store.close();
    },
  });
});
