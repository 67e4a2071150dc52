// A session's own lifetime and requests that are not activity. `setLifetime()` gives one session
// its own idle and absolute timeouts ("remember me" longer, an administrator shorter), kept by
// renewal and dropped by a new login; the store must keep the session exactly that long. A
// request marked with `notActivity()` (polling) must not move the idle deadline, even when it
// writes data. The clock is node:test's mocked Date. Memory and SQLite expire by that clock, and
// an express-session store by the record's last-seen time, so there the clock is moved and the
// session is asked for; Redis and PostgreSQL expire by their server's clock, so there the test
// reads the TTL the server holds.
import assert from "node:assert/strict";
import { after, describe, it, type TestContext } from "node:test";
import express, { type Express } from "express";
import request from "supertest";
import { session } from "../../src/express/index.js";
import type { SessionMeta, Store } from "../../src/index.js";
import { MemoryStore } from "../../src/stores/memory.js";
import { jsonErrors } from "../csrf/app.js";
import { OldStyleStore } from "../fixtures/stores.js";
import {
  attributes,
  cookiePair,
  SECRET,
  sessionIdOf,
  setCookie,
  shouldSetCookie,
} from "../helpers/http.js";
import { storeBackends } from "../helpers/store-backends.js";

const MINUTE_MS = 60_000;
const DAY_MS = 24 * 60 * MINUTE_MS;
const IDLE_MS = 30 * MINUTE_MS;
const ABSOLUTE_MS = 12 * 60 * MINUTE_MS;
const REMEMBER = { idleTimeoutMs: 7 * DAY_MS, absoluteTimeoutMs: 30 * DAY_MS } as const;
const ADMIN = { idleTimeoutMs: 5 * MINUTE_MS, absoluteTimeoutMs: 60 * MINUTE_MS } as const;
/** Real time a server-side TTL may lose between the write and the read. */
const SLACK_MS = 10_000;

type Data = Record<string, unknown>;

function site(store: unknown): Express {
  const app = express();
  app.use(
    session({
      secret: SECRET,
      store: store as Store,
      resave: false,
      saveUninitialized: false,
      idleTimeoutMs: IDLE_MS,
      absoluteTimeoutMs: ABSOLUTE_MS,
    }),
  );
  app.post("/login/:kind", async (req, res) => {
    await req.session.regenerate();
    req.session.setUser("ada");
    if (req.params.kind === "remember") {
      req.session.setLifetime({ ...REMEMBER, cookieMaxAgeMs: REMEMBER.absoluteTimeoutMs });
    } else if (req.params.kind === "admin") {
      req.session.setLifetime(ADMIN);
    }
    res.send("in");
  });
  app.post("/renew", async (req, res) => {
    await req.session.regenerate({ keepData: true });
    res.send("renewed");
  });
  app.get("/me", (req, res) => {
    res.json({ user: req.session.getUser() ?? null });
  });
  app.get("/poll", (req, res) => {
    req.session.notActivity();
    res.json({ user: req.session.getUser() ?? null });
  });
  app.post("/poll-write", (req, res) => {
    req.session.notActivity();
    const data = req.session as unknown as Data;
    data.polls = ((data.polls as number | undefined) ?? 0) + 1;
    res.json({ polls: data.polls });
  });
  app.use(jsonErrors);
  return app;
}

function freezeClock(t: TestContext): number {
  const now = Date.now();
  t.mock.timers.enable({ apis: ["Date"], now });
  return now;
}

interface Backend {
  name: string;
  skip: boolean;
  /** "clock": expiry follows the mocked Date; "server": the store's server keeps its own time. */
  expiry: "clock" | "server";
  make(): Promise<Opened>;
}

interface Opened {
  store: unknown;
  /** The stored record's metadata, read past the engine. */
  meta(id: string): Promise<SessionMeta | undefined>;
  /** The TTL the store's server holds for the session, in ms ("server" backends). */
  ttlMs?(id: string): Promise<number>;
  close(): Promise<void>;
}

