// The journey suite on Fastify 5, then what is Fastify's own: encapsulation, registration,
// what the error handler sees of a failed load or save, the route's own headers, trustProxy,
// and csrf()/flash() as app-wide hooks.
import assert from "node:assert/strict";
import { describe, it, type TestContext } from "node:test";
import Fastify, { type FastifyInstance, type FastifyRequest } from "fastify";
import { TesseraError } from "../../src/core/errors.js";
import { listUserSessions } from "../../src/core/users.js";
import { csrf, type FastifySessionOptions, flash, session } from "../../src/fastify/index.js";
import { MemoryStore } from "../../src/stores/memory.js";
import { FailingStore } from "../fixtures/stores.js";
import { ID, SECRET, SIGNED } from "../helpers/http.js";
import { fastifyWithSessions, listen, makeFastifyApp } from "./apps/fastify.js";
import { type JourneyApp, type JourneyData, journey } from "./journey.js";
import {
  attributesOf,
  type Reply,
  sessionIdOf,
  shouldNotSetSessionCookie,
  shouldSetSessionCookie,
  Visitor,
} from "./visitor.js";

journey("Fastify", makeFastifyApp);

const BASE = { secret: SECRET, resave: false, saveUninitialized: false } as const;

function data(request: FastifyRequest): JourneyData {
  return request.session as unknown as JourneyData;
}

/** A MemoryStore closed after the test. */
function memory(t: TestContext): MemoryStore {
  const store = new MemoryStore({ sweepIntervalMs: 0 });
  t.after(() => store.close());
  return store;
}

/** A store whose every call fails as an unreachable store's do. */
function unreachable(): FailingStore {
  return new FailingStore(
    () => new TesseraError("ERR_STORE_UNAVAILABLE", "the test store is down"),
  );
}

/** Starts `app` and stops it after the test; resolves a browser for it. */
async function open(t: TestContext, app: FastifyInstance): Promise<Visitor> {
  let running: JourneyApp;
  try {
    running = await listen(app);
  } finally {
    t.after(() => app.close());
  }
  return new Visitor(running.url);
}

function answers(reply: Reply, status: number, body: unknown): void {
  assert.equal(reply.status, status, `status ${reply.status}, body ${reply.text}`);
  assert.deepEqual(reply.body, body);
}

/** GET `path` on `app`: the contract's counter. */
function countRoute(app: FastifyInstance, path = "/count"): void {
  app.get(path, async (request) => {
    data(request).views = (data(request).views ?? 0) + 1;
    return { views: data(request).views };
  });
}

