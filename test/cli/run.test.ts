// runCli in process, for the command-line checks that need no store: they must fail before any
// connection is tried, with exit code 2 and one line.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { runCli } from "../../src/cli/run.js";

async function run(...args: string[]) {
  let stdout = "";
  let stderr = "";
  const code = await runCli(args, {
    env: {},
    stdout: { write: (text: string) => (stdout += text) },
    stderr: { isTTY: false, write: (text: string) => (stderr += text) },
  });
  return { code, stdout, stderr };
}

/** A store URL nothing listens on: reaching it would fail with exit code 1, not 2. */
const NOWHERE = ["--store", "redis://127.0.0.1:1"];

describe("cli › command line", () => {
  it("prints the help on stderr with exit code 2 when no command is given", async () => {
    const result = await run();
    assert.equal(result.code, 2);
    assert.equal(result.stdout, "");
    assert.match(result.stderr, /^Usage: tessera <command>/);
    const sessions = await run("sessions");
    assert.equal(sessions.code, 2);
    assert.match(sessions.stderr, /^Usage: tessera sessions </);
  });

  it("prints the version", async () => {
    const result = await run("--version");
    assert.equal(result.code, 0);
    assert.match(result.stdout, /^\d+\.\d+\.\d+/);
  });

  for (const [args, pattern] of [
    [["users", "list"], /unknown command "users"/],
    [["sessions", "drop"], /unknown command "sessions drop"/],
    [["sessions", "constructor"], /unknown command "sessions constructor"/],
    [["sessions", "list", "--limit", "0", ...NOWHERE], /--limit must be a whole number above 0/],
    [["sessions", "list", "--limit", "ten", ...NOWHERE], /--limit must be a whole number/],
    [
      ["sessions", "stats", "--user", "alice", ...NOWHERE],
      /--user is an option of `sessions list` only/,
    ],
    [["sessions", "list", "--timeout", "forever", ...NOWHERE], /--timeout must be a time/],
    [["sessions", "revoke", "a", "b", ...NOWHERE], /sessions revoke takes <id>/],
    [["sessions", "prune", "extra", ...NOWHERE], /sessions prune takes no arguments/],
    [["sessions", "list", "--store"], /option --store needs a value/],
    [
      ["sessions", "list", "--store", "sqlite:x.db", "--prefix", "app:"],
      /--prefix is for Redis stores/,
    ],
    [
      ["sessions", "list", "--store", "redis://h", "--table", "t"],
      /--table and --schema are for SQL stores/,
    ],
    [
      ["sessions", "list", "--store", "postgres://h/db", "--table", "bad-name"],
      /--table must be letters/,
    ],
  ] as const) {
    it(`refuses \`${args.join(" ")}\` with exit code 2 and one line`, async () => {
      const result = await run(...args);
      assert.equal(result.code, 2, result.stderr);
      assert.equal(result.stdout, "");
      assert.equal(result.stderr.trimEnd().split("\n").length, 1);
      assert.match(result.stderr, /^tessera: /);
      assert.match(result.stderr, pattern);
    });
  }

  it("does not repeat an id-like unknown option", async () => {
    const id = "--dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjX";
    const result = await run("sessions", "list", id);
    assert.equal(result.code, 2);
    assert.ok(!result.stderr.includes(id.slice(2, 12)), result.stderr);
  });
});
