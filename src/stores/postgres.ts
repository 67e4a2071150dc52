/**
 * PostgresStore: sessions in one PostgreSQL table, for apps that already run PostgreSQL.
 *
 * It borrows connections from the `pg` Pool the app made and never ends it. Expiry is an
 * indexed `expires_at` column compared with the server's own clock (`now()`), so the clocks of
 * the app servers never matter; expired rows are invisible at once and deleted by `prune()`.
 * Every operation is one statement, so a write is either all there or not there at all.
 */
import { createHash } from "node:crypto";
import {
  assertTtl,
  type DestroyForUserOptions,
  META_KEY,
  patchUser,
  recordUser,
  type SessionPatch,
  type SessionRecord,
  type Store,
  storeError,
  storeJson,
  TesseraError,
} from "../store/index.js";

/** A query as the store sends it: `pg`'s query config object. */
export interface PostgresQueryConfig {
  text: string;
  values?: unknown[];
  /** Set when the store uses named prepared statements (see `preparedStatements`). */
  name?: string;
}

/** The part of a `pg` query result the store reads. */
export interface PostgresQueryResult {
  // biome-ignore lint/suspicious/noExplicitAny: pg types its rows as `any`; the store checks what it reads.
  rows: any[];
  rowCount: number | null;
}

/** A connection checked out of the pool: what `pg`'s `PoolClient` offers and the store uses. */
export interface PostgresPoolClient {
  query(config: PostgresQueryConfig): Promise<PostgresQueryResult>;
  /** Hands the connection back; with an error, the pool closes it instead of reusing it. */
  release(error?: Error | boolean): void;
  on(event: "error", listener: (error: Error) => void): unknown;
  removeListener(event: "error", listener: (error: Error) => void): unknown;
}

/**
 * What the store needs of the app's pool: `connect()`, as `pg.Pool` has it. Any pool shaped
 * like `pg`'s works.
 */
export interface PostgresPool {
  connect(): Promise<PostgresPoolClient>;
}

/** Options of {@link PostgresStore}. */
export interface PostgresStoreOptions {
  /**
   * The app's `pg` Pool. Give it `connectionTimeoutMillis` (so waiting for a connection has an
   * end) and an `error` listener (so a database restart does not crash the process). The store
   * never ends it.
   */
  pool: PostgresPool;
  /**
   * The table's name: letters, digits and `_`, starting with a letter or `_`, at most 51
   * characters (its index names add 12). It is quoted, so it is case-sensitive.
   * @default "tessera_sessions"
   */
  tableName?: string;
  /**
   * The table's schema, with the same rules as `tableName`. Unset, PostgreSQL looks the table
   * up on the connection's `search_path` (usually `public`).
   * @default undefined
   */
  schemaName?: string;
  /**
   * Creates the table and its indexes on first use when they are missing. Safe when several
   * app instances start at once. Leave it off when the app's migrations create the table
   * (docs/stores-postgres.md has the exact SQL) or its database user may not run DDL.
   * @default false
   */
  createTable?: boolean;
  /**
   * The longest one operation may take, waiting for a connection included; past it the call
   * fails with `ERR_STORE_UNAVAILABLE` and the connection it held is closed. `0` turns the
   * store's own limit off (the pool's `connectionTimeoutMillis` still applies).
   * @default 5000
   */
  queryTimeoutMs?: number;
  /**
   * How often the store deletes expired rows in the background (the timer never keeps the
   * process alive). `0` turns it off: call `prune()` from a cron job instead.
   * @default 900000 (15 minutes)
   */
  pruneIntervalMs?: number;
  /**
   * Called when a background prune fails. The error message carries no session data.
   * @default prints a warning with `console.warn`
   */
  onPruneError?: (error: TesseraError) => void;
  /**
   * How many rows `ids()` and `entries()` read per query while streaming.
   * @default 1000
   */
  pageSize?: number;
  /**
   * Sends each statement as a named prepared statement, so PostgreSQL parses it once per
   * connection. Turn it off behind a pooler that cannot keep prepared statements (PgBouncer in
   * transaction mode before 1.21).
   * @default true
   */
  preparedStatements?: boolean;
}

