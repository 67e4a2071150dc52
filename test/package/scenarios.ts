// What an application sees of the installed package, in one module system: the Express
// journey, third-party stores, Redis and PostgreSQL outages, user sessions across doors, CSRF
// and flash, and one copy of Tessera however its doors are loaded. commonjs.test.ts and esm.test.ts run it.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { PrivateServer } from "../fixtures/postgres/server.js";
import { PrivateRedis } from "../fixtures/redis/server.js";
import { needServer, REDIS_URL, uniqueName } from "../helpers/services.js";
import { type App, Browser, type Consumer, createConsumer } from "./consumer.js";

const REDIS_DOWN = /^tessera: RedisStore is unavailable/;

/** Long enough for any client's reconnection on a busy machine; the loop ends when it is served. */
const RECOVERY_DEADLINE_MS = 30_000;

export function installedPackageSuite(type: "commonjs" | "module"): void {
  const script = type === "commonjs" ? "app.cjs" : "app.mjs";
  const system = type === "commonjs" ? "a CommonJS" : "an ES module";
  const other = type === "commonjs" ? "import()" : "require()";

  describe(`the installed package › in ${system} app (${script})`, () => {
    let consumer: Consumer;
    before(() => {
      consumer = createConsumer({
        type,
        dependencies: ["express", "redis", "connect-redis", "memorystore", "pg"],
        fixtures: [script, "identity.cjs"],
      });
    });
    after(() => consumer?.remove());

    it("the Express journey: a counter, log in, log out", async () => {
      const browser = new Browser(await consumer.start(script));
      assert.deepEqual((await browser.get("/count")).body, { views: 1, user: null });
      assert.deepEqual((await browser.get("/count")).body, { views: 2, user: null });
      const before = browser.cookie;
      assert.deepEqual((await browser.post("/login", { user: "ada" })).body, { user: "ada" });
      assert.notEqual(browser.cookie, before, "logging in gives a new session id");
      assert.deepEqual((await browser.get("/count")).body, { views: 1, user: "ada" });
      assert.deepEqual((await browser.post("/logout")).body, { user: null });
      assert.equal(browser.cookie, undefined, "logging out clears the cookie");
      assert.deepEqual((await browser.get("/count")).body, { views: 1, user: null });
    });

    for (const store of ["connect-redis", "memorystore"]) {
      it(`a third-party store through the middleware: ${store}`, async (t) => {
        if (store === "connect-redis" && !(await needServer("Redis", REDIS_URL))) {
          t.skip("Redis is not reachable");
          return;
        }
        const prefix = `${uniqueName("tessera_package")}:`;
        const app = await consumer.start(script, { STORE: store, REDIS_URL, PREFIX: prefix });
        await journey(app);
      });
    }

    it("listUserSessions and revokeOtherSessions from the root door, on sessions made by tessera/express", async () => {
      await userSessions(await consumer.start(script));
    });

    it("CSRF: a POST without the token is refused with 403, with it accepted", async () => {
      const browser = new Browser(await consumer.start(script));
      const form = await browser.get("/form");
      assert.equal(form.status, 200);
      const refused = await browser.post("/transfer");
      assert.equal(refused.status, 403);
      assert.equal(refused.body.code, "ERR_CSRF_INVALID");
      assert.equal(refused.body.tessera, true);
      const accepted = await browser.post(
        "/transfer",
        {},
        {
          "x-csrf-token": String(form.body.token),
        },
      );
      assert.deepEqual(accepted, { status: 200, body: { done: true } });
    });

    it("flash: a message queued on one request is read once on the next", async () => {
      const browser = new Browser(await consumer.start(script));
      await browser.post("/flash", { what: "the draft" });
      assert.deepEqual((await browser.get("/flash")).body, { info: ["saved the draft"] });
      assert.deepEqual((await browser.get("/flash")).body, { info: [] });
    });

    it("one copy: every door is the same through require() and import(), and its errors are the root door's TesseraError", () => {
      const result = consumer.run(process.execPath, ["identity.cjs"]);
      assert.equal(result.status, 0, result.stderr);
      assert.deepEqual(JSON.parse(result.stdout), { problems: [], doors: 16 });
    });

    describe("when Redis goes away (tessera/redis, node-redis with its default options)", () => {
      const redis = new PrivateRedis({ persistent: true });
      before(() => redis.start());
      after(() => redis.stop());

      it("answers 503 ERR_STORE_UNAVAILABLE while it is down, and serves the session again once it is back", async () => {
        await outage(
          redisServer(redis),
          () => consumer.start(script, { STORE: "redis", REDIS_URL: redis.url }),
          REDIS_DOWN,
        );
      });

      it(`the same with the store's door and the root door loaded through ${other}`, async () => {
        await outage(
          redisServer(redis),
          () =>
            consumer.start(script, {
              STORE: "redis",
              REDIS_URL: redis.url,
              PREFIX: "mixed:",
              MIXED: "1",
            }),
          REDIS_DOWN,
        );
      });
    });

    describe("when PostgreSQL goes away (tessera/postgres, a pg Pool with its default options)", () => {
      let db: PrivateServer | string = "not created yet";
      before(async () => {
        db = await PrivateServer.create();
        if (typeof db !== "string") await db.start();
      });
      after(async () => {
        if (typeof db !== "string") await db.destroy();
      });

      it("answers 503 ERR_STORE_UNAVAILABLE while it is down, and serves the session again once it is back", async (t) => {
        if (typeof db === "string") {
          t.skip(db);
          return;
        }
        await outage(
          postgresServer(db),
          () =>
            consumer.start(script, { STORE: "postgres", DATABASE_URL: (db as PrivateServer).url }),
          /^tessera: PostgresStore is unavailable/,
        );
      });
    });

    it(`mixed: user sessions work with the root door loaded through ${other}`, async () => {
      await userSessions(await consumer.start(script, { MIXED: "1" }));
    });
  });
}

