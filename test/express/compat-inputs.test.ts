// Inputs express-session 1.19 accepts, accepted the same way: Buffer secrets, cookie-parser's
// req.secret and parsed cookies, the deprecated `key` option, and every form of the cookie's
// lifetime (maxAge as a Date, false or 0; expires false or in the past). Each runs against
// express-session and Tessera side by side.
import assert from "node:assert/strict";
import { createHmac, timingSafeEqual } from "node:crypto";
import { describe, it } from "node:test";
import { parse as parseCookieHeader } from "cookie";
import type { RequestHandler } from "express";
import request from "supertest";
import { isTesseraError } from "../../src/index.js";
import {
  attributes,
  cookiePair,
  OLD_SECRET,
  SECRET,
  sessionIdOf,
  shouldNotSetCookie,
  shouldSetCookie,
} from "../helpers/http.js";
import {
  both,
  build,
  clientView,
  counterRoutes,
  get,
  LIBRARIES,
  type Library,
  recordWarnings,
  sharedMemoryStore,
} from "./side-by-side.js";

const warnings = recordWarnings();

const DEFAULTS = { resave: false, saveUninitialized: false };

/** express-session's signature of a value: base64 HMAC-SHA256 without padding. */
function signature(value: string, secret: string): string {
  return createHmac("sha256", secret).update(value).digest("base64").replace(/=+$/, "");
}

/**
 * What cookie-parser does before the session middleware (cookie-parser itself is not a
 * dependency here): it parses the Cookie header into `req.cookies`, moves the values signed with
 * its secret, verified and unsigned, into `req.signedCookies`, and exposes the secret as
 * `req.secret`. `header` then says what is left of the Cookie header, as in express-session's
 * own tests of this path: removed, or replaced by an unrelated cookie.
 */
function cookieParserLike(
  secret: string | undefined,
  header: "remove" | "replace",
): RequestHandler {
  return (req, _res, next) => {
    const cookies: Record<string, string> = {};
    const signedCookies: Record<string, string> = {};
    for (const [name, value] of Object.entries(parseCookieHeader(req.headers.cookie ?? ""))) {
      if (value === undefined) continue;
      const dot = value.lastIndexOf(".");
      if (secret !== undefined && value.startsWith("s:") && dot > 2) {
        const given = Buffer.from(value.slice(dot + 1));
        const expected = Buffer.from(signature(value.slice(2, dot), secret));
        if (given.length === expected.length && timingSafeEqual(given, expected)) {
          signedCookies[name] = value.slice(2, dot);
          continue;
        }
      }
      cookies[name] = value;
    }
    Object.assign(req, { cookies, signedCookies, secret });
    if (header === "remove") delete req.headers.cookie;
    else req.headers.cookie = "foo=bar";
    next();
  };
}

/** Sets `req.secret` as cookie-parser does, without touching the cookies. */
function reqSecret(secret: string): RequestHandler {
  return (req, _res, next) => {
    Object.assign(req, { secret });
    next();
  };
}