const STORE = "PostgresStore";
// NAMEDATALEN - 1: PostgreSQL silently truncates longer identifiers, which could make two
// tables share index names.
const MAX_IDENTIFIER_BYTES = 63;
const EXPIRES_INDEX_SUFFIX = "_expires_idx";
const USER_INDEX_SUFFIX = "_user_idx";
const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;
// Rows deleted per statement by prune(): each DELETE stays short, well inside queryTimeoutMs,
// and never holds locks on a whole backlog of expired rows.
const PRUNE_BATCH = 5000;
// Key of the advisory lock that serialises table creation. Two `CREATE TABLE IF NOT EXISTS`
// racing each other can still fail on pg_type's unique index; the lock makes them take turns.
const CREATE_LOCK_KEY = 0x7465_7373_6572_61n.toString(); // "tessera" in ASCII

type SqlName =
  | "get"
  | "set"
  | "destroy"
  | "touch"
  | "patch"
  | "idsFirst"
  | "idsNext"
  | "entriesFirst"
  | "entriesNext"
  | "length"
  | "clear"
  | "idsForUser"
  | "destroyForUser"
  | "prune";

/** A live row: it has not expired by the database server's clock. */
const LIVE = "expires_at > now()";
const EXPIRES_IN = "now() + $3::float8 * interval '1 millisecond'";

function buildSql(table: string): Record<SqlName, string> {
  return {
    get: `SELECT data::text AS data FROM ${table} WHERE id = $1 AND ${LIVE}`,
    set: `INSERT INTO ${table} (id, data, expires_at, user_key) VALUES ($1, $2::jsonb, ${EXPIRES_IN}, $4)
      ON CONFLICT (id) DO UPDATE SET data = EXCLUDED.data, expires_at = EXCLUDED.expires_at, user_key = EXCLUDED.user_key`,
    destroy: `DELETE FROM ${table} WHERE id = $1`,
    // `||` replaces only the top-level keys it is given (cookie, __tessera) and keeps the rest.
    touch: `UPDATE ${table} SET data = data || $2::jsonb, expires_at = ${EXPIRES_IN},
      user_key = CASE WHEN $4::boolean THEN $5::text ELSE user_key END
      WHERE id = $1 AND ${LIVE}`,
    // One statement: the row lock makes parallel patches apply one after the other, each to
    // the row the previous one left, so changes to different keys all survive. An UPDATE never
    // inserts, so a destroyed or expired session stays gone.
    patch: `UPDATE ${table} SET data = (data - $2::text[]) || $5::jsonb, expires_at = ${EXPIRES_IN},
      user_key = CASE WHEN $4::boolean THEN $6::text ELSE user_key END
      WHERE id = $1 AND ${LIVE}`,
    // Keyset pagination on the primary key: each page is an index range scan, whatever the
    // table's size, and rows written or deleted meanwhile never shift the pages.
    idsFirst: `SELECT id FROM ${table} WHERE ${LIVE} ORDER BY id LIMIT $1`,
    idsNext: `SELECT id FROM ${table} WHERE ${LIVE} AND id > $2 ORDER BY id LIMIT $1`,
    entriesFirst: `SELECT id, data::text AS data FROM ${table} WHERE ${LIVE} ORDER BY id LIMIT $1`,
    entriesNext: `SELECT id, data::text AS data FROM ${table} WHERE ${LIVE} AND id > $2 ORDER BY id LIMIT $1`,
    length: `SELECT count(*) AS n FROM ${table} WHERE ${LIVE}`,
    // DELETE rather than TRUNCATE: no ACCESS EXCLUSIVE lock stalling live requests, and no
    // TRUNCATE privilege needed.
    clear: `DELETE FROM ${table}`,
    idsForUser: `SELECT id FROM ${table} WHERE user_key = $1 AND ${LIVE}`,
    // Expired rows of the user go too, but only live ones count as sessions removed.
    destroyForUser: `WITH gone AS (
        DELETE FROM ${table} WHERE user_key = $1 AND id IS DISTINCT FROM $2 RETURNING expires_at
      ) SELECT count(*) FILTER (WHERE expires_at > now()) AS n FROM gone`,
    // SKIP LOCKED lets several app instances prune at once without waiting on each other; the
    // outer check re-reads expires_at, so a row refreshed after the inner SELECT is kept.
    prune: `DELETE FROM ${table} WHERE id IN (
        SELECT id FROM ${table} WHERE expires_at <= now() LIMIT $1 FOR UPDATE SKIP LOCKED
      ) AND expires_at <= now()`,
  };
}

