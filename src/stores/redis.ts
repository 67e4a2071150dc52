/**
 * RedisStore: sessions in Redis, with the client the app already made (node-redis or ioredis).
 *
 * Keys are laid out as connect-redis lays them out, so either library serves the sessions the
 * other wrote: `<prefix><id>` holds the JSON of the record with a native TTL. Tessera adds one
 * set per user, `<prefix>user:<userKey>`, for "log out everywhere". On one Redis server a write
 * and its index entry are one script, so they land together or not at all. On Redis Cluster the
 * two keys lie in different hash slots and no script may hold both: there the index entry is
 * written first, so the index always holds every session of its user (see docs/stores-redis.md).
 */
import { createHash } from "node:crypto";
import { isTesseraError, TesseraError } from "../core/errors.js";
import {
  applyPatch,
  assertTtl,
  isUnavailableError,
  recordUser,
  storeError,
  storeJson,
} from "../store/record.js";
import type { DestroyForUserOptions, SessionPatch, SessionRecord, Store } from "../store/types.js";
import {
  type RedisAdapter,
  type RedisClientLike,
  redisAdapter,
  replyText,
} from "./redis-clients.js";

export type {
  IoRedisClientLike,
  NodeRedisClientLike,
  NodeRedisClusterLike,
  RedisClientLike,
} from "./redis-clients.js";

/** Options of {@link RedisStore}. */
export interface RedisStoreOptions {
  /**
   * The app's connected client: `createClient()` / `createCluster()` from `redis` (v4 or later),
   * or `new Redis()` / `new Redis.Cluster()` from `ioredis`. RedisStore never closes it.
   */
  client: RedisClientLike;
  /**
   * Put before every session id to make its key. connect-redis's default, so sessions move
   * between the two unchanged.
   * @default "sess:"
   */
  prefix?: string;
  /**
   * How long one Redis command may take before the call fails with `ERR_STORE_UNAVAILABLE`,
   * so a hung or unreachable server never holds a request forever.
   * @default 3000
   */
  commandTimeoutMs?: number;
  /**
   * How many keys one SCAN step asks for, in `ids()`, `entries()`, `length()` and `clear()`.
   * @default 100
   */
  scanCount?: number;
}

const DEFAULT_PREFIX = "sess:";
const DEFAULT_COMMAND_TIMEOUT_MS = 3000;
const DEFAULT_SCAN_COUNT = 100;
/** Session ids under `<prefix>user:` would collide with the user index keys. */
const USER_INDEX = "user:";
/** A user index outlives its longest session by this much, so it never expires first. */
const INDEX_MARGIN_MS = 60_000;
/** Under contention a write re-reads and retries; this many conflicts in a row is an error. */
const MAX_WRITE_ATTEMPTS = 25;
/** How many sessions' last-seen values are kept, so a patch can skip its GET. */
const MAX_REMEMBERED = 1024;

interface PendingPatch {
  patch: SessionPatch;
  ttl: number;
  resolve(written: boolean): void;
  reject(error: unknown): void;
}

class Script {
  readonly sha: string;
  constructor(readonly source: string) {
    this.sha = createHash("sha1").update(source).digest("hex");
  }
}

// Writes a session and, given a second key, adds it to that user index, atomically. With an
// expected SHA-1 it is a compare-and-set: it replaces the value only if it is still the one the
// caller read, and never creates a key (0: gone, -1: changed). The merge of a patch happens in
// JavaScript: Redis's cjson would turn `[]` into `{}`, round numbers to 14 digits and reject lone
// surrogates in the keys a patch leaves alone (see docs/stores-redis.md).
//   KEYS: session [, index]   ARGV: expected SHA-1 or "", value, ttl ms, id, index ttl ms
const WRITE = new Script(`if ARGV[1] ~= '' then
  local current = redis.call('GET', KEYS[1])
  if not current then return 0 end
  if redis.sha1hex(current) ~= ARGV[1] then return -1 end
end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
if KEYS[2] then
  redis.call('SADD', KEYS[2], ARGV[4])
  if redis.call('PTTL', KEYS[2]) < tonumber(ARGV[5]) then redis.call('PEXPIRE', KEYS[2], ARGV[5]) end
end
return 1`);

