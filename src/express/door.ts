import type { Cookie } from "../core/cookie.js";
import type { Session } from "../core/session.js";
import type { SessionOptions } from "../node/options.js";
import {
  Store as LegacyStore,
  type LegacyStoreBase,
  type StoreConstructor,
} from "../store/legacy.js";
import type { MemoryStore } from "../stores/memory.js";
import { session as middleware, type SessionMiddleware } from "./session.js";

/**
 * `session` as `require("tessera/express")` returns it: the middleware factory, with
 * express-session's classes on it. Written out rather than inferred from session.ts, whose
 * inferred declaration would name each property in its own type (TypeScript error 2502).
 */
export interface SessionFunction {
  (options: SessionOptions): SessionMiddleware;
  session: SessionFunction;
  Store: StoreConstructor;
  MemoryStore: typeof MemoryStore;
  Cookie: typeof Cookie;
  Session: typeof Session;
}

/**
 * The session middleware: a drop-in for express-session with the same options, the same
 * `req.session`, and the same signed cookie, so switching logs nobody out.
 *
 * @example
 * import express from "express";
 * import { session } from "tessera/express";
 * import { SqliteStore } from "tessera/sqlite";
 *
 * const app = express();
 * app.use(session({
 *   secret: process.env.SESSION_SECRET!,
 *   store: new SqliteStore({ path: "sessions.db" }),
 *   resave: false,
 *   saveUninitialized: false,
 *   cookie: { maxAge: 86_400_000, sameSite: "lax" },
 * }));
 */
export const session: SessionFunction = middleware;

/**
 * express-session's abstract `Store`, for stores written the old way: `class MyStore extends
 * Store`, or `Store.call(this)` with `util.inherits`. As a type, such a store.
 */
export const Store = LegacyStore;
export type Store = LegacyStoreBase;
