// A store outage for the adapter tests: the real Redis behind a CuttableProxy the test cuts and
// restores (other test files share the server, so it is never stopped), a RedisStore on a
// node-redis client that goes through the proxy, and the cleanup of every key the store wrote.
import assert from "node:assert/strict";
import { RedisStore } from "../../src/stores/redis.js";
import {
  connectClient,
  DATABASE,
  deleteUnder,
  eventually,
  outageClient,
  type TestClient,
  testPrefix,
} from "../fixtures/redis/clients.js";
import { needServer, REDIS_URL } from "../helpers/services.js";
import { CuttableProxy } from "./cuttable-proxy.js";

/**
 * Bounds every call of the outage's store (its `commandTimeoutMs`), and the apps' `storeTimeoutMs`:
 * a cut connection fails at once, well before it.
 */
export const OUTAGE_TIMEOUT_MS = 1000;

/** How long the client may take to notice a cut, or to reconnect after a restore. */
const NOTICE_MS = 5000;

/** Whether the shared Redis answers: the outage tests skip with this message where it does not. */
export function redisReachable(): Promise<boolean> {
  return needServer("Redis", REDIS_URL);
}

/**
 * The real Redis behind a proxy the test cuts.
 *
 * @example
 * const outage = new RedisOutage();
 * before(async () => {
 *   app = await makeApp({ ...BASE, store: await outage.start(), storeTimeoutMs: OUTAGE_TIMEOUT_MS });
 * });
 * after(async () => {
 *   await app.close();
 *   await outage.close();
 * });
 * it("cut: ...", async () => {
 *   await outage.cut();
 *   // requests now meet an unreachable store
 * });
 */
export class RedisOutage {
  /** The store's key prefix, which no other test uses; {@link close} deletes every key under it. */
  readonly prefix = testPrefix();
  #proxy: CuttableProxy | undefined;
  #redis: TestClient | undefined;

  /** Starts the proxy and a client through it; resolves a RedisStore on that client. */
  async start(): Promise<RedisStore> {
    const url = new URL(REDIS_URL);
    this.#proxy = new CuttableProxy({ host: url.hostname, port: Number(url.port) || 6379 });
    url.host = `127.0.0.1:${await this.#proxy.start()}`;
    // The database the cleanup's client (connectClient) uses too.
    url.pathname = `/${DATABASE["node-redis"]}`;
    this.#redis = await outageClient("node-redis", url.href);
    return new RedisStore({
      client: this.#redis.client,
      prefix: this.prefix,
      commandTimeoutMs: OUTAGE_TIMEOUT_MS,
    });
  }

  /** Whether the store's client is connected and ready for commands. */
  clientReady(): boolean {
    return (this.#redis?.client as { isReady?: boolean } | undefined)?.isReady === true;
  }

  /** What Redis holds for session `id`, as the store wrote it; `undefined` when nothing. */
  async stored(id: string): Promise<Record<string, unknown> | undefined> {
    const value = await this.#redis?.command("GET", `${this.prefix}${id}`);
    return typeof value === "string" ? JSON.parse(value) : undefined;
  }

  /** Cuts the connection to Redis; resolves once the client has seen it. */
  async cut(): Promise<void> {
    this.#proxy?.cut();
    assert.ok(
      await eventually(() => !this.clientReady(), NOTICE_MS),
      "the client never saw the cut",
    );
  }

  /** Restores the connection; resolves once the client has reconnected. */
  async restore(): Promise<void> {
    this.#proxy?.restore();
    assert.ok(
      await eventually(() => this.clientReady(), NOTICE_MS),
      "the client did not reconnect",
    );
  }

  /** Closes the client and the proxy, and deletes what the store wrote. Close the apps first. */
  async close(): Promise<void> {
    await this.#redis?.close();
    await this.#proxy?.close();
    const direct = await connectClient("node-redis");
    await deleteUnder(direct, this.prefix);
    await direct.close();
  }
}
