// Renewal is not a new login. `regenerate({ keepData: true })` gives the session a new id (OWASP's
// renewal timeout), and must keep every guarantee of the session it renews: its user, so "log
// out everywhere" still finds and removes it; its creation time, so renewing often cannot
// outlive the absolute timeout; and nothing bound to the old id, so a CSRF token issued before
// renewal no longer works. A plain `regenerate()` is a new login and starts afresh. Each store
// with a user index runs against its real server; sessions are tied to their user both through
// `req.session.setUser()` and through the `userKey` option.
import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import express, { type Express } from "express";
import request from "supertest";
import { csrf } from "../../src/csrf/index.js";
import { session } from "../../src/express/index.js";
import { type Store, sessionHandle } from "../../src/index.js";
import type { SessionOptions } from "../../src/node/options.js";
import { MemoryStore } from "../../src/stores/memory.js";
import { jsonErrors } from "../csrf/app.js";
import { cookiePair, SECRET, sessionIdOf, shouldSetCookie } from "../helpers/http.js";
import { storeBackends } from "../helpers/store-backends.js";
import { userSessionRoutes } from "../helpers/user-sessions.js";

/** How the app ties a session to its user. */
type Tie = "setUser" | "userKey";
const TIES: readonly Tie[] = ["setUser", "userKey"];

type Data = Record<string, unknown>;

function site(store: Store, tie: Tie, options: Partial<SessionOptions> = {}): Express {
  const app = express();
  app.use(
    session({
      secret: SECRET,
      store,
      resave: false,
      saveUninitialized: false,
      recordClient: true,
      cookie: { maxAge: 3_600_000 },
      ...(tie === "userKey" ? { userKey: "user.id" } : {}),
      ...options,
    }),
  );
  app.post("/login/:user", async (req, res) => {
    await req.session.regenerate();
    const user = String(req.params.user);
    if (tie === "setUser") req.session.setUser(user);
    else (req.session as unknown as Data).user = { id: user };
    (req.session as unknown as Data).cart = ["book"];
    res.send("in");
  });
  app.post("/renew", async (req, res) => {
    await req.session.regenerate({ keepData: true });
    res.send("renewed");
  });
  app.get("/who", (req, res) => {
    const cart = (req.session as unknown as Data).cart;
    res.send(`${req.session.getUser() ?? "nobody"} ${JSON.stringify(cart ?? [])}`);
  });
  userSessionRoutes(app);
  app.use(jsonErrors);
  return app;
}

async function login(app: Express, user: string, agent: string): Promise<string> {
  return cookiePair(
    await request(app).post(`/login/${user}`).set("User-Agent", agent).expect(200, "in"),
  );
}

/** Renews the session; returns the new cookie and the new session id. */
async function renew(app: Express, cookie: string, agent: string) {
  const res = await request(app)
    .post("/renew")
    .set("Cookie", cookie)
    .set("User-Agent", agent)
    .expect(200, "renewed");
  const renewed = cookiePair(res);
  assert.notEqual(renewed, cookie, "renewal gives a new id");
  return { cookie: renewed, id: sessionIdOf(res) };
}

async function who(app: Express, cookie: string): Promise<string> {
  return (await request(app).get("/who").set("Cookie", cookie).expect(200)).text;
}

interface Listed {
  handle: string;
  current: boolean;
  userAgent: string | null;
  createdAt: string;
}

async function list(app: Express, cookie: string): Promise<Listed[]> {
  const res = await request(app).get("/sessions").set("Cookie", cookie);
  assert.equal(res.status, 200, `listing answered ${res.status}: ${res.text}`);
  return res.body as Listed[];
}

function byAgent(listed: Listed[], agent: string): Listed {
  const entry = listed.find((s) => s.userAgent === agent);
  assert.ok(entry, `a session from ${agent} is listed: ${JSON.stringify(listed)}`);
  return entry;
}

/** Renewal keeps the user, its place in the index and its creation time; revoking finds it. */
async function renewalKeepsTheUser(store: Store, tie: Tie): Promise<void> {
  const app = site(store, tie);
  const laptop = await login(app, "ada", "Laptop");
  const phone = await login(app, "ada", "Phone");
  const grace = await login(app, "grace", "Grace's");
  const original = byAgent(await list(app, laptop), "Laptop");
  // A creation time restarted by the renewal would differ from the original by this much.
  await sleep(25);

  const renewed = await renew(app, laptop, "Laptop");
  assert.equal(await who(app, laptop), "nobody []", "the old id no longer works");
  assert.equal(await who(app, renewed.cookie), 'ada ["book"]', "user and data are kept");

  const seenFromPhone = await list(app, phone);
  assert.deepEqual(seenFromPhone.map((s) => s.userAgent).sort(), ["Laptop", "Phone"]);
  const entry = byAgent(seenFromPhone, "Laptop");
  assert.equal(entry.handle, sessionHandle(renewed.id), "the index holds the renewed id");
  assert.notEqual(entry.handle, original.handle);
  assert.equal(entry.createdAt, original.createdAt, "the creation time is the login's");
  const seenFromRenewed = await list(app, renewed.cookie);
  assert.equal(byAgent(seenFromRenewed, "Laptop").current, true);

  // "Log out everywhere else", from another device, removes the renewed session.
  await request(app).post("/others").set("Cookie", phone).expect(200, "1");
  assert.equal(await who(app, renewed.cookie), "nobody []");
  assert.equal(await who(app, phone), 'ada ["book"]');

  // "Log out everywhere", from a renewed session, answers and removes every session of the user.
  const again = await renew(app, await login(app, "ada", "Laptop"), "Laptop");
  const all = await request(app).post("/everywhere").set("Cookie", again.cookie);
  assert.equal(all.status, 200, `revokeAllSessions answered ${all.status}: ${all.text}`);
  assert.equal(all.text, "2");
  assert.match(shouldSetCookie(all), /^connect\.sid=;/, "the renewed session's cookie is cleared");
  assert.equal(await who(app, again.cookie), "nobody []");
  assert.equal(await who(app, phone), "nobody []");
  assert.equal(await who(app, grace), 'grace ["book"]', "another user is left alone");
}

