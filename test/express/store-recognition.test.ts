// session() tells a store written to Tessera's Promise contract from one written for
// express-session by its shape (src/store/legacy.ts, isTesseraStore), and calls each its own
// way. Two stores whose shape once misled it, each through Express over a real server: one
// written exactly as docs/writing-a-store.md's contract says, with no mark and no patch (it used
// to be wrapped as a callback store, and its set() got a callback for its TTL), and one shaped
// like connect-redis 7, whose callbacks default to a no-op (so its get() declares one parameter).
import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, it } from "node:test";
import express from "express";
import request from "supertest";
import { Store as ExpressSessionStore, session } from "../../src/express/index.js";
import { assertTtl, type SessionRecord, storeError, storeJson } from "../../src/store/index.js";
import { cookiePair, SECRET, sessionIdOf } from "../helpers/http.js";

const MAX_AGE_MS = 3_600_000;

/** The contract's four methods over a Map, with real expiry: no `patch`, no `TESSERA_STORE`. */
class PromiseMapStore {
  readonly sessions = new Map<string, { json: string; expiresAt: number }>();
  readonly ttls: unknown[] = [];

  async get(id: string): Promise<SessionRecord | undefined> {
    return this.live(id);
  }

  async set(id: string, record: SessionRecord, ttlMs: number): Promise<void> {
    this.write(id, record, ttlMs);
  }

  async destroy(id: string): Promise<void> {
    this.sessions.delete(id);
  }

  async touch(id: string, record: SessionRecord, ttlMs: number): Promise<void> {
    // Read and written in one step: a destroy cannot land in between and be undone.
    const current = this.live(id);
    if (current !== undefined) this.write(id, { ...current, cookie: record.cookie }, ttlMs);
  }

  /** A fresh copy of a live session; an expired one is deleted and never returned. */
  private live(id: string): SessionRecord | undefined {
    const entry = this.sessions.get(id);
    if (entry === undefined || entry.expiresAt > Date.now()) {
      return entry && (JSON.parse(entry.json) as SessionRecord);
    }
    this.sessions.delete(id);
    return undefined;
  }

  private write(id: string, record: SessionRecord, ttlMs: number): void {
    this.ttls.push(ttlMs);
    try {
      const expiresAt = Date.now() + assertTtl(ttlMs);
      this.sessions.set(id, { json: storeJson("PromiseMapStore", "write", record), expiresAt });
    } catch (cause) {
      throw storeError("PromiseMapStore", "write", cause);
    }
  }
}

type Callback = (error?: unknown, value?: unknown) => void;
const noop: Callback = () => {};

/** connect-redis 7's signatures, `async get(sid, cb = noop)`, over a Map: a callback store. */
class DefaultCallbackStore extends ExpressSessionStore {
  readonly sessions = new Map<string, string>();

  async get(sid: string, cb = noop) {
    const json = this.sessions.get(sid);
    return cb(null, json === undefined ? undefined : JSON.parse(json));
  }
  async set(sid: string, sess: unknown, cb = noop) {
    if (typeof cb !== "function") throw new TypeError("cb is not a function");
    this.sessions.set(sid, JSON.stringify(sess));
    return cb();
  }
  async destroy(sid: string, cb = noop) {
    this.sessions.delete(sid);
    return cb();
  }
  async touch(_sid: string, _sess: unknown, cb = noop) {
    return cb();
  }
}

type AnyStore = NonNullable<Parameters<typeof session>[0]["store"]>;

/** An Express 5 app on a loopback port: count, read, log out. */
async function serve(store: object): Promise<Server> {
  const app = express();
  app.use(
    session({
      secret: SECRET,
      store: store as AnyStore,
      resave: false,
      saveUninitialized: false,
      cookie: { maxAge: MAX_AGE_MS },
    }),
  );
  app.get("/count", (req, res) => {
    const count = ((req.session.count as number | undefined) ?? 0) + 1;
    req.session.count = count;
    res.send(String(count));
  });
  app.get("/read", (req, res) => {
    res.send(String(req.session.count ?? "none"));
  });
  app.post("/logout", async (req, res) => {
    await req.session.destroy();
    res.send("bye");
  });
  const server = createServer(app);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return server;
}

function close(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}

/** The journey both stores must give: saved, read back and changed, then destroyed. */
async function journey(server: Server, stored: (id: string) => unknown): Promise<string> {
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const first = await request(origin).get("/count").expect(200, "1");
  const cookie = cookiePair(first);
  const id = sessionIdOf(first);
  assert.equal(
    (stored(id) as { count?: number } | undefined)?.count,
    1,
    "the session is not stored",
  );
  await request(origin).get("/count").set("Cookie", cookie).expect(200, "2");
  await request(origin).get("/read").set("Cookie", cookie).expect(200, "2");
  await request(origin).post("/logout").set("Cookie", cookie).expect(200, "bye");
  assert.equal(stored(id), undefined, "destroy left the session in the store");
  await request(origin).get("/read").set("Cookie", cookie).expect(200, "none");
  return cookie;
}

describe("session() recognises a store by its contract", () => {
  describe("a store written to the Promise contract, with no mark and no patch", () => {
    const store = new PromiseMapStore();
    let server: Server;
    before(async () => {
      server = await serve(store);
    });
    after(() => close(server));

    const record = (id: string) => {
      const json = store.sessions.get(id)?.json;
      return json === undefined ? undefined : JSON.parse(json);
    };

    it("is called with a TTL: a session is saved, read back, changed and destroyed", async () => {
      await journey(server, record);
      assert.ok(store.ttls.length >= 2, "set was not called for each save");
      for (const ttl of store.ttls) {
        assert.equal(typeof ttl, "number", "set got something else than a TTL");
        assert.ok((ttl as number) > 0 && (ttl as number) <= MAX_AGE_MS, `a TTL of ${ttl} ms`);
      }
    });

    it("its own expiry ends the session", async () => {
      const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      const first = await request(origin).get("/count").expect(200, "1");
      const entry = store.sessions.get(sessionIdOf(first));
      assert.ok(entry, "the session is not stored");
      // The instant the store keeps is moved, instead of waiting an hour for it.
      entry.expiresAt = Date.now() - 1;
      await request(origin).get("/read").set("Cookie", cookiePair(first)).expect(200, "none");
      assert.equal(store.sessions.size, 0, "get did not drop the expired session");
    });
  });

  describe("an express-session store whose callbacks default to a no-op, as connect-redis 7's", () => {
    const store = new DefaultCallbackStore();
    let server: Server;
    before(async () => {
      server = await serve(store);
    });
    after(() => close(server));

    it("is still called with callbacks: a session is saved, read back, changed and destroyed", async () => {
      await journey(server, (id) => {
        const json = store.sessions.get(id);
        return json === undefined ? undefined : JSON.parse(json);
      });
    });
  });
});
