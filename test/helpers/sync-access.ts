// Tests for a store that the engine may call without a Promise per call (SYNC_ACCESS), so far
// the MemoryStore: how it offers that way in, and how the engine uses it.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import express from "express";
import request from "supertest";
import { session } from "../../src/express/index.js";
import { type Store, SYNC_ACCESS, type SyncAccess } from "../../src/store/types.js";
import { SECRET } from "./http.js";

type SyncStore = Store & { readonly [SYNC_ACCESS]: SyncAccess | undefined };

/**
 * An app that counts visits on `/` and reads the count on `/read` (the session unchanged, so it
 * is touched), answering errors as JSON; `onRequest` runs in each route before it answers.
 */
function counterApp(store: Store, onRequest: (req: express.Request) => void = () => {}) {
  const app = express();
  app.use(session({ secret: SECRET, store, resave: false, saveUninitialized: false }));
  app.get("/", (req, res) => {
    onRequest(req);
    req.session.views = ((req.session.views as number | undefined) ?? 0) + 1;
    res.send(String(req.session.views));
  });
  app.get("/read", (req, res) => {
    onRequest(req);
    res.send(String(req.session.views ?? 0));
  });
  app.use(((error, _req, res, _next) => {
    res.status(500).json({ code: error.code, message: error.message });
  }) as express.ErrorRequestHandler);
  return app;
}

async function idsOf(store: Store): Promise<string[]> {
  const ids: string[] = [];
  for await (const id of store.ids?.() ?? []) ids.push(id);
  return ids;
}

export interface SyncAccessSetup<S extends SyncStore> {
  /** A new, empty store. */
  make: () => S;
  /** A subclass of the store's class that overrides `get`. */
  makeSubclass: () => S;
  /** Makes every later call of the store fail. */
  breakStore: (store: S) => void;
}

/** Checks how a store offers the engine its synchronous way in, and how the engine uses it. */
export function describeSyncAccess<S extends SyncStore>(setup: SyncAccessSetup<S>): void {
  describe("the engine's synchronous way in", () => {
    it("is offered only while get and touch are the store's own", () => {
      assert.ok(setup.make()[SYNC_ACCESS]);
      assert.equal(setup.makeSubclass()[SYNC_ACCESS], undefined);
      const patched = setup.make();
      const touch = patched.touch.bind(patched);
      patched.touch = (id, record, ttlMs) => touch(id, record, ttlMs);
      assert.equal(patched[SYNC_ACCESS], undefined);
    });

    it("gives way to a get replaced on the instance: the middleware calls the replacement", async () => {
      const store = setup.make();
      const get = store.get.bind(store);
      const ids: string[] = [];
      store.get = (id: string) => {
        ids.push(id);
        return get(id);
      };
      const agent = request.agent(counterApp(store));
      await agent.get("/").expect(200, "1");
      await agent.get("/").expect(200, "2");
      assert.equal(ids.length, 1, "the second request read its session through the replacement");
      assert.deepEqual(await idsOf(store), ids);
    });

    for (const operation of ["get", "touch"] as const) {
      it(`turns a failure inside ${operation} into ERR_STORE for the error handler, naming no id`, async () => {
        const store = setup.make();
        const app = counterApp(store, (req) => {
          // Breaks the store after the session was read: only the touch at the end fails.
          if (operation === "touch" && req.path === "/read") setup.breakStore(store);
        });
        const agent = request.agent(app);
        await agent.get("/").expect(200, "1");
        const [id] = await idsOf(store);
        if (operation === "get") setup.breakStore(store);
        const res = await agent.get("/read").expect(500);
        assert.equal(res.body.code, "ERR_STORE");
        assert.match(res.body.message, new RegExp(`Store\\b.*\\b${operation}\\b`));
        assert.ok(!res.body.message.includes(id as string));
      });
    }
  });
}
