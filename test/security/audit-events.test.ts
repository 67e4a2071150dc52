// Audit events (OWASP: log session life-cycle events): the onSessionEvent hook hears every
// lifecycle event exactly once, with its reason, user and handle and never the session id; the
// diagnostics channels and Prometheus counters see the same events. Over real HTTP, on every
// store, and on Koa too, since the engine behind every adapter raises them.
import assert from "node:assert/strict";
import { subscribe, unsubscribe } from "node:diagnostics_channel";
import type { Server } from "node:http";
import { after, before, describe, it } from "node:test";
import express, { type Express } from "express";
import expressSession from "express-session";
import Koa from "koa";
import { Registry } from "prom-client";
import request from "supertest";
import { CHANNEL_NAMES } from "../../src/core/channels.js";
import { session } from "../../src/express/index.js";
import {
  isTesseraError,
  revokeAllSessions,
  revokeOtherSessions,
  revokeUserSession,
  type SessionEvent,
  type Store,
  sessionHandle,
} from "../../src/index.js";
import { session as koaSession } from "../../src/koa/index.js";
import { prometheusMetrics } from "../../src/metrics/index.js";
import { MemoryStore } from "../../src/stores/memory.js";
import { cookiePair, SECRET, sessionIdOf } from "../helpers/http.js";
import { storeBackends } from "../helpers/store-backends.js";

declare module "../../src/core/session.js" {
  interface SessionData {
    visits?: number;
  }
}

const HOUR_MS = 3_600_000;

type AnyStore = NonNullable<Parameters<typeof session>[0]["store"]>;

function site(store: AnyStore, events: SessionEvent[], options: { idleTimeoutMs?: number } = {}) {
  const app = express();
  app.use(
    session({
      secret: SECRET,
      store,
      resave: false,
      saveUninitialized: false,
      unset: "destroy",
      absoluteTimeoutMs: HOUR_MS,
      onSessionEvent: (event) => events.push(event),
      ...options,
    }),
  );
  app.get("/visit", (req, res) => {
    req.session.visits = (req.session.visits ?? 0) + 1;
    res.send(String(req.session.visits));
  });
  app.post("/login/:user", async (req, res) => {
    await req.session.regenerate();
    req.session.setUser(String(req.params.user));
    res.send("in");
  });
  app.post("/logout", async (req, res) => {
    await req.session.destroy();
    res.send("out");
  });
  app.post("/unset", (req, res) => {
    (req as { session?: unknown }).session = null;
    res.send("unset");
  });
  app.post("/expire-cookie", (req, res) => {
    req.session.cookie.maxAge = 0;
    res.send("expired");
  });
  app.post("/revoke/:handle", async (req, res) => {
    res.send(String(await revokeUserSession(req, String(req.params.handle))));
  });
  app.post("/others", async (req, res) => {
    res.send(String(await revokeOtherSessions(req)));
  });
  app.post("/everywhere", async (req, res) => {
    res.send(String(await revokeAllSessions(req)));
  });
  app.use(
    (error: unknown, _req: express.Request, res: express.Response, _next: express.NextFunction) => {
      res.status(500).send(isTesseraError(error) ? error.code : String(error));
    },
  );
  return app;
}

async function login(app: Express, user: string, cookie?: string) {
  const call = request(app).post(`/login/${user}`);
  return (cookie === undefined ? call : call.set("Cookie", cookie)).expect("in");
}

/** Makes a stored session older than the absolute timeout, through the store's own API. */
async function age(store: Store, id: string): Promise<void> {
  const record = await store.get(id);
  assert.ok(record?.__tessera, "the session is stored");
  record.__tessera.createdAt = Date.now() - 2 * HOUR_MS;
  await store.set(id, record, HOUR_MS);
}

