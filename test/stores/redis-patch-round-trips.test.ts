// A RedisStore patch of a session the same store has just read (the engine's get, then patch at
// the end of the request) compares-and-sets against the value it read: one round trip rather
// than GET then script. A write (set) is not remembered: a patch after a read that failed must
// read again, never write on what it saw before. The compare still runs in Redis, so these tests change or destroy the
// session from a second store (a second app instance) in between and check that nothing is lost
// and nothing comes back.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { SessionRecord } from "../../src/store/types.js";
import { type RedisClientLike, RedisStore } from "../../src/stores/redis.js";
import {
  connectClient,
  deleteUnder,
  type TestClient,
  testPrefix,
} from "../fixtures/redis/clients.js";
import { needServer, REDIS_URL } from "../helpers/services.js";

const available = await needServer("Redis", REDIS_URL);
const TTL_MS = 60_000;

function record(data: Record<string, unknown> = {}): SessionRecord {
  return {
    cookie: { originalMaxAge: null, expires: null, path: "/" },
    ...data,
    __tessera: { createdAt: 1 },
  };
}

/** The node-redis client, recording the name of every command it sends. */
function counting(client: TestClient["client"], sent: string[]): RedisClientLike {
  return new Proxy(client as object, {
    get(target, key) {
      const value = Reflect.get(target, key, target);
      if (key === "sendCommand") {
        return (args: string[], ...rest: unknown[]) => {
          sent.push(String(args[0]));
          return (value as (...a: unknown[]) => unknown).call(target, args, ...rest);
        };
      }
      return typeof value === "function" ? value.bind(target) : value;
    },
  }) as RedisClientLike;
}

describe("RedisStore › patch after a read", { skip: !available }, () => {
  let redis: TestClient;
  const prefix = testPrefix();

  before(async () => {
    redis = await connectClient("node-redis");
  });
  after(async () => {
    await deleteUnder(redis, prefix);
    await redis.close();
  });

  it("writes with one command, without reading the session again", async () => {
    const sent: string[] = [];
    const store = new RedisStore({ client: counting(redis.client, sent), prefix });
    await store.set("one", record({ views: 1 }), TTL_MS);
    await store.get("one");
    sent.length = 0;
    assert.equal(await store.patch("one", { set: { views: 2 }, unset: [] }, TTL_MS), true);
    assert.deepEqual(sent, ["EVALSHA"]);
    assert.equal((await store.get("one"))?.views, 2);
    // The value it wrote is the one it compares against next.
    sent.length = 0;
    assert.equal(await store.patch("one", { set: { views: 3 }, unset: [] }, TTL_MS), true);
    assert.deepEqual(sent, ["EVALSHA"]);
  });

  it("keeps another instance's change made between the read and the patch", async () => {
    const store = new RedisStore({ client: redis.client, prefix });
    const other = new RedisStore({ client: redis.client, prefix });
    await store.set("two", record({ a: 1 }), TTL_MS);
    await store.get("two");
    assert.equal(await other.patch("two", { set: { b: 2 }, unset: [] }, TTL_MS), true);
    assert.equal(await store.patch("two", { set: { c: 3 }, unset: [] }, TTL_MS), true);
    const got = await other.get("two");
    assert.deepEqual([got?.a, got?.b, got?.c], [1, 2, 3]);
  });

  it("never brings back a session another instance destroyed after the read", async () => {
    const store = new RedisStore({ client: redis.client, prefix });
    const other = new RedisStore({ client: redis.client, prefix });
    await store.set("three", record({ a: 1 }), TTL_MS);
    await store.get("three");
    await other.destroy("three");
    assert.equal(await store.patch("three", { set: { a: 2 }, unset: [] }, TTL_MS), false);
    assert.equal(await other.get("three"), undefined);
    assert.equal(await redis.command("EXISTS", `${prefix}three`), 0);
  });

  it("remembers a bounded number of sessions, and still patches those it forgot", async () => {
    const store = new RedisStore({ client: redis.client, prefix });
    await store.set("first", record({ n: 0 }), TTL_MS);
    await store.get("first");
    for (let i = 0; i < 1100; i++) {
      await store.set(`filler-${i}`, record(), TTL_MS);
      await store.get(`filler-${i}`);
    }
    assert.equal(await store.patch("first", { set: { n: 1 }, unset: [] }, TTL_MS), true);
    assert.equal((await store.get("first"))?.n, 1);
  });
});
