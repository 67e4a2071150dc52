// The conformance suite must catch a store that breaks the contract, not only pass good ones. It
// runs here against stores that each break one rule (test/fixtures/stores/broken-stores.ts), in a
// child test run whose TAP report says which tests failed for which store.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";

const BROKEN = fileURLToPath(new URL("../fixtures/stores/broken-stores.ts", import.meta.url));
const SUFFIX = " conforms to the Store contract";

/** For each broken store, the suite's tests that must fail on it. */
const MUST_FAIL: Record<string, readonly string[]> = {
  "broken: lost-update patch": [
    "50 parallel patches on one session, each on its own key, all land",
  ],
  "broken: merging patch": ["replaces a key's value whole, never merging into it"],
  "broken: reviving touch": [
    "does not create a session that does not exist",
    "a touch from a request that loaded it before the destroy does not bring it back",
    "touch and patch never bring back an expired session",
  ],
  "broken: stale listing": ["an expired session is never listed by ids()"],
  "broken: shared reference": ["gives a copy: changing what get resolved changes nothing stored"],
  "broken: sticky index": [
    "destroy takes a session out of its user's index",
    "an expired session is never listed by idsForUser()",
  ],
  "broken: leaky errors": [
    "a failing store rejects with a TesseraError naming no session id nor data",
  ],
  "broken: close leaves a timer": [
    "releases everything: a process using the store exits on its own",
  ],
};

const CONTROL = "control: MemoryStore";

interface Outcome {
  /** The store the test ran for, as given to testStore(). */
  store: string;
  test: string;
  passed: boolean;
  skipped: boolean;
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/** The leaf tests of a TAP report from node's reporter, with the store each belongs to. */
function parseTap(tap: string): Outcome[] {
  const path: string[] = [];
  const outcomes: Outcome[] = [];
  for (const line of tap.split("\n")) {
    const indent = line.length - line.trimStart().length;
    const level = indent / 4;
    const subtest = /^\s*# Subtest: (.*)$/.exec(line);
    if (subtest) {
      path.length = level;
      path[level] = subtest[1] as string;
      continue;
    }
    const result = /^\s*(not ok|ok) \d+ - (.*?)( # SKIP.*)?$/.exec(line);
    // Levels 0 and 1 are the store's describe and a topic's; tests sit at level 2.
    if (result && level === 2) {
      outcomes.push({
        store: (path[0] ?? "").replace(SUFFIX, ""),
        test: result[2] as string,
        passed: result[1] === "ok",
        skipped: result[3] !== undefined,
      });
    }
  }
  return outcomes;
}

/**
 * Runs the broken stores' file under its own test runner and resolves its TAP report. The child
 * must not inherit NODE_TEST_CONTEXT: with it, node reports to this runner instead of in TAP.
 */
function tapReport(namePattern: string, timeoutMs: number): Promise<string> {
  const env = { ...process.env };
  delete env.NODE_TEST_CONTEXT;
  const child = spawn(
    process.execPath,
    [
      "--import",
      "tsx",
      "--test",
      "--test-reporter=tap",
      `--test-name-pattern=${namePattern}`,
      BROKEN,
    ],
    { env, stdio: ["ignore", "pipe", "pipe"] },
  );
  let stdout = "";
  let stderr = "";
  child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
    stdout += chunk;
  });
  child.stderr.setEncoding("utf8").on("data", (chunk: string) => {
    stderr += chunk;
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`the broken stores' run took over ${timeoutMs} ms:\n${stderr}`));
    }, timeoutMs);
    child.once("error", reject);
    child.once("close", () => {
      clearTimeout(timer);
      resolve(stdout);
    });
  });
}

describe("the conformance suite", () => {
  it("fails each broken store on the rule it breaks, and passes the control", {
    timeout: 90_000,
  }, async () => {
    const titles = [...new Set(Object.values(MUST_FAIL).flat())];
    const pattern = titles.map(escapeRegExp).join("|");
    const report = await tapReport(pattern, 80_000);
    const ran = parseTap(report).filter((result) => !result.skipped);

    const control = ran.filter((result) => result.store === CONTROL);
    assert.deepEqual(
      control.map((result) => result.test).sort(),
      [...titles].sort(),
      "the control store did not run every selected test",
    );
    const controlFailures = control.filter((result) => !result.passed).map((r) => r.test);
    assert.deepEqual(controlFailures, [], "the suite fails a store that keeps the contract");

    for (const [store, tests] of Object.entries(MUST_FAIL)) {
      for (const test of tests) {
        const result = ran.find(
          (candidate) => candidate.store === store && candidate.test === test,
        );
        assert.ok(result, `"${test}" did not run for ${store}`);
        assert.equal(result.passed, false, `the suite passed ${store} on "${test}"`);
      }
    }
  });
});