/** Every event type, each once, on `store`; the events must name handles, never ids. */
async function everyEvent(store: Store): Promise<void> {
  const events: SessionEvent[] = [];
  const app = site(store, events);
  const ids: string[] = [];
  const track = (res: request.Response) => {
    ids.push(sessionIdOf(res));
    return cookiePair(res);
  };
  const expected: SessionEvent[] = [];
  const handle = (at: number) => sessionHandle(ids[at] as string);

  const visitor = track(await request(app).get("/visit").expect("1"));
  expected.push({ type: "created", handle: handle(0) });
  const ada = track(await login(app, "ada", visitor));
  expected.push({ type: "regenerated", handle: handle(1), previousHandle: handle(0), user: "ada" });
  track(await login(app, "ada"));
  expected.push({ type: "created", handle: handle(2), user: "ada" });
  track(await login(app, "ada"));
  expected.push({ type: "created", handle: handle(3), user: "ada" });
  await request(app)
    .post(`/revoke/${handle(2)}`)
    .set("Cookie", ada)
    .expect("true");
  expected.push({ type: "revoked", handle: handle(2), user: "ada" });
  await request(app).post("/others").set("Cookie", ada).expect("1");
  expected.push({ type: "revoked", handle: handle(3), user: "ada" });
  await request(app).post("/unset").set("Cookie", ada).expect("unset");
  expected.push({ type: "destroyed", reason: "unset", handle: handle(1), user: "ada" });

  const bob = track(await login(app, "bob"));
  expected.push({ type: "created", handle: handle(4), user: "bob" });
  await request(app).post("/logout").set("Cookie", bob).expect("out");
  expected.push({ type: "destroyed", reason: "destroy", handle: handle(4), user: "bob" });

  const cy = track(await login(app, "cy"));
  expected.push({ type: "created", handle: handle(5), user: "cy" });
  await request(app).post("/everywhere").set("Cookie", cy).expect("1");
  expected.push({ type: "revoked", handle: handle(5), user: "cy" });

  const dee = track(await login(app, "dee"));
  expected.push({ type: "created", handle: handle(6), user: "dee" });
  await age(store, ids[6] as string);
  track(await request(app).get("/visit").set("Cookie", dee).expect("1"));
  expected.push({ type: "expired", reason: "absolute", handle: handle(6), user: "dee" });
  expected.push({ type: "created", handle: handle(7) });

  const eve = track(await login(app, "eve"));
  expected.push({ type: "created", handle: handle(8), user: "eve" });
  await request(app).post("/expire-cookie").set("Cookie", eve).expect("expired");
  expected.push({ type: "expired", reason: "cookie", handle: handle(8), user: "eve" });
  assert.equal(await store.get(ids[8] as string), undefined, "the session is gone");

  assert.deepEqual(events, expected);
  const dump = JSON.stringify(events);
  for (const id of ids) assert.ok(!dump.includes(id), "an event carried a session id");
}

const { backends, withStore, cleanup } = await storeBackends("tessera_audit");

describe("onSessionEvent › every event fires once, with its reason, user and handle", () => {
  after(cleanup);

  for (const backend of backends) {
    it(backend.name, { skip: backend.skip }, async () => {
      await withStore(backend, everyEvent);
    });
  }
});

/** An express-session MemoryStore, and a way to move a stored session's last-seen time. */
function legacyStore() {
  const store = new expressSession.MemoryStore();
  const sessions = (store as unknown as { sessions: Record<string, string> }).sessions;
  return {
    store: store as unknown as AnyStore,
    idle(id: string) {
      const record = JSON.parse(sessions[id] as string);
      record.__tessera.seenAt = Date.now() - HOUR_MS;
      sessions[id] = JSON.stringify(record);
    },
  };
}

describe("onSessionEvent › idle timeout", () => {
  it("over a store written for express-session, an idle session is reported expired, idle", async () => {
    const events: SessionEvent[] = [];
    const legacy = legacyStore();
    const app = site(legacy.store, events, { idleTimeoutMs: 60_000 });
    const res = await login(app, "ada");
    const id = sessionIdOf(res);
    legacy.idle(id);
    await request(app).get("/visit").set("Cookie", cookiePair(res)).expect("1");
    assert.deepEqual(
      events.filter((event) => event.type === "expired"),
      [{ type: "expired", reason: "idle", handle: sessionHandle(id), user: "ada" }],
    );
  });
});

describe("onSessionEvent › option and errors", () => {
  it("must be a function: ERR_OPTION at session() time", () => {
    assert.throws(
      () =>
        session({
          secret: SECRET,
          resave: false,
          saveUninitialized: false,
          onSessionEvent: "log" as unknown as () => void,
        }),
      (error: unknown) => isTesseraError(error) && error.code === "ERR_OPTION",
    );
  });

  it("a hook that throws does not fail the request; its error is a warning, once per message", async () => {
    const warnings: Error[] = [];
    const onWarning = (warning: Error) => warnings.push(warning);
    process.on("warning", onWarning);
    try {
      const app = express();
      app.use(
        session({
          secret: SECRET,
          store: new MemoryStore(),
          resave: false,
          saveUninitialized: false,
          onSessionEvent: () => {
            throw new Error("audit disk full");
          },
        }),
      );
      app.get("/visit", (req, res) => {
        req.session.visits = 1;
        res.send("ok");
      });
      const first = await request(app).get("/visit").expect(200, "ok");
      assert.ok(sessionIdOf(first), "the session was still saved and sent");
      await request(app).get("/visit").expect(200, "ok");
      // Warnings are emitted on the next tick.
      await new Promise((resolve) => setImmediate(resolve));
      const ours = warnings.filter((w) => w.message.includes("audit disk full"));
      assert.equal(ours.length, 1);
      assert.equal((ours[0] as Error & { code?: string }).code, "TESSERA_SESSION_EVENT_HOOK");
    } finally {
      process.off("warning", onWarning);
    }
  });
});