function checkIdentifier(option: string, value: string, maxLength: number): string {
  if (typeof value !== "string" || !IDENTIFIER.test(value) || value.length > maxLength) {
    throw new TesseraError(
      "ERR_OPTION",
      `PostgresStore option ${option} must be letters, digits and _ (not starting with a digit), at most ${maxLength} characters.`,
    );
  }
  return value;
}

function quote(identifier: string): string {
  // checkIdentifier allows no double quote, so wrapping is enough.
  return `"${identifier}"`;
}

// setTimeout and setInterval fire at once for delays above 2^31 - 1 ms (about 24.8 days).
const MAX_TIMER_MS = 2 ** 31 - 1;

function checkMs(option: string, value: number): number {
  if (!Number.isFinite(value) || value < 0 || value > MAX_TIMER_MS) {
    throw new TesseraError(
      "ERR_OPTION",
      `PostgresStore option ${option} must be a number of milliseconds from 0 to ${MAX_TIMER_MS}.`,
    );
  }
  return value;
}

function parseRecord(text: unknown): SessionRecord {
  return JSON.parse(String(text)) as SessionRecord;
}

/**
 * The SQL that creates the table and its indexes: what `createTable: true` runs, and what the
 * docs show for migrations.
 */
function createTableSql(table: string, tableName: string): string[] {
  // An index lives in its table's schema, so its name is never schema-qualified.
  return [
    `CREATE TABLE IF NOT EXISTS ${table} (
      id text PRIMARY KEY,
      data jsonb NOT NULL,
      expires_at timestamptz NOT NULL,
      user_key text
    )`,
    `CREATE INDEX IF NOT EXISTS ${quote(tableName + EXPIRES_INDEX_SUFFIX)} ON ${table} (expires_at)`,
    // Partial: most sessions belong to no user, and `user_key = $1` implies NOT NULL, so the
    // planner uses it for idsForUser/destroyForUser.
    `CREATE INDEX IF NOT EXISTS ${quote(tableName + USER_INDEX_SUFFIX)} ON ${table} (user_key) WHERE user_key IS NOT NULL`,
  ];
}

/**
 * A session store on PostgreSQL, using the `pg` Pool the app already has.
 *
 * @example
 * import pg from "pg";
 * import { PostgresStore } from "tessera/postgres";
 *
 * const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL, connectionTimeoutMillis: 5000 });
 * pool.on("error", (err) => console.error("idle PostgreSQL client failed", err));
 * const store = new PostgresStore({ pool, createTable: true });
 */
export class PostgresStore implements Store {
  readonly #pool: PostgresPool;
  readonly #sql: Record<SqlName, string>;
  readonly #names: Record<SqlName, string> | undefined;
  readonly #createSql: readonly string[];
  readonly #timeoutMs: number;
  readonly #pageSize: number;
  readonly #onPruneError: (error: TesseraError) => void;
  /** Pending table creation; `undefined` once done (or when not asked for). */
  #tableReady: Promise<void> | undefined;
  #wantsTable: boolean;
  #pruneTimer: NodeJS.Timeout | undefined;
  /** The background prune under way, if any. */
  #pruning: Promise<void> | undefined;
  #closed = false;

  /** Every query has its own deadline (`queryTimeoutMs`): the engine adds none, unless that is 0. */
  get timeoutMs(): number | undefined {
    return this.#timeoutMs > 0 ? this.#timeoutMs : undefined;
  }

