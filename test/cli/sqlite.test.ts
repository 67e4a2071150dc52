// The CLI against a SQLite file written by SqliteStore, plus the command-line behaviours that do
// not depend on the store: help, usage errors, the DATA_DIR fallback.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { generateId } from "../../src/core/id.js";
import { SqliteStore } from "../../src/stores/sqlite.js";
import { assertOk, assertOneLineError, cliScenario, seed, tessera } from "./helpers.js";

const dir = mkdtempSync(join(tmpdir(), "tessera-cli-"));
const path = join(dir, "sessions.db");
let store: SqliteStore | undefined;

cliScenario(
  "SQLite",
  async () => {
    store = new SqliteStore({ path, pruneIntervalMs: 0 });
    return { store, args: ["--store", `sqlite:${path}`], prunes: true };
  },
  async () => {
    await store?.close();
  },
);

describe("tessera › command line", () => {
  it("--help works for the program and for every command, on stdout with exit code 0", async () => {
    const main = await tessera(["--help"]);
    assertOk(main);
    assert.match(main.stdout, /^Usage: tessera <command>/);
    for (const command of ["list", "show", "revoke", "revoke-user", "prune", "stats"]) {
      assert.match(main.stdout, new RegExp(`sessions ${command}\\b`));
    }
    const one = await tessera(["sessions", "revoke-user", "--help"]);
    assertOk(one);
    assert.match(one.stdout, /^Usage: tessera sessions revoke-user <key>/);
    assert.match(one.stdout, /--store <url>/);
  });

  it("refuses a URL that names no store, without repeating it (it may hold a password)", async () => {
    const result = await tessera(["sessions", "list", "--store", "mysql://root:hunter2@db/app"]);
    assertOneLineError(result, 2, /"mysql:" is not a store/);
    assert.ok(!result.stderr.includes("hunter2"));
  });

  it("refuses an unknown option and a missing argument with exit code 2", async () => {
    assertOneLineError(
      await tessera(["sessions", "list", "--colour"]),
      2,
      /unknown option --colour/,
    );
    assertOneLineError(
      await tessera(["sessions", "show", "--store", `sqlite:${path}`]),
      2,
      /sessions show needs <id>/,
    );
  });

  it('takes an id that starts with "-" as the id, not as an option', async () => {
    const own = new SqliteStore({ path, pruneIntervalMs: 0 });
    const id = `-${generateId().slice(1)}`;
    try {
      await own.set(id, { cookie: { originalMaxAge: null } }, 60_000);
      const result = await tessera([
        "sessions",
        "revoke",
        id.slice(0, 10),
        "--store",
        `sqlite:${path}`,
      ]);
      assertOk(result);
      assert.equal(await own.get(id), undefined);
    } finally {
      await own.close();
    }
  });

  it("says when the SQLite file is missing instead of creating an empty one", async () => {
    const missing = join(dir, "nothing-here.db");
    assertOneLineError(
      await tessera(["sessions", "list", "--store", `sqlite:${missing}`]),
      1,
      /no SQLite database at .*nothing-here\.db/,
    );
  });

  it("falls back to $DATA_DIR/sessions.db, as the demo app keeps it", async () => {
    const dataDir = mkdtempSync(join(tmpdir(), "tessera-cli-data-"));
    const own = new SqliteStore({ path: join(dataDir, "sessions.db"), pruneIntervalMs: 0 });
    try {
      await seed(own);
      const result = await tessera(["sessions", "stats", "--json"], { DATA_DIR: dataDir });
      assertOk(result);
      assert.equal((JSON.parse(result.stdout) as { sessions: number }).sessions, 4);
    } finally {
      await own.close();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});

process.on("exit", () => rmSync(dir, { recursive: true, force: true }));