// Moves a session's expiry and keeps it in its user's index; does nothing to a missing session.
//   KEYS: session, index   ARGV: ttl ms, id, index ttl ms
const TOUCH = new Script(`if redis.call('PEXPIRE', KEYS[1], ARGV[1]) == 0 then return 0 end
redis.call('SADD', KEYS[2], ARGV[2])
if redis.call('PTTL', KEYS[2]) < tonumber(ARGV[3]) then redis.call('PEXPIRE', KEYS[2], ARGV[3]) end
return 1`);

// Drops ids from a user index, each only if its session still holds what the caller saw (""
// for no session): a session written for the user meanwhile keeps its entry.
//   KEYS: index, session...   ARGV: id, SHA-1 seen or "", for each session
const UNINDEX = new Script(`local removed = 0
for i = 2, #KEYS do
  local current = redis.call('GET', KEYS[i])
  local seen = ARGV[2 * i - 2]
  if (not current and seen == '') or (current and redis.sha1hex(current) == seen) then
    removed = removed + redis.call('SREM', KEYS[1], ARGV[2 * i - 3])
  end
end
return removed`);

const COMPARE_AND_DELETE = new Script(`local current = redis.call('GET', KEYS[1])
if not current then return 0 end
if redis.sha1hex(current) ~= ARGV[1] then return -1 end
redis.call('DEL', KEYS[1])
return 1`);

// GETDEL (Redis 6.2+) in a script, so older servers work too: the old value tells which user
// index to tidy.
const TAKE = new Script(`local current = redis.call('GET', KEYS[1])
if current then redis.call('DEL', KEYS[1]) end
return current`);

// On a cluster only: adds a session to its user's index and keeps the index alive at least as
// long as the session.
const INDEX_ADD = new Script(`redis.call('SADD', KEYS[1], ARGV[1])
if redis.call('PTTL', KEYS[1]) < tonumber(ARGV[2]) then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 1`);

/** The escape for characters SCAN's MATCH treats as a glob, so a prefix matches only itself. */
function globEscape(text: string): string {
  return text.replace(/[*?[\]\\]/g, "\\$&");
}

function sha1(text: string): string {
  return createHash("sha1").update(text).digest("hex");
}

function isNoScript(error: unknown): boolean {
  return error instanceof Error && error.message.startsWith("NOSCRIPT");
}

// Errors that mean "not reachable" although `isUnavailableError` does not know them: node-redis
// does not set `name` on its error classes, so they are told apart by class name and message.
const UNAVAILABLE_CLASSES = new Set([
  "ClientClosedError",
  "ClientOfflineError",
  "ConnectionTimeoutError",
  "DisconnectsClientError",
  "ReconnectStrategyError",
  "RootNodesUnavailableError",
  "SocketClosedUnexpectedlyError",
  "SocketTimeoutError",
  "MaxRetriesPerRequestError",
]);

function isRedisUnavailable(error: unknown): boolean {
  if (isUnavailableError(error)) return true;
  if (typeof error !== "object" || error === null) return false;
  return UNAVAILABLE_CLASSES.has(
    (error as { constructor?: { name?: string } }).constructor?.name ?? "",
  );
}

function isTimeout(error: unknown): boolean {
  return error instanceof Error && error.constructor.name === "TimeoutError";
}

function positiveInteger(value: number | undefined, fallback: number, name: string): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value <= 0) {
    throw new TesseraError(
      "ERR_OPTION",
      `RedisStore's ${name} must be a positive whole number, not ${String(value)}.`,
    );
  }
  return value;
}

/**
 * A session store in Redis, compatible with connect-redis: same keys, same JSON, native expiry.
 * It takes the client the app already made and never closes it.
 *
 * @example
 * import { createClient } from "redis";
 * import { RedisStore } from "tessera/redis";
 *
 * const client = await createClient({ url: process.env.REDIS_URL }).connect();
 * app.use(session({ secret: process.env.SESSION_SECRET, store: new RedisStore({ client }) }));
 */
