/**
 * Opens the store a `--store` URL names, with the client library it needs, and closes it again.
 * Client libraries are optional peer dependencies: each is loaded only when its URL is used.
 * Nothing printed from here ever holds the URL's password: store labels keep host, port and
 * database only.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { isUnavailableError } from "../store/record.js";
import type { Store } from "../store/types.js";
import { CliError, EXIT, usageError } from "./errors.js";

/** Which kind of store a URL names. */
export type StoreKind = "sqlite" | "redis" | "postgres";

/** What `--store` and its companion options say. */
export interface StoreTarget {
  kind: StoreKind;
  /** The URL as given (with its password, if any): used to connect, never printed. */
  url: string;
  /** Where the target came from, for error messages: `--store`, or an environment variable. */
  source: string;
}

/** The options that shape how a store is opened. */
export interface StoreOpenOptions {
  /** Redis key prefix. @default "sess:" */
  prefix?: string | undefined;
  /** SQL table name. @default "tessera_sessions" */
  table?: string | undefined;
  /** PostgreSQL schema. @default the connection's search_path */
  schema?: string | undefined;
  /** How long connecting, and each command, may take. @default 5000 */
  timeoutMs?: number | undefined;
}

/** An open store, ready for one command, and how to let it go. */
export interface OpenStore {
  store: Store;
  kind: StoreKind;
  /** Where the store is, without credentials: `redis://127.0.0.1:6379/5`. */
  label: string;
  /** True when `length()` is one cheap query (SQL), false when it is a full scan (Redis). */
  cheapLength: boolean;
  close(): Promise<void>;
}

const SCHEMES =
  "use sqlite:<path>, redis://host:port[/db], rediss://…, or postgres://user@host:port/database.";

/** Where the demo app keeps its SQLite file when `DATA_DIR` is not set, from the project root. */
export const DEMO_DATA_DIR = join("examples", "demo", "data");

/**
 * Which store to use: `--store` first, then the demo app's environment, `REDIS_URL`, then
 * `DATABASE_URL`, then the SQLite file `$DATA_DIR/sessions.db` (`DATA_DIR` defaults to the
 * demo's `examples/demo/data`).
 */
export function resolveTarget(
  flag: string | undefined,
  env: Readonly<Record<string, string | undefined>>,
): StoreTarget {
  if (flag !== undefined) return parseTarget(flag, "--store");
  if (env.REDIS_URL) return parseTarget(env.REDIS_URL, "REDIS_URL");
  if (env.DATABASE_URL) return parseTarget(env.DATABASE_URL, "DATABASE_URL");
  return {
    kind: "sqlite",
    url: `sqlite:${join(env.DATA_DIR || DEMO_DATA_DIR, "sessions.db")}`,
    source: "DATA_DIR",
  };
}

/** Reads a store URL; a URL that names no store Tessera knows is a usage error (exit code 2). */
export function parseTarget(url: string, source: string): StoreTarget {
  const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(url)?.[1]?.toLowerCase();
  if (scheme === "sqlite" || scheme === "file") {
    if (sqlitePath(url) === "")
      throw usageError(`the ${source} URL names no SQLite file: ${SCHEMES}`);
    return { kind: "sqlite", url, source };
  }
  if (
    scheme === "redis" ||
    scheme === "rediss" ||
    scheme === "postgres" ||
    scheme === "postgresql"
  ) {
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      throw usageError(`the ${source} URL is not a valid ${scheme}:// URL: ${SCHEMES}`);
    }
    if (parsed.hostname === "") throw usageError(`the ${source} URL has no host: ${SCHEMES}`);
    if (scheme.startsWith("redis")) {
      const db = parsed.pathname.replace(/^\//, "");
      if (db !== "" && !/^\d+$/.test(db)) {
        throw usageError(`the ${source} URL's database must be a number (redis://host:6379/5).`);
      }
      return { kind: "redis", url, source };
    }
    return { kind: "postgres", url, source };
  }
  // The URL itself is not repeated: it may hold a password.
  const shown = scheme === undefined ? "it has no scheme" : `"${scheme}:" is not a store`;
  throw usageError(`cannot use the ${source} URL (${shown}): ${SCHEMES}`);
}

/** The file a `sqlite:` URL names: `sqlite:./a.db`, `sqlite:/abs/a.db`, `sqlite:///abs/a.db`. */
export function sqlitePath(url: string): string {
  let path = url.slice(url.indexOf(":") + 1);
  // `sqlite:///abs` and `file:///abs` are the URL forms of `/abs`; `sqlite://rel` is `rel`.
  if (path.startsWith("//")) path = path.slice(2);
  return decodeURIComponent(path.split("?")[0] ?? "");
}

