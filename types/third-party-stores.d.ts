// Just enough of two express-session stores that ship no types, for the tests that run them
// under Tessera.
declare module "memorystore" {
  import type { EventEmitter } from "node:events";

  interface MemoryStoreInstance extends EventEmitter {
    get(id: string, callback: (error: unknown, session?: unknown) => void): void;
    stopInterval(): void;
  }
  type MemoryStoreClass = new (options?: {
    checkPeriod?: number;
    max?: number;
  }) => MemoryStoreInstance;
  export default function createMemoryStore(session: unknown): MemoryStoreClass;
}

declare module "connect-pg-simple" {
  import type { EventEmitter } from "node:events";
  import type { Pool } from "pg";

  interface PgStoreOptions {
    pool?: Pool;
    conString?: string;
    tableName?: string;
    schemaName?: string;
    createTableIfMissing?: boolean;
    pruneSessionInterval?: false | number;
    ttl?: number;
  }
  interface PgStore extends EventEmitter {
    close(): void;
  }
  type PgStoreClass = new (options?: PgStoreOptions) => PgStore;
  export default function connectPgSimple(session: unknown): PgStoreClass;
}
