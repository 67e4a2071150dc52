// The CLI against a Redis server holding sessions written by RedisStore.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { createClient } from "redis";
import { RedisStore } from "../../src/stores/redis.js";
import { needServer, REDIS_URL, uniqueName } from "../helpers/services.js";
import { assertOk, assertOneLineError, cliScenario, seed, tessera } from "./helpers.js";

const available = await needServer("Redis", REDIS_URL);
/** A database of its own on the shared server; keys are under a unique prefix anyway. */
const url = `${REDIS_URL.replace(/\/\d*$/, "")}/5`;

function connect() {
  const client = createClient({ url });
  client.on("error", () => {});
  return client.connect();
}

describe("tessera sessions › Redis", { skip: !available }, () => {
  let client: Awaited<ReturnType<typeof connect>>;
  const prefix = `${uniqueName("cli")}:`;
  let store: RedisStore;

  before(async () => {
    client = await connect();
    store = new RedisStore({ client, prefix });
  });
  after(async () => {
    await store.clear();
    await client.close();
  });

  cliScenario(
    "Redis",
    async () => ({ store, args: ["--store", url, "--prefix", prefix], prunes: false }),
    async () => {},
  );

  it("falls back to REDIS_URL when --store is not given", async () => {
    const otherPrefix = `${uniqueName("cli_env")}:`;
    const other = new RedisStore({ client, prefix: otherPrefix });
    try {
      await seed(other);
      const result = await tessera(["sessions", "stats", "--json", "--prefix", otherPrefix], {
        REDIS_URL: url,
        DATABASE_URL: "postgres://nobody@127.0.0.1:1/none",
      });
      assertOk(result);
      assert.equal((JSON.parse(result.stdout) as { sessions: number }).sessions, 4);
    } finally {
      await other.clear();
    }
  });

  it("reports an unreachable server in one line, without the password", async () => {
    const result = await tessera([
      "sessions",
      "list",
      "--store",
      "redis://:hunter2@127.0.0.1:1/0",
      "--timeout",
      "2s",
    ]);
    assertOneLineError(
      result,
      1,
      /cannot reach Redis at redis:\/\/127\.0\.0\.1:1\/0 \(connection refused\)/,
    );
    assert.ok(!result.stderr.includes("hunter2"));
  });
});
