/**
 * SqliteStore: sessions in one table of a SQLite database, through better-sqlite3. The embedded
 * default: one machine, no server to run, and sessions survive restarts.
 *
 * better-sqlite3 is synchronous, so each operation is over before the next one starts in this
 * process; across processes that share the file, writes that read first (`patch`) run in
 * `BEGIN IMMEDIATE` transactions. Expiry is an indexed `expires_at` column (ms since the epoch)
 * that every read compares with the clock, so an expired session is never returned; a timer
 * deletes expired rows now and then.
 */
import { createRequire } from "node:module";
import { setImmediate as yieldToLoop } from "node:timers/promises";
import type BetterSqlite3 from "better-sqlite3";
import { isTesseraError } from "../core/errors.js";
import {
  applyPatch,
  assertTtl,
  type DestroyForUserOptions,
  META_KEY,
  recordUser,
  type SessionPatch,
  type SessionRecord,
  type Store,
  storeError,
  storeJson,
  TesseraError,
} from "../store/index.js";

/** A better-sqlite3 database, as `new Database(file)` returns it. */
export type SqliteDatabase = BetterSqlite3.Database;

/** What every {@link SqliteStore} accepts, whichever way it gets its database. */
export interface SqliteStoreCommonOptions {
  /**
   * The table's name: letters, digits and `_`, not starting with a digit. It is created with
   * its indexes when missing.
   * @default "tessera_sessions"
   */
  tableName?: string;
  /**
   * How long a write waits for another process that holds the file's write lock before it
   * fails with `ERR_STORE_UNAVAILABLE`, in ms. better-sqlite3 waits synchronously, so this
   * is also the longest the event loop can stall. With `database`, left as the app set it
   * unless given.
   * @default 5000
   */
  busyTimeoutMs?: number;
  /**
   * How often expired rows are deleted, in ms; `0` turns the timer off (call `prune()`
   * yourself). The timer never keeps the process alive. Expired rows are never returned
   * whatever this is: pruning only gives the space back.
   * @default 300_000 (5 minutes)
   */
  pruneIntervalMs?: number;
  /**
   * Called when a background prune fails. The error carries no session id or data.
   * @default prints the error's message with `console.warn`
   */
  onPruneError?: (error: TesseraError) => void;
  /**
   * How many rows `ids()` and `entries()` read per query while they stream.
   * @default 1000
   */
  pageSize?: number;
}

/** The store opens (and closes) its own database file. */
export interface SqliteStorePathOptions extends SqliteStoreCommonOptions {
  /**
   * The database file, created when missing; `":memory:"` for a database that lives and dies
   * with the store. The store turns on WAL mode with `synchronous = NORMAL`: a write that
   * resolved survives the process being killed.
   */
  path: string;
  database?: never;
}

/** The store uses a database the app already opened, and never closes it. */
export interface SqliteStoreDatabaseOptions extends SqliteStoreCommonOptions {
  /**
   * The app's better-sqlite3 database. The store leaves its settings alone: turn on WAL mode
   * yourself (`db.pragma("journal_mode = WAL")`) when several processes share the file.
   */
  database: SqliteDatabase;
  path?: never;
}

/** Options of {@link SqliteStore}: either `path` or `database`. */
export type SqliteStoreOptions = SqliteStorePathOptions | SqliteStoreDatabaseOptions;

const STORE = "SqliteStore";
const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;
// setInterval fires at once for delays above 2^31 - 1 ms (about 24.8 days).
const MAX_TIMER_MS = 2 ** 31 - 1;
// Rows deleted per statement by prune(): each DELETE holds the write lock only briefly, and the
// loop yields to other work between batches.
const PRUNE_BATCH = 1000;

type Statement = BetterSqlite3.Statement;

interface Statements {
  get: Statement;
  set: Statement;
  destroy: Statement;
  touch: Statement;
  readLive: Statement;
  writeData: Statement;
  idsFirst: Statement;
  idsNext: Statement;
  entriesFirst: Statement;
  entriesNext: Statement;
  length: Statement;
  clear: Statement;
  idsForUser: Statement;
  destroyForUser: Statement;
  prune: Statement;
}

interface EntryRow {
  id: string;
  data: string;
}

