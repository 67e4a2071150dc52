// The Store conformance suite against connect-redis 9, an express-session store, through the
// adapter Tessera wraps such stores in. It has no patch and no user index: those tests are
// reported as skipped, with the reason, rather than faked.
import { after, before, describe } from "node:test";
import { fileURLToPath } from "node:url";
import { RedisStore as ConnectRedisStore } from "connect-redis";
import { fromLegacyStore } from "../../src/store/legacy.js";
import type { SessionRecord, Store } from "../../src/store/types.js";
import { testStore } from "../../src/store-conformance/index.js";
import {
  createNodeRedis,
  DATABASE,
  deleteUnder,
  type NodeRedisClient,
  testPrefix,
  wrapNodeRedis,
} from "../fixtures/redis/clients.js";
import { needServer, REDIS_URL } from "../helpers/services.js";

const available = await needServer("Redis", REDIS_URL);
const closeScript = fileURLToPath(
  new URL("../fixtures/redis/close-connect-redis.ts", import.meta.url),
);

/**
 * An express-session store takes a session's expiry from its `cookie.expires`, not from an
 * argument. The engine writes `cookie.expires` as the session's expiry; the suite's records keep
 * one fixed hour whatever TTL a test gives. This carries a shorter TTL into the cookie, as the
 * engine's own records would have it, so connect-redis's native expiry is what is tested.
 */
function expiringAtTtl(store: Store): Store {
  const carry = (record: SessionRecord, ttlMs: number): SessionRecord => {
    const at = Date.now() + ttlMs;
    const { expires } = record.cookie;
    // A cookie without expiry (a browser-session cookie) keeps none: connect-redis then uses
    // its own `ttl` option, as under express-session.
    if (!expires || new Date(expires).getTime() <= at) {
      return record;
    }
    return { ...record, cookie: { ...record.cookie, expires: new Date(at).toISOString() } };
  };
  return Object.assign(Object.create(store) as Store, {
    set: (id: string, record: SessionRecord, ttlMs: number) =>
      store.set(id, carry(record, ttlMs), ttlMs),
    touch: (id: string, record: SessionRecord, ttlMs: number) =>
      store.touch(id, carry(record, ttlMs), ttlMs),
  });
}

describe("connect-redis 9 through fromLegacyStore", { skip: !available }, () => {
  let client: NodeRedisClient;
  const prefixes = new WeakMap<Store, string>();
  const legacyOf = new WeakMap<Store, ConnectRedisStore>();
  before(async () => {
    client = createNodeRedis(REDIS_URL, DATABASE["node-redis"]);
    await client.connect();
  });
  after(() => client.destroy());

  function adapted(redis: NodeRedisClient): Store {
    const prefix = testPrefix();
    const legacy = new ConnectRedisStore({ client: redis, prefix });
    const store = expiringAtTtl(fromLegacyStore(legacy));
    prefixes.set(store, prefix);
    legacyOf.set(store, legacy);
    return store;
  }

  testStore("connect-redis (adapted)", () => adapted(client), {
    // connect-redis's all() reads every session in one MGET: it cannot stream, so the listing
    // test stays at a size one call can hold. The 100 000-session runs are for RedisStore.
    iterationCount: 10_000,
    dispose: async (store) => {
      await deleteUnder(wrapNodeRedis(client), prefixes.get(store) ?? "never-matches");
    },
    closeScript,
    closeScriptArgs: [REDIS_URL],
    // session() gets connect-redis itself, as apps hand it over, not the suite's adapted view.
    middlewareStore: (store) => legacyOf.get(store) as ConnectRedisStore,
    failingFactory: async () => {
      const closed = createNodeRedis(REDIS_URL, DATABASE["node-redis"]);
      await closed.connect();
      closed.destroy();
      return adapted(closed);
    },
  });
});
