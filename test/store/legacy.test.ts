// isTesseraStore(): which stores session() calls through the Promise contract, and which it wraps
// as express-session's callback stores. Real packages are instances of the installed versions;
// connect-redis 7 (not installed, since 9 replaced it) is shown by its shape.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import connectPgSimple from "connect-pg-simple";
import { RedisStore as ConnectRedis } from "connect-redis";
import expressSession from "express-session";
import createMemoryStore from "memorystore";
import pg from "pg";
import { createClient } from "redis";
import { Store as TesseraLegacyBase } from "../../src/express/index.js";
import { fromLegacyStore, isTesseraStore, TESSERA_STORE, toStore } from "../../src/store/index.js";
import { MemoryStore } from "../../src/stores/memory.js";
import { OldStyleStore } from "../fixtures/stores.js";

type Callback = (error?: unknown, value?: unknown) => void;
const noop: Callback = () => {};

/** The four required methods, as docs/writing-a-store.md writes them: Promises, no callback. */
const promiseMethods = {
  async get(_id: string) {
    return undefined;
  },
  async set(_id: string, _record: unknown, _ttlMs: number) {},
  async destroy(_id: string) {},
  async touch(_id: string, _record: unknown, _ttlMs: number) {},
};

/** connect-redis 7's signatures: `async get(sid, cb = noop)`, so `get.length` is 1. */
class ConnectRedis7Shape extends expressSession.Store {
  async get(_sid: string, cb = noop) {
    return cb(null, undefined);
  }
  async set(_sid: string, _session: unknown, cb = noop) {
    return cb();
  }
  async destroy(_sid: string, cb = noop) {
    return cb();
  }
  async touch(_sid: string, _session: unknown, cb = noop) {
    return cb();
  }
}

describe("isTesseraStore", () => {
  describe("a Tessera store", () => {
    it("is one by the mark, or by patch, whatever its parameters", () => {
      const wrapped = { get: (...args: unknown[]) => args, destroy: (...args: unknown[]) => args };
      assert.equal(isTesseraStore({ ...wrapped, [TESSERA_STORE]: true }), true);
      assert.equal(isTesseraStore({ ...wrapped, patch: async () => true }), true);
      assert.equal(isTesseraStore(new MemoryStore()), true);
    });

    it("is one by its shape alone: get(id) and destroy(id), no mark, no patch", () => {
      assert.equal(isTesseraStore({ ...promiseMethods }), true);
      class ByTheDocs {
        async get(_id: string) {
          return undefined;
        }
        async set(_id: string, _record: unknown, _ttlMs: number) {}
        async destroy(_id: string) {}
        async touch(_id: string, _record: unknown, _ttlMs: number) {}
      }
      assert.equal(isTesseraStore(new ByTheDocs()), true);
      const arrows = { ...promiseMethods, get: async (_id: string) => undefined };
      assert.equal(isTesseraStore(arrows), true);
    });

    it("is what fromLegacyStore() answers, so wrapping it again does nothing", () => {
      const adapted = fromLegacyStore(new (OldStyleStore as unknown as new () => never)());
      assert.equal(isTesseraStore(adapted), true);
      assert.equal(toStore(adapted), adapted);
    });
  });

  describe("an express-session store", () => {
    it("is one when it has express-session's Store base, whatever its parameters say", () => {
      const shaped = new ConnectRedis7Shape();
      assert.equal(shaped.get.length, 1, "the shape this test is about");
      assert.equal(shaped.destroy.length, 1);
      assert.equal(isTesseraStore(shaped), false);
      // Tessera's own copy of that base class, for stores written the old way.
      const onTesseraBase = Object.assign(Object.create(TesseraLegacyBase.prototype), {
        ...promiseMethods,
      });
      assert.equal(isTesseraStore(onTesseraBase), false);
    });

    it("is one for each published store installed here", async () => {
      const redis = createClient();
      const pool = new pg.Pool({ max: 1 });
      const PgStore = connectPgSimple(expressSession);
      const Memory = createMemoryStore(expressSession);
      const memorystore = new Memory({ checkPeriod: 60_000 });
      try {
        const stores: [string, unknown][] = [
          ["express-session's MemoryStore", new expressSession.MemoryStore()],
          ["connect-redis 9", new ConnectRedis({ client: redis })],
          ["connect-pg-simple", new PgStore({ pool, pruneSessionInterval: false })],
          ["memorystore", memorystore],
          ["the old-style fixture store", new (OldStyleStore as unknown as new () => object)()],
        ];
        for (const [name, store] of stores) {
          assert.equal(isTesseraStore(store), false, `${name} was taken for a Tessera store`);
        }
      } finally {
        memorystore.stopInterval();
        await pool.end();
      }
    });

    it("is one when its methods take a callback, even with no base class", () => {
      const callbacks = {
        get(_sid: string, cb: Callback) {
          cb();
        },
        set(_sid: string, _session: unknown, cb: Callback) {
          cb();
        },
        destroy(_sid: string, cb: Callback) {
          cb();
        },
      };
      assert.equal(isTesseraStore(callbacks), false);
    });

    it("is the answer in every unclear case: rest parameters, wrappers, get and destroy disagreeing", () => {
      const rest = { ...promiseMethods, get: (...args: unknown[]) => args };
      const bound = { ...promiseMethods, destroy: ((...args: unknown[]) => args).bind(null) };
      const disagreeing = { ...promiseMethods, destroy: async (_id: string, _cb: Callback) => {} };
      const noGet = { destroy: promiseMethods.destroy };
      for (const store of [rest, bound, disagreeing, noGet]) {
        assert.equal(isTesseraStore(store), false);
      }
    });
  });
});
