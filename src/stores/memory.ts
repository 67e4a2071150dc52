import { nextTick } from "../core/builtins.js";
import { ownString } from "../core/id.js";
import {
  applyPatch,
  assertTtl,
  type DestroyForUserOptions,
  IN_PROCESS_STORE,
  META_KEY,
  type SessionPatch,
  type SessionRecord,
  type Store,
  storeError,
  storeJson,
  TesseraError,
} from "../store/index.js";
import { Store as StoreBase } from "../store/legacy.js";

/** A Node-style callback, as express-session passes to its stores. */
export type StoreCallback<T = void> = (error: unknown, value?: T) => void;

/** Options of {@link MemoryStore}. */
export interface MemoryStoreOptions {
  /**
   * The most sessions kept at once. Past it, the least recently used session is evicted, so a
   * flood of new visitors cannot exhaust memory.
   * @default Infinity
   */
  max?: number;
  /**
   * How often expired sessions are swept out, in ms; `0` turns the timer off. The timer never
   * keeps the process alive. Expired sessions are never returned whatever this is.
   * @default 60_000
   */
  sweepIntervalMs?: number;
  /**
   * The TTL of a session written express-session style, without a TTL, whose cookie has no
   * expiry (a browser-session cookie): express-session's MemoryStore keeps those forever.
   * @default 86_400_000 (one day, as connect-redis)
   */
  ttlMs?: number;
  /**
   * The clock, in ms since the epoch. Tests pass their own to move time without waiting.
   * @default Date.now
   */
  now?: () => number;
}

/**
 * How many expired sessions at the head of the map (the least recently written) each new
 * session sweeps out. More than one, so the backlog shrinks faster than new visitors arrive
 * even when the timer is off or starved.
 */
const HEAD_SWEEP = 2;

/** The longest delay setInterval accepts; above it Node fires after 1 ms instead. */
const MAX_TIMER_MS = 2_147_483_647;

/**
 * Keeps sessions in this process's memory: for tests, development and single-process apps.
 * Implements the whole Store contract, and express-session's MemoryStore interface: it extends
 * the same `Store` base (an EventEmitter with `load`, `regenerate` and `createSession`), every
 * method also takes a Node-style callback, and `all()`, `length()` and `clear()` are there. With
 * a callback the returned Promise never rejects: the error goes to the callback.
 *
 * Each session is one JSON string holding its expiry and record (`[expiresAt,{…}]`) in a Map
 * whose order is the order of last writes (and of last reads when `max` is set): the least
 * recently used session is always first, and no per-session object or timer is kept.
 *
 * @example
 * import { MemoryStore } from "tessera/memory";
 * app.use(session({ secret, store: new MemoryStore({ max: 50_000 }) }));
 */
export class MemoryStore extends StoreBase implements Store {
  readonly [IN_PROCESS_STORE] = true;
  /** Its calls answer from this process: they cannot hang, and get no deadline. */
  readonly timeoutMs = 0;
  readonly #sessions = new Map<string, string>();
  /** id → user, only for sessions tied to a user. */
  readonly #userOf = new Map<string, string>();
  readonly #byUser = new Map<string, Set<string>>();
  readonly #max: number;
  readonly #defaultTtlMs: number;
  readonly #now: () => number;
  #timer: NodeJS.Timeout | undefined;

  constructor(options: MemoryStoreOptions = {}) {
    super();
    const {
      max = Number.POSITIVE_INFINITY,
      sweepIntervalMs = 60_000,
      ttlMs = 86_400_000,
    } = options;
    if (!(max === Number.POSITIVE_INFINITY || (Number.isInteger(max) && max > 0))) {
      throw new TesseraError(
        "ERR_OPTION",
        "MemoryStore's max must be a positive whole number of sessions, or Infinity for no limit.",
      );
    }
    if (
      !(Number.isFinite(sweepIntervalMs) && sweepIntervalMs >= 0) ||
      sweepIntervalMs > MAX_TIMER_MS
    ) {
      throw new TesseraError(
        "ERR_OPTION",
        `MemoryStore's sweepIntervalMs must be between 0 (no timer) and ${MAX_TIMER_MS} ms.`,
      );
    }
    this.#max = max;
    this.#defaultTtlMs = assertTtl(ttlMs);
    this.#now = options.now ?? Date.now;
    if (sweepIntervalMs > 0) {
      this.#timer = setInterval(() => this.#sweep(), sweepIntervalMs);
      // Runtimes without node timers (edge, Workers) return a number: nothing to unref there.
      this.#timer.unref?.();
    }
  }

