// RedisStore when Redis goes away: every call fails fast with ERR_STORE_UNAVAILABLE, nothing is
// half-written, and the same store works again once the server is back, with node-redis and
// with ioredis. Each client kind gets its own private redis-server (never the shared one), which
// the test kills, freezes and restarts; it is killed in `after` whatever happens.
import assert from "node:assert/strict";
import { after, before, describe, it, type TestContext } from "node:test";
import { Redis } from "ioredis";
import { createClient } from "redis";
import { isTesseraError } from "../../src/core/errors.js";
import type { SessionRecord } from "../../src/store/types.js";
import { RedisStore } from "../../src/stores/redis.js";
import {
  CLIENT_KINDS,
  eventually,
  outageClient,
  type TestClient,
} from "../fixtures/redis/clients.js";
import { PrivateRedis } from "../fixtures/redis/server.js";

/** Short, so the frozen-server tests are quick; still far above a local command's time. */
const TIMEOUT_MS = 1000;
/**
 * What "at once" means for a call to a client that knows it is disconnected: well under the
 * timeout. The error message, not only the clock, tells that the call did not wait for it.
 */
const FAIL_FAST_MS = 500;
/** Slack for the event loop of a shared, busy test machine (the default timeout is 3000 ms). */
const SLACK_MS = 1000;
const TTL_MS = 600_000;

function record(data: Record<string, unknown>, user?: string): SessionRecord {
  return {
    cookie: { originalMaxAge: TTL_MS, expires: new Date(Date.now() + TTL_MS).toISOString() },
    ...data,
    __tessera: user === undefined ? { createdAt: 1 } : { createdAt: 1, user },
  };
}

async function collect<T>(iterable: AsyncIterable<T>): Promise<T[]> {
  const items: T[] = [];
  for await (const item of iterable) items.push(item);
  return items;
}

/**
 * Runs a call that must fail as unavailable and resolves how long it took, in ms. `how` says
 * which failure it must be, by its message: the command timeout, or at once (anything else).
 */
async function failsUnavailable(
  name: string,
  call: () => Promise<unknown>,
  how?: "timeout" | "at once",
): Promise<number> {
  const start = performance.now();
  const error = await call().then(
    () => assert.fail(`${name}() succeeded while Redis is down`),
    (reason: unknown) => reason,
  );
  const elapsed = performance.now() - start;
  assert.ok(
    isTesseraError(error, "ERR_STORE_UNAVAILABLE"),
    `${name}() failed with ${String(error)}`,
  );
  assert.match(error.message, /^tessera: RedisStore is unavailable/);
  if (how === "timeout") {
    assert.match(error.message, new RegExp(`got no answer within ${TIMEOUT_MS} ms`), name);
  } else if (how === "at once") {
    assert.doesNotMatch(error.message, /got no answer within/, `${name}() waited for the timeout`);
  }
  return elapsed;
}

function ready(redis: TestClient): boolean {
  const client = redis.client as { isReady?: boolean; status?: string };
  return redis.kind === "node-redis" ? client.isReady === true : client.status === "ready";
}

/** Every store operation, each on its own id so a failure of one does not hide another. */
function everyCall(store: RedisStore): [string, () => Promise<unknown>][] {
  const r = record({ during: "outage" }, "u-outage");
  return [
    ["get", () => store.get("a")],
    ["set", () => store.set("new", r, TTL_MS)],
    ["touch", () => store.touch("a", r, TTL_MS)],
    ["patch", () => store.patch("a", { set: { during: "outage" }, unset: ["n"] }, TTL_MS)],
    ["destroy", () => store.destroy("b")],
    ["ids", () => collect(store.ids())],
    ["entries", () => collect(store.entries())],
    ["length", () => store.length()],
    ["clear", () => store.clear()],
    ["idsForUser", () => store.idsForUser("alice")],
    ["destroyForUser", () => store.destroyForUser("alice")],
  ];
}