describe("Fastify › the session plugin", () => {
  describe("encapsulation", () => {
    it("registered at the root, it serves the routes of every context registered after it", async (t) => {
      const app = await fastifyWithSessions({ ...BASE, store: memory(t) });
      countRoute(app);
      await app.register(
        async (child) => {
          countRoute(child);
          await child.register(async (grandchild) => countRoute(grandchild), { prefix: "/deeper" });
        },
        { prefix: "/child" },
      );
      assert.equal(app.hasPlugin("tessera"), true, "the plugin is not known by its name");
      const browser = await open(t, app);
      answers(await browser.get("/count"), 200, { views: 1 });
      answers(await browser.get("/child/count"), 200, { views: 2 });
      answers(await browser.get("/child/deeper/count"), 200, { views: 3 });
    });

    it("registered in a child context, it serves that context only, as fastify-plugin's plugins do", async (t) => {
      const app = Fastify({ forceCloseConnections: true });
      await app.register(
        async (child) => {
          await child.register(session, { ...BASE, store: memory(t) });
          countRoute(child);
        },
        { prefix: "/child" },
      );
      // Not decorated outside that context: undefined, as on a request Express's session() skipped.
      app.get("/sibling", async (request) => ({ session: request.session ?? "none" }));
      const browser = await open(t, app);
      answers(await browser.get("/child/count"), 200, { views: 1 });
      answers(await browser.get("/sibling"), 200, { session: "none" });
    });
  });

  describe("options", () => {
    const wrong: [string, unknown][] = [
      ["no options", undefined],
      ["no secret", { resave: false, saveUninitialized: false }],
      ["an empty secret", { ...BASE, secret: "" }],
      ["a store that is not one", { ...BASE, store: {} }],
      ["an unknown saveErrorResponse", { ...BASE, saveErrorResponse: "sometimes" }],
      ["a __Host- cookie that is not Secure", { ...BASE, name: "__Host-sid" }],
    ];
    for (const [what, options] of wrong) {
      it(`${what}: register fails with ERR_OPTION, before the app listens`, async () => {
        const app = Fastify();
        await assert.rejects(
          async () => {
            await app.register(session, options as FastifySessionOptions);
          },
          (error: unknown) => {
            assert.ok(error instanceof TesseraError, `not a TesseraError: ${error}`);
            assert.equal(error.code, "ERR_OPTION");
            return true;
          },
        );
        await app.close();
      });
    }

    it("genid and a cookie function are called with Fastify's request", async (t) => {
      const seen: { genid?: FastifyRequest; cookie?: FastifyRequest } = {};
      const app = await fastifyWithSessions({
        ...BASE,
        store: memory(t),
        genid: (request) => {
          seen.genid = request;
          return ID;
        },
        cookie: (request) => {
          seen.cookie = request;
          return { path: "/", sameSite: request.url.startsWith("/strict") ? "strict" : "lax" };
        },
      });
      let route: FastifyRequest | undefined;
      app.get("/strict/count", async (request) => {
        route = request;
        data(request).views = 1;
        return { same: request.session.req === request };
      });
      const browser = await open(t, app);
      const reply = await browser.get("/strict/count");
      answers(reply, 200, { same: true });
      assert.ok(route !== undefined);
      assert.equal(seen.genid, route, "genid was not given the route's request");
      assert.equal(seen.cookie, route, "the cookie function was not given the route's request");
      assert.equal(sessionIdOf(reply), ID);
      assert.equal(attributesOf(shouldSetSessionCookie(reply)).samesite, "Strict");
    });
  });

  describe("a second registration", () => {
    it("in the same context: no error, and the first one serves the session", async (t) => {
      const first = memory(t);
      const second = memory(t);
      const app = await fastifyWithSessions({ ...BASE, store: first });
      await app.register(session, { ...BASE, store: second });
      countRoute(app);
      const browser = await open(t, app);
      const reply = await browser.get("/count");
      answers(reply, 200, { views: 1 });
      answers(await browser.get("/count"), 200, { views: 2 });
      assert.equal((await first.get(sessionIdOf(reply)))?.views, 2);
      assert.equal(await second.length(), 0, "the second registration stored a session too");
    });

    it("with a cookie path of its own: each serves its own path, as two express-session middlewares do", async (t) => {
      const shop = memory(t);
      const admin = memory(t);
      const app = await fastifyWithSessions({
        ...BASE,
        store: shop,
        cookie: { path: "/shop" },
      });
      await app.register(session, {
        ...BASE,
        name: "admin.sid",
        store: admin,
        cookie: { path: "/admin" },
      });
      countRoute(app, "/shop/count");
      countRoute(app, "/admin/count");
      app.get("/elsewhere", async (request) => ({ session: request.session }));
      const browser = await open(t, app);
      const bought = await browser.get("/shop/count");
      answers(bought, 200, { views: 1 });
      const line = shouldSetSessionCookie(bought);
      assert.equal(attributesOf(line).path, "/shop");
      const managed = await browser.get("/admin/count");
      answers(managed, 200, { views: 1 });
      const adminLine = managed.setCookies.find((cookie) => cookie.startsWith("admin.sid="));
      assert.ok(adminLine, `no admin.sid cookie in ${JSON.stringify(managed.setCookies)}`);
      assert.equal(attributesOf(adminLine).path, "/admin");
      assert.equal(await shop.length(), 1);
      assert.equal(await admin.length(), 1);
      answers(await browser.get("/elsewhere"), 200, { session: null });
    });
  });

  describe("errors go to Fastify's error handler", () => {
    it("a load that fails: 503 ERR_STORE_UNAVAILABLE from Fastify's default handler", async (t) => {
      const app = Fastify({ forceCloseConnections: true });
      await app.register(session, { ...BASE, store: unreachable() });
      app.get("/me", async () => ({ reached: true }));
      const browser = await open(t, app);
      browser.holdSessionCookie(SIGNED);
      const reply = await browser.get("/me");
      assert.equal(reply.status, 503, reply.text);
      assert.equal((reply.body as { code?: unknown }).code, "ERR_STORE_UNAVAILABLE");
      shouldNotSetSessionCookie(reply);
    });

    it("a save that fails replaces the route's response: its status, Location and cookies are dropped", async (t) => {
      const app = Fastify({ forceCloseConnections: true });
      await app.register(session, { ...BASE, store: unreachable() });
      app.post("/orders", async (request, reply) => {
        data(request).views = 1;
        return reply
          .code(201)
          .header("location", "/orders/7")
          .header("set-cookie", "ordered=yes; Path=/")
          .header("cache-control", "public, max-age=3600")
          .send({ created: true });
      });
      const browser = await open(t, app);
      const reply = await browser.post("/orders");
      // Fastify's default handler keeps a status the route set unless it is 200: the plugin
      // sets the error's before handing it over.
      assert.equal(reply.status, 503, reply.text);
      assert.equal((reply.body as { code?: unknown }).code, "ERR_STORE_UNAVAILABLE");
      assert.deepEqual(reply.setCookies, [], "a cookie of the failed response went out");
      const response = await fetch(new URL("/orders", browser.origin), { method: "POST" });
      assert.equal(response.status, 503);
      assert.equal(response.headers.get("location"), null);
      assert.equal(response.headers.get("cache-control"), null);
      await response.text();
    });

    it("the onError hooks and the app's handler see the store's error, once", async (t) => {
      const seen: string[] = [];
      const app = await fastifyWithSessions({ ...BASE, store: unreachable() });
      app.addHook("onError", async (_request, _reply, error) => {
        seen.push((error as { code?: string }).code ?? "none");
      });
      countRoute(app);
      const browser = await open(t, app);
      answers(await browser.get("/count"), 503, { code: "ERR_STORE_UNAVAILABLE" });
      assert.deepEqual(seen, ["ERR_STORE_UNAVAILABLE"]);
    });

    it("when the failed save is the error handler's own response, the next handler up answers", async (t) => {
      // Fastify moves past an error handler once it has run for a request: a save that fails
      // on its response goes to its parent's handler, at the root Fastify's default one.
      const app = await fastifyWithSessions({ ...BASE, store: unreachable() });
      app.get("/broken", async (request) => {
        data(request).views = 1;
        throw new TesseraError("ERR_OPTION", "the route failed");
      });
      const browser = await open(t, app);
      const reply = await browser.get("/broken");
      assert.equal(reply.status, 503, reply.text);
      const body = reply.body as { code?: unknown; statusCode?: unknown };
      assert.equal(body.code, "ERR_STORE_UNAVAILABLE");
      assert.equal(body.statusCode, 503, "not the default handler's answer");
    });

    it("a cookie attribute the cookie format refuses: 500 ERR_OPTION, and no cookie", async (t) => {
      const app = await fastifyWithSessions({ ...BASE, store: memory(t) });
      app.get("/count", async (request) => {
        request.session.cookie.sameSite = "sideways" as never;
        data(request).views = 1;
        return { views: 1 };
      });
      const browser = await open(t, app);
      const reply = await browser.get("/count");
      answers(reply, 500, { code: "ERR_OPTION" });
      shouldNotSetSessionCookie(reply);
    });

    it('saveErrorResponse: "app": the route\'s response goes out without the cookie, and the error is logged', async (t) => {
      const lines: string[] = [];
      const app = Fastify({
        forceCloseConnections: true,
        logger: { level: "error", stream: { write: (line: string) => lines.push(line) } },
      });
      await app.register(session, { ...BASE, store: unreachable(), saveErrorResponse: "app" });
      countRoute(app);
      const browser = await open(t, app);
      const reply = await browser.get("/count");
      answers(reply, 200, { views: 1 });
      shouldNotSetSessionCookie(reply);
      const logged = lines.map(
        (line) => JSON.parse(line) as { msg: string; err?: { code?: string } },
      );
      const entry = logged.find((line) => line.msg.startsWith("tessera:"));
      assert.ok(entry, `nothing logged: ${lines.join("")}`);
      assert.equal(entry.err?.code, "ERR_STORE_UNAVAILABLE");
    });
  });

  describe("the response", () => {
    it("keeps the route's own Set-Cookie values beside the session cookie", async (t) => {
      const app = await fastifyWithSessions({ ...BASE, store: memory(t) });
      app.get("/count", async (request, reply) => {
        data(request).views = 1;
        reply.header("set-cookie", "theme=dark; Path=/");
        reply.header("set-cookie", ["lang=en; Path=/", "tz=UTC; Path=/"]);
        return { views: 1 };
      });
      const browser = await open(t, app);
      const reply = await browser.get("/count");
      shouldSetSessionCookie(reply);
      assert.deepEqual(
        reply.setCookies.filter((line) => !line.startsWith("connect.sid=")),
        ["theme=dark; Path=/", "lang=en; Path=/", "tz=UTC; Path=/"],
      );
    });

    it("a Secure cookie goes out behind a proxy Fastify trusts (trustProxy), and only then", async (t) => {
      const options = { ...BASE, store: memory(t), cookie: { secure: true } };
      const proxied = { "x-forwarded-proto": "https" };
      const trusting = await fastifyWithSessions(options, { trustProxy: true });
      countRoute(trusting);
      const reply = await (await open(t, trusting)).get("/count", proxied);
      assert.equal(attributesOf(shouldSetSessionCookie(reply)).secure, true);

      const wary = await fastifyWithSessions(options);
      countRoute(wary);
      shouldNotSetSessionCookie(await (await open(t, wary)).get("/count", proxied));
    });

    it("recordClient keeps request.ip, as Fastify resolves it behind its trusted proxy", async (t) => {
      const store = memory(t);
      const app = await fastifyWithSessions(
        { ...BASE, store, recordClient: true },
        { trustProxy: true },
      );
      countRoute(app);
      const browser = await open(t, app);
      const reply = await browser.get("/count", {
        "x-forwarded-for": "203.0.113.7",
        "user-agent": "journey/1",
      });
      const meta = (await store.get(sessionIdOf(reply)))?.__tessera;
      assert.equal(meta?.ip, "203.0.113.7");
      assert.equal(meta?.userAgent, "journey/1");
    });
  });

  describe("request.sessionStore", () => {
    it("lets the user-session helpers run on Fastify's request", async (t) => {
      const store = memory(t);
      const app = await fastifyWithSessions({ ...BASE, store });
      app.post("/login", async (request) => {
        await request.session.regenerate();
        request.session.setUser("alice");
        return { ok: true };
      });
      app.get("/sessions", async (request) => {
        assert.equal(request.sessionStore, store);
        const sessions = await listUserSessions(request);
        return sessions.map((one) => one.current).sort();
      });
      const laptop = await open(t, app);
      const phone = new Visitor(laptop.origin);
      await laptop.post("/login");
      await phone.post("/login");
      answers(await laptop.get("/sessions"), 200, [false, true]);
    });
  });

  describe("csrf() and flash() as app-wide hooks", () => {
    it("csrf() in preHandler reads a token from the parsed body, and refuses a POST without one", async (t) => {
      const app = await fastifyWithSessions({ ...BASE, store: memory(t) });
      app.addHook("preHandler", csrf());
      app.get("/form", async (request) => ({ token: request.csrfToken() }));
      app.post("/form", async () => ({ ok: true }));
      const browser = await open(t, app);
      const { token } = (await browser.get("/form")).body as { token: string };
      const cookie = `connect.sid=${browser.sessionCookie}`;
      const post = (body: unknown) =>
        fetch(new URL("/form", browser.origin), {
          method: "POST",
          headers: { cookie, "content-type": "application/json" },
          body: JSON.stringify(body),
        });
      const accepted = await post({ _csrf: token });
      assert.equal(accepted.status, 200, await accepted.text());
      const refused = await post({});
      assert.equal(refused.status, 403);
      assert.deepEqual(await refused.json(), { code: "ERR_CSRF_INVALID" });
    });

    it("flash() puts the messages in reply.locals for views, read only when a view reads them", async (t) => {
      const app = await fastifyWithSessions({ ...BASE, store: memory(t) });
      // What @fastify/view's reply.locals looks like to a hook.
      app.decorateReply("locals", null);
      app.addHook("onRequest", async (_request, reply) => {
        (reply as unknown as { locals: object }).locals = {};
      });
      app.addHook("preHandler", flash({ locals: "messages" }));
      app.post("/queue", async (request) => ({ queued: request.flash("info", "saved") }));
      app.get("/redirect", async () => ({ rendered: false }));
      app.get("/view", async (_request, reply) => ({
        rendered: (reply as unknown as { locals: { messages: unknown } }).locals.messages,
      }));
      const browser = await open(t, app);
      answers(await browser.post("/queue"), 200, { queued: 1 });
      answers(await browser.get("/redirect"), 200, { rendered: false });
      answers(await browser.get("/view"), 200, { rendered: { info: ["saved"] } });
      answers(await browser.get("/view"), 200, { rendered: {} });
    });
  });

  describe("request shapes", () => {
    it("declares session, sessionID and sessionStore as request decorators", async (t) => {
      const app = Fastify();
      t.after(() => app.close());
      await app.register(session, { ...BASE, store: memory(t) });
      await app.ready();
      for (const name of ["session", "sessionID", "sessionStore"]) {
        assert.equal(app.hasRequestDecorator(name), true, `request.${name} is not decorated`);
      }
    });
  });
});