export class RedisStore implements Store {
  readonly prefix: string;
  readonly commandTimeoutMs: number;
  readonly scanCount: number;
  readonly #redis: RedisAdapter;
  readonly #indexPrefix: string;
  /** Patches waiting for their session's write in progress, by key. */
  readonly #patchQueues = new Map<string, PendingPatch[]>();
  /**
   * The value each recently read or written session had then, by key. A patch of a session this
   * process just read compares-and-sets against it at once, one round trip instead of GET then
   * script; the compare still runs in Redis, so a value changed or removed meanwhile is never
   * overwritten or brought back: the patch then reads the session and tries again as usual.
   */
  readonly #remembered = new Map<string, string>();

  constructor(options: RedisStoreOptions) {
    if (typeof options !== "object" || options === null) {
      throw new TesseraError(
        "ERR_OPTION",
        "RedisStore needs options: new RedisStore({ client }), with the app's connected Redis client.",
      );
    }
    this.#redis = redisAdapter(options.client);
    const prefix = options.prefix ?? DEFAULT_PREFIX;
    if (typeof prefix !== "string" || prefix === "") {
      // With no prefix, clear() and ids() would take every key of the database for a session.
      throw new TesseraError(
        "ERR_OPTION",
        'RedisStore\'s prefix must be a non-empty string, such as the default "sess:".',
      );
    }
    this.prefix = prefix;
    this.#indexPrefix = prefix + USER_INDEX;
    this.commandTimeoutMs = positiveInteger(
      options.commandTimeoutMs,
      DEFAULT_COMMAND_TIMEOUT_MS,
      "commandTimeoutMs",
    );
    this.scanCount = positiveInteger(options.scanCount, DEFAULT_SCAN_COUNT, "scanCount");
  }

  /** Every command has its own deadline (`commandTimeoutMs`): the engine adds none. */
  get timeoutMs(): number {
    return this.commandTimeoutMs;
  }

  /** Which client library the store detected: `"node-redis"` or `"ioredis"`. */
  get clientLibrary(): "node-redis" | "ioredis" {
    return this.#redis.library;
  }

  async get(id: string): Promise<SessionRecord | undefined> {
    const key = this.#key(id);
    if (key === undefined) return undefined;
    let raw: string | null;
    try {
      raw = replyText(await this.#send("get", key, ["GET", key]));
    } catch (error) {
      // What this store saw of the session before may be out of date: a patch must read it.
      this.#remembered.delete(key);
      throw error;
    }
    if (raw === null) {
      this.#remembered.delete(key);
      return undefined;
    }
    const record = this.#parse(raw, "get");
    this.#remember(key, raw);
    return record;
  }

  #remember(key: string, raw: string): void {
    const remembered = this.#remembered;
    // Re-inserted at the end, so the first entry is always the oldest.
    if (!remembered.delete(key) && remembered.size >= MAX_REMEMBERED) {
      remembered.delete(remembered.keys().next().value as string);
    }
    remembered.set(key, raw);
  }

  async set(id: string, record: SessionRecord, ttlMs: number): Promise<void> {
    const ttl = assertTtl(ttlMs);
    const key = this.#keyToWrite(id);
    const value = storeJson("RedisStore", "write", record);
    await this.#write("set", id, key, "", value, ttl, recordUser(record));
  }

