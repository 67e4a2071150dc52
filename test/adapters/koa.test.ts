// The journey suite on Koa 3 (tessera/koa), then what is Koa's own: store failures answered by
// Koa's default error handler, streamed bodies, the other Set-Cookie headers of a response, a
// route that throws, the context genid and cookie functions get, app.proxy, and the helpers.
import assert from "node:assert/strict";
import { createServer, type ServerResponse } from "node:http";
import { Readable } from "node:stream";
import { after, before, describe, it, type TestContext } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import Koa, { type Context, type Middleware } from "koa";
import { isTesseraError } from "../../src/core/errors.js";
import { generateId } from "../../src/core/id.js";
import { listUserSessions } from "../../src/core/users.js";
import { csrf, flash, type KoaSessionOptions, session } from "../../src/koa/index.js";
import type { Store } from "../../src/store/types.js";
import { MemoryStore } from "../../src/stores/memory.js";
import type { RedisStore } from "../../src/stores/redis.js";
import { SECRET } from "../helpers/http.js";
import { answerErrors, makeKoaApp } from "./apps/koa.js";
import { type JourneyApp, journey, serve } from "./journey.js";
import { OUTAGE_TIMEOUT_MS, RedisOutage, redisReachable } from "./redis-outage.js";
import {
  attributesOf,
  COOKIE,
  type Reply,
  sessionIdOf,
  shouldNotSetSessionCookie,
  shouldSetSessionCookie,
  Visitor,
} from "./visitor.js";

journey("Koa", makeKoaApp);

type Data = Record<string, unknown>;

const BASE = { secret: SECRET, resave: false, saveUninitialized: false } as const;

function data(ctx: Context): Data {
  return ctx.session as unknown as Data;
}

/** Starts `app` on 127.0.0.1 and stops it after the test. */
async function start(t: TestContext, app: Koa): Promise<JourneyApp> {
  const running = await serve(createServer(app.callback()));
  t.after(() => running.close());
  return running;
}

/** A fresh MemoryStore, closed after the test. */
function memory(t: TestContext): MemoryStore {
  const store = new MemoryStore({ sweepIntervalMs: 0 });
  t.after(() => store.close());
  return store;
}

/** Every error the app reports through its `error` event, which replaces Koa's logging of them. */
function reported(app: Koa): unknown[] {
  const errors: unknown[] = [];
  app.on("error", (error: unknown) => errors.push(error));
  return errors;
}

/** A {@link Reply} with every header: what {@link send} answers. */
type FullReply = Reply & { headers: Headers };

/** `fetch` without a cookie jar, for the tests that read more headers than a {@link Visitor} keeps. */
async function send(url: string, init: RequestInit = {}): Promise<FullReply> {
  const response = await fetch(url, {
    ...init,
    headers: { connection: "close", ...(init.headers as Record<string, string>) },
    redirect: "manual",
    signal: AbortSignal.timeout(5000),
  });
  const text = await response.text();
  const json = response.headers.get("content-type")?.includes("json");
  return {
    status: response.status,
    headers: response.headers,
    text,
    body: json ? JSON.parse(text) : undefined,
    setCookies: response.headers.getSetCookie(),
  };
}

/** `count` as a route: one more view on the session. */
const count: Middleware = (ctx) => {
  data(ctx).views = ((data(ctx).views as number | undefined) ?? 0) + 1;
  ctx.body = { views: data(ctx).views };
};

