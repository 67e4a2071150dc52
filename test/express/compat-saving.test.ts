// When a session is saved and its cookie sent, decided as express-session 1.19 decides: a
// regenerated session counts as changed (passport's logout relies on it), a bogus
// req.sessionID saves and sends nothing, save() called by the app is the request's only save,
// and resave and saveUninitialized default to true, with express-session's deprecations.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { Express, Request } from "express";
import request from "supertest";
import { session as tessera } from "../../src/express/index.js";
import { JsonStore } from "../fixtures/stores.js";
import {
  cookiePair,
  SECRET,
  sessionIdOf,
  shouldNotSetCookie,
  shouldSetCookie,
} from "../helpers/http.js";
import {
  type Built,
  build,
  clientView,
  counterRoutes,
  expressSession,
  get,
  type Library,
  type Options,
  recordWarnings,
} from "./side-by-side.js";

const warnings = recordWarnings();

/** A MemoryStore as both libraries' stores answer: callbacks, and `all` for reading back. */
interface MemoryLike {
  set: (...args: unknown[]) => unknown;
  all(callback: (error: unknown, sessions?: Record<string, Record<string, unknown>>) => void): void;
}

interface Side extends Built {
  what: string;
  store: MemoryLike;
  /** Calls of the store's set, counted by a wrapper on the instance as express-session's tests count them. */
  sets: number;
}

/**
 * The app on express-session over its MemoryStore, and on Tessera over the MemoryStore an app
 * gets after the swap (`session.MemoryStore`) and over express-session's.
 */
function sides(options: Options, routes: (app: Express) => void): Side[] {
  const cases: [Library, string, () => MemoryLike][] = [
    ["express-session", "express-session", () => new expressSession.MemoryStore() as never],
    ["Tessera", "Tessera over session.MemoryStore", () => new tessera.MemoryStore() as never],
    [
      "Tessera",
      "Tessera over express-session's MemoryStore",
      () => new expressSession.MemoryStore() as never,
    ],
  ];
  return cases.map(([library, what, make]) => {
    const store = make();
    const set = store.set;
    const side: Side = {
      ...build(library, { secret: SECRET, store, ...options }, routes),
      what,
      store,
      sets: 0,
    };
    store.set = function (this: unknown, ...args: unknown[]) {
      side.sets++;
      return set.apply(this, args);
    };
    return side;
  });
}

/** Stored sessions without the cookie and Tessera's metadata: what the app put there. */
async function storedData(store: MemoryLike): Promise<Record<string, unknown>[]> {
  const all = await new Promise<Record<string, Record<string, unknown>>>((resolve, reject) => {
    store.all((error, sessions) => (error ? reject(error) : resolve(sessions ?? {})));
  });
  return Object.values(all).map(({ cookie: _cookie, __tessera: _meta, ...data }) => data);
}

type Done = (error?: unknown) => void;

/** passport 0.6+'s `req.logout()`: forget the user, save, then regenerate the session. */
function logout(req: Request, done: Done): void {
  const data = req.session as unknown as { passport?: { user?: unknown } };
  if (data.passport) delete data.passport.user;
  req.session.save((error) => {
    if (error) return done(error);
    req.session.regenerate(done);
  });
}

/** passport's `req.login()` with sessions: regenerate, then store the user and save. */
function login(req: Request, user: string, done: Done): void {
  req.session.regenerate((error) => {
    if (error) return done(error);
    (req.session as unknown as { passport: { user: string } }).passport = { user };
    req.session.save(done);
  });
}

function authRoutes(app: Express): void {
  app.post("/login", (req, res, next) => {
    login(req, "ada", (error) => (error ? next(error) : res.send("in")));
  });
  app.get("/me", (req, res) => {
    const data = req.session as unknown as { passport?: { user?: string } };
    res.send(data.passport?.user ?? "nobody");
  });
  app.post("/logout", (req, res, next) => {
    logout(req, (error) => (error ? next(error) : res.send("out")));
  });
  app.post("/regenerate", (req, res, next) => {
    req.session.regenerate((error) => (error ? next(error) : res.send("regenerated")));
  });
}

