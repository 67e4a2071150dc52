// tessera/hono where node:crypto and the other Node builtins are missing (Cloudflare Workers
// without nodejs_compat, edge runtimes): the door falls back on Web Crypto and a pure-JS
// HMAC-SHA256, and its cookies, ids and handles are the same bytes node:crypto gives. Each run
// is a child process whose preload (test/fixtures/no-builtins/preload.mjs) makes every builtin
// import from src/, hono and cookie throw, process.getBuiltinModule find nothing and Buffer
// vanish; a second run also takes `process` away. What the child prints is checked here, in a
// normal process, against node:crypto.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { dirname, join, resolve } from "node:path";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { format } from "node:util";
import { sign, unsign } from "../../src/core/signing.js";
import type { ChildInput, ChildReport } from "../fixtures/no-builtins/hono-child.js";
import { ID, OLD_SECRET, SECRET, SIGNED, TAMPERED } from "../helpers/http.js";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const FIXTURES = join(ROOT, "test/fixtures/no-builtins");

const INPUT: ChildInput = {
  secret: SECRET,
  oldSecret: OLD_SECRET,
  id: ID,
  signed: SIGNED,
  signedWithOldSecret: `s:${sign(ID, OLD_SECRET)}`,
  tampered: TAMPERED.map(([, signed]) => `s:${signed}`),
  format: ["%s has %d items (%i%%), %j", "cart", 3, 42.9, { a: [1, "b"] }],
};

/** Runs the child under the preload and returns its report; fails with its stderr otherwise. */
function runChild(env: Record<string, string>): Promise<ChildReport & { stderr: string }> {
  return new Promise((done, fail) => {
    execFile(
      process.execPath,
      [
        "--import",
        "tsx",
        "--import",
        join(FIXTURES, "preload.mjs"),
        join(FIXTURES, "hono-child.ts"),
      ],
      {
        cwd: ROOT,
        env: { ...process.env, ...env, CHILD_INPUT: JSON.stringify(INPUT) },
        timeout: 60_000,
      },
      (error, stdout, stderr) => {
        if (error) fail(new Error(`the child failed: ${error.message}\n${stderr}`));
        else done({ ...(JSON.parse(stdout) as ChildReport), stderr });
      },
    );
  });
}

/** The signed value a Set-Cookie line carries, decoded: `s:<id>.<signature>`. */
function cookieValueOf(line: string | undefined): string {
  assert.ok(line, "no session cookie was set");
  return decodeURIComponent((line.split(";")[0] as string).slice("connect.sid=".length));
}

const RUNTIMES: [name: string, env: Record<string, string>][] = [
  ["no node: modules, no Buffer", {}],
  ["no node: modules, no Buffer, no process", { NO_PROCESS: "1" }],
  ["no process.getBuiltinModule (Node before 20.16)", { NO_GET_BUILTIN: "1" }],
];

for (const [runtime, env] of RUNTIMES) {
  describe(`tessera/hono › on a runtime with ${runtime}`, () => {
    const report = runChild(env);

    it("really runs without them: Tessera's files see none of them", async () => {
      const { runtime: seen } = await report;
      assert.deepEqual(seen, {
        buffer: "undefined",
        process: "NO_PROCESS" in env ? "undefined" : "object",
        getBuiltinModule: "undefined",
        importCrypto: "ERR_NO_BUILTINS",
        builtinImport: "ERR_NO_BUILTINS",
      });
    });

    it("warns at load only where a Node has no process.getBuiltinModule", async () => {
      const { stderr } = await report;
      const warnings = stderr.match(/TESSERA_NO_BUILTINS/g) ?? [];
      assert.equal(warnings.length, "NO_GET_BUILTIN" in env ? 1 : 0, stderr);
    });

    it("makes ids of 43 base64url characters, all different", async () => {
      const { ids, tampered } = await report;
      const all = [...ids, ...tampered.map((reply) => (reply.body as { id: string }).id)];
      for (const id of all) assert.match(id, /^[A-Za-z0-9_-]{43}$/);
      assert.equal(new Set(all).size, all.length);
    });

    it("signs a new session's cookie byte for byte as node:crypto does", async () => {
      const { first, signature } = await report;
      assert.equal(first.status, 200);
      assert.deepEqual(first.body, { views: 1, id: ID });
      // The cookie the child signed verifies here, and is what this process signs.
      const value = cookieValueOf(first.setCookie);
      assert.equal(value, SIGNED);
      assert.deepEqual(unsign(value.slice(2), [SECRET]), { value: ID, secretIndex: 0 });
      assert.equal(signature, sign(ID, SECRET));
    });

    it("accepts a cookie signed here, and sends no cookie back for it", async () => {
      const { withSigned, unsigned } = await report;
      assert.deepEqual(withSigned.body, { views: 2, id: ID });
      assert.equal(withSigned.setCookie, undefined);
      assert.equal(unsigned, ID);
    });

    it("accepts a cookie signed with the old secret, and re-signs it with the current one", async () => {
      const { withOldSecret } = await report;
      assert.deepEqual(withOldSecret.body, { views: 3, id: ID });
      assert.equal(cookieValueOf(withOldSecret.setCookie), SIGNED);
    });

    it("refuses every tampered cookie: a fresh session under a new id", async () => {
      const { tampered } = await report;
      assert.equal(tampered.length, TAMPERED.length);
      tampered.forEach((reply, index) => {
        const what = (TAMPERED[index] as [string, string])[0];
        const body = reply.body as { views: number; id: string };
        assert.equal(body.views, 1, what);
        assert.notEqual(body.id, ID, what);
        const value = cookieValueOf(reply.setCookie);
        assert.deepEqual(unsign(value.slice(2), [SECRET])?.value, body.id, what);
      });
    });

    it("hashes session handles as node:crypto's SHA-256 does", async () => {
      const { handle } = await report;
      assert.equal(handle, createHash("sha256").update(ID).digest("base64url").slice(0, 22));
    });

    it("issues CSRF tokens that pass, and refuses an altered one", async () => {
      const { csrf } = await report;
      assert.match(csrf.token, /^[A-Za-z0-9_-]{86}$/);
      assert.equal(csrf.accepted, 200);
      assert.equal(csrf.refused, 403);
    });

    it("formats flash messages as util.format does", async () => {
      const { flash } = await report;
      const [template, ...args] = INPUT.format;
      assert.deepEqual(flash, [format(template, ...args)]);
    });

    it("publishes on its own diagnostics channels, and old-style stores still emit events", async () => {
      const { createdEvents, storeEvents } = await report;
      // The first session, and one per tampered cookie.
      assert.equal(createdEvents, 1 + TAMPERED.length);
      assert.equal(storeEvents, 1, "once() hears one of two emits");
    });
  });
}
