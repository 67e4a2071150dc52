import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { setTimeout as delay } from "node:timers/promises";
import express, { type ErrorRequestHandler, type Express } from "express";
import request from "supertest";
import { session } from "../../src/express/index.js";
import { isTesseraError, type SessionOptions, sign } from "../../src/index.js";
import {
  ContractMemoryStore,
  FailingStore,
  failOn,
  HangingStore,
  JsonStore,
  WholeRecordStore,
} from "../fixtures/stores.js";
import {
  attributes,
  cookiePair,
  ID,
  OLD_SECRET,
  SECRET,
  SIGNED,
  sessionIdOf,
  setCookies,
  shouldNotSetCookie,
  shouldSetCookie,
} from "../helpers/http.js";

declare module "../../src/core/session.js" {
  interface SessionData {
    views: number;
    user: { id: string; name: string };
    cart: string[];
    [key: string]: unknown;
  }
}

const reportErrors: ErrorRequestHandler = (error, _req, res, _next) => {
  res.status(isTesseraError(error) ? error.status : 500).json({
    code: (error as { code?: string }).code ?? null,
    message: (error as Error).message,
  });
};

function app(options: Partial<SessionOptions>, routes: (app: Express) => void): Express {
  const server = express();
  server.use(session({ secret: SECRET, resave: false, saveUninitialized: false, ...options }));
  routes(server);
  server.use(reportErrors);
  return server;
}

function counter(store = new JsonStore(), options: Partial<SessionOptions> = {}) {
  return app({ store, ...options }, (server) => {
    server.get("/", (req, res) => {
      res.send(String(req.session.views ?? 0));
    });
    server.get("/count", (req, res) => {
      req.session.views = (req.session.views ?? 0) + 1;
      res.send(String(req.session.views));
    });
  });
}