  /** Sessions held right now, counting expired ones not yet swept out. For monitoring. */
  get size(): number {
    return this.#sessions.size;
  }

  /**
   * The session's record. Answers within the call (no Promise), as do `set`, `destroy`, `touch`
   * and `patch`; called express-session style, with a callback, the callback gets the answer.
   */
  get(id: string, callback?: StoreCallback<SessionRecord | undefined>): SessionRecord | undefined {
    if (callback === undefined) {
      // The engine's call on every request with a cookie: no closure on this path.
      try {
        return this.#get(id);
      } catch (cause) {
        throw storeError("MemoryStore", "get", cause);
      }
    }
    return answer("get", callback, () => this.#get(id));
  }

  #get(id: string): SessionRecord | undefined {
    const entry = this.#live(id, this.#now());
    if (entry === undefined) return undefined;
    if (this.#max !== Number.POSITIVE_INFINITY) {
      // Move to the end: the map's order is the LRU order that eviction follows.
      this.#sessions.delete(id);
      this.#sessions.set(ownString(id), entry);
    }
    return parseRecord(entry);
  }

  /**
   * Writes the session. Called express-session style (`set(id, session, callback)`), the TTL
   * comes from `cookie.expires`, or is `ttlMs` for a cookie without expiry.
   */
  set(
    id: string,
    record: SessionRecord,
    ttlMs?: number | StoreCallback,
    callback?: StoreCallback,
  ): void {
    const [ttl, done] = typeof ttlMs === "function" ? [undefined, ttlMs] : [ttlMs, callback];
    answer("set", done, () => {
      const now = this.#now();
      const expiresAt = this.#expiry(record, ttl, now);
      if (expiresAt <= now) this.#remove(id);
      else this.#write(id, record, expiresAt, now);
    });
  }

  destroy(id: string, callback?: StoreCallback): void {
    answer("destroy", callback, () => {
      this.#remove(id);
    });
  }

  /**
   * Moves the session's expiry and writes the record's `cookie` and `__tessera`, as
   * express-session's MemoryStore writes the cookie; the data stays. Does nothing for a session
   * that is missing or expired.
   */
  touch(
    id: string,
    record: SessionRecord,
    ttlMs?: number | StoreCallback,
    callback?: StoreCallback,
  ): void {
    if (typeof ttlMs !== "function" && callback === undefined) {
      // The engine's call at the end of a request that only read: no closure on this path.
      try {
        this.#touch(id, record, ttlMs);
      } catch (cause) {
        throw storeError("MemoryStore", "touch", cause);
      }
      return;
    }
    const [ttl, done] = typeof ttlMs === "function" ? [undefined, ttlMs] : [ttlMs, callback];
    answer("touch", done, () => this.#touch(id, record, ttl));
  }

  #touch(id: string, record: SessionRecord, ttl: number | undefined): void {
    const now = this.#now();
    const entry = this.#live(id, now);
    if (entry === undefined) return;
    const expiresAt = this.#expiry(record, ttl, now);
    if (expiresAt <= now) {
      this.#remove(id);
      return;
    }
    const meta = record[META_KEY];
    const touched = retouched(entry, expiresAt, record.cookie, meta);
    if (touched !== undefined) {
      this.#put(id, touched, meta === undefined ? this.#userOf.get(id) : userOf(record), now);
      return;
    }
    const stored = parseRecord(entry);
    stored.cookie = record.cookie;
    if (meta !== undefined) stored[META_KEY] = meta;
    this.#write(id, stored, expiresAt, now);
  }

  patch(
    id: string,
    patch: SessionPatch,
    ttlMs: number,
    callback?: StoreCallback<boolean>,
  ): boolean {
    return answer("patch", callback, () => {
      const now = this.#now();
      const ttl = assertTtl(ttlMs);
      const entry = this.#live(id, now);
      if (entry === undefined) return false;
      this.#write(id, applyPatch(parseRecord(entry), patch), now + ttl, now);
      return true;
    });
  }