function metaOfStore(store: Store): (id: string) => Promise<SessionMeta | undefined> {
  return async (id) => (await store.get(id))?.__tessera;
}

const shared = await storeBackends("tessera_lifetimes");

const backends: Backend[] = [
  ...shared.backends.map(
    (backend): Backend => ({
      ...backend,
      async make() {
        const opened = await backend.make();
        return { ...opened, meta: metaOfStore(opened.store) };
      },
    }),
  ),
  {
    name: "a store written for express-session (no TTL: the record's seenAt decides)",
    skip: false,
    expiry: "clock",
    async make() {
      const store = new (OldStyleStore as unknown as new () => { sessions: Data })();
      return {
        store,
        async meta(id) {
          const json = store.sessions[id];
          return typeof json === "string" ? JSON.parse(json).__tessera : undefined;
        },
        close: async () => {},
      };
    },
  },
];

/** The server holds a TTL of `expected` ms, less the little real time since the write. */
async function holdsTtl(opened: Opened, id: string, expected: number, what: string) {
  const ttl = await (opened.ttlMs as (id: string) => Promise<number>)(id);
  assert.ok(
    ttl <= expected && ttl > expected - SLACK_MS,
    `${what}: the store holds a TTL of ${ttl} ms, expected about ${expected}`,
  );
}

/** How far in the future the cookie's Expires lies, in ms; `undefined` for a browser-session cookie. */
function expiresInMs(line: string): number | undefined {
  const expires = attributes(line).expires;
  return typeof expires === "string" ? Date.parse(expires) - Date.now() : undefined;
}

/** The cookie expires `ms` from now (Expires holds whole seconds). */
function cookieLasts(line: string, ms: number, what: string): void {
  const left = expiresInMs(line);
  assert.ok(left !== undefined && left <= ms && left > ms - 1000, `${what}: expires in ${left} ms`);
}

async function userOf(app: Express, cookie: string): Promise<string | null> {
  // A polling request: asking must not keep the session alive.
  const res = await request(app).get("/poll").set("Cookie", cookie).expect(200);
  return (res.body as { user: string | null }).user;
}

async function logIn(app: Express, kind: string) {
  const res = await request(app).post(`/login/${kind}`).expect(200, "in");
  return { cookie: cookiePair(res), id: sessionIdOf(res), res };
}

async function rememberMe(t: TestContext, backend: Backend, opened: Opened): Promise<void> {
  const loginAt = Date.now();
  const app = site(opened.store);
  const remembered = await logIn(app, "remember");
  const line = shouldSetCookie(remembered.res);
  cookieLasts(line, REMEMBER.absoluteTimeoutMs, "remember me");
  const meta = await opened.meta(remembered.id);
  assert.equal(meta?.idleTimeoutMs, REMEMBER.idleTimeoutMs, "the lifetime is in the record");
  assert.equal(meta?.absoluteTimeoutMs, REMEMBER.absoluteTimeoutMs);
  const plain = await logIn(app, "plain");
  assert.equal(expiresInMs(shouldSetCookie(plain.res)), undefined, "a browser-session cookie");

  if (backend.expiry === "server") {
    await holdsTtl(opened, remembered.id, REMEMBER.idleTimeoutMs, "remember me");
    await holdsTtl(opened, plain.id, IDLE_MS, "the default");
    t.mock.timers.tick(IDLE_MS + MINUTE_MS);
    await request(app).get("/me").set("Cookie", remembered.cookie).expect(200, { user: "ada" });
    await holdsTtl(opened, remembered.id, REMEMBER.idleTimeoutMs, "touched");
    return;
  }
  t.mock.timers.tick(IDLE_MS);
  assert.equal(await userOf(app, plain.cookie), null, "the default session ended");
  assert.equal(await userOf(app, remembered.cookie), "ada", "remember me outlived it");
  await request(app).get("/me").set("Cookie", remembered.cookie).expect(200, { user: "ada" });
  const seen = Date.now();
  assert.equal((await opened.meta(remembered.id))?.seenAt, seen);
  t.mock.timers.tick(REMEMBER.idleTimeoutMs - 1);
  assert.equal(await userOf(app, remembered.cookie), "ada", "alive until its own idle timeout");
  t.mock.timers.tick(1);
  assert.equal(await userOf(app, remembered.cookie), null, "ended at its own idle timeout");
  assert.ok(Date.now() - loginAt < REMEMBER.absoluteTimeoutMs);
}

