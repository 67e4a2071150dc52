/**
 * One thin adapter per Redis client library, so RedisStore's logic is written once. Each adapter
 * only sends raw commands, says whether its client is ready, and walks SCAN over every node.
 *
 * The client types below are structural on purpose: the libraries are optional peer
 * dependencies, and a declaration file that imported "redis" or "ioredis" would break the type
 * check of an app that has only the other one installed.
 */
import { TesseraError } from "../core/errors.js";

type Argument = string | number;

/** The part of a node-redis client (v4 to v6, `createClient()`) that RedisStore uses. */
export interface NodeRedisClientLike {
  /** Present from node-redis 4.1 on; `isOpen` stands in before that. */
  readonly isReady?: boolean;
  readonly isOpen: boolean;
  sendCommand(args: readonly string[], options?: { timeout?: number }): Promise<unknown>;
}

/** The part of a node-redis cluster client (`createCluster()`) that RedisStore uses. */
export interface NodeRedisClusterLike {
  readonly isReady?: boolean;
  readonly isOpen: boolean;
  readonly masters: readonly unknown[];
  // `nodeClient` is typed loosely because its node type is generic in node-redis; the adapter
  // only calls `sendCommand` on what it returns.
  nodeClient(node: never): unknown;
  sendCommand(
    firstKey: string | undefined,
    isReadonly: boolean | undefined,
    // Mutable, as node-redis declares it: a readonly array would not accept its clusters.
    args: string[],
    options?: { timeout?: number },
  ): Promise<unknown>;
}

/** The part of an ioredis client (`new Redis()`) or cluster (`new Redis.Cluster()`) RedisStore uses. */
export interface IoRedisClientLike {
  readonly status: string;
  readonly isCluster?: boolean;
  readonly options?: { readonly keyPrefix?: string | undefined };
  call(command: string, args: Argument[]): Promise<unknown>;
}

/** A Redis client made by the app: node-redis (client or cluster) or ioredis (client or cluster). */
export type RedisClientLike = NodeRedisClientLike | NodeRedisClusterLike | IoRedisClientLike;

/** What RedisStore needs from a client, whichever library made it. */
export interface RedisAdapter {
  readonly library: "node-redis" | "ioredis";
  /** True for a Redis Cluster client: then no command may name keys of two hash slots. */
  readonly cluster: boolean;
  /** False while the client is disconnected: RedisStore then fails fast instead of queueing. */
  ready(): boolean;
  /** Sends one command; `key` (its first key) routes it to its node on a cluster. */
  send(key: string | undefined, args: string[], timeoutMs: number): Promise<unknown>;
  /** Batches of keys matching `pattern`, from every master node. */
  scan(pattern: string, count: number): AsyncIterable<string[]>;
}

/** A bulk reply as text: node-redis hands back a Buffer when the app maps blob strings to Buffer. */
export function replyText(reply: unknown): string | null {
  if (typeof reply === "string") return reply;
  if (Buffer.isBuffer(reply)) return reply.toString("utf8");
  return null;
}

function scanReply(reply: unknown): [cursor: string, keys: string[]] {
  if (!Array.isArray(reply) || reply.length !== 2 || !Array.isArray(reply[1])) {
    throw new TesseraError("ERR_STORE", "RedisStore got an unexpected reply to SCAN.");
  }
  const keys: string[] = [];
  for (const key of reply[1] as unknown[]) {
    const text = replyText(key);
    if (text !== null) keys.push(text);
  }
  return [replyText(reply[0]) ?? "0", keys];
}

async function* scanNode(
  send: (args: string[]) => Promise<unknown>,
  pattern: string,
  count: number,
): AsyncIterable<string[]> {
  let cursor = "0";
  do {
    const [next, keys] = scanReply(
      await send(["SCAN", cursor, "MATCH", pattern, "COUNT", String(count)]),
    );
    cursor = next;
    if (keys.length > 0) yield keys;
  } while (cursor !== "0");
}

function isIoRedis(client: object): client is IoRedisClientLike {
  const candidate = client as Partial<IoRedisClientLike>;
  return typeof candidate.call === "function" && typeof candidate.status === "string";
}

function isNodeRedisCluster(client: object): client is NodeRedisClusterLike {
  const candidate = client as Partial<NodeRedisClusterLike>;
  return Array.isArray(candidate.masters) && typeof candidate.nodeClient === "function";
}

function isNodeRedis(client: object): client is NodeRedisClientLike {
  const candidate = client as Partial<NodeRedisClientLike>;
  return typeof candidate.sendCommand === "function" && typeof candidate.isOpen === "boolean";
}

type NodeRedisSender = Pick<NodeRedisClientLike, "sendCommand">;

type Emitter = { once?(event: "ready", listener: () => void): unknown };