  /**
   * Every live session id. The ids are taken when the loop starts, so sessions read or written
   * during it are listed once; sessions destroyed meanwhile are skipped.
   */
  async *ids(): AsyncGenerator<string, void, undefined> {
    for (const id of [...this.#sessions.keys()]) {
      if (this.#peek(id) !== undefined) yield id;
    }
  }

  /** Every live session with its record, each parsed only when the loop reaches it. */
  async *entries(): AsyncGenerator<[id: string, record: SessionRecord], void, undefined> {
    for (const id of [...this.#sessions.keys()]) {
      const entry = this.#peek(id);
      if (entry !== undefined) yield [id, parseRecord(entry)];
    }
  }

  /**
   * Every live session in one object keyed by id: express-session's `all()`. Prefer
   * `entries()` for a large store.
   */
  all(
    callback?: StoreCallback<Record<string, SessionRecord>>,
  ): Promise<Record<string, SessionRecord>> {
    return settle("all", callback, () => {
      const sessions: Record<string, SessionRecord> = Object.create(null);
      for (const id of [...this.#sessions.keys()]) {
        const entry = this.#peek(id);
        if (entry !== undefined) sessions[id] = parseRecord(entry);
      }
      return sessions;
    });
  }

  length(callback?: StoreCallback<number>): Promise<number> {
    return settle("length", callback, () => {
      const now = this.#now();
      let count = 0;
      for (const entry of this.#sessions.values()) if (expiryOf(entry) > now) count++;
      return count;
    });
  }

  clear(callback?: StoreCallback): Promise<void> {
    return settle("clear", callback, () => {
      this.#sessions.clear();
      this.#userOf.clear();
      this.#byUser.clear();
    });
  }

  idsForUser(user: string, callback?: StoreCallback<string[]>): Promise<string[]> {
    return settle("idsForUser", callback, () => this.#idsForUser(user));
  }

  destroyForUser(
    user: string,
    options?: DestroyForUserOptions | StoreCallback<number>,
    callback?: StoreCallback<number>,
  ): Promise<number> {
    const [opts, done] = typeof options === "function" ? [undefined, options] : [options, callback];
    return settle("destroyForUser", done, () => {
      let count = 0;
      for (const id of this.#idsForUser(user)) {
        if (id === opts?.except) continue;
        this.#remove(id);
        count++;
      }
      return count;
    });
  }

  /** Sweeps out expired sessions now and resolves how many there were. */
  prune(callback?: StoreCallback<number>): Promise<number> {
    return settle("prune", callback, () => this.#sweep());
  }

  /** Stops the sweep timer. The sessions stay readable: they are only memory. */
  close(callback?: StoreCallback): Promise<void> {
    return settle("close", callback, () => {
      clearInterval(this.#timer);
      this.#timer = undefined;
    });
  }

  /** The live entry of a session, dropping it when it has expired. */
  #live(id: string, now: number): string | undefined {
    const entry = this.#sessions.get(id);
    if (entry === undefined) return undefined;
    if (expiryOf(entry) > now) return entry;
    this.#remove(id);
    return undefined;
  }

  /** The live entry of a session, without touching the map: for loops over it. */
  #peek(id: string): string | undefined {
    const entry = this.#sessions.get(id);
    return entry !== undefined && expiryOf(entry) > this.#now() ? entry : undefined;
  }

  #idsForUser(user: string): string[] {
    const ids = this.#byUser.get(user);
    if (ids === undefined) return [];
    const now = this.#now();
    const live: string[] = [];
    for (const id of ids) if (this.#live(id, now) !== undefined) live.push(id);
    return live;
  }

  #expiry(record: SessionRecord, ttlMs: number | undefined, now: number): number {
    if (ttlMs !== undefined) return now + assertTtl(ttlMs);
    const expires = record.cookie?.expires;
    if (!expires) return now + this.#defaultTtlMs;
    const at = new Date(expires).getTime();
    return Number.isNaN(at) ? now + this.#defaultTtlMs : Math.ceil(at);
  }

  #write(id: string, record: SessionRecord, expiresAt: number, now: number): void {
    this.#put(id, storeJson("MemoryStore", "write", [expiresAt, record]), userOf(record), now);
  }

  #put(id: string, entry: string, user: string | undefined, now: number): void {
    // JSON.stringify and concatenation return a tree of string pieces (a V8 cons string);
    // reading one character flattens it into one block of memory, which costs a third less than
    // the tree it replaces.
    entry.charCodeAt(0);
    const existed = this.#sessions.delete(id);
    const key = ownString(id);
    // Re-inserted at the end: the first entry is always the least recently written one.
    this.#sessions.set(key, entry);
    this.#index(key, user);
    if (existed) return;
    this.#sweepHead(now);
    while (this.#sessions.size > this.#max) {
      const oldest = this.#sessions.keys().next();
      if (oldest.done) break;
      this.#remove(oldest.value);
    }
  }

  #sweepHead(now: number): void {
    for (let i = 0; i < HEAD_SWEEP; i++) {
      const first = this.#sessions.entries().next();
      if (first.done || expiryOf(first.value[1]) > now) return;
      this.#remove(first.value[0]);
    }
  }

  #sweep(): number {
    const now = this.#now();
    let count = 0;
    for (const [id, entry] of this.#sessions) {
      if (expiryOf(entry) > now) continue;
      this.#remove(id);
      count++;
    }
    return count;
  }

  #remove(id: string): void {
    if (!this.#sessions.delete(id)) return;
    this.#index(id, undefined);
  }

  #index(id: string, user: string | undefined): void {
    const previous = this.#userOf.get(id);
    if (previous === user) return;
    if (previous !== undefined) {
      const ids = this.#byUser.get(previous);
      ids?.delete(id);
      if (ids?.size === 0) this.#byUser.delete(previous);
    }
    if (user === undefined) {
      this.#userOf.delete(id);
      return;
    }
    this.#userOf.set(id, user);
    const ids = this.#byUser.get(user);
    if (ids === undefined) this.#byUser.set(user, new Set([id]));
    else ids.add(id);
  }
}

