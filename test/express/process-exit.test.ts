// Nothing Tessera makes may keep a process alive: an app's test suite that creates many
// session() middlewares and stores, and closes its servers, must end by itself (express-session
// suites that never exited under Tessera were held open by a response left waiting after a
// failed save).
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";

const child = fileURLToPath(new URL("../fixtures/exit/many-middlewares.ts", import.meta.url));

describe("process lifetime", () => {
  it("a process that made many middlewares, stores and failed saves exits by itself", async () => {
    const run = spawn(process.execPath, ["--import", "tsx", child], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    let err = "";
    run.stdout.on("data", (chunk: Buffer) => {
      out += chunk;
    });
    run.stderr.on("data", (chunk: Buffer) => {
      err += chunk;
    });
    // A hang detector, not a speed check: the child needs a few seconds; a minute means it
    // would never have exited.
    const killer = setTimeout(() => run.kill("SIGKILL"), 60_000);
    const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve) =>
      run.on("exit", (c, s) => resolve([c, s])),
    );
    clearTimeout(killer);
    assert.equal(signal, null, `the child had to be killed: it never exited.\n${err}`);
    assert.equal(code, 0, err);
    assert.match(out, /done/);
  });
});
