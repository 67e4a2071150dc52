// Who is benchmarked: each contender is one small server file under bench/servers/.
import { existsSync } from "node:fs";
import { join } from "node:path";

export const ROUTES = ["noop", "read", "write", "new"] as const;
export type Route = (typeof ROUTES)[number];

export type StoreKind = "none" | "memory" | "sqlite" | "redis" | "postgres";

export interface Contender {
  /** The name used on the command line and in the results. */
  name: string;
  /** How it reads in tables and on the chart. */
  label: string;
  library: "express" | "express-session" | "tessera";
  store: StoreKind;
  /** The server file, relative to bench/servers/. */
  server: string;
  /** Source files (relative to the repository) that must exist for the contender to run. */
  sources: readonly string[];
  /** The contender this one is compared with on the same kind of store, when there is one. */
  peer?: string;
}

export const BARE = "express-bare";

export const CONTENDERS: readonly Contender[] = [
  {
    name: BARE,
    label: "Express 5, no sessions",
    library: "express",
    store: "none",
    server: "express-bare.ts",
    sources: [],
  },
  {
    name: "express-async",
    label: "Express 5, empty async middleware",
    library: "express",
    store: "none",
    server: "express-async.ts",
    sources: [],
  },
  {
    name: "express-session-memory",
    label: "express-session + MemoryStore",
    library: "express-session",
    store: "memory",
    server: "express-session-memory.ts",
    sources: [],
  },
  {
    name: "express-session-redis",
    label: "express-session + connect-redis",
    library: "express-session",
    store: "redis",
    server: "express-session-redis.ts",
    sources: [],
  },
  {
    name: "tessera-memory",
    label: "Tessera + MemoryStore",
    library: "tessera",
    store: "memory",
    server: "tessera-memory.ts",
    sources: ["src/express/index.ts", "src/stores/memory.ts"],
    peer: "express-session-memory",
  },
  {
    name: "tessera-sqlite",
    label: "Tessera + SqliteStore",
    library: "tessera",
    store: "sqlite",
    server: "tessera-sqlite.ts",
    sources: ["src/express/index.ts", "src/stores/sqlite.ts"],
  },
  {
    name: "tessera-redis",
    label: "Tessera + RedisStore",
    library: "tessera",
    store: "redis",
    server: "tessera-redis.ts",
    sources: ["src/express/index.ts", "src/stores/redis.ts"],
    peer: "express-session-redis",
  },
  {
    name: "tessera-postgres",
    label: "Tessera + PostgresStore",
    library: "tessera",
    store: "postgres",
    server: "tessera-postgres.ts",
    sources: ["src/express/index.ts", "src/stores/postgres.ts"],
  },
];

export interface Skipped {
  name: string;
  reason: string;
}

export interface ServiceStatus {
  redis: boolean;
  postgres: boolean;
}

/**
 * The contenders that can run here: the wanted ones whose source files exist and whose server
 * (Redis, PostgreSQL) answers. Every contender left out is listed with the reason.
 */
export function selectContenders(
  root: string,
  wanted: readonly string[] | undefined,
  services: ServiceStatus,
): { run: Contender[]; skipped: Skipped[] } {
  const unknown = (wanted ?? []).filter((name) => !CONTENDERS.some((c) => c.name === name));
  if (unknown.length > 0) {
    throw new Error(
      `bench: unknown contender ${unknown.join(", ")}; choose from ${CONTENDERS.map((c) => c.name).join(", ")}.`,
    );
  }
  const run: Contender[] = [];
  const skipped: Skipped[] = [];
  for (const contender of CONTENDERS) {
    if (wanted && !wanted.includes(contender.name)) continue;
    const missing = contender.sources.filter((file) => !existsSync(join(root, file)));
    if (missing.length > 0) {
      skipped.push({ name: contender.name, reason: `${missing.join(" and ")} not written yet` });
    } else if (contender.store === "redis" && !services.redis) {
      skipped.push({ name: contender.name, reason: "Redis is not reachable (BENCH_REDIS_URL)" });
    } else if (contender.store === "postgres" && !services.postgres) {
      skipped.push({
        name: contender.name,
        reason: "PostgreSQL is not reachable (BENCH_DATABASE_URL)",
      });
    } else {
      run.push(contender);
    }
  }
  return { run, skipped };
}

export function contenderByName(name: string): Contender | undefined {
  return CONTENDERS.find((c) => c.name === name);
}
