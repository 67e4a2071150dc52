// The CLI's pure parts, in process: how text from a record reaches a terminal, ids, durations,
// tables, the progress bar, and how a --store URL is read.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { displayId, parseDuration, relativeTime, safeText, toJson } from "../../src/cli/format.js";
import { Progress } from "../../src/cli/progress.js";
import { labelOf, parseTarget, resolveTarget } from "../../src/cli/store-url.js";
import { renderPairs, renderTable } from "../../src/cli/table.js";

function fakeStream(isTTY: boolean) {
  const writes: string[] = [];
  return { isTTY, columns: 80, writes, write: (text: string) => writes.push(text) };
}

describe("cli › format", () => {
  it("safeText escapes terminal controls and bidi overrides, and keeps other text", () => {
    assert.equal(safeText("a\u001b[2Jb\u0007c\u009bd"), "a\\u001b[2Jb\\u0007c\\u009bd");
    assert.equal(safeText("admin\u202euser"), "admin\\u202euser");
    assert.equal(safeText("Zoë — 東京"), "Zoë — 東京");
  });

  it("toJson escapes C1 controls and bidi overrides and stays valid JSON", () => {
    const text = toJson({ agent: "x\u009by\u2066z\u001b" });
    for (const raw of ["\u009b", "\u2066", "\u001b"]) assert.ok(!text.includes(raw));
    assert.deepEqual(JSON.parse(text), { agent: "x\u009by\u2066z\u001b" });
  });

  it("displayId shortens unless asked for the whole id", () => {
    const id = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    assert.equal(displayId(id, false), "dBjftJeZ…");
    assert.equal(displayId(id, true), id);
  });

  it("parseDuration reads units and refuses the rest", () => {
    assert.equal(parseDuration("500ms"), 500);
    assert.equal(parseDuration("5s"), 5000);
    assert.equal(parseDuration("2h"), 7_200_000);
    assert.equal(parseDuration("1500"), 1500);
    assert.equal(parseDuration("soon"), undefined);
    assert.equal(parseDuration("-5s"), undefined);
  });

  it("relativeTime says ago and in", () => {
    assert.equal(relativeTime(0, 90_000), "1 min ago");
    assert.equal(relativeTime(7_200_000, 0), "in 2 h");
    assert.equal(relativeTime(500, 0), "now");
  });

  it("renderTable aligns columns, numbers on the right, with no trailing spaces", () => {
    assert.deepEqual(
      renderTable(
        [{ header: "USER" }, { header: "N", align: "right" }],
        [
          ["alice", "12"],
          ["bo", "3"],
        ],
      ),
      ["USER    N", "alice  12", "bo      3"],
    );
    assert.deepEqual(
      renderPairs([
        ["A", "1"],
        ["Long", ""],
      ]),
      ["A     1", "Long"],
    );
  });
});

describe("cli › progress", () => {
  it("draws nothing when stderr is not a terminal", () => {
    const stream = fakeStream(false);
    const progress = new Progress(stream, {
      noun: "sessions",
      total: 10,
      threshold: 1,
      intervalMs: 0,
    });
    for (let i = 0; i < 1000; i++) progress.tick();
    progress.done();
    assert.deepEqual(stream.writes, []);
  });

  it("draws a bar on a terminal for a long scan, and erases it when done", () => {
    const stream = fakeStream(true);
    const progress = new Progress(stream, {
      noun: "sessions",
      total: 1000,
      threshold: 10,
      intervalMs: 0,
    });
    for (let i = 0; i < 1000; i++) progress.tick();
    assert.ok(stream.writes.length > 0, "drawn");
    const last = stream.writes.at(-1) as string;
    assert.ok(last.endsWith("\u001b[K"), "clears the rest of the line");
    assert.match(last, /^\r\[#+-*\] \d+% [\d,]+\/1,000 sessions/);
    progress.done();
    assert.equal(stream.writes.at(-1), "\r\u001b[K");
  });

  it("stays silent for a scan under the threshold, even on a terminal", () => {
    const stream = fakeStream(true);
    const progress = new Progress(stream, { noun: "sessions", total: 50, intervalMs: 0 });
    for (let i = 0; i < 50; i++) progress.tick();
    progress.done();
    assert.deepEqual(stream.writes, []);
  });
});

describe("cli › store URL", () => {
  it("reads each kind of URL", () => {
    assert.equal(parseTarget("sqlite:./a.db", "--store").kind, "sqlite");
    assert.equal(parseTarget("redis://127.0.0.1:6379/2", "--store").kind, "redis");
    assert.equal(parseTarget("rediss://cache.example:6380", "--store").kind, "redis");
    assert.equal(parseTarget("postgresql://u@db/app", "--store").kind, "postgres");
  });

  it("labels never carry the password", () => {
    const target = parseTarget("redis://user:hunter2@127.0.0.1:6379/5", "--store");
    assert.equal(labelOf(target), "redis://127.0.0.1:6379/5");
    const pg = parseTarget("postgres://app:hunter2@db.internal:5432/app", "--store");
    assert.equal(labelOf(pg), "postgres://db.internal:5432/app");
  });

  it("refuses bad URLs with a usage error (exit code 2) that does not repeat them", () => {
    for (const url of [
      "redis://",
      "redis://host/notanumber",
      "mysql://root:hunter2@x/db",
      "nothing",
    ]) {
      assert.throws(
        () => parseTarget(url, "--store"),
        (error: Error & { exitCode?: number }) =>
          error.exitCode === 2 &&
          /^tessera: /.test(error.message) &&
          !error.message.includes("hunter2"),
      );
    }
  });

  it("falls back to REDIS_URL, then DATABASE_URL, then the demo's SQLite file", () => {
    assert.equal(
      resolveTarget(undefined, { REDIS_URL: "redis://r", DATABASE_URL: "postgres://p/db" }).source,
      "REDIS_URL",
    );
    assert.equal(resolveTarget(undefined, { DATABASE_URL: "postgres://p/db" }).kind, "postgres");
    assert.equal(resolveTarget(undefined, {}).url, "sqlite:examples/demo/data/sessions.db");
    assert.equal(
      resolveTarget(undefined, { DATA_DIR: "/srv/app" }).url,
      "sqlite:/srv/app/sessions.db",
    );
    assert.equal(resolveTarget("sqlite:x.db", { REDIS_URL: "redis://r" }).kind, "sqlite");
  });
});