/** Two visitors of one app, each with their own session in the app's store. */
async function journey(app: App): Promise<void> {
  const ada = new Browser(app);
  const bob = new Browser(app);
  assert.deepEqual((await ada.get("/count")).body, { views: 1, user: null });
  assert.deepEqual((await ada.get("/count")).body, { views: 2, user: null });
  assert.deepEqual((await bob.get("/count")).body, { views: 1, user: null });
  await ada.post("/login", { user: "ada" });
  assert.deepEqual((await ada.get("/count")).body, { views: 1, user: "ada" });
  await ada.post("/logout");
  assert.deepEqual((await ada.get("/count")).body, { views: 1, user: null });
  assert.deepEqual((await bob.get("/count")).body, { views: 2, user: null });
}

/** Ada logs in on two browsers, lists her sessions on one, and logs the other out. */
async function userSessions(app: App): Promise<void> {
  const laptop = new Browser(app);
  const phone = new Browser(app);
  await laptop.post("/login", { user: "ada" });
  await phone.post("/login", { user: "ada" });
  const listed = await laptop.get("/sessions");
  assert.equal(listed.status, 200, JSON.stringify(listed.body));
  const sessions = listed.body as unknown as { current: boolean }[];
  assert.deepEqual(sessions.map((s) => s.current).sort(), [false, true]);
  assert.deepEqual((await laptop.post("/revoke-others")).body, { revoked: 1 });
  assert.deepEqual((await phone.get("/count")).body, { views: 1, user: null });
  assert.deepEqual((await laptop.get("/count")).body, { views: 1, user: "ada" });
  assert.equal(((await laptop.get("/sessions")).body as unknown as unknown[]).length, 1);
}

/** A server an outage test stops and starts again, keeping its data. */
interface Server {
  running: boolean;
  start(): Promise<void>;
  stop(): Promise<void>;
}

function redisServer(redis: PrivateRedis): Server {
  return {
    get running() {
      return redis.running;
    },
    start: () => redis.start(),
    stop: () => redis.kill(),
  };
}

function postgresServer(db: PrivateServer): Server {
  let running = true;
  return {
    get running() {
      return running;
    },
    start: async () => {
      await db.start();
      running = true;
    },
    stop: async () => {
      await db.stop("immediate");
      running = false;
    },
  };
}

async function outage(server: Server, start: () => Promise<App>, message: RegExp): Promise<void> {
  // A test that failed before the server came back must not leave the next one without it.
  if (!server.running) await server.start();
  const browser = new Browser(await start());
  assert.deepEqual((await browser.get("/count")).body, { views: 1, user: null });
  await server.stop();
  const down = await browser.get("/count");
  assert.deepEqual(down, {
    status: 503,
    body: {
      code: "ERR_STORE_UNAVAILABLE",
      tessera: true,
      message: down.body.message,
    },
  });
  assert.match(String(down.body.message), message);
  await server.start();
  const deadline = Date.now() + RECOVERY_DEADLINE_MS;
  let served = await browser.get("/count");
  while (served.status !== 200 && Date.now() < deadline) {
    assert.equal(served.status, 503, `while Redis comes back: ${JSON.stringify(served.body)}`);
    await sleep(100);
    served = await browser.get("/count");
  }
  // The server keeps its data across the kill: the session is the one from before.
  assert.deepEqual(served, { status: 200, body: { views: 2, user: null } });
}
