import assert from "node:assert/strict";
import { describe, it } from "node:test";
import express, { type Express } from "express";
import request from "supertest";
import { session } from "../../src/express/index.js";
import type { SessionOptions } from "../../src/index.js";
import { JsonStore } from "../fixtures/stores.js";
import {
  attributes,
  SECRET,
  sessionIdOf,
  setCookie,
  shouldNotSetCookie,
  shouldSetCookie,
} from "../helpers/http.js";

function app(options: Partial<SessionOptions>, configure?: (app: Express) => void): Express {
  const server = express();
  configure?.(server);
  server.use(
    session({
      secret: SECRET,
      store: new JsonStore(),
      resave: false,
      saveUninitialized: false,
      ...options,
    }),
  );
  server.get(/.*/, (req, res) => {
    if (req.session) (req.session as unknown as Record<string, unknown>).seen = true;
    res.send(req.session ? "session" : "none");
  });
  return server;
}

function warningsDuring(run: () => Promise<unknown>): Promise<{ code: string; message: string }[]> {
  const seen: { code: string; message: string }[] = [];
  const listener = (warning: Error & { code?: string }) => {
    seen.push({ code: warning.code ?? "", message: warning.message });
  };
  process.on("warning", listener);
  return run()
    .then(() => new Promise((resolve) => setImmediate(resolve)))
    .then(() => {
      process.off("warning", listener);
      return seen;
    });
}

describe("cookie security options", () => {
  it("secure: true over plain HTTP sends no cookie and warns once, saying what to set", async () => {
    const server = app({ cookie: { secure: true } });
    const warnings = await warningsDuring(async () => {
      shouldNotSetCookie(await request(server).get("/").set("Host", "example.test"));
      shouldNotSetCookie(await request(server).get("/").set("Host", "example.test"));
    });
    const insecure = warnings.filter((w) => w.code === "TESSERA_INSECURE_COOKIE");
    assert.equal(insecure.length, 1);
    assert.match(insecure[0]?.message ?? "", /proxy/);
  });

  it("secure over plain HTTP on localhost sends no cookie, as express-session", async () => {
    for (const host of ["localhost:3000", "127.0.0.1", "[::1]:8080"]) {
      shouldNotSetCookie(
        await request(app({ cookie: { secure: true } }))
          .get("/")
          .set("Host", host),
      );
    }
  });

  it("localhostIsSecure: true sends the Secure cookie to localhost, as browsers keep it", async () => {
    const server = app({ cookie: { secure: true }, localhostIsSecure: true });
    const res = await request(server).get("/").set("Host", "localhost:3000");
    assert.equal(attributes(shouldSetCookie(res)).secure, true);
    shouldNotSetCookie(await request(server).get("/").set("Host", "example.test"));
  });

  it("proxy: true trusts X-Forwarded-Proto", async () => {
    const res = await request(app({ proxy: true, cookie: { secure: true } }))
      .get("/")
      .set("Host", "example.test")
      .set("X-Forwarded-Proto", "https, http");
    assert.equal(attributes(shouldSetCookie(res)).secure, true);
  });

  it("proxy: false ignores X-Forwarded-Proto even when Express trusts proxies", async () => {
    const res = await request(
      app({ proxy: false, cookie: { secure: true } }, (s) => s.set("trust proxy", true)),
    )
      .get("/")
      .set("Host", "example.test")
      .set("X-Forwarded-Proto", "https");
    shouldNotSetCookie(res);
  });

  it("secure: 'auto' follows Express's trust proxy setting", async () => {
    const server = app({ cookie: { secure: "auto" } }, (s) => s.set("trust proxy", 1));
    const viaTls = await request(server).get("/").set("X-Forwarded-Proto", "https");
    assert.equal(attributes(shouldSetCookie(viaTls)).secure, true);
    const plain = await request(server).get("/");
    assert.equal(attributes(shouldSetCookie(plain)).secure, undefined);
  });

  it("a __Host- cookie is accepted when its rules are met", async () => {
    const res = await request(
      app({ name: "__Host-sid", cookie: { secure: true }, localhostIsSecure: true }),
    )
      .get("/")
      .set("Host", "localhost");
    const line = shouldSetCookie(res, "__Host-sid");
    assert.deepEqual(attributes(line), { path: "/", httponly: true, secure: true });
  });
});

describe("other express-session options", () => {
  it("genid makes the ids", async () => {
    let calls = 0;
    const res = await request(
      app({
        genid: () => {
          calls++;
          return `custom-${calls}`;
        },
      }),
    ).get("/");
    assert.equal(sessionIdOf(res), "custom-1");
  });

  it("requests outside the cookie path get no session", async () => {
    const server = app({ cookie: { path: "/admin" } });
    await request(server).get("/public").expect("none");
    const res = await request(server).get("/admin/page").expect("session");
    assert.equal(attributes(shouldSetCookie(res)).path, "/admin");
  });

  it("cookie options from a function of the request", async () => {
    const server = app({
      cookie: (req) => ({ maxAge: req.url?.startsWith("/long") ? 3_600_000 : 60_000 }),
    });
    const long = await request(server).get("/long");
    const short = await request(server).get("/short");
    const expires = (line: string) => Date.parse(String(attributes(line).expires));
    assert.ok(expires(shouldSetCookie(long)) - expires(shouldSetCookie(short)) > 3_000_000);
  });

  it("warns once, as express-session does, when resave or saveUninitialized is not given", async () => {
    const warnings = await warningsDuring(async () => {
      session({ secret: SECRET, store: new JsonStore() });
      session({ secret: SECRET, store: new JsonStore() });
    });
    // Each test file runs in its own process, and nothing before this test omitted them.
    const codes = warnings
      .map((w) => w.code)
      .filter((c) => c.startsWith("TESSERA_"))
      .sort();
    assert.deepEqual(codes, ["TESSERA_RESAVE", "TESSERA_SAVE_UNINITIALIZED"]);
    for (const warning of warnings)
      assert.match(warning.message, /provide (resave|saveUninitialized) option/);
  });

  it("defaults resave and saveUninitialized to true, as express-session does", async () => {
    const server = express();
    server.use(session({ secret: SECRET, store: new JsonStore() }));
    server.get("/", (_req, res) => {
      res.send("ok");
    });
    assert.ok(
      setCookie(await request(server).get("/")),
      "an uninitialized session is saved and sent",
    );
  });

  it("the MemoryStore warns in production and says what to use", async () => {
    const env = process.env.NODE_ENV;
    process.env.NODE_ENV = "production";
    try {
      const warnings = await warningsDuring(async () => {
        session({
          secret: "a production secret of thirty-two chars!",
          resave: false,
          saveUninitialized: false,
        });
      });
      const memory = warnings.find((w) => w.code === "TESSERA_MEMORY_STORE");
      assert.ok(memory);
      assert.match(memory.message, /SqliteStore/);
    } finally {
      process.env.NODE_ENV = env;
    }
  });
});
