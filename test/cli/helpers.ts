// Runs the `tessera` CLI as a child process, as a user would, and seeds a store with sessions
// written through the Store API, so the CLI tests read what an app really wrote.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { generateId } from "../../src/core/id.js";
import type { SessionRecord, Store } from "../../src/store/types.js";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const MAIN = fileURLToPath(new URL("../../src/cli/main.ts", import.meta.url));

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs `tessera <args>` in a child process. The parent's REDIS_URL, DATABASE_URL and DATA_DIR
 * are not passed on (they would choose a store), only what `env` gives.
 */
export function tessera(
  args: readonly string[],
  env: Readonly<Record<string, string>> = {},
): Promise<CliResult> {
  const base = { ...process.env };
  delete base.REDIS_URL;
  delete base.DATABASE_URL;
  delete base.DATA_DIR;
  delete base.TESSERA_DEBUG;
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      ["--import", "tsx", MAIN, ...args],
      { cwd: ROOT, env: { ...base, ...env }, timeout: 30_000 },
      (error, stdout, stderr) => {
        if (error !== null && typeof error.code !== "number") {
          reject(error);
          return;
        }
        resolve({ code: typeof error?.code === "number" ? error.code : 0, stdout, stderr });
      },
    );
  });
}

/** Asserts a failure printed as exactly one `tessera:` line, with no stack trace. */
export function assertOneLineError(result: CliResult, code: number, pattern: RegExp): void {
  assert.equal(result.code, code, `exit code; stderr: ${result.stderr}`);
  assert.equal(result.stdout, "");
  const lines = result.stderr.trimEnd().split("\n");
  assert.equal(lines.length, 1, `one line, got: ${result.stderr}`);
  assert.match(lines[0] as string, /^tessera: /);
  assert.match(lines[0] as string, pattern);
  assert.doesNotMatch(result.stderr, /\n\s+at /);
}

/** Asserts a success: exit code 0 and nothing on stderr (no progress bar off a terminal). */
export function assertOk(result: CliResult): void {
  assert.equal(result.stderr, "", `stderr: ${result.stderr}`);
  assert.equal(result.code, 0, `exit code; stdout: ${result.stdout}`);
}

const HOUR_MS = 3_600_000;

function record(
  user: string | undefined,
  createdAgoMs: number,
  extra: Partial<NonNullable<SessionRecord["__tessera"]>> = {},
): SessionRecord {
  const now = Date.now();
  return {
    cookie: {
      originalMaxAge: HOUR_MS,
      expires: new Date(now + HOUR_MS).toISOString(),
      httpOnly: true,
      path: "/",
      sameSite: "lax",
    },
    __tessera: {
      createdAt: now - createdAgoMs,
      seenAt: now - 60_000,
      ...(user === undefined ? {} : { user }),
      ...extra,
    },
    cart: ["a secret-ish item"],
  };
}

/** The sessions every CLI scenario starts from: two of alice, one of bob, one anonymous. */
export interface Seeded {
  alice1: string;
  alice2: string;
  bob: string;
  anonymous: string;
}

export async function seed(store: Store): Promise<Seeded> {
  const seeded: Seeded = {
    alice1: generateId(),
    alice2: generateId(),
    bob: generateId(),
    anonymous: generateId(),
  };
  await store.set(
    seeded.alice1,
    record("alice", 1000, { ip: "203.0.113.7", userAgent: "Firefox\u001b[31m red" }),
    HOUR_MS,
  );
  await store.set(seeded.alice2, record("alice", 2 * HOUR_MS), HOUR_MS);
  await store.set(seeded.bob, record("bob", 3 * HOUR_MS), HOUR_MS);
  await store.set(seeded.anonymous, record(undefined, 30 * HOUR_MS), HOUR_MS);
  return seeded;
}

export interface ScenarioTarget {
  /** A store on the same place the CLI will open, for seeding and checking. */
  store: Store;
  /** The CLI arguments naming that place: `--store …` and `--prefix`/`--table`. */
  args: string[];
  /** True when the store keeps expired sessions until pruned (SQL stores). */
  prunes: boolean;
}

/**
 * The CLI scenario every store runs: list, show, stats, revoke, revoke-user and prune, each
 * through a child process, checked against the store itself.
 */
