// The production guard: with NODE_ENV=production a missing or short secret stops the app at
// start-up, and the in-process MemoryStore is reported with what to use instead. The warnings
// are once per process, so the tests that expect none run first.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { afterEach, beforeEach, describe, it } from "node:test";
import { session } from "../../src/express/index.js";
import { isTesseraError } from "../../src/index.js";
import type { SessionOptions } from "../../src/node/options.js";
import { SqliteStore } from "../../src/stores/sqlite.js";

const SHORT = "only-thirty-one-characters-long";
const EXACTLY_32 = "exactly-thirty-two-characters-ok";

function start(options: Partial<SessionOptions>) {
  return session({ resave: false, saveUninitialized: false, ...options } as SessionOptions);
}

/** Warnings emitted while `run` runs (and on the next turn, when node delivers them). */
async function warningsDuring(run: () => void): Promise<{ code: string; message: string }[]> {
  const seen: { code: string; message: string }[] = [];
  const listener = (warning: Error & { code?: string }) => {
    seen.push({ code: warning.code ?? "", message: warning.message });
  };
  process.on("warning", listener);
  try {
    run();
    await new Promise((resolve) => setImmediate(resolve));
  } finally {
    process.off("warning", listener);
  }
  return seen;
}

function refusedFor(options: Partial<SessionOptions>, message: RegExp, secrets: string[]) {
  assert.throws(
    () => start(options),
    (error: unknown) => {
      assert.ok(isTesseraError(error, "ERR_OPTION"), String(error));
      assert.match(error.message, message);
      for (const secret of secrets) {
        assert.ok(!error.message.includes(secret), "the message never holds a secret");
      }
      return true;
    },
  );
}

describe("production guard", () => {
  let saved: string | undefined;
  beforeEach(() => {
    saved = process.env.NODE_ENV;
  });
  afterEach(() => {
    if (saved === undefined) delete process.env.NODE_ENV;
    else process.env.NODE_ENV = saved;
  });

  describe("outside production", () => {
    it("a short secret is accepted, and the MemoryStore is not reported", async () => {
      process.env.NODE_ENV = "development";
      const warnings = await warningsDuring(() => start({ secret: "dev" }));
      assert.deepEqual(
        warnings.filter((w) => w.code === "TESSERA_MEMORY_STORE"),
        [],
      );
    });
  });

  describe("with NODE_ENV=production", () => {
    it("a missing or empty secret stops start-up, saying how to pass one", () => {
      process.env.NODE_ENV = "production";
      for (const secret of [undefined, "", [], [""]]) {
        refusedFor({ secret } as Partial<SessionOptions>, /secret option/, []);
      }
    });

    it("a secret shorter than 32 characters stops start-up, saying how to make one", () => {
      process.env.NODE_ENV = "production";
      refusedFor({ secret: SHORT }, /at least 32 characters are needed.*randomBytes\(32\)/, [
        SHORT,
      ]);
    });

    it("every secret of a rotation list must be long enough, the old ones too", () => {
      process.env.NODE_ENV = "production";
      refusedFor({ secret: [EXACTLY_32, SHORT] }, /secret #2 is not: .*at least 32/, [SHORT]);
      refusedFor({ secret: [SHORT, EXACTLY_32] }, /and secret is not: .*at least 32/, [SHORT]);
    });

    it("a long secret that is obviously not random stops start-up", () => {
      process.env.NODE_ENV = "production";
      const weak: [string | Buffer, RegExp][] = [
        ["a".repeat(32), /only 1 distinct characters/],
        ["abcdefghij".repeat(4), /repeats a shorter pattern/],
        ["keyboard cat keyboard cat keyboard cat!", /placeholder/],
        ["please-changeme-before-going-live-2026", /placeholder/],
        [`${"a".repeat(30)}bcdefghijk`, /about 66 bits of entropy/],
        [Buffer.alloc(32, 7), /only 1 distinct bytes/],
        [Buffer.alloc(16, 1), /16 bytes; at least 32 bytes/],
      ];
      for (const [secret, reason] of weak) {
        refusedFor({ secret }, reason, typeof secret === "string" ? [secret] : []);
      }
    });

    it("a random secret, as text or as a Buffer, is accepted", () => {
      process.env.NODE_ENV = "production";
      const store = new SqliteStore({ path: ":memory:" });
      try {
        start({ secret: randomBytes(32).toString("hex"), store });
        start({ secret: randomBytes(32).toString("base64url"), store });
        start({ secret: randomBytes(32), store });
      } finally {
        void store.close();
      }
    });

    it("NODE_ENV counts however it is spelled", () => {
      for (const env of ["Production", " production ", "PRODUCTION", "prod"]) {
        process.env.NODE_ENV = env;
        refusedFor({ secret: SHORT }, /at least 32 characters/, [SHORT]);
      }
    });

    it("32 characters is enough, and a real store brings no MemoryStore warning", async () => {
      process.env.NODE_ENV = "production";
      const store = new SqliteStore({ path: ":memory:" });
      try {
        const warnings = await warningsDuring(() =>
          start({ secret: [EXACTLY_32, randomBytes(32)], store }),
        );
        assert.equal(warnings.filter((w) => w.code === "TESSERA_MEMORY_STORE").length, 0);
      } finally {
        await store.close();
      }
    });

    it("the default MemoryStore is reported once, naming the stores to use instead", async () => {
      process.env.NODE_ENV = "production";
      const warnings = await warningsDuring(() => {
        start({ secret: EXACTLY_32 });
        start({ secret: EXACTLY_32 });
      });
      const memory = warnings.filter((w) => w.code === "TESSERA_MEMORY_STORE");
      assert.equal(memory.length, 1);
      assert.match(memory[0]?.message ?? "", /SqliteStore.*RedisStore or PostgresStore/);
    });

    it("an explicit MemoryStore and tessera/node's default are reported too", () => {
      // The warning is once per process, so each case runs in a fresh one.
      const cases = {
        explicit:
          'const { session, MemoryStore } = await import("./src/express/index.ts"); session({ secret: S, resave: false, saveUninitialized: false, store: new MemoryStore() });',
        node: 'const { session } = await import("./src/node/index.ts"); session({ secret: S, resave: false, saveUninitialized: false });',
      };
      for (const [name, code] of Object.entries(cases)) {
        const child = spawnSync(
          process.execPath,
          ["--import", "tsx", "--input-type=module", "-e", `const S = "${EXACTLY_32}"; ${code}`],
          { env: { ...process.env, NODE_ENV: "production" }, encoding: "utf8" },
        );
        assert.equal(child.status, 0, child.stderr);
        assert.match(child.stderr, /TESSERA_MEMORY_STORE.*MemoryStore keeps sessions/, name);
      }
    });
  });
});