  async destroy(id: string): Promise<void> {
    const key = this.#key(id);
    if (key === undefined) return;
    this.#remembered.delete(key);
    const raw = replyText(await this.#script("destroy", [key], TAKE, []));
    if (raw === null) return;
    const user = this.#userOf(raw);
    if (user !== undefined) await this.#unindex(user, [[id, ""]]);
  }

  async touch(id: string, record: SessionRecord, ttlMs: number): Promise<void> {
    const ttl = assertTtl(ttlMs);
    const key = this.#key(id);
    if (key === undefined) return;
    const user = recordUser(record);
    // PEXPIRE leaves a missing key missing: a touch never brings a session back. The record is
    // not rewritten; Redis's TTL is the expiry that counts, as with connect-redis.
    if (user !== undefined && !this.#redis.cluster) {
      const index = this.#indexPrefix + user;
      await this.#script("touch", [key, index], TOUCH, [String(ttl), id, this.#indexTtl(ttl)]);
      return;
    }
    await Promise.all([
      this.#send("touch", key, ["PEXPIRE", key, String(ttl)]),
      user === undefined ? undefined : this.#indexAdd("touch", user, id, ttl),
    ]);
  }

  async patch(id: string, patch: SessionPatch, ttlMs: number): Promise<boolean> {
    const ttl = assertTtl(ttlMs);
    const key = this.#key(id);
    if (key === undefined) return false;
    // Patches of one session from this process are applied in turn, and those that arrive while
    // one is being written are merged into the next write: N parallel patches cost two writes,
    // not N compare-and-set rounds that all but one lose.
    return new Promise<boolean>((resolve, reject) => {
      const waiting = this.#patchQueues.get(key);
      const pending: PendingPatch = { patch, ttl, resolve, reject };
      if (waiting !== undefined) {
        waiting.push(pending);
        return;
      }
      const queue = [pending];
      this.#patchQueues.set(key, queue);
      void this.#drainPatches(id, key, queue);
    });
  }

  async #drainPatches(id: string, key: string, queue: PendingPatch[]): Promise<void> {
    while (queue.length > 0) {
      const batch = queue.splice(0);
      try {
        const written = await this.#patchNow(id, key, batch);
        for (const pending of batch) pending.resolve(written);
      } catch (error) {
        if (batch.length > 1 && isTesseraError(error, "ERR_SESSION_DATA")) {
          // One request's data does not survive JSON: it alone fails, the others are written.
          for (const pending of batch) {
            await this.#patchNow(id, key, [pending]).then(pending.resolve, pending.reject);
          }
        } else {
          for (const pending of batch) pending.reject(error);
        }
      }
    }
    this.#patchQueues.delete(key);
  }

  /** Applies the patches in order, atomically: a compare-and-set that re-reads on conflict. */
  async #patchNow(id: string, key: string, patches: readonly PendingPatch[]): Promise<boolean> {
    // The last request's TTL wins, as if the patches had been written one after the other.
    const ttl = (patches[patches.length - 1] as PendingPatch).ttl;
    let known = this.#remembered.get(key);
    this.#remembered.delete(key);
    for (let attempt = 1; ; attempt++) {
      const raw = known ?? replyText(await this.#send("patch", key, ["GET", key]));
      const fromMemory = known !== undefined;
      known = undefined;
      if (raw === null) return false;
      const record = this.#parse(raw, "patch");
      const before = recordUser(record);
      for (const { patch } of patches) applyPatch(record, patch);
      const next = storeJson("RedisStore", "write", record);
      const after = recordUser(record);
      const written = await this.#write("patch", id, key, sha1(raw), next, ttl, after);
      if (written === 1) {
        this.#remember(key, next);
        if (before !== undefined && before !== after) {
          await this.#unindex(before, [[id, sha1(next)]]);
        }
        return true;
      }
      if (written === 0) return false;
      // The value remembered from an earlier read is out of date: read the session now.
      if (fromMemory) {
        attempt--;
        continue;
      }
      // Another process wrote the session between our read and our write: merge again on top
      // of what it wrote, so both changes survive. The random pause breaks lockstep retries.
      if (attempt === MAX_WRITE_ATTEMPTS) throw this.#contentionError("patch a session");
      await new Promise((resolve) => setTimeout(resolve, Math.random() * attempt * 2));
    }
  }

  async *ids(): AsyncIterable<string> {
    for await (const keys of this.#sessionKeys("ids")) {
      for (const key of keys) yield key.slice(this.prefix.length);
    }
  }