  constructor(options: PostgresStoreOptions) {
    if (typeof options?.pool?.connect !== "function") {
      throw new TesseraError(
        "ERR_OPTION",
        "PostgresStore needs the app's pg Pool: new PostgresStore({ pool: new pg.Pool(...) }).",
      );
    }
    this.#pool = options.pool;
    const tableName = checkIdentifier(
      "tableName",
      options.tableName ?? "tessera_sessions",
      MAX_IDENTIFIER_BYTES - EXPIRES_INDEX_SUFFIX.length,
    );
    const schemaName =
      options.schemaName === undefined
        ? undefined
        : checkIdentifier("schemaName", options.schemaName, MAX_IDENTIFIER_BYTES);
    const table =
      schemaName === undefined ? quote(tableName) : `${quote(schemaName)}.${quote(tableName)}`;
    this.#sql = buildSql(table);
    this.#createSql = createTableSql(table, tableName);
    this.#timeoutMs = checkMs("queryTimeoutMs", options.queryTimeoutMs ?? 5000);
    const pageSize = options.pageSize ?? 1000;
    if (!Number.isInteger(pageSize) || pageSize < 1) {
      throw new TesseraError(
        "ERR_OPTION",
        "PostgresStore option pageSize must be a positive integer.",
      );
    }
    this.#pageSize = pageSize;
    this.#onPruneError = options.onPruneError ?? warnPruneError;

    // Statement names are per connection and shared by every store on the pool, so they carry
    // a digest of the table: two stores on two tables never collide, and stay under 63 bytes.
    if (options.preparedStatements ?? true) {
      const digest = createHash("sha256").update(table).digest("hex").slice(0, 16);
      const names = {} as Record<SqlName, string>;
      for (const key of Object.keys(this.#sql) as SqlName[])
        names[key] = `tessera_${digest}_${key}`;
      this.#names = names;
    }

    this.#wantsTable = options.createTable ?? false;
    const pruneIntervalMs = checkMs("pruneIntervalMs", options.pruneIntervalMs ?? 900_000);
    if (pruneIntervalMs > 0) {
      this.#pruneTimer = setInterval(() => this.#backgroundPrune(), pruneIntervalMs);
      this.#pruneTimer.unref();
    }
  }

  async get(id: string): Promise<SessionRecord | undefined> {
    const { rows } = await this.#query("get", [id]);
    const row = rows[0];
    return row === undefined ? undefined : parseRecord(row.data);
  }

  async set(id: string, record: SessionRecord, ttlMs: number): Promise<void> {
    const ttl = assertTtl(ttlMs);
    await this.#query("set", [
      id,
      storeJson(STORE, "set", record),
      ttl,
      recordUser(record) ?? null,
    ]);
  }

  async destroy(id: string): Promise<void> {
    await this.#query("destroy", [id]);
  }