/**
 * Whether to send commands now. A client that was ready once and is not now has lost its
 * server: commands fail at once. A client that has never been ready is making its first
 * connection (the app may not have awaited it, as connect-redis's README shows): commands are
 * sent and wait for it, bounded by the command timeout, rather than failing the first requests
 * after a start.
 */
function readiness(
  client: Emitter,
  isReady: () => boolean,
  isConnecting: () => boolean,
): () => boolean {
  let seenReady = isReady();
  if (!seenReady) {
    client.once?.("ready", () => {
      seenReady = true;
    });
  }
  return () => {
    if (isReady()) {
      seenReady = true;
      return true;
    }
    return !seenReady && isConnecting();
  };
}

function nodeRedisReadiness(client: NodeRedisClientLike | NodeRedisClusterLike): () => boolean {
  // `isReady` came in node-redis 4.1; before it, an open client is the best we know.
  const isReady = () => (typeof client.isReady === "boolean" ? client.isReady : client.isOpen);
  return readiness(client as Emitter, isReady, () => client.isOpen);
}

function nodeRedisClient(client: NodeRedisClientLike): RedisAdapter {
  // node-redis 4 in legacy mode (`createClient({ legacyMode: true })`, as connect-redis 6
  // tutorials wrote it) keeps callback methods on the client and the Promise API on `.v4`.
  const legacy = (client as { v4?: Partial<NodeRedisSender> }).v4;
  const sender: NodeRedisSender =
    legacy !== undefined && typeof legacy.sendCommand === "function"
      ? (legacy as NodeRedisSender)
      : client;
  return {
    library: "node-redis",
    cluster: false,
    ready: nodeRedisReadiness(client),
    // node-redis 5+ drops a command that is still waiting to be written when `timeout` passes,
    // so a command queued during a blip is not replayed long after the caller gave up.
    send: (_key, args, timeoutMs) => sender.sendCommand(args, { timeout: timeoutMs }),
    scan: (pattern, count) => scanNode((args) => sender.sendCommand(args), pattern, count),
  };
}

function nodeRedisCluster(cluster: NodeRedisClusterLike): RedisAdapter {
  return {
    library: "node-redis",
    cluster: true,
    ready: nodeRedisReadiness(cluster),
    send: (key, args, timeoutMs) => cluster.sendCommand(key, false, args, { timeout: timeoutMs }),
    async *scan(pattern, count) {
      // SCAN walks one node's keyspace: a cluster is scanned master by master.
      for (const master of cluster.masters) {
        const node = (await cluster.nodeClient(master as never)) as NodeRedisSender;
        yield* scanNode((args) => node.sendCommand(args), pattern, count);
      }
    },
  };
}

function ioRedisClient(client: IoRedisClientLike): RedisAdapter {
  // ioredis adds its `keyPrefix` to every key argument it knows of, but not to a SCAN pattern
  // nor to the keys SCAN returns: the adapter adds and strips it there so the store sees the
  // same key names everywhere.
  const keyPrefix = client.options?.keyPrefix ?? "";
  const nodes = (): IoRedisClientLike[] =>
    client.isCluster === true
      ? (client as unknown as { nodes(role: "master"): IoRedisClientLike[] }).nodes("master")
      : [client];
  return {
    library: "ioredis",
    cluster: client.isCluster === true,
    ready: readiness(
      client as Emitter,
      () => client.status === "ready",
      // "wait" is a client made with `lazyConnect`: its first command opens the connection.
      () => ["wait", "connecting", "connect"].includes(client.status),
    ),
    send: (_key, args, _timeoutMs) => {
      const [command, ...rest] = args;
      return client.call(command ?? "", rest);
    },
    async *scan(pattern, count) {
      for (const node of nodes()) {
        for await (const keys of scanNode(
          (args) => node.call(args[0] ?? "", args.slice(1)),
          keyPrefix + pattern,
          count,
        )) {
          yield keyPrefix === "" ? keys : keys.map((key) => key.slice(keyPrefix.length));
        }
      }
    },
  };
}

/** Picks the adapter for the app's client, or throws `ERR_OPTION` for anything else. */
export function redisAdapter(client: unknown): RedisAdapter {
  if (typeof client === "object" && client !== null) {
    // ioredis first: its clients also have a `sendCommand`, with another meaning.
    if (isIoRedis(client)) return ioRedisClient(client);
    if (isNodeRedisCluster(client)) return nodeRedisCluster(client);
    if (isNodeRedis(client)) return nodeRedisClient(client);
  }
  throw new TesseraError(
    "ERR_OPTION",
    "RedisStore needs `client`: a connected node-redis client (createClient() from redis 4 or later) or an ioredis client.",
  );
}