for (const kind of CLIENT_KINDS) {
  describe(`RedisStore with ${kind} › when Redis goes away`, () => {
    const server = new PrivateRedis({ persistent: true });
    let redis: TestClient;
    let store: RedisStore;

    before(async () => {
      await server.start();
      redis = await outageClient(kind, server.url);
      store = new RedisStore({
        client: redis.client,
        prefix: "outage:",
        commandTimeoutMs: TIMEOUT_MS,
      });
    });
    after(async () => {
      await redis?.close();
      await server.stop();
    });

    /** Writes the sessions the outage must leave exactly as they were. */
    let seeded: SessionRecord;
    async function seed(): Promise<void> {
      await store.clear();
      seeded = record({ n: 1 }, "alice");
      await store.set("a", seeded, TTL_MS);
      await store.set("b", record({ n: 2 }, "alice"), TTL_MS);
    }

    async function assertSeedIntact(): Promise<void> {
      assert.deepEqual(await store.get("a"), JSON.parse(JSON.stringify(seeded)));
      assert.equal((await store.get("b"))?.n, 2, "a destroy sent during the outage landed");
      assert.equal(await store.get("new"), undefined, "a set sent during the outage landed");
      assert.deepEqual((await store.idsForUser("alice")).sort(), ["a", "b"]);
      assert.deepEqual(await store.idsForUser("u-outage"), []);
    }

    async function waitUntilReady(t: TestContext, what: string): Promise<void> {
      const start = performance.now();
      assert.ok(await eventually(() => ready(redis), 10_000), `the client did not ${what}`);
      t.diagnostic(`${kind}: client ${what} after ${Math.round(performance.now() - start)} ms`);
    }

    it("a killed server: every call fails at once, while the client reconnects", async (t) => {
      await seed();
      await server.kill("SIGKILL");
      assert.ok(
        await eventually(() => !ready(redis), 5000),
        "the client never noticed that the server died",
      );
      const timings: string[] = [];
      for (const [name, call] of everyCall(store)) {
        const elapsed = await failsUnavailable(name, call, "at once");
        timings.push(`${name} ${elapsed.toFixed(1)} ms`);
        assert.ok(elapsed < FAIL_FAST_MS, `${name}() took ${elapsed} ms to fail, not at once`);
      }
      t.diagnostic(`${kind}, server killed, fail-fast times: ${timings.join(", ")}`);
    });

    it("back on the same port: the same store works again, and the outage wrote nothing", async (t) => {
      await server.start();
      await waitUntilReady(t, "reconnect");
      // The append-only file kept what was written before the crash; the failed calls wrote
      // nothing, not even half of a session and its index entry.
      await assertSeedIntact();
      // The restarted server has no cached script: patch goes through the NOSCRIPT fallback.
      assert.equal(await store.patch("a", { set: { after: "restart" }, unset: [] }, TTL_MS), true);
      assert.equal((await store.get("a"))?.after, "restart");
      assert.equal(await store.destroyForUser("alice", { except: "a" }), 1);
      assert.deepEqual(await store.idsForUser("alice"), ["a"]);
    });

    it("killed while calls are in flight: each fails as unavailable within the timeout", async (t) => {
      await seed();
      const calls = everyCall(store);
      const started = calls.map(([name, call]) => failsUnavailable(name, call).catch((e) => e));
      await server.kill("SIGKILL");
      const outcomes = await Promise.all(started);
      // A call may have completed before the kill; every one that did not must have failed
      // cleanly, and none may have waited past its command timeout.
      let failed = 0;
      for (const [i, outcome] of outcomes.entries()) {
        const name = calls[i]?.[0];
        if (typeof outcome === "number") {
          failed++;
          assert.ok(outcome < TIMEOUT_MS * 3 + SLACK_MS, `${name}() took ${outcome} ms`);
        } else {
          assert.match(String(outcome), /succeeded while Redis is down/, `${name}(): ${outcome}`);
        }
      }
      t.diagnostic(`${kind}: ${failed} of ${calls.length} in-flight calls failed, all in time`);
      await server.start();
      await waitUntilReady(t, "reconnect");
      assert.ok(await eventually(async () => (await store.length().catch(() => -1)) >= 0, 5000));
    });

    it("a frozen server: calls fail as unavailable once commandTimeoutMs has passed", async (t) => {
      await seed();
      server.freeze();
      try {
        const timings: string[] = [];
        for (const [name, call] of [
          ["get", () => store.get("a")],
          ["patch", () => store.patch("a", { set: { frozen: true }, unset: [] }, TTL_MS)],
          ["ids", () => collect(store.ids())],
          ["idsForUser", () => store.idsForUser("alice")],
        ] as const) {
          const elapsed = await failsUnavailable(name, call, "timeout");
          timings.push(`${name} ${elapsed.toFixed(0)} ms`);
          assert.ok(
            elapsed >= TIMEOUT_MS - 5,
            `${name}() failed before the timeout: ${elapsed} ms`,
          );
          assert.ok(elapsed < TIMEOUT_MS + SLACK_MS, `${name}() took ${elapsed} ms`);
        }
        t.diagnostic(`${kind}, server frozen, timeout ${TIMEOUT_MS} ms: ${timings.join(", ")}`);
      } finally {
        server.thaw();
      }
      // The patch timed out on its read, so it never sent its write: the record is unchanged.
      assert.ok(
        await eventually(
          async () => (await store.get("a").catch(() => undefined)) !== undefined,
          5000,
        ),
        "the store did not work again after the server was thawed",
      );
      await assertSeedIntact();
    });

    it("script cache flushed: patch and destroyForUser send their scripts again", async () => {
      await seed();
      await redis.command("SCRIPT", "FLUSH");
      assert.equal(await store.patch("a", { set: { n: 10 }, unset: [] }, TTL_MS), true);
      await redis.command("SCRIPT", "FLUSH");
      assert.equal(await store.destroyForUser("alice"), 2);
      assert.equal(await store.get("a"), undefined);
    });
  });
}