async function adminEndsEarlier(t: TestContext, backend: Backend, opened: Opened): Promise<void> {
  const app = site(opened.store);
  const admin = await logIn(app, "admin");
  if (backend.expiry === "server") {
    await holdsTtl(opened, admin.id, ADMIN.idleTimeoutMs, "admin");
  } else {
    t.mock.timers.tick(ADMIN.idleTimeoutMs - 1);
    assert.equal(await userOf(app, admin.cookie), "ada");
    t.mock.timers.tick(1);
    assert.equal(await userOf(app, admin.cookie), null, "ended at its idle timeout");
  }
  // Kept busy, an admin session still ends at its absolute timeout, long before the option's.
  const busy = await logIn(app, "admin");
  for (let spent = 0; spent + 4 * MINUTE_MS < ADMIN.absoluteTimeoutMs; spent += 4 * MINUTE_MS) {
    t.mock.timers.tick(4 * MINUTE_MS);
    await request(app).get("/me").set("Cookie", busy.cookie).expect(200, { user: "ada" });
  }
  if (backend.expiry === "server") {
    await holdsTtl(opened, busy.id, 4 * MINUTE_MS, "the rest of the absolute timeout");
  }
  t.mock.timers.tick(4 * MINUTE_MS);
  await request(app).get("/me").set("Cookie", busy.cookie).expect(200, { user: null });
}

async function renewalKeeps(t: TestContext, backend: Backend, opened: Opened): Promise<void> {
  const app = site(opened.store);
  const remembered = await logIn(app, "remember");
  t.mock.timers.tick(MINUTE_MS);
  const renewal = await request(app)
    .post("/renew")
    .set("Cookie", remembered.cookie)
    .expect(200, "renewed");
  const renewed = { cookie: cookiePair(renewal), id: sessionIdOf(renewal) };
  assert.notEqual(renewed.id, remembered.id);
  cookieLasts(shouldSetCookie(renewal), REMEMBER.absoluteTimeoutMs, "the renewed cookie");
  const meta = await opened.meta(renewed.id);
  assert.equal(meta?.idleTimeoutMs, REMEMBER.idleTimeoutMs, "renewal kept the idle timeout");
  assert.equal(meta?.absoluteTimeoutMs, REMEMBER.absoluteTimeoutMs);
  if (backend.expiry === "server") {
    await holdsTtl(opened, renewed.id, REMEMBER.idleTimeoutMs, "renewed");
  } else {
    t.mock.timers.tick(IDLE_MS + MINUTE_MS);
    assert.equal(await userOf(app, renewed.cookie), "ada", "the renewed session outlived it");
  }

  // A new login (a plain regenerate) starts with the options' lifetime again.
  const relogin = await request(app).post("/login/plain").set("Cookie", renewed.cookie);
  assert.equal(relogin.status, 200);
  const fresh = sessionIdOf(relogin);
  const freshMeta = await opened.meta(fresh);
  assert.equal(freshMeta?.idleTimeoutMs, undefined);
  assert.equal(freshMeta?.absoluteTimeoutMs, undefined);
  assert.equal(expiresInMs(shouldSetCookie(relogin)), undefined, "a browser-session cookie");
  if (backend.expiry === "server") await holdsTtl(opened, fresh, IDLE_MS, "a new login");
}

