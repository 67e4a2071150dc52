// SqliteStore on a database file against the Store contract's conformance suite, the way apps
// use it (sqlite-memory.test.ts runs it on ":memory:").
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after } from "node:test";
import { fileURLToPath } from "node:url";
import Database from "better-sqlite3";
import { testStore } from "../../src/store-conformance/index.js";
import { SqliteStore } from "../../src/stores/sqlite.js";

const CHILD = fileURLToPath(new URL("../fixtures/stores/sqlite-child.ts", import.meta.url));
const dir = mkdtempSync(join(tmpdir(), "tessera-sqlite-conformance-"));
after(() => rmSync(dir, { recursive: true, force: true }));

let files = 0;
const fileOf = new WeakMap<SqliteStore, string>();

/** The app closed the database under the store: every call must fail, and cleanly. */
function closedUnderTheStore(): SqliteStore {
  const db = new Database(":memory:");
  const store = new SqliteStore({ database: db });
  db.close();
  return store;
}

testStore(
  "SqliteStore on a file",
  () => {
    const file = join(dir, `sessions-${++files}.db`);
    const store = new SqliteStore({ path: file });
    fileOf.set(store, file);
    return store;
  },
  {
    iterationCount: 100_000,
    closeScript: CHILD,
    closeScriptArgs: [join(dir, "close.db"), "close"],
    failingFactory: closedUnderTheStore,
    dispose: async (store) => {
      await store.close();
      const file = fileOf.get(store);
      for (const suffix of ["", "-wal", "-shm"]) rmSync(`${file}${suffix}`, { force: true });
    },
  },
);
