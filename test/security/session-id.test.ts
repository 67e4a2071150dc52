// The session id travels one way only: in a signed, httpOnly cookie. It is never taken from
// the URL or the body (ASVS 3.1.1; OWASP: session ids in URLs leak through logs, history and
// Referer), and the cookie carries nothing but the id and its signature: the data stays on the
// server, so nothing in the cookie means anything to whoever reads it.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import express from "express";
import request from "supertest";
import { session } from "../../src/express/index.js";
import { MemoryStore } from "../../src/stores/memory.js";
import { attributes, cookiePair, SECRET, sessionIdOf, shouldSetCookie } from "../helpers/http.js";

function site() {
  const app = express();
  app.use(express.urlencoded({ extended: false }));
  app.use(
    session({ secret: SECRET, store: new MemoryStore(), resave: false, saveUninitialized: false }),
  );
  app.all("/", (req, res) => {
    const data = req.session as unknown as Record<string, unknown>;
    if (req.query.set !== undefined) data.account = String(req.query.set);
    res.send(String(data.account ?? "none"));
  });
  return app;
}

describe("the session id", () => {
  it("is taken from the Cookie header only: in the query string or the body it is ignored", async () => {
    const app = site();
    const first = await request(app).get("/?set=alice").expect("alice");
    const pair = cookiePair(first);
    const value = pair.slice(pair.indexOf("=") + 1);
    await request(app).get(`/?connect.sid=${value}`).expect("none");
    await request(app).post("/").type("form").send(`connect.sid=${value}`).expect("none");
    await request(app).get("/").set("Cookie", pair).expect("alice");
  });

  it("the cookie holds only the id and its signature, never session data", async () => {
    const app = site();
    const secretData = "account-data-that-stays-on-the-server";
    const res = await request(app).get(`/?set=${secretData}`).expect(secretData);
    const line = shouldSetCookie(res);
    assert.ok(!line.includes(secretData));
    const id = sessionIdOf(res);
    assert.match(id, /^[A-Za-z0-9_-]{43}$/, "256 random bits, base64url");
    const value = decodeURIComponent(cookiePair(res).slice("connect.sid=".length));
    assert.match(value, /^s:[A-Za-z0-9_-]{43}\.[A-Za-z0-9+/]{43}$/, "s: + id + . + HMAC-SHA256");
    assert.equal(attributes(line).httponly, true, "out of reach of page scripts");
  });
});