describe("RedisStore › a client that is not connected", () => {
  const server = new PrivateRedis();
  let deadPort = 0;
  before(async () => {
    // Started and killed: a port where nothing listens, and no other test will.
    await server.start();
    deadPort = server.port;
    await server.kill();
  });
  after(() => server.stop());

  it("node-redis, never connected: fails at once", async (t) => {
    const client = createClient({ url: `redis://127.0.0.1:${deadPort}` });
    const store = new RedisStore({ client, commandTimeoutMs: TIMEOUT_MS });
    const elapsed = await failsUnavailable("get", () => store.get("x"), "at once");
    assert.ok(elapsed < FAIL_FAST_MS, `took ${elapsed} ms`);
    assert.equal(client.isOpen, false, "RedisStore opened the client itself");
    t.diagnostic(`node-redis never connected: failed in ${elapsed.toFixed(1)} ms`);
  });

  it("ioredis with lazyConnect against a dead port: fails within the timeout", async (t) => {
    const client = new Redis(`redis://127.0.0.1:${deadPort}`, {
      lazyConnect: true,
      retryStrategy: () => 50,
      maxRetriesPerRequest: 1,
    });
    client.on("error", () => {});
    try {
      const store = new RedisStore({ client, commandTimeoutMs: TIMEOUT_MS });
      // "wait" is a lazy client's first state: its first command connects, so it is sent.
      const elapsed = await failsUnavailable("get", () => store.get("x"));
      assert.ok(elapsed < TIMEOUT_MS + SLACK_MS, `took ${elapsed} ms`);
      t.diagnostic(`ioredis lazyConnect, dead port: failed in ${elapsed.toFixed(1)} ms`);
      // Now reconnecting: later calls fail at once.
      assert.ok(
        await eventually(() => client.status !== "wait" && client.status !== "ready", 2000),
      );
      const again = await failsUnavailable(
        "set",
        () => store.set("x", record({}), TTL_MS),
        "at once",
      );
      assert.ok(again < FAIL_FAST_MS, `took ${again} ms`);
    } finally {
      client.disconnect();
    }
  });
});