/** A plain regenerate() is a new login: a new creation time. */
async function newLoginStartsAfresh(store: Store, tie: Tie): Promise<void> {
  const app = site(store, tie);
  const first = await login(app, "ada", "Laptop");
  const before = byAgent(await list(app, first), "Laptop");
  await sleep(25);
  const res = await request(app)
    .post("/login/ada")
    .set("Cookie", first)
    .set("User-Agent", "Laptop")
    .expect(200, "in");
  const listed = await list(app, cookiePair(res));
  assert.equal(listed.length, 1, "the old session is gone");
  const after = byAgent(listed, "Laptop");
  assert.ok(
    Date.parse(after.createdAt) > Date.parse(before.createdAt),
    `a new login starts a new absolute window: ${before.createdAt} then ${after.createdAt}`,
  );
}

const ABSOLUTE_MS = 1200;
const RENEW_EVERY_MS = 300;

/**
 * Renewing every ~300 ms does not keep a session past `absoluteTimeoutMs`: it ends once 1.2 s
 * have passed since the login, and never before.
 */
async function renewalEndsAtTheAbsoluteTimeout(store: Store, tie: Tie): Promise<void> {
  const app = site(store, tie, { absoluteTimeoutMs: ABSOLUTE_MS });
  const started = Date.now();
  let cookie = await login(app, "ada", "Laptop");
  const answers: { afterMs: number; user: string }[] = [];
  // Well past the timeout, however slow the machine: the session must be gone by then.
  while (Date.now() - started < 3 * ABSOLUTE_MS) {
    await sleep(RENEW_EVERY_MS);
    const res = await request(app).post("/renew").set("Cookie", cookie).expect(200, "renewed");
    cookie = cookiePair(res);
    const user = (await who(app, cookie)).split(" ")[0] as string;
    answers.push({ afterMs: Date.now() - started, user });
  }
  assert.equal(answers[0]?.user, "ada", "renewal works while the session is young");
  assert.equal(answers.at(-1)?.user, "nobody", `renewal kept it alive: ${JSON.stringify(answers)}`);
  const ended = answers.findIndex((a) => a.user === "nobody");
  assert.ok(
    answers.slice(ended).every((a) => a.user === "nobody"),
    "once ended, it stays ended",
  );
  assert.ok(
    (answers[ended]?.afterMs ?? 0) >= ABSOLUTE_MS,
    `it did not end before the absolute timeout: ${JSON.stringify(answers)}`,
  );
}

const { backends, withStore, cleanup } = await storeBackends("tessera_renewal");

describe("regenerate({ keepData: true }) keeps every guarantee of the session it renews", () => {
  after(cleanup);

  for (const backend of backends) {
    describe(backend.name, { skip: backend.skip }, () => {
      for (const tie of TIES) {
        describe(`tied to the user with ${tie}`, () => {
          it("the renewed session keeps its user and creation time; revoking finds and removes it", async () => {
            await withStore(backend, (store) => renewalKeepsTheUser(store, tie));
          });

          it("a plain regenerate(), a new login, starts a new creation time", async () => {
            await withStore(backend, (store) => newLoginStartsAfresh(store, tie));
          });
        });
      }

      it(`renewing every ${RENEW_EVERY_MS} ms does not outlive absoluteTimeoutMs: ${ABSOLUTE_MS}`, async () => {
        await withStore(backend, (store) => renewalEndsAtTheAbsoluteTimeout(store, "setUser"));
      });
    });
  }

  it("with userKey too, renewing does not outlive the absolute timeout", async () => {
    await renewalEndsAtTheAbsoluteTimeout(new MemoryStore(), "userKey");
  });
});

describe("regenerate({ keepData: true }) and csrf()", () => {
  it("a token issued before renewal is refused after it; a fresh token works", async () => {
    const app = express();
    app.use(
      session({
        secret: SECRET,
        store: new MemoryStore(),
        resave: false,
        saveUninitialized: false,
      }),
    );
    app.use(express.json());
    app.use(csrf());
    app.get("/form", (req, res) => {
      (req.session as unknown as Data).cart = ["book"];
      res.json({ token: req.csrfToken() });
    });
    app.post("/renew", async (req, res) => {
      await req.session.regenerate({ keepData: true });
      res.send("renewed");
    });
    app.post("/submit", (req, res) => {
      res.send(JSON.stringify((req.session as unknown as Data).cart));
    });
    app.use(jsonErrors);

    const form = await request(app).get("/form").expect(200);
    const before = (form.body as { token: string }).token;
    const cookie = cookiePair(form);
    const renewed = cookiePair(
      await request(app)
        .post("/renew")
        .set("Cookie", cookie)
        .set("x-csrf-token", before)
        .expect(200, "renewed"),
    );

    const stale = await request(app)
      .post("/submit")
      .set("Cookie", renewed)
      .set("x-csrf-token", before);
    assert.equal(stale.status, 403, `the old token was accepted: ${stale.status} ${stale.text}`);
    assert.equal((stale.body as { code?: string }).code, "ERR_CSRF_INVALID");

    const fresh = await request(app).get("/form").set("Cookie", renewed).expect(200);
    const after = (fresh.body as { token: string }).token;
    await request(app)
      .post("/submit")
      .set("Cookie", renewed)
      .set("x-csrf-token", after)
      .expect(200, '["book"]');
  });
});