function schemaSql(tableName: string): string {
  const table = quote(tableName);
  return `
    CREATE TABLE IF NOT EXISTS ${table} (
      id TEXT PRIMARY KEY NOT NULL,
      data TEXT NOT NULL,
      expires_at INTEGER NOT NULL,
      user_key TEXT
    );
    CREATE INDEX IF NOT EXISTS ${quote(`${tableName}_expires_idx`)} ON ${table} (expires_at);
    CREATE INDEX IF NOT EXISTS ${quote(`${tableName}_user_idx`)} ON ${table} (user_key)
      WHERE user_key IS NOT NULL;`;
  // The user index is partial: most sessions belong to no user, and `user_key = ?` implies
  // NOT NULL, so SQLite's planner uses it for idsForUser and destroyForUser.
}

function prepareAll(db: SqliteDatabase, tableName: string): Statements {
  const table = quote(tableName);
  // Every read compares expires_at with the caller's clock: expired rows are invisible at once.
  const live = "expires_at > @now";
  const prepare = (sql: string) => db.prepare(sql);
  return {
    get: prepare(`SELECT data FROM ${table} WHERE id = @id AND ${live}`).pluck(),
    set: prepare(
      `INSERT INTO ${table} (id, data, expires_at, user_key) VALUES (@id, @data, @expiresAt, @user)
       ON CONFLICT (id) DO UPDATE SET
         data = excluded.data, expires_at = excluded.expires_at, user_key = excluded.user_key`,
    ),
    destroy: prepare(`DELETE FROM ${table} WHERE id = @id`),
    // json_set replaces just the two keys that carry the new expiry and last-seen time and
    // keeps every other key's text as it was; an UPDATE never inserts, so a destroyed or
    // expired session stays gone.
    touch: prepare(
      `UPDATE ${table} SET
         data = CASE
           WHEN @cookie IS NULL AND @meta IS NULL THEN data
           WHEN @meta IS NULL THEN json_set(data, '$.cookie', json(@cookie))
           WHEN @cookie IS NULL THEN json_set(data, '$.${META_KEY}', json(@meta))
           ELSE json_set(data, '$.cookie', json(@cookie), '$.${META_KEY}', json(@meta))
         END,
         expires_at = @expiresAt,
         user_key = CASE WHEN @meta IS NULL THEN user_key ELSE @user END
       WHERE id = @id AND ${live}`,
    ),
    readLive: prepare(`SELECT data FROM ${table} WHERE id = @id AND ${live}`).pluck(),
    writeData: prepare(
      `UPDATE ${table} SET data = @data, expires_at = @expiresAt, user_key = @user WHERE id = @id`,
    ),
    // Keyset pagination on the primary key: each page is one index range scan whatever the
    // table's size, and rows written or deleted meanwhile never shift the pages.
    idsFirst: prepare(`SELECT id FROM ${table} WHERE ${live} ORDER BY id LIMIT @limit`).pluck(),
    idsNext: prepare(
      `SELECT id FROM ${table} WHERE id > @after AND ${live} ORDER BY id LIMIT @limit`,
    ).pluck(),
    entriesFirst: prepare(`SELECT id, data FROM ${table} WHERE ${live} ORDER BY id LIMIT @limit`),
    entriesNext: prepare(
      `SELECT id, data FROM ${table} WHERE id > @after AND ${live} ORDER BY id LIMIT @limit`,
    ),
    length: prepare(`SELECT count(*) FROM ${table} WHERE ${live}`).pluck(),
    clear: prepare(`DELETE FROM ${table}`),
    idsForUser: prepare(`SELECT id FROM ${table} WHERE user_key = @user AND ${live}`).pluck(),
    // Only live rows count as sessions removed; the user's expired rows are left to prune().
    destroyForUser: prepare(
      `DELETE FROM ${table} WHERE user_key = @user AND id IS NOT @except AND ${live}`,
    ),
    prune: prepare(
      `DELETE FROM ${table} WHERE rowid IN (
         SELECT rowid FROM ${table} WHERE expires_at <= @now LIMIT @limit
       )`,
    ),
  };
}

function quote(identifier: string): string {
  // Identifiers are checked against IDENTIFIER, which allows no double quote.
  return `"${identifier}"`;
}

function checkMs(option: string, value: number): number {
  if (typeof value !== "number" || !Number.isFinite(value) || value < 0 || value > MAX_TIMER_MS) {
    throw new TesseraError(
      "ERR_OPTION",
      `SqliteStore option ${option} must be a number of milliseconds from 0 to ${MAX_TIMER_MS}.`,
    );
  }
  return value;
}