/** `redis://user:secret@host:6379/5` → `redis://host:6379/5`. */
export function labelOf(target: StoreTarget): string {
  if (target.kind === "sqlite") return `sqlite:${sqlitePath(target.url)}`;
  const url = new URL(target.url);
  return `${url.protocol}//${url.host}${url.pathname === "/" ? "" : url.pathname}`;
}

/** Opens the store of a target, failing with one clear line when it cannot. */
export async function openStore(
  target: StoreTarget,
  options: StoreOpenOptions,
): Promise<OpenStore> {
  const timeoutMs = options.timeoutMs ?? 5000;
  checkOptions(target.kind, options);
  if (target.kind === "sqlite") return openSqlite(target, options);
  if (target.kind === "redis") return openRedis(target, options, timeoutMs);
  return openPostgres(target, options, timeoutMs);
}

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Options that do not apply to the store, or that no store would accept, are usage errors. */
function checkOptions(kind: StoreKind, options: StoreOpenOptions): void {
  if (kind !== "redis" && options.prefix !== undefined) {
    throw usageError("--prefix is for Redis stores; SQL stores take --table.");
  }
  if (kind === "redis" && (options.table !== undefined || options.schema !== undefined)) {
    throw usageError("--table and --schema are for SQL stores; Redis stores take --prefix.");
  }
  if (kind === "sqlite" && options.schema !== undefined) {
    throw usageError("--schema is for PostgreSQL stores.");
  }
  if (options.prefix === "") throw usageError("--prefix cannot be empty.");
  for (const [flag, value] of [
    ["--table", options.table],
    ["--schema", options.schema],
  ] as const) {
    if (value !== undefined && !IDENTIFIER.test(value)) {
      throw usageError(`${flag} must be letters, digits and _, not starting with a digit.`);
    }
  }
}

/** Loads a client library, or says which package to install. */
async function load<T>(name: string, importer: () => Promise<T>): Promise<T> {
  try {
    return await importer();
  } catch (cause) {
    throw new CliError(
      `this store needs the ${name} package, which is not installed: run \`npm install ${name}\`.`,
      EXIT.failure,
      { cause },
    );
  }
}

function unreachable(what: string, label: string, cause: unknown): CliError {
  const why = reasonOf(cause);
  return new CliError(
    `cannot reach ${what} at ${label}${why}: check that the server is running and that --store (or the environment variable) is right.`,
    EXIT.failure,
    { cause },
  );
}

/** A short reason from a connection error's code, never from its message (it may quote data). */
function reasonOf(cause: unknown): string {
  const code = (cause as { code?: unknown } | null)?.code;
  const reasons: Readonly<Record<string, string>> = {
    ECONNREFUSED: "connection refused",
    ENOTFOUND: "host not found",
    EAI_AGAIN: "host not found",
    ETIMEDOUT: "timed out",
    EHOSTUNREACH: "host unreachable",
    ENETUNREACH: "network unreachable",
    ECONNRESET: "connection reset",
  };
  const reason = typeof code === "string" ? reasons[code] : undefined;
  return reason === undefined ? "" : ` (${reason})`;
}

/** Races a promise against a deadline, so a silent server cannot hang the command. */
function within<T>(promise: Promise<T>, timeoutMs: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(Object.assign(new Error("timed out"), { code: "ETIMEDOUT" })),
      timeoutMs,
    );
  });
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer));
}

async function openSqlite(target: StoreTarget, options: StoreOpenOptions): Promise<OpenStore> {
  const path = sqlitePath(target.url);
  const label = `sqlite:${path}`;
  // Opening a missing file would create an empty database: a typo must not look like "no
  // sessions".
  if (!existsSync(path)) {
    const hint =
      target.source === "DATA_DIR"
        ? "pass --store, or set DATA_DIR (or REDIS_URL, DATABASE_URL) as the app has it"
        : "check the path in --store";
    throw new CliError(`no SQLite database at ${path}: ${hint}.`, EXIT.failure);
  }
  const { default: Database } = await load("better-sqlite3", () => import("better-sqlite3"));
  const { SqliteStore } = await import("../stores/sqlite.js");
  const table = options.table ?? "tessera_sessions";
  let db: InstanceType<typeof Database>;
  try {
    db = new Database(path, { fileMustExist: true, timeout: options.timeoutMs ?? 5000 });
  } catch (cause) {
    throw new CliError(
      `cannot open the SQLite database at ${path}: check that it is a SQLite file and that you may read it.`,
      EXIT.failure,
      { cause },
    );
  }
  try {
    // The store would create a missing table: for a command that reads, that would hide a
    // wrong --table behind "no sessions".
    const found = db
      .prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?")
      .pluck()
      .get(table);
    if (found === undefined) {
      throw new CliError(
        `the SQLite database at ${path} has no table ${table}: pass --table with the app's tableName.`,
        EXIT.failure,
      );
    }
    const store = new SqliteStore({
      database: db,
      tableName: table,
      pruneIntervalMs: 0,
      pageSize: 5000,
    });
    return {
      store,
      kind: "sqlite",
      label,
      cheapLength: true,
      async close() {
        await store.close();
        db.close();
      },
    };
  } catch (error) {
    db.close();
    if (error instanceof CliError) throw error;
    throw new CliError(
      `cannot use the SQLite database at ${path}: check that it is the app's session database.`,
      EXIT.failure,
      { cause: error },
    );
  }
}