/** The expiry in front of an entry (`[1732312345678,{…}]`), read without parsing the record. */
function expiryOf(entry: string): number {
  let ms = 0;
  for (let i = 1; i < entry.length; i++) {
    const digit = entry.charCodeAt(i) - 48;
    if (digit < 0 || digit > 9) break;
    ms = ms * 10 + digit;
  }
  return ms;
}

const QUOTE = 34; // "
const BACKSLASH = 92;
const COMMA = 44;
const COLON = 58;
const OPEN_BRACE = 123;
const CLOSE_BRACE = 125;
const OPEN_BRACKET = 91;
const CLOSE_BRACKET = 93;

/** The index just past the JSON string that opens at `start` (a `"`). */
function skipString(text: string, start: number): number {
  for (let i = start + 1; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code === BACKSLASH) i++;
    else if (code === QUOTE) return i + 1;
  }
  return -1;
}

/** The index just past the JSON value that starts at `start`, as JSON.stringify writes it (no spaces). */
function skipValue(text: string, start: number): number {
  const first = text.charCodeAt(start);
  if (first === QUOTE) return skipString(text, start);
  if (first !== OPEN_BRACE && first !== OPEN_BRACKET) {
    let i = start;
    while (i < text.length) {
      const code = text.charCodeAt(i);
      if (code === COMMA || code === CLOSE_BRACE || code === CLOSE_BRACKET) break;
      i++;
    }
    return i;
  }
  let depth = 0;
  for (let i = start; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code === QUOTE) {
      i = skipString(text, i) - 1;
      if (i < 0) return -1;
    } else if (code === OPEN_BRACE || code === OPEN_BRACKET) depth++;
    else if (code === CLOSE_BRACE || code === CLOSE_BRACKET) {
      if (--depth === 0) return i + 1;
    }
  }
  return -1;
}

/**
 * The entry with a new expiry, `cookie` and (when given) `__tessera`, the data left as it is:
 * what `touch` writes, made by replacing those values in the stored text rather than parsing
 * the record and writing all of it again. Only the record's top-level keys are walked; strings
 * are skipped whole, so a key or brace inside the data cannot be mistaken for them.
 * `undefined` when the entry has no top-level `cookie` (not written by this store).
 */