  async *entries(): AsyncIterable<[id: string, record: SessionRecord]> {
    for await (const keys of this.#sessionKeys("entries")) {
      // On a cluster the keys of a batch lie in many slots, so one GET each; else one MGET.
      const values = this.#redis.cluster
        ? await Promise.all(keys.map((key) => this.#send("entries", key, ["GET", key])))
        : await this.#send("entries", keys[0], ["MGET", ...keys]);
      if (!Array.isArray(values))
        throw new TesseraError("ERR_STORE", "RedisStore got an unexpected reply to MGET.");
      for (let i = 0; i < keys.length; i++) {
        const raw = replyText(values[i]);
        // A key that expired or was destroyed since SCAN saw it is simply gone.
        if (raw !== null)
          yield [(keys[i] as string).slice(this.prefix.length), this.#parse(raw, "entries")];
      }
    }
  }

  async length(): Promise<number> {
    let count = 0;
    for await (const keys of this.#sessionKeys("length")) count += keys.length;
    return count;
  }

  async clear(): Promise<void> {
    // Only this store's prefix, sessions and user indexes alike: never FLUSHDB, which would take
    // the app's other data with it.
    this.#remembered.clear();
    const pattern = `${globEscape(this.prefix)}*`;
    for await (const keys of this.#scan("clear", pattern)) {
      if (this.#redis.cluster) {
        await Promise.all(keys.map((key) => this.#send("clear", key, ["UNLINK", key])));
      } else {
        await this.#send("clear", keys[0], ["UNLINK", ...keys]);
      }
    }
  }

  async idsForUser(user: string): Promise<string[]> {
    const live: string[] = [];
    await this.#eachUserSession("idsForUser", user, async (id) => {
      live.push(id);
      return undefined;
    });
    return live;
  }

  async destroyForUser(user: string, options: DestroyForUserOptions = {}): Promise<number> {
    let destroyed = 0;
    await this.#eachUserSession("destroyForUser", user, async (id, key, raw) => {
      if (id === options.except) return undefined;
      // Deletes only if the session still holds what was read, so a session that was handed to
      // another user meanwhile is left alone; a conflict re-reads it.
      let current = raw;
      for (let attempt = 1; ; attempt++) {
        const result = await this.#script("destroyForUser", [key], COMPARE_AND_DELETE, [
          sha1(current),
        ]);
        if (result === 1) destroyed++;
        if (result !== -1) return "";
        if (attempt === MAX_WRITE_ATTEMPTS)
          throw this.#contentionError("destroy a user's sessions");
        const reread = replyText(await this.#send("destroyForUser", key, ["GET", key]));
        if (reread === null) return "";
        if (this.#userOf(reread) !== user) return sha1(reread);
        current = reread;
      }
    });
    return destroyed;
  }

  /** Resolves at once: RedisStore opens nothing of its own, and the client is the app's to close. */
  async close(): Promise<void> {}

  /**
   * Calls `visit` for each live session of the user, and drops from the index every member
   * whose session is gone or no longer the user's. `visit` resolves `undefined` to keep the
   * member, or what it last saw of the session (a SHA-1, "" for nothing) to drop it.
   */
  async #eachUserSession(
    operation: string,
    user: string,
    visit: (id: string, key: string, raw: string) => Promise<string | undefined>,
  ): Promise<void> {
    const indexKey = this.#indexPrefix + user;
    const reply = await this.#send(operation, indexKey, ["SMEMBERS", indexKey]);
    const members = Array.isArray(reply) ? reply.map(replyText) : [];
    for (let start = 0; start < members.length; start += this.scanCount) {
      const batch = members.slice(start, start + this.scanCount);
      const gone: [id: string, seen: string][] = [];
      await Promise.all(
        batch.map(async (id) => {
          const key = id === null ? undefined : this.#key(id);
          if (id === null || key === undefined) return;
          const raw = replyText(await this.#send(operation, key, ["GET", key]));
          const seen =
            raw === null ? "" : this.#userOf(raw) !== user ? sha1(raw) : await visit(id, key, raw);
          if (seen !== undefined) gone.push([id, seen]);
        }),
      );
      if (gone.length > 0) await this.#unindex(user, gone);
    }
  }

  async *#sessionKeys(operation: string): AsyncIterable<string[]> {
    // SCAN may return a key twice (when Redis resizes its table mid-scan): ids are remembered
    // so each is counted once. That is a string per session, never a record.
    const seen = new Set<string>();
    for await (const keys of this.#scan(operation, `${globEscape(this.prefix)}*`)) {
      const fresh: string[] = [];
      for (const key of keys) {
        if (key.startsWith(this.#indexPrefix) || seen.has(key)) continue;
        seen.add(key);
        fresh.push(key);
      }
      if (fresh.length > 0) yield fresh;
    }
  }

  async *#scan(operation: string, pattern: string): AsyncIterable<string[]> {
    this.#assertReady(operation);
    const batches = this.#redis.scan(pattern, this.scanCount)[Symbol.asyncIterator]();
    for (;;) {
      const step = await this.#withTimeout(operation, batches.next());
      if (step.done === true) return;
      yield step.value;
    }
  }

  #key(id: string): string | undefined {
    // An id under "user:" would name a user index: no session of ours can have one.
    return id.startsWith(USER_INDEX) ? undefined : this.prefix + id;
  }

  #keyToWrite(id: string): string {
    const key = this.#key(id);
    if (key === undefined) {
      throw new TesseraError(
        "ERR_OPTION",
        `RedisStore cannot store a session whose id starts with "${USER_INDEX}": that is where it keeps its user index. Generate ids without that prefix (the default ids never have it).`,
      );
    }
    return key;
  }

