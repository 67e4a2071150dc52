// RedisStore on a real Redis Cluster of three masters, with node-redis's createCluster() and
// ioredis's Cluster: the conformance suite passes, sessions spread over every shard (the keys
// carry no hash tag), and the per-user index works across slots. The cluster is private to this
// file, on free ports, and killed whatever happens.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { Cluster } from "ioredis";
import { createCluster } from "redis";
import type { SessionRecord } from "../../src/store/types.js";
import { testStore } from "../../src/store-conformance/index.js";
import { type RedisClientLike, RedisStore } from "../../src/stores/redis.js";
import { CLIENT_KINDS, type ClientKind, testPrefix } from "../fixtures/redis/clients.js";
import { PrivateCluster } from "../fixtures/redis/cluster.js";

const TTL_MS = 600_000;
const closeScript = fileURLToPath(new URL("../fixtures/redis/close-store.ts", import.meta.url));

interface ClusterClient {
  client: RedisClientLike;
  /** Sends one command to the node that holds `key`. */
  command(key: string, ...args: string[]): Promise<unknown>;
  /** Every key under a prefix, from every master. */
  keysUnder(prefix: string): Promise<string[]>;
  close(): Promise<void>;
}

async function connectCluster(kind: ClientKind, cluster: PrivateCluster): Promise<ClusterClient> {
  const first = cluster.nodes[0];
  assert.ok(first);
  if (kind === "node-redis") {
    const client = createCluster({ rootNodes: [{ url: first.url }] });
    client.on("error", () => {});
    await client.connect();
    return {
      client,
      command: (key, ...args) => client.sendCommand(key, false, args),
      async keysUnder(prefix) {
        const keys: string[] = [];
        for (const master of client.masters) {
          const node = await client.nodeClient(master);
          for await (const batch of node.scanIterator({ MATCH: `${prefix}*`, COUNT: 500 })) {
            keys.push(...batch);
          }
        }
        return keys.sort();
      },
      async close() {
        client.destroy();
      },
    };
  }
  const client = new Cluster([{ host: "127.0.0.1", port: first.port }], { lazyConnect: true });
  client.on("error", () => {});
  await client.connect();
  return {
    client,
    command: (_key, name, ...args) => client.call(name ?? "", args),
    async keysUnder(prefix) {
      const keys: string[] = [];
      for (const node of client.nodes("master")) {
        let cursor = "0";
        do {
          const [next, batch] = await node.scan(cursor, "MATCH", `${prefix}*`, "COUNT", 500);
          cursor = next;
          keys.push(...batch);
        } while (cursor !== "0");
      }
      return keys.sort();
    },
    async close() {
      client.disconnect();
    },
  };
}

function record(data: Record<string, unknown>, user?: string): SessionRecord {
  return {
    cookie: { originalMaxAge: TTL_MS, expires: new Date(Date.now() + TTL_MS).toISOString() },
    ...data,
    __tessera: user === undefined ? { createdAt: 1 } : { createdAt: 1, user },
  };
}

describe("RedisStore on Redis Cluster", () => {
  const cluster = new PrivateCluster();
  const clients = new Map<ClientKind, ClusterClient>();
  before(async () => {
    await cluster.start();
    for (const kind of CLIENT_KINDS) clients.set(kind, await connectCluster(kind, cluster));
  });
  after(async () => {
    for (const client of clients.values()) await client.close();
    await cluster.stop();
  });

  /** The close script's arguments: filled in once the cluster runs, read when the test runs. */
  function closeArgs(kind: ClientKind): string[] {
    const args: string[] = [kind];
    before(() => {
      args.push(cluster.nodes[0]?.url ?? "", "cluster");
    });
    return args;
  }

  function clientOf(kind: ClientKind): ClusterClient {
    const client = clients.get(kind);
    assert.ok(client, `no ${kind} cluster client`);
    return client;
  }

  for (const kind of CLIENT_KINDS) {
    describe(`with ${kind}`, () => {
      it("is detected as a cluster, and sessions spread over every master", async () => {
        const redis = clientOf(kind);
        const store = new RedisStore({ client: redis.client, prefix: testPrefix() });
        assert.equal(store.clientLibrary, kind);
        const ids = Array.from({ length: 60 }, (_, i) => `spread-${i}`);
        for (const id of ids) await store.set(id, record({ id }, "ana"), TTL_MS);
        const perMaster = await cluster.keyCounts();
        assert.ok(
          perMaster.every((count) => count > 0),
          `a master holds no key: ${perMaster}`,
        );
        assert.deepEqual((await store.idsForUser("ana")).sort(), [...ids].sort());
        assert.equal(await store.destroyForUser("ana", { except: "spread-0" }), 59);
        assert.deepEqual(await redis.keysUnder(store.prefix), [
          `${store.prefix}spread-0`,
          `${store.prefix}user:ana`,
        ]);
        await store.clear();
        assert.deepEqual(await redis.keysUnder(store.prefix), []);
      });

      testStore(
        `RedisStore (${kind} cluster)`,
        () => new RedisStore({ client: clientOf(kind).client, prefix: testPrefix() }),
        {
          iterationCount: 5000,
          dispose: async (store) => {
            await store.clear();
          },
          closeScript,
          closeScriptArgs: closeArgs(kind),
          failingFactory: async () => {
            const closed = await connectCluster(kind, cluster);
            await closed.close();
            return new RedisStore({ client: closed.client, prefix: testPrefix() });
          },
        },
      );
    });
  }
});