function retouched(
  entry: string,
  expiresAt: number,
  cookie: unknown,
  meta: unknown,
): string | undefined {
  const open = entry.indexOf(",") + 1;
  if (open === 0 || entry.charCodeAt(open) !== OPEN_BRACE) return undefined;
  let cookieAt = -1;
  let cookieEnd = -1;
  let metaAt = -1;
  let metaEnd = -1;
  let i = open + 1;
  while (entry.charCodeAt(i) === QUOTE) {
    const keyEnd = skipString(entry, i);
    if (keyEnd < 0 || entry.charCodeAt(keyEnd) !== COLON) return undefined;
    const valueEnd = skipValue(entry, keyEnd + 1);
    if (valueEnd < 0) return undefined;
    const length = keyEnd - i;
    if (length === 8 && entry.startsWith('"cookie"', i)) {
      cookieAt = keyEnd + 1;
      cookieEnd = valueEnd;
    } else if (length === META_KEY.length + 2 && entry.startsWith(`"${META_KEY}"`, i)) {
      metaAt = keyEnd + 1;
      metaEnd = valueEnd;
    }
    i = entry.charCodeAt(valueEnd) === COMMA ? valueEnd + 1 : valueEnd;
  }
  // The record's closing brace, then the array's: anything else is not an entry of ours.
  if (cookieAt < 0 || i !== entry.length - 2 || entry.charCodeAt(i) !== CLOSE_BRACE) {
    return undefined;
  }
  // JSON.stringify gives `undefined` for what it leaves out of an object (undefined, functions).
  const cookieJson = storeJson("MemoryStore", "touch", cookie) as string | undefined;
  const metaJson =
    meta === undefined
      ? undefined
      : (storeJson("MemoryStore", "touch", meta) as string | undefined);
  if (cookieJson === undefined || (meta !== undefined && metaJson === undefined)) return undefined;
  const head = `[${expiresAt},`;
  if (meta === undefined) {
    return `${head}${entry.slice(open, cookieAt)}${cookieJson}${entry.slice(cookieEnd)}`;
  }
  if (metaAt < 0) {
    return `${head}${entry.slice(open, cookieAt)}${cookieJson}${entry.slice(cookieEnd, i)},"${META_KEY}":${metaJson}}]`;
  }
  // The two values in the order they appear in the text.
  return cookieAt < metaAt
    ? `${head}${entry.slice(open, cookieAt)}${cookieJson}${entry.slice(cookieEnd, metaAt)}${metaJson}${entry.slice(metaEnd)}`
    : `${head}${entry.slice(open, metaAt)}${metaJson}${entry.slice(metaEnd, cookieAt)}${cookieJson}${entry.slice(cookieEnd)}`;
}

function parseRecord(entry: string): SessionRecord {
  return (JSON.parse(entry) as [number, SessionRecord])[1];
}

function userOf(record: SessionRecord): string | undefined {
  const user = record[META_KEY]?.user;
  return typeof user === "string" ? user : undefined;
}

/**
 * Runs a store operation and reports it both ways: a Promise, and the callback when one is
 * given (on the next tick, as express-session's MemoryStore defers its callbacks).
 */
/**
 * Runs one of the contract's calls: its answer is returned (or its failure thrown) at once, and
 * given to `callback` too when the caller is written for express-session.
 */
function answer<T>(operation: string, callback: StoreCallback<T> | undefined, run: () => T): T {
  if (callback === undefined) {
    try {
      return run();
    } catch (cause) {
      throw storeError("MemoryStore", operation, cause);
    }
  }
  let value: T;
  try {
    value = run();
  } catch (cause) {
    nextTick(callback, storeError("MemoryStore", operation, cause));
    return undefined as T;
  }
  nextTick(callback, null, value);
  return value;
}

function settle<T>(
  operation: string,
  callback: StoreCallback<T> | undefined,
  run: () => T,
): Promise<T> {
  let value: T;
  try {
    value = run();
  } catch (cause) {
    const error = storeError("MemoryStore", operation, cause);
    if (callback === undefined) return Promise.reject(error);
    nextTick(callback, error);
    return Promise.resolve(undefined as T);
  }
  if (callback !== undefined) nextTick(callback, null, value);
  return Promise.resolve(value);
}