  #parse(raw: string, operation: string): SessionRecord {
    let record: unknown;
    try {
      record = JSON.parse(raw);
    } catch (error) {
      throw new TesseraError(
        "ERR_STORE",
        `RedisStore read a value that is not JSON during ${operation}: a key under the prefix "${this.prefix}" holds something other than a session. Give RedisStore a prefix of its own.`,
        { cause: error },
      );
    }
    if (typeof record !== "object" || record === null || Array.isArray(record)) {
      throw new TesseraError(
        "ERR_STORE",
        `RedisStore read a value that is not a session record during ${operation}: give RedisStore a prefix of its own.`,
      );
    }
    return record as SessionRecord;
  }

  /** The user a stored value belongs to; a value that is not a record belongs to no one. */
  #userOf(raw: string): string | undefined {
    try {
      return recordUser(JSON.parse(raw) as SessionRecord);
    } catch {
      return undefined;
    }
  }

  /**
   * Writes a session (a compare-and-set when `expected` is a SHA-1) with its user index entry.
   * Resolves 1 when written, 0 when the session is gone, -1 when it changed since it was read.
   */
  async #write(
    operation: string,
    id: string,
    key: string,
    expected: string,
    value: string,
    ttl: number,
    user: string | undefined,
  ): Promise<unknown> {
    const args = [expected, value, String(ttl), id, this.#indexTtl(ttl)];
    if (user === undefined) return this.#script(operation, [key], WRITE, args);
    if (!this.#redis.cluster) {
      return this.#script(operation, [key, this.#indexPrefix + user], WRITE, args);
    }
    // On a cluster the session and its index lie in different hash slots. The index entry goes
    // first (and on one connection Redis runs commands in order), so the index always holds at
    // least every session of the user: destroyForUser misses none. A failed write leaves an
    // entry without a session, which every read of the index skips and drops.
    const [, written] = await Promise.all([
      this.#indexAdd(operation, user, id, ttl),
      this.#script(operation, [key], WRITE, args),
    ]);
    return written;
  }

  /** A user index outlives the longest session it holds. */
  #indexTtl(ttlMs: number): string {
    return String(ttlMs + INDEX_MARGIN_MS);
  }

  #indexAdd(operation: string, user: string, id: string, ttlMs: number): Promise<unknown> {
    return this.#script(operation, [this.#indexPrefix + user], INDEX_ADD, [
      id,
      this.#indexTtl(ttlMs),
    ]);
  }

  /** Drops index entries whose sessions are gone or changed hands: `[id, SHA-1 seen or ""]`. */
  async #unindex(user: string, entries: [id: string, seen: string][]): Promise<void> {
    const indexKey = this.#indexPrefix + user;
    try {
      if (this.#redis.cluster) {
        // No script may read the sessions along with the index here: the entries are dropped as
        // seen. A session written for the user in between keeps its entry on its next write.
        const ids = entries.map(([id]) => id);
        await this.#send("index cleanup", indexKey, ["SREM", indexKey, ...ids]);
        return;
      }
      const keys = entries.map(([id]) => this.prefix + id);
      await this.#script("index cleanup", [indexKey, ...keys], UNINDEX, entries.flat());
    } catch {
      // The session write itself succeeded, so failing the call would be wrong. An entry left
      // behind is harmless: the index is checked against the sessions on every read, and the
      // next read drops it.
    }
  }

  /** Runs a cached script; `keys[0]` routes it on a cluster. */
  async #script(
    operation: string,
    keys: readonly string[],
    script: Script,
    args: readonly string[],
  ): Promise<unknown> {
    const tail = [String(keys.length), ...keys, ...args];
    try {
      return await this.#send(operation, keys[0], ["EVALSHA", script.sha, ...tail]);
    } catch (error) {
      // A server that restarted or ran SCRIPT FLUSH has forgotten the script: send it whole once,
      // which also caches it again.
      if (!isTesseraError(error) || !isNoScript(error.cause)) throw error;
      return this.#send(operation, keys[0], ["EVAL", script.source, ...tail]);
    }
  }

  #assertReady(operation: string): void {
    // node-redis queues commands while disconnected and replays them on reconnect; failing now
    // gives the request a clear 503 instead of a wait and a late write.
    if (!this.#redis.ready()) {
      throw new TesseraError(
        "ERR_STORE_UNAVAILABLE",
        `RedisStore is unavailable (${operation} failed): its Redis client is not connected. Check that Redis is running and reachable, and that the app connected the client.`,
      );
    }
  }

  // Async, so that a client that is not ready rejects rather than throws: a caller that sends
  // two commands at once then sees both settle.
  async #send(operation: string, key: string | undefined, args: string[]): Promise<unknown> {
    this.#assertReady(operation);
    return this.#withTimeout(operation, this.#redis.send(key, args, this.commandTimeoutMs));
  }

  async #withTimeout<T>(operation: string, pending: Promise<T>): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(this.#timeoutError(operation)), this.commandTimeoutMs);
    });
    try {
      return await Promise.race([pending, deadline]);
    } catch (error) {
      if (isTesseraError(error)) throw error;
      if (isTimeout(error)) throw this.#timeoutError(operation, error);
      if (isRedisUnavailable(error) && !isUnavailableError(error)) {
        throw new TesseraError(
          "ERR_STORE_UNAVAILABLE",
          `RedisStore is unavailable (${operation} failed): check that Redis is running and reachable.`,
          { cause: error },
        );
      }
      throw storeError("RedisStore", operation, error);
    } finally {
      clearTimeout(timer);
    }
  }

  #contentionError(what: string): TesseraError {
    return new TesseraError(
      "ERR_STORE",
      `RedisStore could not ${what}: the session changed ${MAX_WRITE_ATTEMPTS} times in a row while it was being written. Too many requests write the same session at once; retry the request.`,
    );
  }

  #timeoutError(operation: string, cause?: unknown): TesseraError {
    return new TesseraError(
      "ERR_STORE_UNAVAILABLE",
      `RedisStore is unavailable (${operation} got no answer within ${this.commandTimeoutMs} ms): check that Redis is running and reachable, or raise commandTimeoutMs.`,
      cause === undefined ? {} : { cause },
    );
  }
}