  async touch(id: string, record: SessionRecord, ttlMs: number): Promise<void> {
    const ttl = assertTtl(ttlMs);
    // Only the parts that carry the new expiry and last-seen time: the data stays as it is.
    const fresh: Record<string, unknown> = {};
    if (record.cookie !== undefined) fresh.cookie = record.cookie;
    const meta = record[META_KEY];
    if (meta !== undefined) fresh[META_KEY] = meta;
    await this.#query("touch", [
      id,
      storeJson(STORE, "touch", fresh),
      ttl,
      meta !== undefined,
      meta?.user ?? null,
    ]);
  }

  async patch(id: string, patch: SessionPatch, ttlMs: number): Promise<boolean> {
    const ttl = assertTtl(ttlMs);
    // JSON drops a key whose value is undefined; removing it matches what the record becomes
    // when a whole-record store saves it.
    let unset = patch.unset as string[];
    for (const key of Object.keys(patch.set)) {
      if (patch.set[key] === undefined) unset = [...unset, key];
    }
    const user = patchUser(patch);
    const { rowCount } = await this.#query("patch", [
      id,
      unset,
      ttl,
      user !== undefined,
      storeJson(STORE, "patch", patch.set),
      user ?? null,
    ]);
    return rowCount === 1;
  }

  /**
   * Every live session id, in pages of `pageSize`: a large table is never read at once.
   *
   * @example
   * for await (const id of store.ids()) console.log(id);
   */
  async *ids(): AsyncIterable<string> {
    for await (const rows of this.#pages("ids")) {
      for (const row of rows) yield String(row.id);
    }
  }

  /**
   * Every live session with its record, in pages of `pageSize`.
   *
   * @example
   * for await (const [id, record] of store.entries()) console.log(id, record.cookie.expires);
   */
  async *entries(): AsyncIterable<[id: string, record: SessionRecord]> {
    for await (const rows of this.#pages("entries")) {
      for (const row of rows) yield [String(row.id), parseRecord(row.data)];
    }
  }

  async length(): Promise<number> {
    const { rows } = await this.#query("length", []);
    // count(*) is a bigint, which pg hands over as a string.
    return Number(rows[0]?.n ?? 0);
  }

  async clear(): Promise<void> {
    await this.#query("clear", []);
  }

  async idsForUser(user: string): Promise<string[]> {
    const { rows } = await this.#query("idsForUser", [user]);
    return rows.map((row) => String(row.id));
  }

  async destroyForUser(user: string, options: DestroyForUserOptions = {}): Promise<number> {
    const { rows } = await this.#query("destroyForUser", [user, options.except ?? null]);
    return Number(rows[0]?.n ?? 0);
  }

  /**
   * Deletes expired rows, in batches so no statement runs long, and resolves how many.
   *
   * @example
   * const removed = await store.prune();
   */
  async prune(): Promise<number> {
    return this.#prune(false);
  }

  /**
   * Stops the prune timer, and waits for a background prune under way to end (after its
   * current batch), so nothing of the store's runs afterwards. The pool is the app's: it stays
   * open.
   */
  async close(): Promise<void> {
    if (this.#pruneTimer !== undefined) clearInterval(this.#pruneTimer);
    this.#pruneTimer = undefined;
    this.#closed = true;
    await this.#pruning;
  }

  async #prune(background: boolean): Promise<number> {
    let removed = 0;
    for (;;) {
      const { rowCount } = await this.#query("prune", [PRUNE_BATCH]);
      removed += rowCount ?? 0;
      if ((rowCount ?? 0) < PRUNE_BATCH || (background && this.#closed)) return removed;
    }
  }

  #backgroundPrune(): void {
    if (this.#pruning !== undefined) return;
    this.#pruning = this.#prune(true)
      .then(
        () => {},
        (error: unknown) => this.#onPruneError(storeError(STORE, "prune", error)),
      )
      .finally(() => {
        this.#pruning = undefined;
      });
  }

  async *#pages(kind: "ids" | "entries"): AsyncGenerator<PostgresQueryResult["rows"]> {
    const first = kind === "ids" ? "idsFirst" : "entriesFirst";
    const next = kind === "ids" ? "idsNext" : "entriesNext";
    let rows = (await this.#query(first, [this.#pageSize])).rows;
    for (;;) {
      yield rows;
      const last = rows.at(-1);
      if (rows.length < this.#pageSize || last === undefined) return;
      rows = (await this.#query(next, [this.#pageSize, last.id])).rows;
    }
  }

  #query(name: SqlName, values: unknown[]): Promise<PostgresQueryResult> {
    const config: PostgresQueryConfig = { text: this.#sql[name], values };
    if (this.#names !== undefined) config.name = this.#names[name];
    const run = () => this.#withClient(name, (client) => client.query(config));
    return this.#wantsTable ? this.#ensureTable().then(run) : run();
  }

  #ensureTable(): Promise<void> {
    this.#tableReady ??= this.#withClient("createTable", async (client) => {
      await client.query({ text: "BEGIN" });
      await client.query({ text: `SELECT pg_advisory_xact_lock(${CREATE_LOCK_KEY})` });
      for (const text of this.#createSql) await client.query({ text });
      await client.query({ text: "COMMIT" });
    }).then(
      () => {
        this.#wantsTable = false;
        this.#tableReady = undefined;
      },
      (error: unknown) => {
        // Try again on the next call: the server may simply not be up yet.
        this.#tableReady = undefined;
        throw error;
      },
    );
    return this.#tableReady;
  }

  /**
   * Runs `work` on a pooled connection within `queryTimeoutMs`, waiting for the connection
   * included. Past the deadline the caller gets `ERR_STORE_UNAVAILABLE` at once; a connection
   * that arrives late goes back unused (so no statement is sent after its caller gave up), and
   * one still busy is closed rather than handed to the next caller.
   */
  #withClient<T>(operation: string, work: (client: PostgresPoolClient) => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      let settled = false;
      let client: PostgresPoolClient | undefined;
      // A connection that breaks while checked out also emits `error`; without a listener
      // that would crash the process. The failed query reports it to the caller.
      const onClientError = (): void => {};
      const timer =
        this.#timeoutMs > 0
          ? setTimeout(() => {
              settled = true;
              const error = new TesseraError(
                "ERR_STORE_UNAVAILABLE",
                `${STORE} got no answer within ${this.#timeoutMs} ms (${operation}): check that PostgreSQL is running and reachable, or raise queryTimeoutMs.`,
              );
              // The listener stays: the closed connection may still report its end.
              client?.release(error);
              reject(error);
            }, this.#timeoutMs)
          : undefined;
      const fail = (error: unknown): void => {
        clearTimeout(timer);
        reject(wrapError(operation, error));
      };
      this.#pool.connect().then(
        (connection) => {
          if (settled) {
            connection.release();
            return;
          }
          client = connection;
          connection.on("error", onClientError);
          work(connection).then(
            (value) => {
              if (settled) return;
              settled = true;
              clearTimeout(timer);
              connection.removeListener("error", onClientError);
              connection.release();
              resolve(value);
            },
            (error: unknown) => {
              if (settled) return;
              settled = true;
              connection.removeListener("error", onClientError);
              // Like pg's own pool.query: a connection that failed a query is not reused.
              connection.release(error instanceof Error ? error : true);
              fail(error);
            },
          );
        },
        (error: unknown) => {
          if (settled) return;
          settled = true;
          fail(error);
        },
      );
    });
  }
}