describe("session()", () => {
  describe("options", () => {
    it("without a secret, fails each request that brings no req.secret, as express-session", async () => {
      assert.throws(
        () => session({ secret: [] }),
        /secret option array must contain one or more strings/,
      );
      const server = app({ secret: undefined as unknown as string }, (s) => {
        s.get("/", (_req, res) => {
          res.send("never");
        });
      });
      const res = await request(server).get("/").expect(500);
      assert.equal(res.body.code, "ERR_OPTION");
      assert.match(res.body.message, /secret option required for sessions/);
    });

    it("refuses wrong option values at start-up", () => {
      const bad: Partial<SessionOptions>[] = [
        { unset: "drop" as "keep" },
        { genid: "x" as unknown as () => string },
        { name: "bad name" },
        { touchAfterMs: -1 },
        { resave: "yes" as unknown as boolean },
        { cookie: { sameSite: "sometimes" as "lax" } },
        { name: "__Host-sid", cookie: { secure: true, domain: "example.com" } },
        { name: "__Secure-sid", cookie: {} },
        { idleTimeoutMs: 1000, touchAfterMs: 2000 },
        { cookie: { domain: "example.com; HttpOnly=false" } },
        { cookie: { path: "/app;Secure" } },
        { saveErrorResponse: "crash" as "app" },
      ];
      for (const options of bad) {
        assert.throws(
          () => session({ secret: SECRET, ...options }),
          (e: unknown) => isTesseraError(e, "ERR_OPTION"),
        );
      }
    });

    it("an empty cookie domain or path is left out of the cookie, as express-session does", async () => {
      const server = app({ cookie: { domain: "", path: "" } }, (s) => {
        s.get("/", (req, res) => {
          req.session.views = 1;
          res.send("ok");
        });
      });
      const line = shouldSetCookie(await request(server).get("/").expect(200));
      assert.doesNotMatch(line, /Domain=|Path=/);
    });

    it("refuses a short secret in production", () => {
      const env = process.env.NODE_ENV;
      process.env.NODE_ENV = "production";
      try {
        assert.throws(
          () => session({ secret: "short", store: new JsonStore() }),
          /at least 32 characters/,
        );
      } finally {
        process.env.NODE_ENV = env;
      }
    });
  });

  describe("a new visitor", () => {
    it("gets no cookie and no store write while the session stays empty", async () => {
      const store = new JsonStore();
      const res = await request(counter(store)).get("/").expect(200, "0");
      shouldNotSetCookie(res);
      assert.deepEqual(store.calls, []);
    });

    it("gets a signed, httpOnly cookie once the session has data, and the data is stored", async () => {
      const store = new JsonStore();
      const res = await request(counter(store)).get("/count").expect(200, "1");
      const line = shouldSetCookie(res);
      assert.deepEqual(attributes(line), { path: "/", httponly: true });
      const id = sessionIdOf(res);
      assert.match(id, /^[A-Za-z0-9_-]{43}$/);
      assert.equal(store.record(id)?.views, 1);
      assert.deepEqual(store.calls, ["set"]);
    });
  });

  describe("a returning visitor", () => {
    it("reads the session without writing it back or sending the cookie again", async () => {
      const store = new JsonStore();
      const server = counter(store, { touchAfterMs: 60_000 });
      const first = await request(server).get("/count");
      store.calls.length = 0;
      const res = await request(server).get("/").set("Cookie", cookiePair(first)).expect(200, "1");
      shouldNotSetCookie(res);
      assert.deepEqual(store.calls, ["get"]);
    });

    it("touches the store on every request by default, as express-session does", async () => {
      const store = new JsonStore();
      const server = counter(store);
      const first = await request(server).get("/count");
      store.calls.length = 0;
      await request(server).get("/").set("Cookie", cookiePair(first));
      assert.deepEqual(store.calls, ["get", "touch"]);
    });

    it("patches only what changed when the store can", async () => {
      const store = new JsonStore();
      const server = counter(store);
      const first = await request(server).get("/count");
      store.calls.length = 0;
      await request(server).get("/count").set("Cookie", cookiePair(first)).expect("2");
      assert.deepEqual(store.calls, ["get", "patch"]);
      assert.equal(store.record(sessionIdOf(first))?.views, 2);
    });

    it("writes whole records to a store without patch", async () => {
      const store = new WholeRecordStore();
      const server = counter(store);
      const first = await request(server).get("/count");
      store.calls.length = 0;
      await request(server).get("/count").set("Cookie", cookiePair(first)).expect("2");
      assert.deepEqual(store.calls, ["get", "set"]);
    });

    it("notices changes made inside nested objects", async () => {
      const store = new JsonStore();
      const server = app({ store }, (s) => {
        s.get("/add", (req, res) => {
          req.session.cart ??= [];
          req.session.cart.push(String(req.query.item));
          res.send(req.session.cart.join(","));
        });
        s.get("/look", (req, res) => {
          res.send(String(req.session.cart?.length));
        });
      });
      const first = await request(server).get("/add?item=apple");
      const cookie = cookiePair(first);
      await request(server).get("/add?item=pear").set("Cookie", cookie).expect("apple,pear");
      store.calls.length = 0;
      await request(server).get("/look").set("Cookie", cookie).expect("2");
      assert.deepEqual(store.calls, ["get", "touch"], "reading a nested object is not a change");
      assert.deepEqual(store.record(sessionIdOf(first))?.cart, ["apple", "pear"]);
    });

    it("keeps the session's methods out of the stored record", async () => {
      const store = new JsonStore();
      const res = await request(counter(store)).get("/count");
      const record = store.record(sessionIdOf(res)) as Record<string, unknown>;
      assert.deepEqual(Object.keys(record).sort(), ["__tessera", "cookie", "views"]);
    });
  });

  describe("bad input from the client", () => {
    const cases: [string, string][] = [
      ["a tampered signature", `connect.sid=${encodeURIComponent(`${SIGNED.slice(0, -2)}xx`)}`],
      [
        "an unknown secret",
        `connect.sid=${encodeURIComponent(`s:${sign(ID, "someone else's secret")}`)}`,
      ],
      ["an unsigned value", `connect.sid=${ID}`],
      ["s: without a dot", "connect.sid=s%3Aabc"],
      ["bad percent-encoding", "connect.sid=s%3A%E0%A4%A"],
      ["a session the store does not know", `connect.sid=${encodeURIComponent(SIGNED)}`],
      ["garbage", "=;=;;connect.sid"],
    ];
    for (const [what, header] of cases) {
      it(`${what}: a fresh session and a normal response`, async () => {
        const store = new JsonStore();
        const res = await request(counter(store))
          .get("/count")
          .set("Cookie", header)
          .expect(200, "1");
        assert.notEqual(sessionIdOf(res), ID);
      });
    }

    it("a corrupt stored record: a fresh session", async () => {
      const store = new JsonStore();
      store.data.set(ID, { json: JSON.stringify({ views: 5 }), expiresAt: Date.now() + 60_000 });
      const res = await request(counter(store))
        .get("/count")
        .set("Cookie", `connect.sid=${encodeURIComponent(SIGNED)}`)
        .expect(200, "1");
      assert.notEqual(sessionIdOf(res), ID);
    });
  });

  describe("store failures", () => {
    it("a store error on load reaches next(err) with a clear code", async () => {
      const store = new FailingStore(() =>
        Object.assign(new Error("connect ECONNREFUSED"), { code: "ECONNREFUSED" }),
      );
      const res = await request(counter(store as unknown as JsonStore))
        .get("/")
        .set("Cookie", `connect.sid=${encodeURIComponent(SIGNED)}`)
        .expect(503);
      assert.equal(res.body.code, "ERR_STORE_UNAVAILABLE");
      assert.doesNotMatch(res.body.message, new RegExp(ID));
    });

    it("a failed write: the app's response goes out, then the error reaches the error handler, as express-session", async () => {
      const store = failOn(new JsonStore(), ["set"]);
      const seen: unknown[] = [];
      const server = express();
      server.use(session({ secret: SECRET, resave: false, saveUninitialized: false, store }));
      server.post("/login", (req, res) => {
        req.session.user = { id: "1", name: "Ada" };
        res.redirect("/home");
      });
      server.use(((error, _req, _res, next) => {
        seen.push(error);
        next(error);
      }) as ErrorRequestHandler);
      const res = await request(server).post("/login").expect(302);
      assert.equal(res.headers.location, "/home");
      for (let wait = 0; seen.length === 0 && wait < 100; wait++) await delay(10);
      assert.equal(seen.length, 1);
      assert.ok(isTesseraError(seen[0], "ERR_STORE"));
    });

    it("saveErrorResponse: 'error' gives the error handler the response, not the app's", async () => {
      const store = failOn(new JsonStore(), ["set"]);
      const server = app({ store, saveErrorResponse: "error" }, (s) => {
        s.post("/login", (req, res) => {
          req.session.user = { id: "1", name: "Ada" };
          res.redirect("/home");
        });
      });
      const res = await request(server).post("/login").expect(500);
      assert.equal(res.body.code, "ERR_STORE");
      assert.equal(res.headers.location, undefined);
      shouldNotSetCookie(res);
    });

    it("a store that hangs fails with ERR_STORE_UNAVAILABLE after storeTimeoutMs", async () => {
      const started = Date.now();
      const res = await request(
        counter(new HangingStore() as unknown as JsonStore, { storeTimeoutMs: 200 }),
      )
        .get("/")
        .set("Cookie", `connect.sid=${encodeURIComponent(SIGNED)}`)
        .expect(503);
      assert.equal(res.body.code, "ERR_STORE_UNAVAILABLE");
      // The engine's own timeout ended the wait, at the 200 ms asked for...
      assert.match(res.body.message, /within 200 ms/);
      // ...and not at the 5 s default: the margin is for a loaded machine.
      assert.ok(Date.now() - started < 4000, `took ${Date.now() - started} ms`);
    });

    it("the MemoryStore is not timed: it answers from the process and cannot be unreachable", async () => {
      // A store marked as in-process whose answer comes after storeTimeoutMs: a timed call
      // would fail with 503, an untimed one waits for the answer.
      class SlowMemoryStore extends ContractMemoryStore {
        override get(id: string) {
          return delay(150).then(() => super.get(id));
        }
      }
      const agent = request.agent(counter(new SlowMemoryStore() as never, { storeTimeoutMs: 50 }));
      await agent.get("/count").expect(200, "1");
      await agent.get("/count").expect(200, "2");
    });

    it("unserializable data is an error naming the key, and nothing is written", async () => {
      const store = new JsonStore();
      const server = app({ store }, (s) => {
        s.get("/", (req, res) => {
          req.session.big = 10n;
          res.send("ok");
        });
      });
      const res = await request(server).get("/").expect(500);
      assert.equal(res.body.code, "ERR_SESSION_DATA");
      assert.match(res.body.message, /req\.session\.big/);
      assert.equal(store.data.size, 0);
    });
  });

  describe("the response waits for the store", () => {
    it("a redirect after login is not sent before the session is saved (express-session #360)", async () => {
      const store = new JsonStore();
      let saved = false;
      const slow = new Proxy(store, {
        get(target, key, receiver) {
          if (key === "set") {
            return async (...args: Parameters<JsonStore["set"]>) => {
              await new Promise((resolve) => setTimeout(resolve, 100));
              await target.set(...args);
              saved = true;
            };
          }
          return Reflect.get(target, key, receiver);
        },
      });
      const server = app({ store: slow }, (s) => {
        s.post("/login", (req, res) => {
          req.session.user = { id: "1", name: "Ada" };
          res.redirect("/");
        });
      });
      const res = await request(server).post("/login").expect(302);
      assert.equal(saved, true);
      assert.deepEqual(store.record(sessionIdOf(res))?.user, { id: "1", name: "Ada" });
    });

    it("appends the session cookie after cookies the app set", async () => {
      const server = app({ store: new JsonStore() }, (s) => {
        s.get("/", (req, res) => {
          res.cookie("theme", "dark");
          res.setHeader("Set-Cookie", [...setCookiesOf(res), "lang=en"]);
          req.session.views = 1;
          res.send("ok");
        });
      });
      const res = await request(server).get("/");
      const names = setCookies(res).map((line) => line.split("=")[0]);
      assert.deepEqual(names, ["theme", "lang", "connect.sid"]);
    });
  });

  describe("req.session methods", () => {
    it("regenerate() gives a new id, empties the data and kills the old id", async () => {
      const store = new JsonStore();
      const server = app({ store }, (s) => {
        s.get("/count", (req, res) => {
          req.session.views = (req.session.views ?? 0) + 1;
          res.send("ok");
        });
        s.post("/login", async (req, res) => {
          await req.session.regenerate();
          req.session.user = { id: "7", name: "Grace" };
          res.send(String(req.session.views));
        });
      });
      const first = await request(server).get("/count");
      const oldId = sessionIdOf(first);
      const res = await request(server)
        .post("/login")
        .set("Cookie", cookiePair(first))
        .expect("undefined");
      const newId = sessionIdOf(res);
      assert.notEqual(newId, oldId);
      assert.equal(store.record(oldId), undefined);
      assert.deepEqual(store.record(newId)?.user, { id: "7", name: "Grace" });
    });

    it("regenerate({ keepData: true }) keeps the cart under the new id (express-session #425)", async () => {
      const store = new JsonStore();
      const server = app({ store }, (s) => {
        s.get("/add", (req, res) => {
          req.session.cart = ["apple"];
          res.send("ok");
        });
        s.post("/login", (req, res, next) => {
          req.session.regenerate({ keepData: true }, (error) => {
            if (error) return next(error);
            req.session.user = { id: "7", name: "Grace" };
            res.send(req.session.cart?.join(","));
          });
        });
      });
      const first = await request(server).get("/add");
      const res = await request(server)
        .post("/login")
        .set("Cookie", cookiePair(first))
        .expect("apple");
      const record = store.record(sessionIdOf(res));
      assert.deepEqual(record?.cart, ["apple"]);
      assert.equal(store.record(sessionIdOf(first)), undefined);
    });

    it("destroy() removes the session and clears the cookie in the browser (express-session #241)", async () => {
      const store = new JsonStore();
      const server = app({ store, cookie: { path: "/", sameSite: "lax" } }, (s) => {
        s.get("/count", (req, res) => {
          req.session.views = 1;
          res.send("ok");
        });
        s.post("/logout", (req, res, next) => {
          req.session.destroy().then(() => res.send("bye"), next);
        });
      });
      const first = await request(server).get("/count");
      const res = await request(server)
        .post("/logout")
        .set("Cookie", cookiePair(first))
        .expect("bye");
      const line = shouldSetCookie(res);
      assert.match(line, /^connect\.sid=;/);
      assert.match(line, /Expires=Thu, 01 Jan 1970 00:00:00 GMT/);
      assert.match(line, /SameSite=Lax/);
      assert.equal(store.record(sessionIdOf(first)), undefined);
    });

    it("save() writes at once and the promise resolves after the write", async () => {
      const store = new JsonStore();
      const server = app({ store }, (s) => {
        s.get("/", async (req, res) => {
          req.session.views = 42;
          await req.session.save();
          res.send(String(store.record(req.sessionID)?.views));
        });
      });
      await request(server).get("/").expect("42");
    });

    it("reload() brings back what the store holds", async () => {
      const store = new JsonStore();
      const server = app({ store }, (s) => {
        s.get("/count", (req, res) => {
          req.session.views = 1;
          res.send("ok");
        });
        s.get("/reload", (req, res, next) => {
          req.session.views = 99;
          req.session.reload((error) => {
            if (error) return next(error);
            res.send(String(req.session.views));
          });
        });
      });
      const first = await request(server).get("/count");
      await request(server).get("/reload").set("Cookie", cookiePair(first)).expect("1");
    });

    it("touch() is synchronous and chainable, and resets the expiry to a full maxAge", async () => {
      const server = app({ store: new JsonStore(), cookie: { maxAge: 10_000 } }, (s) => {
        s.get("/", async (req, res) => {
          // At least 200 ms pass, then touch() must give them back: the 100 ms allowed between
          // touch() and the read below cover a GC pause on a loaded machine.
          await new Promise((resolve) => setTimeout(resolve, 200));
          const before = req.session.cookie.maxAge ?? 0;
          const same = req.session.touch();
          const after = req.session.cookie.maxAge ?? 0;
          res.send(`${same === req.session} ${before <= 9850} ${after > 9900}`);
        });
      });
      await request(server).get("/").expect("true true true");
    });
  });

  describe("expiry", () => {
    it("absoluteTimeoutMs ends a session that long after it was created, whatever the activity", async () => {
      const store = new JsonStore();
      const server = counter(store, { absoluteTimeoutMs: 1500 });
      const first = await request(server).get("/count");
      const cookie = cookiePair(first);
      for (let i = 2; i <= 4; i++) {
        await new Promise((resolve) => setTimeout(resolve, 80));
        await request(server).get("/count").set("Cookie", cookie).expect(String(i));
      }
      // The loop took at least 240 ms: 1300 more are past the timeout, whatever the load.
      await new Promise((resolve) => setTimeout(resolve, 1300));
      const res = await request(server).get("/count").set("Cookie", cookie).expect("1");
      assert.notEqual(sessionIdOf(res), sessionIdOf(first));
    });

    it("a stored session past the absolute timeout is removed from the store, not merely ignored", async () => {
      const store = new JsonStore();
      // Written before the timeout was configured, so the store itself still holds it.
      const first = await request(counter(store)).get("/count");
      await new Promise((resolve) => setTimeout(resolve, 120));
      assert.ok(store.record(sessionIdOf(first)));
      await request(counter(store, { absoluteTimeoutMs: 100 }))
        .get("/")
        .set("Cookie", cookiePair(first))
        .expect("0");
      assert.equal(store.data.has(sessionIdOf(first)), false);
    });

    it("idleTimeoutMs ends a session left alone, but activity keeps it alive", async () => {
      const store = new JsonStore();
      // Wide margins: on a loaded machine a request can take a few hundred milliseconds.
      const server = counter(store, { idleTimeoutMs: 1500 });
      const first = await request(server).get("/count");
      const cookie = cookiePair(first);
      for (let i = 0; i < 3; i++) {
        await new Promise((resolve) => setTimeout(resolve, 200));
        await request(server).get("/").set("Cookie", cookie).expect("1");
      }
      await new Promise((resolve) => setTimeout(resolve, 1700));
      await request(server).get("/").set("Cookie", cookie).expect("0");
    });

    it("touchAfterMs touches the store at most once per interval", async () => {
      const store = new JsonStore();
      const server = counter(store, { touchAfterMs: 1000 });
      const cookie = cookiePair(await request(server).get("/count"));
      store.calls.length = 0;
      for (let i = 0; i < 5; i++) await request(server).get("/").set("Cookie", cookie);
      assert.deepEqual(store.calls, ["get", "get", "get", "get", "get"]);
      await new Promise((resolve) => setTimeout(resolve, 1100));
      await request(server).get("/").set("Cookie", cookie);
      assert.deepEqual(store.calls.slice(-2), ["get", "touch"]);
    });
  });

  describe("secret rotation", () => {
    it("accepts a cookie signed with an older secret and re-signs it with the current one", async () => {
      const store = new JsonStore();
      const old = counter(store, { secret: OLD_SECRET });
      const first = await request(old).get("/count");
      const rotated = counter(store, { secret: [SECRET, OLD_SECRET] });
      const res = await request(rotated).get("/").set("Cookie", cookiePair(first)).expect("1");
      const line = shouldSetCookie(res);
      assert.equal(
        decodeURIComponent(line.split(";")[0] as string),
        `connect.sid=s:${sign(sessionIdOf(first), SECRET)}`,
      );
      const again = await request(rotated).get("/").set("Cookie", cookiePair(res)).expect("1");
      shouldNotSetCookie(again);
    });
  });

  describe("parallel requests", () => {
    it("50 parallel requests each setting its own key all survive", async () => {
      const store = new JsonStore();
      const server = app({ store }, (s) => {
        s.get("/start", (req, res) => {
          req.session.started = true;
          res.send("ok");
        });
        s.get("/set/:key", async (req, res) => {
          await new Promise((resolve) => setTimeout(resolve, Math.random() * 30));
          req.session[`k${req.params.key}`] = true;
          res.send("ok");
        });
      });
      const first = await request(server).get("/start");
      const cookie = cookiePair(first);
      const listener = server.listen(0);
      try {
        await Promise.all(
          Array.from({ length: 50 }, (_, i) =>
            request(listener).get(`/set/${i}`).set("Cookie", cookie).expect(200),
          ),
        );
      } finally {
        listener.close();
      }
      const record = store.record(sessionIdOf(first)) as Record<string, unknown>;
      const kept = Object.keys(record).filter((key) => /^k\d+$/.test(key));
      assert.equal(kept.length, 50);
    });

    it("a session destroyed by one request is not brought back by a slower one", async () => {
      const store = new JsonStore();
      // The slow request has loaded the session before the logout, and writes after it.
      let loaded!: () => void;
      const slowHasLoaded = new Promise<void>((resolve) => {
        loaded = resolve;
      });
      let release!: () => void;
      const logoutDone = new Promise<void>((resolve) => {
        release = resolve;
      });
      const server = app({ store }, (s) => {
        s.get("/start", (req, res) => {
          req.session.views = 1;
          res.send("ok");
        });
        s.get("/slow", async (req, res) => {
          loaded();
          await logoutDone;
          req.session.views = 2;
          res.send("ok");
        });
        s.post("/logout", async (req, res) => {
          await req.session.destroy();
          res.send("bye");
        });
      });
      const first = await request(server).get("/start");
      const cookie = cookiePair(first);
      const slow = request(server)
        .get("/slow")
        .set("Cookie", cookie)
        .then((res) => res);
      await slowHasLoaded;
      await request(server).post("/logout").set("Cookie", cookie).expect("bye");
      release();
      const res = await slow;
      assert.equal(store.record(sessionIdOf(first)), undefined);
      assert.match(shouldSetCookie(res), /^connect\.sid=;/);
    });
  });
});

function setCookiesOf(res: { getHeader(name: string): unknown }): string[] {
  const value = res.getHeader("Set-Cookie");
  return Array.isArray(value) ? (value as string[]) : value === undefined ? [] : [String(value)];
}