export function cliScenario(
  name: string,
  open: () => Promise<ScenarioTarget>,
  close: () => Promise<void>,
): void {
  describe(`tessera sessions › against ${name}`, () => {
    let target: ScenarioTarget;
    let ids: Seeded;
    const run = (...args: string[]) => tessera([...args, ...target.args]);

    before(async () => {
      target = await open();
      ids = await seed(target.store);
    });
    after(close);

    it("list --json --full-ids lists every session, newest first, with users and times", async () => {
      const result = await run("sessions", "list", "--json", "--full-ids");
      assertOk(result);
      const rows = JSON.parse(result.stdout) as { id: string; user: string | null; ip: unknown }[];
      assert.deepEqual(
        rows.map((row) => row.id),
        [ids.alice1, ids.alice2, ids.bob, ids.anonymous],
      );
      assert.deepEqual(
        rows.map((row) => row.user),
        ["alice", "alice", "bob", null],
      );
      assert.equal(rows[0]?.ip, "203.0.113.7");
    });

    it("list prints a table with shortened ids and escaped control characters", async () => {
      const result = await run("sessions", "list");
      assertOk(result);
      const lines = result.stdout.trimEnd().split("\n");
      assert.match(
        lines[0] as string,
        /^ID\s+USER\s+CREATED\s+LAST SEEN\s+EXPIRES\s+IP\s+USER AGENT$/,
      );
      assert.equal(lines.length, 6);
      assert.ok((lines[1] as string).startsWith(`${ids.alice1.slice(0, 8)}…  alice`), lines[1]);
      for (const id of Object.values(ids)) assert.ok(!result.stdout.includes(id), "no whole id");
      assert.ok(!result.stdout.includes("\u001b"), "no raw escape");
      assert.ok(result.stdout.includes("Firefox\\u001b[31m red"));
      assert.equal(lines.at(-1), "4 sessions.");
    });

    it("list --user takes one user's sessions, ids shortened in JSON too", async () => {
      const result = await run("sessions", "list", "--user", "alice", "--json");
      assertOk(result);
      const rows = JSON.parse(result.stdout) as { id: string }[];
      assert.deepEqual(
        rows.map((row) => row.id),
        [ids.alice1.slice(0, 8), ids.alice2.slice(0, 8)],
      );
    });

    it("show takes a shortened id and shows the session without its data", async () => {
      const result = await run("sessions", "show", `${ids.bob.slice(0, 8)}…`);
      assertOk(result);
      assert.match(result.stdout, /^User\s+bob$/m);
      assert.match(result.stdout, /^Data keys\s+cart$/m);
      assert.match(result.stdout, /^Cookie\s+HttpOnly; SameSite=lax; Path=\/$/m);
      assert.ok(!result.stdout.includes("secret-ish"), "data only with --data");
    });

    it("stats counts sessions, users and the top users", async () => {
      const result = await run("sessions", "stats", "--json");
      assertOk(result);
      const stats = JSON.parse(result.stdout) as Record<string, unknown>;
      assert.equal(stats.sessions, 4);
      assert.equal(stats.signedIn, 3);
      assert.equal(stats.anonymous, 1);
      assert.equal(stats.users, 2);
      assert.equal(stats.createdLastDay, 3);
      assert.deepEqual(stats.topUsers, [
        { user: "alice", sessions: 2 },
        { user: "bob", sessions: 1 },
      ]);
    });

    it("revoke removes exactly the session named by an id prefix", async () => {
      const result = await run("sessions", "revoke", ids.alice1.slice(0, 12));
      assertOk(result);
      assert.equal(result.stdout, `Revoked session ${ids.alice1.slice(0, 8)}….\n`);
      assert.equal(await target.store.get(ids.alice1), undefined);
      assert.notEqual(await target.store.get(ids.alice2), undefined);
      assert.notEqual(await target.store.get(ids.bob), undefined);
    });

    it("revoke of an id no session has fails with one line and exit code 1", async () => {
      const result = await run("sessions", "revoke", ids.alice1);
      assertOneLineError(result, 1, /no live session has this id/);
      assert.ok(!result.stderr.includes(ids.alice1.slice(0, 8)), "the id is not echoed");
    });

    it("revoke-user ends every session of the user and no other", async () => {
      const result = await run("sessions", "revoke-user", "alice", "--json");
      assertOk(result);
      assert.deepEqual(JSON.parse(result.stdout), { user: "alice", revoked: 1 });
      assert.equal(await target.store.get(ids.alice2), undefined);
      assert.notEqual(await target.store.get(ids.bob), undefined);
      assert.notEqual(await target.store.get(ids.anonymous), undefined);
    });

    it("prune removes expired sessions (or says the store expires them itself)", async () => {
      const expired = generateId();
      await target.store.set(expired, record("carol", 0), 1);
      await new Promise((resolve) => setTimeout(resolve, 20));
      const result = await run("sessions", "prune", "--json");
      assertOk(result);
      const output = JSON.parse(result.stdout) as { pruned: number; nativeExpiry: boolean };
      if (target.prunes) {
        assert.deepEqual(output, { pruned: 1, nativeExpiry: false });
      } else {
        assert.deepEqual(output, { pruned: 0, nativeExpiry: true });
      }
      assert.notEqual(await target.store.get(ids.bob), undefined, "live sessions stay");
    });
  });
}