function wrapError(operation: string, error: unknown): TesseraError {
  const code = (error as { code?: unknown } | null)?.code;
  // 42P01 undefined_table: the likeliest mistake at first start, so the message says the fix.
  if (code === "42P01") {
    return new TesseraError(
      "ERR_STORE",
      `${STORE} found no sessions table (${operation} failed): pass createTable: true, or create it with the SQL in the PostgresStore docs.`,
      { cause: error },
    );
  }
  // 22P05 (a \u0000 in a string) and 22P02 (an unpaired UTF-16 surrogate) are the JSON that
  // jsonb refuses; the store's other parameters are all typed by the store itself.
  if (code === "22P05" || code === "22P02") {
    return new TesseraError(
      "ERR_SESSION_DATA",
      `${STORE} could not store the session (${operation}): jsonb refuses \\u0000 and unpaired surrogates in strings. Remove them from session data.`,
      { cause: error },
    );
  }
  // 57014 query_canceled (statement_timeout) and 55P03 lock_not_available (lock_timeout): the
  // server gave up in time, as the store does at queryTimeoutMs; the caller may retry.
  if (code === "57014" || code === "55P03") {
    return new TesseraError(
      "ERR_STORE_UNAVAILABLE",
      `${STORE} timed out on the server (${operation}): PostgreSQL is overloaded or a lock is held too long; retry, or raise statement_timeout.`,
      { cause: error },
    );
  }
  return storeError(STORE, operation, error);
}

function warnPruneError(error: TesseraError): void {
  console.warn(error.message);
}
