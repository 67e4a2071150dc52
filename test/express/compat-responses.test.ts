// Responses ended the ways express-session's apps end them, over stores whose writes take time:
// the session is saved before the response goes out, so `end()` waits for the store. While it
// waits, the response must act as one already sent, as it does under express-session: the
// body the app wrote comes out whole, a second `end()` changes nothing, and a late header
// change throws node's own error and never reaches the client.
import assert from "node:assert/strict";
import { createServer, type ServerResponse } from "node:http";
import { describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import express, { type ErrorRequestHandler } from "express";
import request from "supertest";
import { session } from "../../src/express/index.js";
import type { SessionOptions, SessionPatch, SessionRecord, Store } from "../../src/index.js";
import { MemoryStore } from "../../src/stores/memory.js";
import { failOn, JsonStore } from "../fixtures/stores.js";
import { SECRET, sessionIdOf, shouldSetCookie } from "../helpers/http.js";

const DELAY_MS = 50;

/** A store that answers every call ~50 ms late, as one across a network does. */
class SlowStore extends JsonStore {
  override async get(id: string): Promise<SessionRecord | undefined> {
    await sleep(DELAY_MS);
    return super.get(id);
  }
  override async set(id: string, record: SessionRecord, ttlMs: number): Promise<void> {
    await sleep(DELAY_MS);
    return super.set(id, record, ttlMs);
  }
  override async patch(id: string, patch: SessionPatch, ttlMs: number): Promise<boolean> {
    await sleep(DELAY_MS);
    return super.patch(id, patch, ttlMs);
  }
  override async touch(id: string, record: SessionRecord, ttlMs: number): Promise<void> {
    await sleep(DELAY_MS);
    return super.touch(id, record, ttlMs);
  }
  override async destroy(id: string): Promise<void> {
    await sleep(DELAY_MS);
    return super.destroy(id);
  }
}

/**
 * A MemoryStore whose `set` is replaced on the instance by one that calls back ~50 ms late, the
 * way express-session's own tests and instrumentation wrap a store.
 */
function lateCallbackStore(): Store {
  const store = new MemoryStore();
  const set = store.set.bind(store);
  Object.assign(store, {
    set(id: string, record: SessionRecord, callback: (error?: unknown) => void) {
      setTimeout(() => {
        Promise.resolve()
          .then(() => set(id, record))
          .then(() => callback(), callback);
      }, DELAY_MS);
    },
  });
  return store;
}

const stores: { name: string; make(): Store }[] = [
  { name: "MemoryStore", make: () => new MemoryStore() },
  { name: `a store that answers after ${DELAY_MS} ms`, make: () => new SlowStore() },
  {
    name: `a MemoryStore whose set() is wrapped to call back after ${DELAY_MS} ms`,
    make: lateCallbackStore,
  },
];

const reportCode: ErrorRequestHandler = (error, _req, res, _next) => {
  res.status(500).send(String((error as { code?: unknown }).code));
};

/** An app whose one route marks the session as changed, then answers with `respond`. */
function site(
  store: Store,
  respond: (res: ServerResponse) => void,
  options: Partial<SessionOptions> = {},
): express.Express {
  const app = express();
  app.use(session({ secret: SECRET, store, resave: false, saveUninitialized: false, ...options }));
  app.get("/", (req, res) => {
    req.session.hit = true;
    respond(res);
  });
  app.use(reportCode);
  return app;
}

declare module "../../src/core/session.js" {
  interface SessionData {
    hit: boolean;
  }
}

/** Asserts the store holds the session the response's cookie names, with the app's change. */
async function shouldHaveSaved(store: Store, res: request.Response): Promise<void> {
  const record = await store.get(sessionIdOf(res));
  assert.ok(record, "the session is in the store");
  assert.equal(record.hit, true, "with what the request changed");
}

for (const { name, make } of stores) {
  describe(`responses over ${name}`, () => {
    it("end(body) then end(): the body goes out, the session is saved", async () => {
      const store = make();
      const app = site(store, (res) => {
        res.setHeader("Content-Type", "text/plain");
        res.end("Hello");
        res.end();
      });
      const res = await request(app).get("/").expect(200, "Hello");
      assert.equal(res.headers["content-type"], "text/plain");
      shouldSetCookie(res);
      await shouldHaveSaved(store, res);
    });

    it("end(null): an empty body, the session saved", async () => {
      const store = make();
      const app = site(store, (res) => {
        res.end(null);
      });
      const res = await request(app).get("/").expect(200, "");
      await shouldHaveSaved(store, res);
    });

    it("write() then end(body), no Content-Length: the whole body, the session saved", async () => {
      const store = make();
      const app = site(store, (res) => {
        res.write("hello, ");
        res.end("world");
      });
      const res = await request(app).get("/").expect(200, "hello, world");
      await shouldHaveSaved(store, res);
    });

    it("write() then end(body) with the app's Content-Length: the whole body, the session saved", async () => {
      const store = make();
      const app = site(store, (res) => {
        res.setHeader("Content-Length", "12");
        res.write("hello, ");
        res.end("world");
      });
      const res = await request(app).get("/").expect(200, "hello, world");
      assert.equal(res.headers["content-length"], "12");
      await shouldHaveSaved(store, res);
    });

    it("setHeader() after end() throws node's own error, and the late header never goes out", async () => {
      /** What a handler sees when it changes headers after end(), and what the client gets. */
      const lateChange = () => {
        const seen: { error?: Error } = {};
        const respond = (res: ServerResponse) => {
          res.end();
          try {
            res.setHeader("X-Late", "yes");
            res.end("late");
          } catch (error) {
            seen.error = error as Error;
          }
        };
        return { seen, respond };
      };

      const bare = lateChange();
      const plain = await request(createServer((_req, res) => bare.respond(res))).get("/");
      assert.ok(bare.seen.error, "plain node:http refuses a header after end()");

      const store = make();
      const ours = lateChange();
      const res = await request(site(store, ours.respond)).get("/");
      assert.equal(ours.seen.error?.message, bare.seen.error.message);
      assert.equal((ours.seen.error as { code?: string }).code, "ERR_HTTP_HEADERS_SENT");
      assert.equal(res.headers["x-late"], undefined, "the late header is not sent");
      assert.equal(res.status, plain.status);
      assert.equal(res.text, plain.text);
      await shouldHaveSaved(store, res);
    });

    it("a store write that fails: the app's response, as express-session, or with saveErrorResponse: 'error' the error handler's", async () => {
      const respond = (res: ServerResponse) => {
        res.setHeader("Content-Type", "text/plain");
        res.end("all good");
      };
      const failing = () => failOn(new SlowStore(), ["set", "patch"]);
      await request(site(failing(), respond)).get("/").expect(200, "all good");
      const res = await request(site(failing(), respond, { saveErrorResponse: "error" }))
        .get("/")
        .expect(500, "ERR_STORE");
      assert.equal(res.headers["set-cookie"], undefined, "no cookie for a session not saved");
    });
  });
}
