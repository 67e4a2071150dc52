import { randomBytes } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { isAbsolute, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import type { LoginThrottleOptions } from "./login-throttle.js";
import { makePrivateDir, tightenFile } from "./private-files.js";

/** Everything the demo needs to start, read once from the environment by {@link loadConfig}. */
export interface DemoConfig {
  /**
   * Where the demo keeps its SQLite files and generated secret, all mode 0600; created mode 0700
   * when missing. @default "examples/demo/data"
   */
  dataDir: string;
  /** The secret (or secrets, newest first) that signs the session cookie. */
  secret: string | readonly string[];
  /** Use Redis for sessions (node-redis). @default undefined */
  redisUrl?: string | undefined;
  /** Use PostgreSQL for sessions, when `redisUrl` is not set. @default undefined */
  databaseUrl?: string | undefined;
  /**
   * Names the demo's sessions in a shared server: the Redis key prefix is `<namespace>:sess:`
   * and the PostgreSQL table `<namespace>_sessions`. Letters, digits and `_`.
   * @default "tessera_demo"
   */
  storeNamespace?: string | undefined;
  /**
   * Express's "trust proxy" setting, only when the demo runs behind a proxy that sets
   * `X-Forwarded-*`: trusting them otherwise lets any client pick its own IP and scheme.
   * @default undefined (not set)
   */
  trustProxy?: boolean | number | string | undefined;
  /**
   * The login throttle's limits and clock; not read from the environment (tests shorten them).
   * @default the limits in login-throttle.ts: 5 failures, 1 to 15 minutes, 50 and 100 an hour
   */
  loginThrottle?: LoginThrottleOptions | undefined;
}

/** Where and how {@link startServer} listens, on top of {@link DemoConfig}. */
export interface ListenConfig {
  /** `0` picks a free port. @default 3000 */
  port: number;
  /** @default "127.0.0.1" */
  host: string;
}

const DEFAULT_DATA_DIR = fileURLToPath(new URL("./data", import.meta.url));
const SECRET_FILE = "session-secret";

/**
 * The signing secret: `SESSION_SECRET` when set (a comma-separated list rotates: newest first),
 * otherwise one generated on first start and kept in the data folder, readable by this user
 * only, so sessions survive a restart without anyone choosing a secret.
 */
export function resolveSecret(
  dataDir: string,
  fromEnv: string | undefined,
  warn: (message: string) => void = (message) => console.warn(message),
): string | string[] {
  if (fromEnv !== undefined && fromEnv.trim() !== "") {
    const secrets = fromEnv
      .split(",")
      .map((secret) => secret.trim())
      .filter((secret) => secret !== "");
    return secrets.length === 1 ? (secrets[0] as string) : secrets;
  }
  const path = join(dataDir, SECRET_FILE);
  makePrivateDir(dataDir);
  let created = false;
  try {
    // `wx` fails when the file exists, so two demos starting at once never overwrite each
    // other's secret (which would log out everyone signed in through the first).
    writeFileSync(path, randomBytes(32).toString("base64url"), { mode: 0o600, flag: "wx" });
    created = true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
  }
  // A secret others can read lets them forge session cookies: tighten a file someone loosened.
  tightenFile(path);
  const secret = readFileSync(path, "utf8").trim();
  warn(
    `tessera demo: SESSION_SECRET is not set, so the session cookie is signed with a secret ${
      created ? "generated now and saved" : "kept"
    } in ${path} (mode 0600). Set SESSION_SECRET to choose your own.`,
  );
  return secret;
}

function trustProxyOf(value: string | undefined): DemoConfig["trustProxy"] {
  if (value === undefined || value.trim() === "") return undefined;
  if (value === "true") return true;
  if (value === "false") return false;
  if (/^\d+$/.test(value)) return Number(value);
  // Express also takes "loopback", an address, a subnet or a comma-separated list of them.
  return value;
}

function portOf(value: string | undefined): number {
  if (value === undefined || value === "") return 3000;
  const port = Number(value);
  if (!Number.isInteger(port) || port < 0 || port > 65_535) {
    throw new Error(`tessera demo: PORT must be a whole number from 0 to 65535, not "${value}".`);
  }
  return port;
}

/**
 * Reads the demo's configuration from the environment: `DATA_DIR`, `SESSION_SECRET`,
 * `REDIS_URL`, `DATABASE_URL`, `STORE_NAMESPACE`, `TRUST_PROXY`, `PORT` and `HOST`.
 *
 * @example
 * const config = loadConfig(process.env);
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): DemoConfig & ListenConfig {
  const dataDir =
    env.DATA_DIR === undefined || env.DATA_DIR === ""
      ? DEFAULT_DATA_DIR
      : isAbsolute(env.DATA_DIR)
        ? env.DATA_DIR
        : resolve(env.DATA_DIR);
  return {
    dataDir,
    secret: resolveSecret(dataDir, env.SESSION_SECRET),
    redisUrl: env.REDIS_URL || undefined,
    databaseUrl: env.DATABASE_URL || undefined,
    storeNamespace: env.STORE_NAMESPACE || undefined,
    trustProxy: trustProxyOf(env.TRUST_PROXY),
    port: portOf(env.PORT),
    host: env.HOST || "127.0.0.1",
  };
}
