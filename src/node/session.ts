import type { IncomingMessage, ServerResponse } from "node:http";
import type { Http2ServerRequest, Http2ServerResponse } from "node:http2";
import { Engine } from "../core/engine.js";
import { isTesseraError } from "../core/errors.js";
import type { Session, SessionData } from "../core/session.js";
import type { UpgradeSession, UpgradeSessionOptions } from "../core/upgrade.js";
import { MemoryStore } from "../stores/memory.js";
import {
  loadForUpgrade,
  runSession,
  type SessionRequest,
  type SessionResponse,
} from "./middleware.js";
import type { SessionOptions } from "./options.js";

type AnyRequest = IncomingMessage | Http2ServerRequest;
type AnyResponse = ServerResponse | Http2ServerResponse;

/** A node:http (or node:http2 compatibility) request once the session is loaded. */
export type RequestWithSession<R extends AnyRequest = IncomingMessage> = R & {
  session: Session & Partial<SessionData>;
  sessionID: string;
};

/**
 * Loads the session onto `req`. Awaited without `next`, it resolves once `req.session` is
 * ready and rejects if the store fails; if the store fails when the response ends, the
 * response becomes a plain 503 (store unreachable) or 500. Given `next`, it behaves as
 * Connect-style middleware.
 */
export interface NodeSessionHandler {
  <R extends AnyRequest>(req: R, res: AnyResponse): Promise<void>;
  <R extends AnyRequest>(req: R, res: AnyResponse, next: (error?: unknown) => void): void;
  /**
   * The session of an upgrade request (a WebSocket's, from the server's `upgrade` event): the
   * stored session its cookie names, or `undefined` (refuse the socket). It never makes a
   * session nor sends a cookie.
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

function answerFailure(res: AnyResponse, error: unknown): void {
  const status = isTesseraError(error) ? error.status : 500;
  if (res.headersSent) {
    res.destroy(error instanceof Error ? error : undefined);
    return;
  }
  res.statusCode = status;
  res.setHeader("Content-Type", "text/plain; charset=utf-8");
  res.end(status === 503 ? "Service Unavailable\n" : "Internal Server Error\n");
}

/**
 * Sessions for plain `http.createServer` (and `http2` compatibility) handlers, with the same
 * options and the same `req.session` as the Express middleware.
 *
 * @example
 * import { createServer } from "node:http";
 * import { session } from "tessera/node";
 *
 * const sessions = session({ secret: process.env.SESSION_SECRET!, resave: false, saveUninitialized: false });
 * createServer(async (req, res) => {
 *   await sessions(req, res);
 *   req.session.views = (req.session.views ?? 0) + 1;
 *   res.end(`views: ${req.session.views}`);
 * }).listen(3000);
 */
export function session(options: SessionOptions): NodeSessionHandler {
  // No express-session to match here: a failed final write answers with an error status.
  const engine = new Engine({ saveErrorResponse: "error", ...options }, () => new MemoryStore());
  function handler(
    req: AnyRequest,
    res: AnyResponse,
    next?: (error?: unknown) => void,
  ): Promise<void> | undefined {
    const request = req as unknown as SessionRequest;
    const response = res as unknown as SessionResponse;
    if (next !== undefined) {
      runSession(engine, request, response, next);
      return undefined;
    }
    return new Promise<void>((resolve, reject) => {
      let ready = false;
      runSession(engine, request, response, (error) => {
        if (!ready) {
          ready = true;
          if (error === undefined) resolve();
          else reject(error);
          return;
        }
        // Called again only when committing the session failed as the response ended.
        answerFailure(res, error);
      });
    });
  }
  const sessions = handler as NodeSessionHandler;
  sessions.forUpgrade = (req, upgradeOptions) =>
    loadForUpgrade(engine, req as SessionRequest, upgradeOptions);
  return sessions;
}
