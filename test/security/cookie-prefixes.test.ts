// Cookie prefixes (RFC 6265bis, section 4.1.3): a `__Secure-` cookie must be Secure; a `__Host-`
// cookie must be Secure, have Path=/ and no Domain. Browsers silently drop one that breaks the
// rules, so Tessera refuses such options at start-up, or fails the request when the cookie
// options come from a function, instead of sending a cookie that will never come back.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import express, { type ErrorRequestHandler } from "express";
import request from "supertest";
import type { CookieOptions } from "../../src/core/cookie.js";
import { session } from "../../src/express/index.js";
import { isTesseraError } from "../../src/index.js";
import type { SessionOptions } from "../../src/node/options.js";
import { JsonStore } from "../fixtures/stores.js";
import { attributes, SECRET, shouldSetCookie } from "../helpers/http.js";

function start(name: string, cookie: NonNullable<SessionOptions["cookie"]>, proxy?: boolean) {
  return session({
    secret: SECRET,
    name,
    cookie,
    store: new JsonStore(),
    resave: false,
    saveUninitialized: false,
    ...(proxy === undefined ? {} : { proxy }),
  });
}

const reportErrors: ErrorRequestHandler = (error, _req, res, _next) => {
  res.status(500).json({ code: (error as { code?: string }).code, message: String(error) });
};

function site(name: string, cookie: NonNullable<SessionOptions["cookie"]>) {
  const app = express();
  app.use(start(name, cookie, true));
  app.get("/", (req, res) => {
    (req.session as unknown as Record<string, unknown>).seen = true;
    res.send("ok");
  });
  app.use(reportErrors);
  return app;
}

describe("cookie prefixes", () => {
  describe("refused at start-up, with the fix in the message", () => {
    const cases: [string, string, CookieOptions, RegExp][] = [
      ["__Secure-", "__Secure-sid", {}, /must be secure: set cookie\.secure to true/],
      ["__Secure-", "__Secure-sid", { secure: false }, /must be secure/],
      ["__Host-", "__Host-sid", {}, /must be secure/],
      ["__Host-", "__Host-sid", { secure: false, path: "/" }, /must be secure/],
      [
        "__Host-",
        "__Host-sid",
        { secure: true, domain: "example.com" },
        /cannot have a domain: remove cookie\.domain/,
      ],
      ["__Host-", "__Host-sid", { secure: true, path: "/app" }, /must have path "\/"/],
    ];
    for (const [prefix, name, cookie, message] of cases) {
      it(`${prefix} with ${JSON.stringify(cookie)}`, () => {
        assert.throws(
          () => start(name, cookie),
          (error: unknown) => isTesseraError(error, "ERR_OPTION") && message.test(error.message),
        );
      });
    }
  });

  describe("accepted when the rules are met", () => {
    const cases: [string, CookieOptions][] = [
      ["__Secure-sid", { secure: true }],
      ["__Secure-sid", { secure: true, domain: "example.com", path: "/app" }],
      ["__Secure-sid", { secure: "auto" }],
      ["__Host-sid", { secure: true }],
      ["__Host-sid", { secure: true, path: "/" }],
      ["__Host-sid", { secure: "auto" }],
    ];
    for (const [name, cookie] of cases) {
      it(`${name} with ${JSON.stringify(cookie)}`, () => {
        assert.equal(typeof start(name, cookie), "function");
      });
    }
  });

  it("a __Host- cookie goes out Secure, with Path=/ and no Domain", async () => {
    const res = await request(site("__Host-sid", { secure: true, sameSite: "lax" }))
      .get("/")
      .set("X-Forwarded-Proto", "https")
      .expect(200);
    const line = shouldSetCookie(res, "__Host-sid");
    const attrs = attributes(line);
    assert.equal(attrs.secure, true);
    assert.equal(attrs.path, "/");
    assert.equal(attrs.domain, undefined);
    assert.equal(attrs.httponly, true);
    assert.equal(attrs.samesite, "Lax");
  });

  it("secure: 'auto' with a prefix: no cookie the browser would drop over plain HTTP, localhost included", async () => {
    const app = express();
    app.use(start("__Host-sid", { secure: "auto" }));
    app.get("/", (req, res) => {
      (req.session as unknown as Record<string, unknown>).seen = true;
      res.send("ok");
    });
    const plain = await request(app).get("/").set("Host", "example.test").expect(200);
    assert.equal(plain.headers["set-cookie"], undefined, "a __Host- cookie without Secure");
    const local = await request(app).get("/").set("Host", "localhost:3000").expect(200);
    assert.equal(local.headers["set-cookie"], undefined, "localhost is not HTTPS");
    const tls = await request(app).get("/").set("X-Forwarded-Proto", "https").expect(200);
    assert.equal(tls.headers["set-cookie"], undefined, "X-Forwarded-Proto is not trusted here");
  });

  it("cookie options from a function are checked on each request: a broken one fails it", async () => {
    const app = site("__Host-sid", (req) =>
      req.headers["x-tenant"] === "b"
        ? { secure: true, domain: "b.example.com" }
        : { secure: true },
    );
    await request(app).get("/").set("X-Forwarded-Proto", "https").expect(200);
    const res = await request(app)
      .get("/")
      .set("X-Forwarded-Proto", "https")
      .set("X-Tenant", "b")
      .expect(500);
    const body = res.body as { code: string; message: string };
    assert.equal(body.code, "ERR_OPTION");
    assert.match(body.message, /__Host- cookie cannot have a domain/);
    assert.equal(res.headers["set-cookie"], undefined);
  });
});