const EXPLICIT = { resave: false, saveUninitialized: false };

describe("saving as express-session saves", () => {
  it("a regenerated session counts as changed: saved and sent though empty, with saveUninitialized false", async () => {
    const all = sides(EXPLICIT, authRoutes);
    const views = [];
    for (const side of all) {
      const res = await request(side.app).post("/regenerate").expect(200, "regenerated");
      shouldSetCookie(res);
      assert.deepEqual(await storedData(side.store), [{}], `${side.what} stored the empty session`);
      views.push(clientView(res));
    }
    for (const view of views) assert.deepEqual(view, views[0]);
  });

  it("passport's logout (save, then regenerate) stores the empty session and sends its cookie", async () => {
    for (const side of sides(EXPLICIT, authRoutes)) {
      const loggedIn = await request(side.app).post("/login").expect(200, "in");
      const cookie = cookiePair(loggedIn);
      await get(side.app, "/me", cookie).expect(200, "ada");
      const out = await request(side.app).post("/logout").set("Cookie", cookie).expect(200, "out");
      const renewed = shouldSetCookie(out);
      assert.notEqual(sessionIdOf(out), sessionIdOf(loggedIn), `${side.what}: a new id`);
      assert.deepEqual(await storedData(side.store), [{}], `${side.what}: only the empty session`);
      await get(side.app, "/me", renewed.split(";")[0]).expect(200, "nobody");
      await get(side.app, "/me", cookie).expect(200, "nobody");
    }
  });

  it("a bogus req.sessionID set by the app: nothing saved, no cookie", async () => {
    const all = sides(EXPLICIT, (app) => {
      app.get("/", (req, res) => {
        (req as unknown as { sessionID: unknown }).sessionID = () => {};
        (req.session as unknown as { views: number }).views = 1;
        res.send("done");
      });
    });
    for (const side of all) {
      const res = await get(side.app, "/").expect(200, "done");
      shouldNotSetCookie(res);
      assert.equal(side.sets, 0, side.what);
      assert.deepEqual(await storedData(side.store), [], side.what);
    }
  });

  it("save() called by the app is the request's only save", async () => {
    const all = sides(EXPLICIT, (app) => {
      counterRoutes(app);
      app.get("/save", (req, res, next) => {
        const data = req.session as unknown as { views?: number };
        data.views = (data.views ?? 0) + 1;
        req.session.save((error) => (error ? next(error) : res.send(String(data.views))));
      });
    });
    for (const side of all) {
      const first = await get(side.app, "/save").expect(200, "1");
      assert.equal(side.sets, 1, `${side.what}: the new session`);
      await get(side.app, "/save", cookiePair(first)).expect(200, "2");
      assert.equal(side.sets, 2, `${side.what}: the returning session`);
      await get(side.app, "/read", cookiePair(first)).expect(200, "2");
    }
  });

  it("resave and saveUninitialized left out default to true, with a warning each; Tessera patches where the store can", async () => {
    const all = sides({}, counterRoutes);
    const views = [];
    for (const side of all) {
      const first = await get(side.app, "/read").expect(200, "none");
      shouldSetCookie(first);
      assert.equal(side.sets, 1, `${side.what} saved the uninitialized session`);
      const again = await get(side.app, "/read", cookiePair(first)).expect(200, "none");
      assert.equal(side.sets, 2, `${side.what} saved the unchanged session again`);
      views.push([clientView(first), clientView(again)]);
    }
    for (const view of views) assert.deepEqual(view, views[0]);
    for (const code of ["TESSERA_RESAVE", "TESSERA_SAVE_UNINITIALIZED"]) {
      assert.ok(warnings.codes.includes(code), `warned ${code}`);
    }
    // Underneath, a store with patch is written through patch: same outcome, per key.
    const store = new JsonStore();
    const ours = build("Tessera", { secret: SECRET, store }, counterRoutes);
    const first = await get(ours.app, "/count").expect(200, "1");
    store.calls.length = 0;
    await get(ours.app, "/read", cookiePair(first)).expect(200, "1");
    assert.deepEqual(store.calls, ["get", "patch"]);
  });
});
