// Errors as express-session 1.19 gives them, so that an app's error handler and its own checks
// of a misconfiguration keep working after the swap: a store's error reaches next(err) as that
// store's error; ENOENT from get means no session; option errors carry express-session's
// words in its order; a cookie the cookie format refuses goes to next with the cookie
// package's message while the response still goes out.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import request from "supertest";
import { Cookie as TesseraCookie, session as tessera } from "../../src/express/index.js";
import { isTesseraError } from "../../src/index.js";
import { cookiePair, SECRET, shouldNotSetCookie } from "../helpers/http.js";
import {
  type Built,
  both,
  build,
  CallbackStore,
  clientView,
  counterRoutes,
  expressSession,
  get,
  LIBRARIES,
  type Library,
  type Options,
  until,
} from "./side-by-side.js";

const DEFAULTS = { secret: SECRET, resave: false, saveUninitialized: false };

/** An error as stores make them: a message and a code of their own. */
function boom(code = "EBOOM"): Error & { code: string } {
  return Object.assign(new Error("boom!"), { code });
}

/** The app on `library`, over a callback store of its own. */
function overCallbackStore(library: Library): Built & { store: CallbackStore } {
  const store = new CallbackStore();
  return { ...build(library, { ...DEFAULTS, store }, counterRoutes), store };
}

/** The first error the app's error handler received, once it has (express-session defers it). */
async function firstError(side: Built): Promise<unknown> {
  await until(() => side.errors.length > 0);
  return side.errors[0];
}

describe("errors as express-session gives them", () => {
  describe("a store written for express-session fails with its own error", () => {
    it("get: the error handler gets the store's error and answers 'boom!'", async () => {
      for (const side of LIBRARIES.map(overCallbackStore)) {
        const first = await get(side.app, "/count");
        const error = boom();
        side.store.failures.set("get", error);
        const res = await get(side.app, "/read", cookiePair(first));
        assert.deepEqual([res.status, res.text], [500, "boom!"], side.library);
        assert.equal(await firstError(side), error, `${side.library} passes the store's own error`);
        assert.equal((side.errors[0] as { code?: string }).code, "EBOOM");
      }
    });

    it("set: next(err) gets the store's error, message and code intact", async () => {
      const seen: [number, string][] = [];
      for (const side of LIBRARIES.map(overCallbackStore)) {
        const error = boom();
        side.store.failures.set("set", error);
        const res = await get(side.app, "/count");
        assert.equal(await firstError(side), error, `${side.library} passes the store's own error`);
        // Both send the app's response first, then pass the error on.
        seen.push([res.status, res.text]);
      }
      assert.deepEqual(seen[0], seen[1]);
      assert.deepEqual(seen[0], [200, "1"]);
    });

    it("destroy: next(err) gets the store's error, message and code intact", async () => {
      for (const side of LIBRARIES.map(overCallbackStore)) {
        const first = await get(side.app, "/count");
        const error = boom();
        side.store.failures.set("destroy", error);
        const res = await request(side.app).post("/logout").set("Cookie", cookiePair(first));
        assert.deepEqual([res.status, res.text], [500, "boom!"], side.library);
        assert.equal(await firstError(side), error, `${side.library} passes the store's own error`);
      }
    });

    it("touch: next(err) gets the store's error, message and code intact", async () => {
      const seen: [number, string][] = [];
      for (const side of LIBRARIES.map(overCallbackStore)) {
        const first = await get(side.app, "/count");
        const error = boom();
        side.store.failures.set("touch", error);
        const res = await get(side.app, "/read", cookiePair(first));
        assert.equal(await firstError(side), error, `${side.library} passes the store's own error`);
        seen.push([res.status, res.text]);
      }
      assert.deepEqual(seen[0], seen[1]);
      assert.equal(seen[0]?.[0], 200);
    });
  });

  it("a get failing with code ENOENT means no session: the visitor gets a fresh one", async () => {
    // A callback store, and express-session's own test of this: get replaced on the
    // MemoryStore instance that the library exports.
    const stores: [string, (library: string) => object][] = [
      [
        "a callback store",
        () => {
          const store = new CallbackStore();
          store.failures.set("get", boom("ENOENT"));
          return store;
        },
      ],
      [
        "session.MemoryStore with get replaced",
        (library) => {
          const store =
            library === "Tessera" ? new tessera.MemoryStore() : new expressSession.MemoryStore();
          Object.assign(store, {
            get(_id: string, callback: (error: unknown) => void) {
              callback(boom("ENOENT"));
            },
          });
          return store;
        },
      ],
    ];
    for (const [what, make] of stores) {
      const [theirs, ours] = both(
        (library) => ({ ...DEFAULTS, store: make(library) }),
        counterRoutes,
      );
      for (const side of [theirs, ours]) {
        const first = await get(side.app, "/count");
        const second = await get(side.app, "/count", cookiePair(first));
        assert.deepEqual(
          [second.status, second.text],
          [200, "1"],
          `${side.library} over ${what}: a fresh session`,
        );
        assert.deepEqual(side.errors, []);
      }
    }
  });

  describe("option errors at session()", () => {
    const cases: [Options, string][] = [
      // Each also breaks every rule checked after it: the first check wins, as in express-session.
      [{ genid: "not a function", unset: "never", secret: [] }, "genid option must be a function"],
      [{ unset: "never", secret: [] }, 'unset option must be "destroy" or "keep"'],
      [{ secret: [] }, "secret option array must contain one or more strings"],
    ];
    for (const [options, message] of cases) {
      it(`'${message}', in express-session's order`, () => {
        const all = { resave: false, saveUninitialized: false, ...options };
        assert.throws(() => expressSession(all as never), { name: "TypeError", message });
        assert.throws(
          () => tessera(all as never),
          (error: unknown) => {
            assert.ok((error as Error).message.includes(message), (error as Error).message);
            assert.ok(isTesseraError(error, "ERR_OPTION"), "Tessera's code stays a property");
            return true;
          },
        );
      });
    }

    it("new Cookie(non-object): 'argument options must be a object'", () => {
      const message = "argument options must be a object";
      assert.throws(() => new expressSession.Cookie("x" as never), { name: "TypeError", message });
      assert.throws(
        () => new TesseraCookie("x" as never),
        (error: unknown) => {
          // express-session's words; a TesseraError with its code, as every Tessera error is.
          assert.ok(isTesseraError(error, "ERR_OPTION"), String(error));
          assert.ok(error.message.includes(message), error.message);
          return true;
        },
      );
    });
  });

  it("a cookie that cannot be serialized: next(err) with the cookie package's message, and the response still answers", async () => {
    const [theirs, ours] = both(
      () => ({
        ...DEFAULTS,
        store: new CallbackStore(),
        cookie: { expires: new Date(Number.NaN) },
      }),
      counterRoutes,
    );
    const a = await get(theirs.app, "/count");
    const b = await get(ours.app, "/count");
    assert.deepEqual(clientView(b), clientView(a));
    assert.deepEqual([b.status, b.text], [200, "1"]);
    shouldNotSetCookie(b);
    for (const side of [theirs, ours]) {
      const error = await firstError(side);
      assert.equal((error as Error).message, "option expires is invalid", side.library);
      assert.equal(side.errors.length, 1, side.library);
    }
  });
});