describe("inputs express-session accepts", () => {
  describe("secret", () => {
    it("a Buffer signs exactly as the string of the same bytes, in both directions", async () => {
      for (const [issuer, reader] of [
        ["Tessera", "express-session"],
        ["express-session", "Tessera"],
      ] as [Library, Library][]) {
        const store = sharedMemoryStore();
        const writer = build(
          issuer,
          { ...DEFAULTS, store, secret: Buffer.from(SECRET) },
          counterRoutes,
        );
        const first = await request(writer.app).get("/count").expect(200, "1");
        const checker = build(reader, { ...DEFAULTS, store, secret: SECRET }, counterRoutes);
        const read = await get(checker.app, "/read", cookiePair(first));
        assert.equal(read.text, "1", `a cookie ${issuer} signed with a Buffer, read by ${reader}`);
      }
    });

    it("an array of Buffers signs with the first and accepts a cookie signed with any", async () => {
      for (const library of LIBRARIES) {
        const store = sharedMemoryStore();
        const secret = [Buffer.from(SECRET), Buffer.from(OLD_SECRET)];
        const rotated = build(library, { ...DEFAULTS, store, secret }, counterRoutes);
        const before = build(
          "express-session",
          { ...DEFAULTS, store, secret: OLD_SECRET },
          counterRoutes,
        );
        const issued = await request(before.app).get("/count").expect(200, "1");
        const second = await get(rotated.app, "/count", cookiePair(issued));
        assert.equal(second.text, "2", `${library} accepts a cookie signed with the second Buffer`);
        const fresh = await request(rotated.app).get("/count").expect(200, "1");
        const current = build(
          "express-session",
          { ...DEFAULTS, store, secret: SECRET },
          counterRoutes,
        );
        const read = await get(current.app, "/read", cookiePair(fresh));
        assert.equal(read.text, "1", `${library} signs a new cookie with the first Buffer`);
      }
    });

    it("without a secret option, cookie-parser's req.secret signs and verifies the cookie", async () => {
      for (const library of LIBRARIES) {
        const store = sharedMemoryStore();
        const { app } = build(library, { ...DEFAULTS, store }, counterRoutes, [reqSecret(SECRET)]);
        const first = await request(app).get("/count").expect(200, "1");
        await request(app).get("/count").set("Cookie", cookiePair(first)).expect(200, "2");
        // Signed with req.secret: an app holding that secret as its option reads it.
        const checker = build(
          "express-session",
          { ...DEFAULTS, store, secret: SECRET },
          counterRoutes,
        );
        await request(checker.app).get("/read").set("Cookie", cookiePair(first)).expect(200, "2");
      }
      assert.ok(
        warnings.codes.includes("TESSERA_REQ_SECRET"),
        "Tessera warns as express-session deprecates 'req.secret; provide secret option'",
      );
    });

    it("a request with neither fails with 'secret option required for sessions'", async () => {
      const [theirs, ours] = both(DEFAULTS, counterRoutes);
      for (const { app, errors, library } of [theirs, ours]) {
        const res = await request(app).get("/count").expect(500);
        assert.match(res.text, /secret option required for sessions/, library);
        shouldNotSetCookie(res);
        assert.equal(errors.length, 1);
      }
      assert.ok(isTesseraError(ours.errors[0], "ERR_OPTION"), "Tessera's code stays a property");
    });
  });

  it("key, express-session's older name for name, names the cookie; name wins over it", async () => {
    for (const library of LIBRARIES) {
      const keyed = build(library, { ...DEFAULTS, secret: SECRET, key: "app.key" }, counterRoutes);
      const res = await request(keyed.app).get("/count").expect(200, "1");
      shouldSetCookie(res, "app.key");
      shouldNotSetCookie(res);
      await request(keyed.app)
        .get("/count")
        .set("Cookie", cookiePair(res, "app.key"))
        .expect(200, "2");
      const named = build(
        library,
        { ...DEFAULTS, secret: SECRET, key: "app.key", name: "app.name" },
        counterRoutes,
      );
      const answer = await request(named.app).get("/count");
      shouldSetCookie(answer, "app.name");
      shouldNotSetCookie(answer, "app.key");
    }
  });

  describe("the session id from cookie-parser, when the Cookie header no longer has it", () => {
    it("is read from req.signedCookies (cookie-parser given the secret)", async () => {
      const [theirs, ours] = both({ ...DEFAULTS, secret: SECRET }, counterRoutes, [
        cookieParserLike(SECRET, "remove"),
      ]);
      for (const { app, library } of [theirs, ours]) {
        const first = await request(app).get("/count").expect(200, "1");
        const second = await get(app, "/count", cookiePair(first));
        assert.equal(second.text, "2", `${library} reads the session back`);
      }
    });

    it("is read from req.cookies when signed with the secret, and refused there unsigned or forged", async () => {
      const [theirs, ours] = both({ ...DEFAULTS, secret: SECRET }, counterRoutes, [
        cookieParserLike(undefined, "replace"),
      ]);
      for (const { app, library } of [theirs, ours]) {
        const first = await request(app).get("/count").expect(200, "1");
        const second = await get(app, "/count", cookiePair(first));
        assert.equal(second.text, "2", `${library} reads the session back`);
        const id = sessionIdOf(first);
        const unsigned = `connect.sid=${id}`;
        const forged = `connect.sid=${encodeURIComponent(`s:${id}.${"A".repeat(43)}`)}`;
        for (const cookie of [unsigned, forged]) {
          const res = await get(app, "/count", cookie);
          assert.equal(res.text, "1", `${library} refuses ${cookie}`);
        }
      }
    });
  });

  describe("the cookie's lifetime", () => {
    function lifetime(cookie: Record<string, unknown>) {
      return both({ ...DEFAULTS, secret: SECRET, cookie }, counterRoutes);
    }

    async function sameFirstResponse(cookie: Record<string, unknown>) {
      const [theirs, ours] = lifetime(cookie);
      const a = await request(theirs.app).get("/count");
      const b = await request(ours.app).get("/count");
      assert.deepEqual(clientView(b), clientView(a));
      return b;
    }

    it("maxAge as a Date: Expires at that date, with express-session's deprecation", async () => {
      const at = new Date(Date.now() + 3_600_000);
      const res = await sameFirstResponse({ maxAge: at });
      assert.equal(res.status, 200);
      const expires = attributes(shouldSetCookie(res)).expires as string;
      assert.ok(
        Math.abs(Date.parse(expires) - at.getTime()) < 2000,
        `Expires ${expires} is the given date ${at.toUTCString()}`,
      );
      assert.ok(warnings.codes.includes("TESSERA_MAXAGE_DATE"));
    });

    for (const cookie of [{ maxAge: false }, { expires: false }]) {
      it(`${JSON.stringify(cookie)}: a browser-session cookie, and a 200`, async () => {
        const res = await sameFirstResponse(cookie);
        assert.equal(res.status, 200);
        const line = shouldSetCookie(res);
        assert.equal(attributes(line).expires, undefined, line);
        assert.equal(attributes(line)["max-age"], undefined, line);
      });
    }

    it("expires: new Date(0) sends the cookie with that expiry, in the past", async () => {
      const res = await sameFirstResponse({ expires: new Date(0) });
      assert.equal(res.status, 200);
      const expires = attributes(shouldSetCookie(res)).expires as string;
      assert.ok(Date.parse(expires) < Date.now() - 86_400_000, `Expires ${expires} is long past`);
    });

    it("maxAge: 0 sends a cookie that has already expired", async () => {
      const res = await sameFirstResponse({ maxAge: 0 });
      assert.equal(res.status, 200);
      const expires = attributes(shouldSetCookie(res)).expires as string;
      // Expires has whole seconds: the cookie expires within the second it was sent.
      assert.ok(Date.parse(expires) <= Date.now(), `Expires ${expires} is not in the future`);
    });
  });
});
