// Tessera's tests and benchmarks run express-session side by side with Tessera. Its own type
// package declares `req.session` globally with express-session's types, which would clash
// with Tessera's declaration of the same property, so this repository describes the little of
// express-session it uses here instead.
declare module "express-session" {
  import type { EventEmitter } from "node:events";
  import type { RequestHandler } from "express";

  type Callback = (error?: unknown, value?: unknown) => void;

  interface SessionOptions {
    secret: string | readonly string[];
    name?: string;
    store?: unknown;
    resave?: boolean;
    saveUninitialized?: boolean;
    rolling?: boolean;
    proxy?: boolean;
    unset?: "destroy" | "keep";
    genid?: (req: unknown) => string;
    cookie?: Record<string, unknown> | ((req: unknown) => Record<string, unknown>);
  }

  class Store extends EventEmitter {
    regenerate(req: unknown, callback: Callback): void;
    load(id: string, callback: Callback): void;
    createSession(req: unknown, session: unknown): unknown;
  }

  class MemoryStore extends Store {
    sessions: Record<string, string>;
    get(id: string, callback: Callback): void;
    set(id: string, session: unknown, callback?: Callback): void;
    destroy(id: string, callback?: Callback): void;
    touch(id: string, session: unknown, callback?: Callback): void;
    all(callback: Callback): void;
    length(callback: Callback): void;
    clear(callback?: Callback): void;
  }

  interface Session {
    (options: SessionOptions): RequestHandler;
    Store: typeof Store;
    MemoryStore: typeof MemoryStore;
    Cookie: new (options?: Record<string, unknown>) => Record<string, unknown>;
  }

  const session: Session;
  export = session;
}
