// Tests for a store that answers within the call (the MemoryStore, the SqliteStore): the engine
// takes its answer at once, with no Promise in between, and still times and wraps every call.
import assert from "node:assert/strict";
import { subscribe, unsubscribe } from "node:diagnostics_channel";
import { describe, it } from "node:test";
import express from "express";
import request from "supertest";
import { CHANNEL_NAMES } from "../../src/core/channels.js";
import { session } from "../../src/express/index.js";
import type { Store } from "../../src/store/types.js";
import { SECRET } from "./http.js";

/**
 * An app that counts visits on `/` and reads the count on `/read` (the session unchanged, so it
 * is touched), answering errors as JSON; `onRequest` runs in each route before it answers.
 */
function counterApp(store: Store, onRequest: (req: express.Request) => void = () => {}) {
  const app = express();
  const sessions = session({ secret: SECRET, store, resave: false, saveUninitialized: false });
  // Whether the session was there before session() returned: a store that answers within the
  // call costs the request no turn of the event loop.
  app.use((req, res, next) => {
    let returned = false;
    sessions(req, res, (error?: unknown) => {
      res.setHeader("X-Loaded-Within-Call", String(!returned));
      next(error);
    });
    returned = true;
  });
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

export interface SyncStoreSetup<S extends Store> {
  /** A new, empty store. */
  make: () => S;
  /** Makes every later call of the store fail. */
  breakStore: (store: S) => void;
}

/** Checks that the engine takes a synchronous store's answers at once, and still guards them. */
export function describeSyncStore<S extends Store>(setup: SyncStoreSetup<S>): void {
  describe("answering within the call", () => {
    it("answers get, set, touch and destroy with values, not Promises", () => {
      const store = setup.make();
      const record = { cookie: { originalMaxAge: null }, n: 1 };
      assert.equal(store.set("a", record, 60_000), undefined);
      assert.deepEqual(store.get("a"), record);
      assert.equal(store.touch("a", record, 60_000), undefined);
      assert.equal(store.destroy("a"), undefined);
      assert.equal(store.get("a"), undefined);
    });

    it("lets the middleware load the session before it returns", async () => {
      const agent = request.agent(counterApp(setup.make()));
      // No cookie: nothing to read, so no store call either.
      await agent.get("/").expect("X-Loaded-Within-Call", "true").expect(200, "1");
      await agent.get("/read").expect("X-Loaded-Within-Call", "true").expect(200, "1");
    });

    it("is still timed on the store channel, each call", async () => {
      const seen: string[] = [];
      const listener = (message: unknown) => {
        const { operation, durationMs } = message as { operation: string; durationMs: number };
        assert.ok(durationMs >= 0);
        seen.push(operation);
      };
      subscribe(CHANNEL_NAMES.store, listener);
      try {
        const agent = request.agent(counterApp(setup.make()));
        await agent.get("/").expect(200, "1");
        await agent.get("/").expect(200, "2");
      } finally {
        unsubscribe(CHANNEL_NAMES.store, listener);
      }
      assert.ok(seen.includes("get"), `store channel saw ${seen.join(", ")}`);
      assert.ok(seen.length >= 3, `store channel saw ${seen.join(", ")}`);
    });

    it("calls a get replaced on the instance", async () => {
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