async function openRedis(
  target: StoreTarget,
  options: StoreOpenOptions,
  timeoutMs: number,
): Promise<OpenStore> {
  const label = labelOf(target);
  const { createClient } = await load("redis", () => import("redis"));
  const { RedisStore } = await import("../stores/redis.js");
  const client = createClient({
    url: target.url,
    // One attempt: a CLI reports an unreachable server at once rather than retrying forever.
    socket: { connectTimeout: timeoutMs, reconnectStrategy: false },
  });
  // Without a listener node-redis turns a connection error into an uncaught exception; the
  // error reaches us through connect() and the store's commands instead.
  client.on("error", () => {});
  try {
    await within(client.connect(), timeoutMs + 1000);
  } catch (cause) {
    client.destroy();
    const message = cause instanceof Error ? cause.message : "";
    if (/WRONGPASS|NOAUTH|NOPERM/.test(message)) {
      throw new CliError(
        `Redis at ${label} refused the credentials: check the user and password in the URL.`,
        EXIT.failure,
        { cause },
      );
    }
    throw unreachable("Redis", label, cause);
  }
  const store = new RedisStore({
    client,
    ...(options.prefix === undefined ? {} : { prefix: options.prefix }),
    commandTimeoutMs: timeoutMs,
    // Bigger SCAN steps: the CLI walks whole stores, and a round trip per 100 keys is slow.
    scanCount: 1000,
  });
  return {
    store,
    kind: "redis",
    label,
    cheapLength: false,
    async close() {
      await store.close();
      if (client.isOpen) await client.close();
    },
  };
}

async function openPostgres(
  target: StoreTarget,
  options: StoreOpenOptions,
  timeoutMs: number,
): Promise<OpenStore> {
  const label = labelOf(target);
  const { default: pg } = await load("pg", () => import("pg"));
  const { PostgresStore } = await import("../stores/postgres.js");
  const pool = new pg.Pool({
    connectionString: target.url,
    max: 2,
    connectionTimeoutMillis: timeoutMs,
  });
  // A connection lost while idle is reported on the pool; the next query fails clearly anyway.
  pool.on("error", () => {});
  const table = options.table ?? "tessera_sessions";
  const qualified = options.schema === undefined ? `"${table}"` : `"${options.schema}"."${table}"`;
  try {
    let found: unknown;
    try {
      const result = await within(
        pool.query("SELECT to_regclass($1) AS t", [qualified]),
        timeoutMs + 1000,
      );
      found = result.rows[0]?.t;
    } catch (cause) {
      throw postgresError(cause, label);
    }
    if (found === null || found === undefined) {
      throw new CliError(
        `PostgreSQL at ${label} has no table ${options.schema === undefined ? table : `${options.schema}.${table}`}: pass --table (and --schema) as the app's PostgresStore has them.`,
        EXIT.failure,
      );
    }
    const store = new PostgresStore({
      pool,
      tableName: table,
      ...(options.schema === undefined ? {} : { schemaName: options.schema }),
      pruneIntervalMs: 0,
      queryTimeoutMs: timeoutMs,
      pageSize: 5000,
    });
    return {
      store,
      kind: "postgres",
      label,
      cheapLength: true,
      async close() {
        await store.close();
        await pool.end();
      },
    };
  } catch (error) {
    await pool.end().catch(() => {});
    throw error;
  }
}

function postgresError(cause: unknown, label: string): CliError {
  const code = (cause as { code?: unknown } | null)?.code;
  if (code === "28P01" || code === "28000") {
    return new CliError(
      `PostgreSQL at ${label} refused the credentials: check the user and password in the URL.`,
      EXIT.failure,
      { cause },
    );
  }
  if (code === "3D000") {
    return new CliError(
      `PostgreSQL at ${label} has no such database: check the database name in the URL.`,
      EXIT.failure,
      { cause },
    );
  }
  if (
    isUnavailableError(cause) ||
    (cause instanceof Error && /timeout|terminated/i.test(cause.message))
  ) {
    return unreachable("PostgreSQL", label, cause);
  }
  return new CliError(
    `PostgreSQL at ${label} failed to answer: check --store and the server's log.`,
    EXIT.failure,
    { cause },
  );
}