async function pollingIsNotActivity(
  t: TestContext,
  backend: Backend,
  opened: Opened,
): Promise<void> {
  const loginAt = Date.now();
  const app = site(opened.store);
  const polled = await logIn(app, "plain");
  const active = await logIn(app, "plain");

  t.mock.timers.tick(20 * MINUTE_MS);
  const poll = await request(app).get("/poll").set("Cookie", polled.cookie).expect(200);
  assert.equal(setCookie(poll), undefined, "a poll sends no cookie");
  // A poll that changes data is written, but its write keeps the idle deadline where it was.
  for (const polls of [1, 2]) {
    const write = await request(app).post("/poll-write").set("Cookie", polled.cookie);
    assert.deepEqual(write.body, { polls }, "the poll's data was written");
    assert.equal(setCookie(write), undefined);
  }
  const meta = await opened.meta(polled.id);
  assert.equal(meta?.seenAt, loginAt, "polls did not move the last-seen time");
  if (backend.expiry === "server") {
    await holdsTtl(opened, polled.id, 10 * MINUTE_MS, "after polls");
  }

  await request(app).get("/me").set("Cookie", active.cookie).expect(200, { user: "ada" });
  if (backend.expiry === "server") {
    // Redis's touch moves only the key's expiry, leaving the record's seenAt as it was.
    await holdsTtl(opened, active.id, IDLE_MS, "after a normal request");
    return;
  }
  assert.equal((await opened.meta(active.id))?.seenAt, Date.now(), "a normal request is seen");
  t.mock.timers.tick(10 * MINUTE_MS);
  assert.equal(await userOf(app, polled.cookie), null, "the polled session ended on time");
  assert.equal(await userOf(app, active.cookie), "ada", "the active one did not");
}

async function withBackend(
  backend: Backend,
  run: (opened: Opened) => Promise<void>,
): Promise<void> {
  const opened = await backend.make();
  try {
    await run(opened);
  } finally {
    await opened.close();
  }
}

describe("setLifetime() and notActivity()", () => {
  after(shared.cleanup);

  for (const backend of backends) {
    describe(backend.name, { skip: backend.skip }, () => {
      // The clock is mocked before the store is made: MemoryStore keeps the Date.now it was given.
      it("remember me outlives the default idle timeout and ends at its own", async (t) => {
        freezeClock(t);
        await withBackend(backend, (opened) => rememberMe(t, backend, opened));
      });

      it("an admin lifetime ends the session earlier, idle or busy", async (t) => {
        freezeClock(t);
        await withBackend(backend, (opened) => adminEndsEarlier(t, backend, opened));
      });

      it("renewal keeps the lifetime; a new login drops it", async (t) => {
        freezeClock(t);
        await withBackend(backend, (opened) => renewalKeeps(t, backend, opened));
      });

      it("polling requests do not move the idle deadline; a normal request does", async (t) => {
        freezeClock(t);
        await withBackend(backend, (opened) => pollingIsNotActivity(t, backend, opened));
      });
    });
  }

  describe("setLifetime() arguments", () => {
    it("refuses a timeout that is not a duration, with ERR_OPTION", async () => {
      const app = express();
      app.use(
        session({
          secret: SECRET,
          store: new MemoryStore(),
          resave: false,
          saveUninitialized: false,
        }),
      );
      app.get("/", (req, res) => {
        const codes = [-1, Number.NaN, Number.POSITIVE_INFINITY, "60000"].map((value) => {
          try {
            req.session.setLifetime({ idleTimeoutMs: value as number });
            return "accepted";
          } catch (error) {
            return (error as { code?: string }).code;
          }
        });
        res.json(codes);
      });
      const res = await request(app).get("/").expect(200);
      assert.deepEqual(res.body, ["ERR_OPTION", "ERR_OPTION", "ERR_OPTION", "ERR_OPTION"]);
    });
  });
});
