import type { IncomingMessage } from "node:http";
import { Cookie } from "../core/cookie.js";
import { Engine } from "../core/engine.js";
import { Session } from "../core/session.js";
import type { UpgradeSession, UpgradeSessionOptions } from "../core/upgrade.js";
import {
  loadForUpgrade,
  runSession,
  type SessionRequest,
  type SessionResponse,
} from "../node/middleware.js";
import type { SessionOptions } from "../node/options.js";
import { Store } from "../store/legacy.js";
import { MemoryStore } from "../stores/memory.js";
import { prepareForProperties } from "./dictionary-mode.js";

/** Express's `(req, res, next)` shape, without depending on Express's types at run time. */
export interface SessionMiddleware {
  (req: SessionRequest, res: SessionResponse, next: (error?: unknown) => void): void;
  /**
   * The session of an upgrade request (a WebSocket's, from the server's `upgrade` event), which
   * Express never routes: the stored session its cookie names, or `undefined` (refuse the
   * socket). It never makes a session nor sends a cookie.
   *
   * @example
   * server.on("upgrade", async (req, socket, head) => {
   *   const handle = await sessions.forUpgrade(req, { keepAliveMs: 60_000 });
   *   if (handle === undefined) return socket.end("HTTP/1.1 401 Unauthorized\r\n\r\n");
   *   wss.handleUpgrade(req, socket, head, (ws) => wss.emit("connection", ws, req, handle));
   * });
   */
  forUpgrade(
    req: IncomingMessage,
    options?: UpgradeSessionOptions,
  ): Promise<UpgradeSession | undefined>;
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
export function session(options: SessionOptions): SessionMiddleware {
  const engine = new Engine(options, () => new MemoryStore());
  const middleware: SessionMiddleware = function session(req, res, next) {
    prepareForProperties(req, res);
    runSession(engine, req, res, next);
  } as SessionMiddleware;
  middleware.forUpgrade = (req, upgradeOptions) =>
    loadForUpgrade(engine, req as SessionRequest, upgradeOptions);
  return middleware;
}

// express-session's shape: `require("express-session")` is the factory, with its classes on it.
session.session = session;
session.Store = Store;
session.MemoryStore = MemoryStore;
session.Cookie = Cookie;
session.Session = Session;
