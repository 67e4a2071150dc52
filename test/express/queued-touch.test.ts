// With idleTimeoutMs over a store written for express-session, a touch rewrites the record. When
// the response ends while another write of the same request is still under way (the app called
// save() without waiting), that rewrite is queued behind it: it must not wait on itself.
import assert from "node:assert/strict";
import { createRequire } from "node:module";
import { describe, it } from "node:test";
import express from "express";
import request from "supertest";
import { session } from "../../src/express/index.js";
import { cookiePair, SECRET } from "../helpers/http.js";

const require = createRequire(import.meta.url);
const expressSession = require("express-session") as typeof import("express-session");

describe("idleTimeoutMs over a store written for express-session", () => {
  it("a response that ends while an unawaited save() runs is sent, and the session lives on", async () => {
    const store = new expressSession.MemoryStore();
    const app = express();
    app.use(
      session({
        secret: SECRET,
        store,
        resave: false,
        saveUninitialized: false,
        idleTimeoutMs: 60_000,
      }),
    );
    app.post("/login", (req, res) => {
      (req.session as unknown as Record<string, unknown>).user = "ada";
      res.send("in");
    });
    app.get("/save-and-go", (req, res) => {
      void req.session.save();
      res.send(String((req.session as unknown as Record<string, unknown>).user));
    });
    const login = await request(app).post("/login").expect(200);
    const res = await request(app)
      .get("/save-and-go")
      .set("Cookie", cookiePair(login))
      .timeout(10_000)
      .expect(200);
    assert.equal(res.text, "ada");
    await request(app).get("/save-and-go").set("Cookie", cookiePair(login)).expect(200, "ada");
  });
});
