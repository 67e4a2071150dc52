import { Cookie } from "../core/cookie.js";
import { Engine } from "../core/engine.js";
import { Session } from "../core/session.js";
import { runSession, type SessionRequest, type SessionResponse } from "../node/middleware.js";
import type { SessionOptions } from "../node/options.js";
import { Store } from "../store/legacy.js";
import { MemoryStore } from "../stores/memory.js";
import { prepareForProperties } from "./dictionary-mode.js";

/** Express's `(req, res, next)` shape, without depending on Express's types at run time. */
export type SessionMiddleware = (
  req: SessionRequest,
  res: SessionResponse,
  next: (error?: unknown) => void,
) => void;

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
export function session(options: SessionOptions): SessionMiddleware {
  const engine = new Engine(options, () => new MemoryStore());
  return function session(req, res, next) {
    prepareForProperties(req, res);
    runSession(engine, req, res, next);
  };
}

// express-session's shape: `require("express-session")` is the factory, with its classes on it.
session.session = session;
session.Store = Store;
session.MemoryStore = MemoryStore;
session.Cookie = Cookie;
session.Session = Session;