/**
 * Loads better-sqlite3 only when the store opens a file itself, so that an app giving its own
 * `database` (or not using this store at all) never needs the package resolved from here.
 */
function loadDriver(): typeof BetterSqlite3 {
  // Not a bare `require`: the ES module build replaces it with a stub that throws. `__filename`
  // exists only in the CommonJS build, and `import.meta` only in the ES module build.
  try {
    const load = createRequire(typeof __filename === "string" ? __filename : import.meta.url);
    return load("better-sqlite3") as typeof BetterSqlite3;
  } catch (cause) {
    throw new TesseraError(
      "ERR_OPTION",
      "SqliteStore needs the better-sqlite3 package: run `npm install better-sqlite3`, or pass your own better-sqlite3 database as `database`.",
      { cause },
    );
  }
}

function parseRecord(text: string, operation: string): SessionRecord {
  try {
    return JSON.parse(text) as SessionRecord;
  } catch (cause) {
    // Only something other than the store writes such a row. The parser's message quotes the
    // text, so it stays in `cause`, out of the message that reaches logs.
    throw new TesseraError(
      "ERR_STORE",
      `${STORE} read a row whose data is not JSON during ${operation}: something else writes to its table. Give SqliteStore a tableName of its own.`,
      { cause },
    );
  }
}

function wrapError(operation: string, error: unknown): TesseraError {
  if (isTesseraError(error)) return error;
  const code = (error as { code?: unknown } | null)?.code;
  // Extended result codes (SQLITE_BUSY_SNAPSHOT, SQLITE_LOCKED_SHAREDCACHE…) mean the same:
  // another connection holds the lock past busyTimeoutMs. The caller may retry.
  if (typeof code === "string" && /^SQLITE_(BUSY|LOCKED)/.test(code)) {
    return new TesseraError(
      "ERR_STORE_UNAVAILABLE",
      `${STORE} found the database locked by another connection (${operation} failed): retry, keep write transactions short, or raise busyTimeoutMs.`,
      { cause: error },
    );
  }
  if (code === "SQLITE_TOOBIG") {
    return new TesseraError(
      "ERR_SESSION_DATA",
      `${STORE} could not store the session (${operation}): it is larger than SQLite's size limit. Keep less in the session.`,
      { cause: error },
    );
  }
  return storeError(STORE, operation, error);
}

function warnPruneError(error: TesseraError): void {
  console.warn(error.message);
}

/**
 * A session store in a SQLite database file, through better-sqlite3.
 *
 * @example
 * import { SqliteStore } from "tessera/sqlite";
 * app.use(session({ secret, store: new SqliteStore({ path: "sessions.db" }) }));
 *
 * @example
 * // Sharing the database the app already has:
 * import Database from "better-sqlite3";
 * const db = new Database("app.db");
 * db.pragma("journal_mode = WAL");
 * const store = new SqliteStore({ database: db, tableName: "web_sessions" });
 */
export class SqliteStore implements Store {
  readonly #db: SqliteDatabase;
  /** True when the store opened the database, and so closes it. */
  readonly #ownsDatabase: boolean;
  readonly #sql: Statements;
  readonly #pageSize: number;
  readonly #onPruneError: (error: TesseraError) => void;
  readonly #patchTransaction: (id: string, patch: SessionPatch, ttl: number) => boolean;
  #pruneTimer: NodeJS.Timeout | undefined;
  #pruning = false;
  #closed = false;
  /** Its calls run within this process and answer at once: the engine adds no deadline. */
  readonly timeoutMs = 0;

