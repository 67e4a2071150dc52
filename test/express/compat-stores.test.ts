// Store methods replaced on the instance, as test doubles and instrumentation do
// (`store.set = function (sid, sess, cb) { ... }`): the replacement is what runs, it is called
// with express-session's arguments, and what it answers through its callback is what happens.
// express-session's MemoryStore under express-session is the reference; Tessera runs the same
// requests over its own stores and over express-session's.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import request from "supertest";
import { session as tessera } from "../../src/express/index.js";
import { JsonStore } from "../fixtures/stores.js";
import { cookiePair, SECRET } from "../helpers/http.js";
import {
  type Built,
  build,
  counterRoutes,
  expressSession,
  get,
  type Library,
  until,
} from "./side-by-side.js";

const DEFAULTS = { secret: SECRET, resave: false, saveUninitialized: false };

interface Case {
  what: string;
  library: Library;
  make: () => object;
}

const CASES: readonly Case[] = [
  {
    what: "express-session's MemoryStore under express-session",
    library: "express-session",
    make: () => new expressSession.MemoryStore(),
  },
  {
    what: "session.MemoryStore of tessera/express",
    library: "Tessera",
    make: () => new tessera.MemoryStore(),
  },
  {
    what: "a Tessera store with Promise methods on its prototype",
    library: "Tessera",
    make: () => new JsonStore(),
  },
  {
    what: "express-session's MemoryStore under Tessera",
    library: "Tessera",
    make: () => new expressSession.MemoryStore(),
  },
];

type Callback = (error?: unknown, value?: unknown) => void;

/** How one call looked: the method, then the type of each argument. */
type Call = [method: string, ...argumentTypes: string[]];

/**
 * Replaces get, set, destroy and touch on the instance with a test double that keeps sessions
 * in a Map of its own, answers through the callback a tick later, and logs each call.
 */
function replaceWithDouble(store: object): { calls: Call[]; kept: Map<string, string> } {
  const calls: Call[] = [];
  const kept = new Map<string, string>();
  const log = (method: string, args: unknown[]) => {
    calls.push([method, ...args.map((arg) => typeof arg)]);
  };
  Object.assign(store, {
    get(sid: string, callback: Callback) {
      log("get", [sid, callback]);
      const json = kept.get(sid);
      setImmediate(() => callback(null, json === undefined ? null : JSON.parse(json)));
    },
    set(sid: string, sess: unknown, callback: Callback) {
      log("set", [sid, sess, callback]);
      kept.set(sid, JSON.stringify(sess));
      setImmediate(() => callback());
    },
    destroy(sid: string, callback: Callback) {
      log("destroy", [sid, callback]);
      kept.delete(sid);
      setImmediate(() => callback());
    },
    touch(sid: string, sess: unknown, callback: Callback) {
      log("touch", [sid, sess, callback]);
      setImmediate(() => callback());
    },
  });
  return { calls, kept };
}

function appOver(library: Library, store: object): Built {
  return build(library, { ...DEFAULTS, store }, counterRoutes);
}

describe("store methods replaced on the instance", () => {
  it("are what runs, called as (sid, [sess,] callback), and their answers are what happens", async () => {
    const expected: Call[] = [
      ["set", "string", "object", "function"],
      ["get", "string", "function"],
      ["set", "string", "object", "function"],
      ["get", "string", "function"],
      ["touch", "string", "object", "function"],
      ["get", "string", "function"],
      ["destroy", "string", "function"],
    ];
    for (const { what, library, make } of CASES) {
      const store = make();
      const { calls, kept } = replaceWithDouble(store);
      const { app } = appOver(library, store);
      const first = await get(app, "/count");
      const cookie = cookiePair(first);
      const bodies = [first.text];
      bodies.push((await get(app, "/count", cookie)).text);
      bodies.push((await get(app, "/read", cookie)).text);
      bodies.push((await request(app).post("/logout").set("Cookie", cookie)).text);
      assert.deepEqual(bodies, ["1", "2", "2", "bye"], what);
      assert.deepEqual(calls, expected, what);
      assert.equal(kept.size, 0, `${what}: the double's destroy removed the session`);
    }
  });

  it("a session object the replaced get answers is the session loaded", async () => {
    for (const { what, library, make } of CASES) {
      const store = make();
      const { kept } = replaceWithDouble(store);
      const { app } = appOver(library, store);
      const cookie = cookiePair(await get(app, "/count"));
      const [sid] = [...kept.keys()];
      assert.ok(sid !== undefined, what);
      kept.set(
        sid,
        JSON.stringify({ cookie: { originalMaxAge: null, httpOnly: true, path: "/" }, views: 41 }),
      );
      const res = await get(app, "/read", cookie);
      assert.equal(res.text, "41", what);
    }
  });

  for (const method of ["get", "set", "destroy", "touch"] as const) {
    it(`an error the replaced ${method} passes to its callback reaches the error handler as that error`, async () => {
      for (const { what, library, make } of CASES) {
        const store = make();
        replaceWithDouble(store);
        const built = appOver(library, store);
        const first = method === "set" ? undefined : await get(built.app, "/count");
        const error = Object.assign(new Error("boom!"), { code: "EBOOM" });
        Object.assign(store, {
          [method](...args: unknown[]) {
            setImmediate(() => (args.at(-1) as Callback)(error));
          },
        });
        const cookie = first === undefined ? undefined : cookiePair(first);
        const res =
          method === "destroy"
            ? await request(built.app)
                .post("/logout")
                .set("Cookie", cookie as string)
            : await get(built.app, method === "set" ? "/count" : "/read", cookie);
        await until(() => built.errors.length > 0);
        assert.equal(built.errors[0], error, `${what}: the store's own error`);
        // A failed set or touch is reported after the app's response went out, by both
        // libraries; a failed get or destroy before it, so the error handler answers.
        if (method === "get" || method === "destroy") {
          assert.deepEqual([res.status, res.text], [500, "boom!"], `${what} (${library})`);
        } else {
          assert.equal(res.status, 200, `${what} (${library})`);
        }
      }
    });
  }

  it("a counting wrapper around the MemoryStore's own set: one call per save, and the data lands", async () => {
    for (const { what, library, make } of CASES.filter((c) => !c.what.includes("Promise"))) {
      const store = make() as { set: (...args: unknown[]) => unknown };
      const original = store.set;
      let count = 0;
      store.set = function (this: unknown, sid: unknown, sess: unknown, callback: unknown) {
        count++;
        return original.call(this, sid, sess, callback);
      };
      const { app } = appOver(library, store);
      const first = await get(app, "/count");
      await get(app, "/read", cookiePair(first));
      const second = await get(app, "/count", cookiePair(first));
      assert.equal(second.text, "2", `${what}: the original set stored the session`);
      assert.equal(count, 2, `${what}: one set per request that changed the session`);
    }
  });
});