describe("onSessionEvent › on Koa", () => {
  let server: Server;
  const events: SessionEvent[] = [];
  before(async () => {
    const app = new Koa();
    app.use(
      koaSession({
        secret: SECRET,
        store: new MemoryStore(),
        resave: false,
        saveUninitialized: false,
        unset: "destroy",
        onSessionEvent: (event) => events.push(event),
      }),
    );
    app.use(async (ctx) => {
      if (ctx.path === "/visit") {
        ctx.session.visits = (ctx.session.visits ?? 0) + 1;
      } else if (ctx.path === "/login") {
        await ctx.session.regenerate();
        ctx.session.setUser("ada");
      } else if (ctx.path === "/logout") {
        await ctx.session.destroy();
      } else if (ctx.path === "/unset") {
        (ctx as { session?: unknown }).session = null;
      }
      ctx.body = "ok";
    });
    server = app.listen(0, "127.0.0.1");
    await new Promise((resolve) => server.once("listening", resolve));
  });
  after(async () => {
    await new Promise((resolve) => server.close(resolve));
  });

  it("reports created, regenerated, destroyed and unset", async () => {
    const first = await request(server).get("/visit").expect("ok");
    const ada = await request(server).post("/login").set("Cookie", cookiePair(first));
    await request(server).post("/unset").set("Cookie", cookiePair(ada)).expect("ok");
    const again = await request(server).post("/login").expect("ok");
    await request(server).post("/logout").set("Cookie", cookiePair(again)).expect("ok");
    const [one, two, three] = [first, ada, again].map((res) => sessionHandle(sessionIdOf(res)));
    assert.deepEqual(events, [
      { type: "created", handle: one },
      { type: "regenerated", handle: two, previousHandle: one, user: "ada" },
      { type: "destroyed", reason: "unset", handle: two, user: "ada" },
      { type: "created", handle: three, user: "ada" },
      { type: "destroyed", reason: "destroy", handle: three, user: "ada" },
    ]);
    const dump = JSON.stringify(events);
    for (const res of [first, ada, again]) assert.ok(!dump.includes(sessionIdOf(res)));
  });
});

describe("channels and Prometheus › the documented messages arrive", () => {
  it("destroyed unset and regenerate, expired idle and cookie", async () => {
    const messages: { channel: string; message: unknown }[] = [];
    const names = [CHANNEL_NAMES.destroyed, CHANNEL_NAMES.expired];
    const listeners = names.map((name) => {
      const listener = (message: unknown) => messages.push({ channel: name, message });
      subscribe(name, listener);
      return [name, listener] as const;
    });
    const register = new Registry();
    const metrics = prometheusMetrics({ register });
    try {
      const legacy = legacyStore();
      const app = site(legacy.store, [], { idleTimeoutMs: 60_000 });
      const visitor = await request(app).get("/visit").expect("1");
      const ada = await login(app, "ada", cookiePair(visitor));
      await request(app).post("/unset").set("Cookie", cookiePair(ada)).expect("unset");
      const bob = await login(app, "bob");
      legacy.idle(sessionIdOf(bob));
      await request(app).get("/visit").set("Cookie", cookiePair(bob)).expect("1");
      const cy = await login(app, "cy");
      await request(app).post("/expire-cookie").set("Cookie", cookiePair(cy)).expect("expired");

      assert.deepEqual(messages, [
        { channel: CHANNEL_NAMES.destroyed, message: { reason: "regenerate" } },
        { channel: CHANNEL_NAMES.destroyed, message: { reason: "unset" } },
        { channel: CHANNEL_NAMES.expired, message: { reason: "idle" } },
        { channel: CHANNEL_NAMES.expired, message: { reason: "cookie" } },
      ]);
      const counted = async (name: string, reason: string) =>
        (await register.getSingleMetric(name)?.get())?.values.find(
          (value) => value.labels.reason === reason,
        )?.value;
      assert.equal(await counted("tessera_sessions_destroyed_total", "regenerate"), 1);
      assert.equal(await counted("tessera_sessions_destroyed_total", "unset"), 1);
      assert.equal(await counted("tessera_sessions_expired_total", "idle"), 1);
      assert.equal(await counted("tessera_sessions_expired_total", "cookie"), 1);
    } finally {
      metrics.close();
      for (const [name, listener] of listeners) unsubscribe(name, listener);
    }
  });
});
