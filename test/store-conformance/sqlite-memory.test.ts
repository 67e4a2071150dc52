// SqliteStore on ":memory:" against the Store contract's conformance suite.
import { fileURLToPath } from "node:url";
import Database from "better-sqlite3";
import { testStore } from "../../src/store-conformance/index.js";
import { SqliteStore } from "../../src/stores/sqlite.js";

const CHILD = fileURLToPath(new URL("../fixtures/stores/sqlite-child.ts", import.meta.url));

testStore("SqliteStore on :memory:", () => new SqliteStore({ path: ":memory:" }), {
  iterationCount: 100_000,
  closeScript: CHILD,
  closeScriptArgs: [":memory:", "close"],
  // The app closed the database under the store: every call must fail, and cleanly.
  failingFactory: () => {
    const db = new Database(":memory:");
    const store = new SqliteStore({ database: db });
    db.close();
    return store;
  },
});