describe("Koa › tessera/koa", () => {
  describe("a store outage (the real Redis, behind a proxy the test cuts)", async () => {
    const reachable = await redisReachable();
    const outage = new RedisOutage();
    /** One app per way of answering, each on the same Redis. */
    const apps: Record<"koa" | "middleware" | "lenient", { url: string; errors: unknown[] }> =
      Object.create(null);
    const running: JourneyApp[] = [];
    let browser: Visitor;
    /** The session of `browser`, from before the cut. */
    let id = "";

    /** A route that also sets a header and a cookie of its own, which must not leak into an error. */
    const countLoudly: Middleware = (ctx, next) => {
      ctx.set("X-Route", "ran");
      ctx.cookies.set("theme", "dark");
      return count(ctx, next);
    };

    async function startApp(
      store: RedisStore,
      options: Partial<KoaSessionOptions>,
      errorMiddleware: boolean,
    ): Promise<{ url: string; errors: unknown[] }> {
      const app = new Koa();
      const errors = reported(app);
      if (errorMiddleware) app.use(answerErrors);
      app.use(session({ ...BASE, store, storeTimeoutMs: OUTAGE_TIMEOUT_MS, ...options }));
      app.use(countLoudly);
      const started = await serve(createServer(app.callback()));
      running.push(started);
      return { url: started.url, errors };
    }

    /** Nothing of the route's response, nor of the session, is in the error response. */
    function nothingLeaks(reply: FullReply): void {
      assert.deepEqual(reply.setCookies, [], "the error response sets cookies");
      assert.equal(reply.headers.get("x-route"), null, "the route's header leaked into the error");
      for (const secret of [SECRET, id]) assert.ok(!reply.text.includes(secret));
    }

    /** Koa's own answer to a 503: its status text in text/plain. */
    function koaUnavailable(reply: FullReply): void {
      assert.equal(reply.status, 503, reply.text);
      assert.equal(reply.text, "Service Unavailable");
      assert.equal(reply.headers.get("content-type"), "text/plain; charset=utf-8");
      nothingLeaks(reply);
    }

    /** The error the app was told about: the store's, 503, not exposed, with no session id in it. */
    function reportedUnavailable(errors: unknown[]): void {
      const error = errors.at(-1);
      assert.ok(isTesseraError(error, "ERR_STORE_UNAVAILABLE"), String(error));
      assert.equal(error.status, 503);
      assert.equal(error.expose, false, "Koa would show the message to the client");
      assert.ok(!error.message.includes(id), "the session id is in the message");
    }

    describe("with RedisStore", { skip: !reachable && "Redis is not reachable" }, () => {
      before(async () => {
        const store = await outage.start();
        apps.koa = await startApp(store, {}, false);
        apps.middleware = await startApp(store, {}, true);
        apps.lenient = await startApp(store, { saveErrorResponse: "app" }, false);
        browser = new Visitor(apps.koa.url);
      });
      after(async () => {
        for (const app of running) await app.close();
        await outage.close();
      });

      it("before: the session is kept in Redis", async () => {
        const first = await browser.get("/count");
        assert.deepEqual(first.body, { views: 1 });
        id = sessionIdOf(first);
        assert.equal((await outage.stored(id))?.views, 1);
      });

      it("cut: Koa's default handler answers a failed load with 503 Service Unavailable, text/plain", async () => {
        await outage.cut();
        const cookie = `${COOKIE}=${browser.sessionCookie}`;
        koaUnavailable(await send(`${apps.koa.url}/count`, { headers: { cookie } }));
        reportedUnavailable(apps.koa.errors);
      });

      it("cut: Koa's default handler answers a failed save with the same 503, nothing of the route's response", async () => {
        koaUnavailable(await send(`${apps.koa.url}/count`));
        reportedUnavailable(apps.koa.errors);
      });

      it("cut: an app's error middleware gets the failed save's error, and none of the route's headers", async () => {
        const reply = await send(`${apps.middleware.url}/count`);
        assert.equal(reply.status, 503);
        assert.deepEqual(reply.body, { code: "ERR_STORE_UNAVAILABLE" });
        nothingLeaks(reply);
        assert.deepEqual(apps.middleware.errors, [], "an answered error was reported");
      });

      it('cut, saveErrorResponse: "app": the route\'s response goes out without a session cookie; the error is reported', async () => {
        const before = apps.lenient.errors.length;
        const reply = await send(`${apps.lenient.url}/count`);
        assert.equal(reply.status, 200, reply.text);
        assert.deepEqual(reply.body, { views: 1 });
        assert.equal(reply.headers.get("x-route"), "ran");
        shouldNotSetSessionCookie(reply);
        assert.ok(reply.setCookies.some((line) => line.startsWith("theme=dark")));
        assert.equal(apps.lenient.errors.length, before + 1);
        reportedUnavailable(apps.lenient.errors);
      });

      it("restored: the same session is served again", async () => {
        await outage.restore();
        assert.deepEqual((await browser.get("/count")).body, { views: 2 });
      });
    });
  });

  describe("the response waits for the store", () => {
    /** `store`, whose writes take a while and note whether `response()` had sent its headers when each one ended. */
    function watchedWrites(
      store: MemoryStore,
      response: () => ServerResponse | undefined,
      headersSentAtWrite: boolean[],
    ): Store {
      const slowly = async <T>(write: () => T): Promise<T> => {
        await sleep(50);
        const result = write();
        headersSentAtWrite.push(response()?.headersSent ?? true);
        return result;
      };
      return {
        get: (id) => store.get(id),
        set: (id, record, ttlMs) => slowly(() => store.set(id, record, ttlMs)),
        patch: (id, patch, ttlMs) => slowly(() => store.patch(id, patch, ttlMs)),
        touch: (id, record, ttlMs) => slowly(() => store.touch(id, record, ttlMs)),
        destroy: (id) => store.destroy(id),
      };
    }

    const bodies: [string, () => unknown][] = [
      ["a node stream", () => Readable.from(["one ", "two"])],
      [
        "a web ReadableStream",
        () =>
          new ReadableStream({
            start(controller) {
              controller.enqueue(new TextEncoder().encode("one "));
              controller.enqueue(new TextEncoder().encode("two"));
              controller.close();
            },
          }),
      ],
    ];
    for (const [what, body] of bodies) {
      it(`a streamed body (${what}) is sent after the write, with the cookie`, async (t) => {
        const store = memory(t);
        let response: ServerResponse | undefined;
        const headersSentAtWrite: boolean[] = [];
        const app = new Koa();
        app.use(
          session({ ...BASE, store: watchedWrites(store, () => response, headersSentAtWrite) }),
        );
        app.use((ctx) => {
          response = ctx.res;
          data(ctx).views = 1;
          ctx.type = "text";
          ctx.body = body();
        });
        const { url } = await start(t, app);
        const reply = await send(url);
        assert.equal(reply.status, 200);
        assert.equal(reply.text, "one two");
        assert.deepEqual(
          headersSentAtWrite,
          [false],
          "the headers went out before the write ended",
        );
        assert.equal((await store.get(sessionIdOf(reply)))?.views, 1);
      });
    }
  });

  it("keeps the response's other Set-Cookie headers, before and after its own", async (t) => {
    const app = new Koa();
    app.use(async (ctx, next) => {
      await next();
      ctx.cookies.set("outer", "1"); // an earlier middleware, after the session's commit
    });
    app.use(session({ ...BASE, store: memory(t) }));
    app.use((ctx, next) => {
      ctx.cookies.set("theme", "dark");
      ctx.append("Set-Cookie", "plain=1; Path=/");
      return count(ctx, next);
    });
    const { url } = await start(t, app);
    const reply = await send(url);
    assert.deepEqual(
      reply.setCookies.map((line) => line.split("=")[0]),
      ["theme", "plain", COOKIE, "outer"],
    );
  });

  describe("a route that throws after changing the session", () => {
    function failing(t: TestContext, withErrorMiddleware: boolean) {
      const store = memory(t);
      const app = new Koa();
      const errors = reported(app);
      if (withErrorMiddleware) app.use(answerErrors);
      app.use(session({ ...BASE, store }));
      app.use((ctx) => {
        if (ctx.path === "/count") return count(ctx, async () => {});
        data(ctx).views = 41;
        throw new Error("the route failed");
      });
      return { app, store, errors };
    }

    it("the session is saved, as express-session saves it, and the error response carries the cookie", async (t) => {
      const { app } = failing(t, true);
      const { url } = await start(t, app);
      const browser = new Visitor(url);
      const reply = await browser.get("/fail");
      assert.equal(reply.status, 500);
      assert.deepEqual(reply.body, { code: null });
      shouldSetSessionCookie(reply);
      assert.deepEqual((await browser.get("/count")).body, { views: 42 });
    });

    it("Koa's default handler answers 500 and drops every header it did not set, the cookie too", async (t) => {
      const { app, errors } = failing(t, false);
      const { url } = await start(t, app);
      const reply = await new Visitor(url).get("/fail");
      assert.equal(reply.status, 500);
      assert.equal(reply.text, "Internal Server Error");
      shouldNotSetSessionCookie(reply);
      assert.equal((errors[0] as Error).message, "the route failed");
    });
  });

  it("genid and a cookie function are called with Koa's ctx", async (t) => {
    const contexts: { given: unknown[]; route: unknown[] } = { given: [], route: [] };
    const app = new Koa();
    app.use(
      session({
        ...BASE,
        store: memory(t),
        genid: (ctx) => {
          contexts.given.push(ctx);
          return generateId();
        },
        cookie: (ctx) => {
          contexts.given.push(ctx);
          return { sameSite: ctx.get("x-same-site") === "strict" ? "strict" : "lax" };
        },
      }),
    );
    app.use((ctx, next) => {
      contexts.route.push(ctx);
      assert.equal(ctx.session.req, ctx, "session.req is not the context");
      return count(ctx, next);
    });
    const { url } = await start(t, app);
    const reply = await send(url, { headers: { "x-same-site": "strict" } });
    assert.equal(attributesOf(shouldSetSessionCookie(reply)).samesite, "Strict");
    assert.equal(contexts.route.length, 1);
    assert.deepEqual(contexts.given, [contexts.route[0], contexts.route[0]]);
  });

  describe("app.proxy", () => {
    async function behindProxy(t: TestContext, proxy: boolean) {
      const store = memory(t);
      const app = new Koa({ proxy });
      app.use(session({ ...BASE, store, cookie: { secure: "auto" }, recordClient: true }));
      app.use(count);
      const { url } = await start(t, app);
      const reply = await send(url, {
        headers: { "x-forwarded-proto": "https", "x-forwarded-for": "203.0.113.7" },
      });
      return {
        secure: attributesOf(shouldSetSessionCookie(reply)).secure === true,
        ip: (await store.get(sessionIdOf(reply)))?.__tessera?.ip,
      };
    }

    it("on: X-Forwarded-Proto makes cookie.secure 'auto' Secure, and X-Forwarded-For is the recorded ip", async (t) => {
      assert.deepEqual(await behindProxy(t, true), { secure: true, ip: "203.0.113.7" });
    });

    it("off: both headers are ignored, as Koa ignores them", async (t) => {
      const { secure, ip } = await behindProxy(t, false);
      assert.equal(secure, false);
      assert.notEqual(ip, "203.0.113.7");
    });
  });

  it("ctx.sessionStore lets listUserSessions(ctx) list the user's sessions", async (t) => {
    const app = new Koa();
    app.use(session({ ...BASE, store: memory(t) }));
    app.use(async (ctx) => {
      if (ctx.path === "/login") {
        await ctx.session.regenerate();
        ctx.session.setUser("alice");
        ctx.body = { ok: true };
        return;
      }
      ctx.body = (await listUserSessions(ctx)).map(({ current, handle }) => ({ current, handle }));
    });
    const { url } = await start(t, app);
    const browser = new Visitor(url);
    const id = sessionIdOf(await browser.post("/login"));
    const listed = (await browser.get("/sessions")).body as { current: boolean; handle: string }[];
    assert.equal(listed.length, 1);
    assert.equal(listed[0]?.current, true);
    assert.notEqual(listed[0]?.handle, id, "the list shows the session id");
  });

  it("a missing secret is refused when session() is called: Koa has no cookie-parser to supply one", () => {
    assert.throws(
      () => session({ resave: false, saveUninitialized: false } as unknown as KoaSessionOptions),
      (error) => isTesseraError(error, "ERR_OPTION") && /needs a secret/.test(error.message),
    );
  });

  it("csrf() reads a form field from ctx.request.body, where Koa's body parsers put it", async (t) => {
    const app = new Koa();
    app.use(answerErrors);
    app.use(session({ ...BASE, store: memory(t) }));
    // A body parser in a few lines: Koa's core has none.
    app.use(async (ctx, next) => {
      if (ctx.method === "POST") {
        let text = "";
        for await (const chunk of ctx.req) text += chunk;
        (ctx.request as { body?: unknown }).body = Object.fromEntries(new URLSearchParams(text));
      }
      await next();
    });
    app.use(csrf());
    app.use((ctx) => {
      ctx.body = ctx.method === "GET" ? { token: ctx.csrfToken() } : { ok: true };
    });
    const { url } = await start(t, app);
    const browser = new Visitor(url);
    const { token } = (await browser.get("/")).body as { token: string };
    const form = { "content-type": "application/x-www-form-urlencoded" };
    const cookie = { cookie: `${COOKIE}=${browser.sessionCookie}` };
    const accepted = await send(url, {
      method: "POST",
      headers: { ...form, ...cookie },
      body: new URLSearchParams({ _csrf: token }).toString(),
    });
    assert.deepEqual([accepted.status, accepted.body], [200, { ok: true }]);
    const refused = await send(url, { method: "POST", headers: { ...form, ...cookie }, body: "" });
    assert.deepEqual([refused.status, refused.body], [403, { code: "ERR_CSRF_INVALID" }]);
  });

  it("flash({ locals }) puts the messages on ctx.state, read when a view reads them", async (t) => {
    const app = new Koa();
    app.use(session({ ...BASE, store: memory(t) }));
    app.use(flash({ locals: "flash" }));
    app.use((ctx) => {
      if (ctx.method === "POST") ctx.body = { queued: ctx.flash("info", "saved") };
      else if (ctx.path === "/redirect") ctx.body = { state: Object.keys(ctx.state) };
      else ctx.body = { shown: ctx.state.flash };
    });
    const { url } = await start(t, app);
    const browser = new Visitor(url);
    assert.deepEqual((await browser.post("/")).body, { queued: 1 });
    // A response that does not read ctx.state.flash leaves the messages queued.
    assert.deepEqual((await browser.get("/redirect")).body, { state: ["flash"] });
    assert.deepEqual((await browser.get("/")).body, { shown: { info: ["saved"] } });
    assert.deepEqual((await browser.get("/")).body, { shown: {} });
  });

  it("types ctx.session, ctx.sessionID and the options through Koa's own types (checked by tsc)", () => {
    const typed: Middleware = async (ctx) => {
      const id: string = ctx.sessionID;
      await ctx.session.regenerate({ keepData: true });
      ctx.session.save((error) => error);
      ctx.session.setUser(id);
      const user: string | undefined = ctx.session.getUser();
      // @ts-expect-error: a session's methods are not data
      ctx.session.regenerate = 1;
      // @ts-expect-error: the id is a string
      ctx.sessionID = 1;
      ctx.body = { user, token: ctx.csrfToken(), queued: ctx.flash("info", "%s!", "hi") };
    };
    const options: KoaSessionOptions = {
      secret: [SECRET],
      genid: (ctx) => `${ctx.path}-${generateId()}`,
      cookie: (ctx) => ({ secure: ctx.secure, sameSite: "lax" }),
    };
    const wrong: KoaSessionOptions = {
      secret: SECRET,
      // @ts-expect-error: genid gets Koa's context, whose originalUrl is a string
      genid: (ctx: { originalUrl: number }) => String(ctx),
    };
    assert.equal(typeof typed, "function");
    assert.equal(typeof options.genid, "function");
    assert.ok(wrong);
  });
});
