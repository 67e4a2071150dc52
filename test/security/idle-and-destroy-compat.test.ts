// Stores written for express-session (its own MemoryStore, connect-redis) keep only their own
// expiry and have no conditional write, yet two guarantees must hold over them as over
// Tessera's stores: a session idle longer than `idleTimeoutMs` is over (and removed from the
// store), while one in use stays alive; and a session destroyed (a logout) while a slower
// request on it was running is not brought back when that request saves.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { RedisStore as ConnectRedis } from "connect-redis";
import express, { type Express } from "express";
import expressSession from "express-session";
import { createClient } from "redis";
import request from "supertest";
import { session } from "../../src/express/index.js";
import { type SessionRecord, type Store, TESSERA_STORE } from "../../src/store/index.js";
import { MemoryStore } from "../../src/stores/memory.js";
import { eventually } from "../fixtures/redis/clients.js";
import { cookiePair, SECRET, sessionIdOf, setCookie } from "../helpers/http.js";
import { needServer, REDIS_URL, uniqueName } from "../helpers/services.js";

type AnyStore = NonNullable<Parameters<typeof session>[0]["store"]>;

/** A store written for express-session, and a way to look at what it holds for an id. */
interface Backend {
  store: AnyStore;
  /** Whether the store holds any record for `id`, read from its backing data directly. */
  holds(id: string): Promise<boolean>;
}

// Wide enough that a request's round trip fits many times inside it on a loaded machine.
const IDLE_MS = 1500;

declare module "../../src/core/session.js" {
  interface SessionData {
    count: number;
  }
}

function site(backend: Backend, options: { idleTimeoutMs?: number } = {}) {
  const app = express();
  app.use(
    session({
      secret: SECRET,
      store: backend.store,
      resave: false,
      saveUninitialized: false,
      // A long-lived cookie and store record: only what is under test may end the session.
      cookie: { maxAge: 3_600_000 },
      ...options,
    }),
  );
  app.get("/count", (req, res) => {
    req.session.count = (req.session.count ?? 0) + 1;
    res.send(String(req.session.count));
  });
  app.get("/read", (req, res) => {
    res.send(String(req.session.count ?? "none"));
  });
  app.post("/logout", async (req, res) => {
    await req.session.destroy();
    res.send("bye");
  });
  return app;
}

/** A request on the session that loads it, then waits for `release` before changing it. */
function withSlowRoute(app: Express) {
  let loaded!: () => void;
  let release!: () => void;
  const onLoaded = new Promise<void>((resolve) => {
    loaded = resolve;
  });
  const released = new Promise<void>((resolve) => {
    release = resolve;
  });
  app.get("/slow", async (req, res) => {
    loaded();
    await released;
    req.session.count = (req.session.count ?? 0) + 100;
    res.send("slow done");
  });
  return { onLoaded, release };
}

function scenarios(make: () => Backend) {
  it("a session idle longer than idleTimeoutMs is over: a fresh session, the old one destroyed", async () => {
    const backend = make();
    const app = site(backend, { idleTimeoutMs: IDLE_MS });
    const first = await request(app).get("/count").expect(200, "1");
    const id = sessionIdOf(first);
    assert.ok(await backend.holds(id), "saved at first");
    await sleep(2 * IDLE_MS);
    await request(app).get("/read").set("Cookie", cookiePair(first)).expect(200, "none");
    assert.ok(
      await eventually(async () => !(await backend.holds(id)), 5000),
      "the idle session is removed from the store",
    );
  });

  it("a session in use, read every idleTimeoutMs / 3, stays alive past several idle windows", async () => {
    const backend = make();
    const app = site(backend, { idleTimeoutMs: IDLE_MS });
    const first = await request(app).get("/count").expect(200, "1");
    const cookie = cookiePair(first);
    const started = Date.now();
    let reads = 0;
    while (Date.now() - started < 3 * IDLE_MS) {
      await sleep(IDLE_MS / 3);
      await request(app).get("/read").set("Cookie", cookie).expect(200, "1");
      reads++;
    }
    assert.ok(reads >= 3);
    assert.ok(await backend.holds(sessionIdOf(first)));
  });

  it("destroyed stays destroyed: a slower request that changed the session does not bring it back", async () => {
    const backend = make();
    const app = site(backend);
    const slow = withSlowRoute(app);
    const first = await request(app).get("/count").expect(200, "1");
    const cookie = cookiePair(first);
    const id = sessionIdOf(first);

    const slowResponse = request(app)
      .get("/slow")
      .set("Cookie", cookie)
      .then((res) => res);
    await slow.onLoaded;
    await request(app).post("/logout").set("Cookie", cookie).expect(200, "bye");
    assert.equal(await backend.holds(id), false, "logout removed it");
    slow.release();
    const res = await slowResponse;
    assert.equal(res.status, 200);
    assert.equal(res.text, "slow done");

    assert.equal(await backend.holds(id), false, "no record for the destroyed id");
    const line = setCookie(res);
    if (line !== undefined) {
      assert.match(line, /^connect\.sid=;/, `the slow response may only clear the cookie: ${line}`);
    }
    await request(app).get("/read").set("Cookie", cookie).expect(200, "none");
  });
}

describe("express-session's MemoryStore under Tessera", () => {
  scenarios(() => {
    const store = new expressSession.MemoryStore() as unknown as {
      sessions: Record<string, string>;
    };
    return {
      store: store as unknown as AnyStore,
      holds: async (id) => Object.hasOwn(store.sessions, id),
    };
  });
});

/** A Tessera store with the four required methods only: no patch, so every write is a set. */
class WithoutPatch implements Store {
  readonly [TESSERA_STORE] = true;
  constructor(readonly inner = new MemoryStore({ sweepIntervalMs: 0 })) {}
  get(id: string) {
    return this.inner.get(id);
  }
  set(id: string, record: SessionRecord, ttlMs: number) {
    return this.inner.set(id, record, ttlMs);
  }
  destroy(id: string) {
    return this.inner.destroy(id);
  }
  touch(id: string, record: SessionRecord, ttlMs: number) {
    return this.inner.touch(id, record, ttlMs);
  }
}

describe("a Tessera store without patch", () => {
  scenarios(() => {
    const store = new WithoutPatch();
    return {
      store,
      holds: async (id) => (await store.inner.get(id)) !== undefined,
    };
  });
});

describe("connect-redis under Tessera", async () => {
  const ok = await needServer("Redis", REDIS_URL);
  const client = createClient({ url: REDIS_URL });
  client.on("error", () => {});
  const prefix = `${uniqueName("tessera_idle_cr")}:`;
  before(async () => {
    if (ok) await client.connect();
  });
  after(async () => {
    if (!ok) return;
    for await (const keys of client.scanIterator({ MATCH: `${prefix}*` })) {
      if (keys.length > 0) await client.del(keys);
    }
    client.destroy();
  });
  describe("on the real Redis", { skip: !ok }, () => {
    scenarios(() => ({
      store: new ConnectRedis({ client, prefix }) as unknown as AnyStore,
      holds: async (id) => (await client.exists(`${prefix}${id}`)) === 1,
    }));
  });
});
