// The app every contender serves. The routes are the same code everywhere, so the only thing a
// benchmark compares is the session middleware (and its store) mounted in front of them.
import type { AddressInfo } from "node:net";
import express, { type Express, type Request, type RequestHandler } from "express";

/** One secret for every contender: signing cost is part of what is measured, so it must match. */
export const SECRET = "tessera-bench-secret-0123456789abcdef0123456789abcdef";

/**
 * The options every session middleware gets, express-session's names. `resave: false` and
 * `saveUninitialized: false` are what express-session's own README recommends, and the cookie is
 * its default (no maxAge), so the stored record is the ~86-byte one the memory benchmark uses.
 */
export const SESSION_OPTIONS = {
  secret: SECRET,
  resave: false,
  saveUninitialized: false,
} as const;

/** The line a server prints once it listens; the harness reads the port from it. */
export const PORT_LINE_PREFIX = "BENCH_PORT=";

/** A day: the TTL stores get when the cookie has no maxAge (connect-redis's own default). */
export const DAY_MS = 86_400_000;

interface ViewsSession {
  views?: number;
}

// Read through a neutral shape rather than either library's `req.session` type: the handlers
// must be byte-for-byte the same for express-session, Tessera and bare Express (no session).
function sessionOf(req: Request): ViewsSession | undefined {
  return (req as unknown as { session?: ViewsSession }).session;
}

/**
 * The four benchmarked routes behind an optional session middleware:
 * - `/noop`: the middleware runs, the handler never looks at the session;
 * - `/read`: the handler reads `views` from an existing session;
 * - `/write`: the handler changes `views`, so the session is saved;
 * - `/new`: no cookie comes in, the handler sets `views`, so a session is created and saved.
 */
export function createApp(middleware?: RequestHandler): Express {
  const app = express();
  if (middleware) app.use(middleware);
  app.get("/noop", (_req, res) => {
    res.send("ok");
  });
  app.get("/read", (req, res) => {
    res.send(String(sessionOf(req)?.views ?? 0));
  });
  app.get("/write", (req, res) => {
    const session = sessionOf(req);
    if (session) session.views = (session.views ?? 0) + 1;
    res.send(String(session?.views ?? 0));
  });
  app.get("/new", (req, res) => {
    const session = sessionOf(req);
    if (session) session.views = 1;
    res.send("1");
  });
  return app;
}

/**
 * Listens on a free loopback port, prints it, and exits cleanly on SIGTERM/SIGINT after `onClose`
 * (closing the store's connections). A clean exit matters: `--cpu-prof` writes its profile only
 * when the process exits normally.
 */
export function serve(app: Express, onClose: () => Promise<void> = async () => {}): void {
  const server = app.listen(0, "127.0.0.1", () => {
    const { port } = server.address() as AddressInfo;
    process.stdout.write(`${PORT_LINE_PREFIX}${port}\n`);
  });
  let closing = false;
  const shutdown = () => {
    if (closing) return;
    closing = true;
    server.close();
    server.closeAllConnections();
    onClose().then(
      () => process.exit(0),
      (error: unknown) => {
        console.error(error);
        process.exit(1);
      },
    );
  };
  process.on("SIGTERM", shutdown);
  process.on("SIGINT", shutdown);
}

/** Reads a setting the harness passes in the environment; a missing one is a harness bug. */
export function requireEnv(name: string): string {
  const value = process.env[name];
  if (value === undefined || value === "") {
    throw new Error(`bench: ${name} is not set; start this server through bench/run.ts.`);
  }
  return value;
}
