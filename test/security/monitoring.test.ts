// Monitoring: the session lifecycle is published on node:diagnostics_channel (OWASP: log
// session life-cycle events), and no event carries a session id, session data or the secret,
// so whatever the app does with them, logs never hold a credential.
import assert from "node:assert/strict";
import { subscribe, unsubscribe } from "node:diagnostics_channel";
import { describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import express from "express";
import request from "supertest";
import { CHANNEL_NAMES } from "../../src/core/channels.js";
import { session } from "../../src/express/index.js";
import { MemoryStore } from "../../src/stores/memory.js";
import { cookiePair, SECRET, sessionIdOf } from "../helpers/http.js";

describe("lifecycle events", () => {
  it("cover create, save, load, expire and destroy, and never carry an id, data or secret", async () => {
    const events: { channel: string; message: unknown }[] = [];
    const listeners = Object.values(CHANNEL_NAMES).map((name) => {
      const listener = (message: unknown) => events.push({ channel: name, message });
      subscribe(name, listener);
      return [name, listener] as const;
    });
    try {
      const store = new MemoryStore();
      const options = { secret: SECRET, store, resave: false, saveUninitialized: false };
      const app = express();
      app.use(session({ ...options, absoluteTimeoutMs: 60_000 }));
      app.post("/login", async (req, res) => {
        await req.session.regenerate();
        (req.session as unknown as Record<string, unknown>).account = "private-account-data";
        res.send("in");
      });
      app.post("/logout", async (req, res) => {
        await req.session.destroy();
        res.send("out");
      });
      app.get("/", (_req, res) => {
        res.send("page");
      });
      const strict = express();
      strict.use(session({ ...options, absoluteTimeoutMs: 50 }));
      strict.get("/", (_req, res) => {
        res.send("page");
      });

      const first = await request(app).post("/login").expect("in");
      const second = await request(app).post("/login").expect("in");
      await request(app).get("/").set("Cookie", cookiePair(first)).expect("page");
      await request(app).post("/logout").set("Cookie", cookiePair(first)).expect("out");
      await sleep(80);
      await request(strict).get("/").set("Cookie", cookiePair(second)).expect("page");

      const seen = new Set(events.map((event) => event.channel));
      for (const name of [
        CHANNEL_NAMES.created,
        CHANNEL_NAMES.saved,
        CHANNEL_NAMES.loaded,
        CHANNEL_NAMES.destroyed,
        CHANNEL_NAMES.expired,
        CHANNEL_NAMES.store,
      ]) {
        assert.ok(seen.has(name), `no ${name} event`);
      }
      const expired = events.find((event) => event.channel === CHANNEL_NAMES.expired);
      assert.deepEqual(expired?.message, { reason: "absolute" });

      const dump = JSON.stringify(events);
      for (const secret of [
        sessionIdOf(first),
        sessionIdOf(second),
        "private-account-data",
        SECRET,
      ]) {
        assert.ok(!dump.includes(secret), "an event carried a credential or session data");
      }
    } finally {
      for (const [name, listener] of listeners) unsubscribe(name, listener);
    }
  });
});