  constructor(options: SqliteStoreOptions) {
    const hasPath = typeof options?.path === "string";
    const hasDatabase = options?.database !== undefined;
    if (hasPath === hasDatabase) {
      throw new TesseraError(
        "ERR_OPTION",
        'SqliteStore needs either `path` (a file, or ":memory:") or `database` (a better-sqlite3 database the app opened), not both.',
      );
    }
    const tableName = options.tableName ?? "tessera_sessions";
    if (typeof tableName !== "string" || !IDENTIFIER.test(tableName)) {
      throw new TesseraError(
        "ERR_OPTION",
        "SqliteStore option tableName must be letters, digits and _, not starting with a digit.",
      );
    }
    const pageSize = options.pageSize ?? 1000;
    if (!Number.isInteger(pageSize) || pageSize < 1) {
      throw new TesseraError(
        "ERR_OPTION",
        "SqliteStore option pageSize must be a positive integer.",
      );
    }
    this.#pageSize = pageSize;
    const busyTimeoutMs =
      options.busyTimeoutMs === undefined
        ? undefined
        : checkMs("busyTimeoutMs", options.busyTimeoutMs);
    const pruneIntervalMs = checkMs("pruneIntervalMs", options.pruneIntervalMs ?? 300_000);
    this.#onPruneError = options.onPruneError ?? warnPruneError;

    if (hasDatabase) {
      const database = options.database as SqliteDatabase;
      if (typeof database.prepare !== "function" || database.open !== true) {
        throw new TesseraError(
          "ERR_OPTION",
          "SqliteStore option database must be an open better-sqlite3 database: new Database(file).",
        );
      }
      this.#db = database;
      this.#ownsDatabase = false;
      if (busyTimeoutMs !== undefined) this.#db.pragma(`busy_timeout = ${busyTimeoutMs}`);
    } else {
      const Database = loadDriver();
      try {
        this.#db = new Database(options.path as string, { timeout: busyTimeoutMs ?? 5000 });
      } catch (cause) {
        throw new TesseraError(
          "ERR_OPTION",
          "SqliteStore could not open its database file: check that its folder exists and the process may write there.",
          { cause },
        );
      }
      this.#ownsDatabase = true;
      try {
        // WAL: readers never block the writer, and a commit is one append to the log.
        // NORMAL: in WAL mode a commit survives the process dying (it is in the OS's hands);
        // only a power cut can lose the last commits, never corrupt the file.
        this.#db.pragma("journal_mode = WAL");
        this.#db.pragma("synchronous = NORMAL");
      } catch (cause) {
        this.#db.close();
        throw wrapError("open", cause);
      }
    }

    try {
      this.#db.exec(schemaSql(tableName));
      this.#sql = prepareAll(this.#db, tableName);
    } catch (cause) {
      if (this.#ownsDatabase) this.#db.close();
      // The likeliest cause: a table of that name that is not a sessions table.
      throw new TesseraError(
        "ERR_OPTION",
        `SqliteStore could not set up its table: if a table named ${tableName} already exists for something else, choose another tableName.`,
        { cause },
      );
    }

    // BEGIN IMMEDIATE takes the write lock before the row is read, so a patch from another
    // process cannot slip in between this read and this write and be overwritten.
    this.#patchTransaction = this.#db.transaction(
      (id: string, patch: SessionPatch, ttl: number): boolean => {
        const now = Date.now();
        const data = this.#sql.readLive.get({ id, now }) as string | undefined;
        if (data === undefined) return false;
        const record = applyPatch(parseRecord(data, "patch"), patch);
        this.#sql.writeData.run({
          id,
          data: storeJson(STORE, "patch", record),
          expiresAt: now + ttl,
          user: recordUser(record) ?? null,
        });
        return true;
      },
    ).immediate;

    if (pruneIntervalMs > 0) {
      this.#pruneTimer = setInterval(() => this.#backgroundPrune(), pruneIntervalMs);
      this.#pruneTimer.unref();
    }
  }

  get(id: string): SessionRecord | undefined {
    const data = this.#run("get", () => this.#sql.get.get({ id, now: Date.now() })) as
      | string
      | undefined;
    return data === undefined ? undefined : parseRecord(data, "get");
  }

  set(id: string, record: SessionRecord, ttlMs: number): void {
    const ttl = assertTtl(ttlMs);
    const data = storeJson(STORE, "set", record);
    this.#run("set", () =>
      this.#sql.set.run({
        id,
        data,
        expiresAt: Date.now() + ttl,
        user: recordUser(record) ?? null,
      }),
    );
  }

  destroy(id: string): void {
    this.#run("destroy", () => this.#sql.destroy.run({ id }));
  }

  /**
   * Moves the expiry and writes the record's `cookie` and `__tessera` (the new expiry and
   * last-seen time); every other key stays as stored. Does nothing for a missing session.
   */
  touch(id: string, record: SessionRecord, ttlMs: number): void {
    const ttl = assertTtl(ttlMs);
    const meta = record[META_KEY];
    const cookie = record.cookie === undefined ? null : storeJson(STORE, "touch", record.cookie);
    const metaJson = meta === undefined ? null : storeJson(STORE, "touch", meta);
    this.#run("touch", () => {
      const now = Date.now();
      this.#sql.touch.run({
        id,
        now,
        cookie,
        meta: metaJson,
        expiresAt: now + ttl,
        user: meta?.user ?? null,
      });
    });
  }

  patch(id: string, patch: SessionPatch, ttlMs: number): boolean {
    const ttl = assertTtl(ttlMs);
    return this.#run("patch", () => this.#patchTransaction(id, patch, ttl));
  }

  /**
   * Every live session id, read in pages of `pageSize`: a large table is never loaded at once,
   * and no statement stays open between pages, so breaking out of the loop leaves nothing
   * behind.
   *
   * @example
   * for await (const id of store.ids()) console.log(id);
   */
  async *ids(): AsyncGenerator<string, void, undefined> {
    let after: string | undefined;
    for (;;) {
      const page = this.#page("ids", after) as string[];
      for (const id of page) yield id;
      if (page.length < this.#pageSize) return;
      after = page.at(-1);
    }
  }

  /**
   * Every live session with its record, in pages of `pageSize`.
   *
   * @example
   * for await (const [id, record] of store.entries()) console.log(id, record.cookie.expires);
   */
  async *entries(): AsyncGenerator<[id: string, record: SessionRecord], void, undefined> {
    let after: string | undefined;
    for (;;) {
      const page = this.#page("entries", after) as EntryRow[];
      for (const row of page) yield [row.id, parseRecord(row.data, "entries")];
      if (page.length < this.#pageSize) return;
      after = page.at(-1)?.id;
    }
  }

  async length(): Promise<number> {
    return this.#run("length", () => this.#sql.length.get({ now: Date.now() })) as number;
  }

  async clear(): Promise<void> {
    this.#run("clear", () => this.#sql.clear.run());
  }

  async idsForUser(user: string): Promise<string[]> {
    return this.#run("idsForUser", () =>
      this.#sql.idsForUser.all({ user, now: Date.now() }),
    ) as string[];
  }

  async destroyForUser(user: string, options: DestroyForUserOptions = {}): Promise<number> {
    const { changes } = this.#run("destroyForUser", () =>
      this.#sql.destroyForUser.run({ user, except: options.except ?? null, now: Date.now() }),
    );
    return changes;
  }

  /**
   * Deletes expired rows, a batch at a time so other work runs in between, and resolves how
   * many.
   *
   * @example
   * const removed = await store.prune();
   */
  async prune(): Promise<number> {
    let removed = 0;
    for (;;) {
      const now = Date.now();
      const { changes } = this.#run("prune", () =>
        this.#sql.prune.run({ now, limit: PRUNE_BATCH }),
      );
      removed += changes;
      if (changes < PRUNE_BATCH) return removed;
      await yieldToLoop();
      // Closed between two batches: stop here rather than fail on the closed database.
      if (this.#closed) return removed;
    }
  }

  /**
   * Stops the prune timer and closes the database the store opened (a database given as
   * `database` stays open: it is the app's). Later calls fail with `ERR_STORE`.
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#pruneTimer);
    this.#pruneTimer = undefined;
    if (this.#ownsDatabase) {
      try {
        this.#db.close();
      } catch (error) {
        throw wrapError("close", error);
      }
    }
  }

  #page(kind: "ids" | "entries", after: string | undefined): unknown[] {
    return this.#run(kind, () => {
      const now = Date.now();
      const limit = this.#pageSize;
      if (kind === "ids") {
        return after === undefined
          ? this.#sql.idsFirst.all({ now, limit })
          : this.#sql.idsNext.all({ now, limit, after });
      }
      return after === undefined
        ? this.#sql.entriesFirst.all({ now, limit })
        : this.#sql.entriesNext.all({ now, limit, after });
    });
  }

  /** Runs one synchronous database call, turning its failure into a TesseraError. */
  #run<T>(operation: string, work: () => T): T {
    if (this.#closed) {
      throw new TesseraError(
        "ERR_STORE",
        `${STORE} was closed (${operation} failed): make a new store, or close it only when the app stops.`,
      );
    }
    try {
      return work();
    } catch (error) {
      throw wrapError(operation, error);
    }
  }

  #backgroundPrune(): void {
    if (this.#pruning || this.#closed) return;
    this.#pruning = true;
    this.prune()
      .catch((error: unknown) => this.#onPruneError(wrapError("prune", error)))
      .finally(() => {
        this.#pruning = false;
      });
  }
}
