// `SameSite=None` without `Secure`: browsers drop such a cookie, so the session would never come
// back. express-session sends it all the same and apps' tests may rely on that, so Tessera
// starts and serves, and warns once (TESSERA_SAMESITE_NONE_INSECURE) with the fix. Warnings are
// once per process: the test that expects none runs first.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import express from "express";
import request from "supertest";
import type { CookieOptions } from "../../src/core/cookie.js";
import { session } from "../../src/express/index.js";
import { MemoryStore } from "../../src/stores/memory.js";
import { attributes, SECRET, shouldSetCookie } from "../helpers/http.js";

const CODE = "TESSERA_SAMESITE_NONE_INSECURE";

/** The warnings of this code emitted while `run` runs (and on the next turn, when node delivers them). */
async function warningsDuring(run: () => void): Promise<Error[]> {
  const seen: Error[] = [];
  const listener = (warning: Error & { code?: string }) => {
    if (warning.code === CODE) seen.push(warning);
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

function start(cookie: CookieOptions) {
  return session({
    secret: SECRET,
    store: new MemoryStore(),
    resave: false,
    saveUninitialized: false,
    cookie,
  });
}

function site(middleware: ReturnType<typeof start>) {
  const app = express();
  app.use(middleware);
  app.get("/", (req, res) => {
    (req.session as unknown as Record<string, unknown>).seen = true;
    res.send("ok");
  });
  return app;
}

describe('cookie.sameSite "none"', () => {
  it("with secure: true or 'auto': no warning", async () => {
    const warnings = await warningsDuring(() => {
      start({ sameSite: "none", secure: true });
      start({ sameSite: "none", secure: "auto" });
    });
    assert.deepEqual(warnings, []);
  });

  it("without secure: the app starts and serves, with one warning that says the fix", async () => {
    let apps: ReturnType<typeof start>[] = [];
    const warnings = await warningsDuring(() => {
      apps = [start({ sameSite: "none" }), start({ sameSite: "none", secure: false })];
    });
    assert.equal(warnings.length, 1, "warned once, not once per middleware");
    assert.match(warnings[0]?.message ?? "", /^tessera: .*cookie\.secure/);
    for (const middleware of apps) {
      const res = await request(site(middleware)).get("/").expect(200, "ok");
      assert.equal(attributes(shouldSetCookie(res)).samesite, "None");
    }
  });
});
