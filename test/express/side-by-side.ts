// One app built twice, on express-session and on Tessera, so a compatibility test can run the
// same requests against both and compare what the client sees. Used by the compat-*.test.ts
// files; compat.test.ts keeps its own journey-based harness.
import type { EventEmitter } from "node:events";
import express, { type ErrorRequestHandler, type Express, type RequestHandler } from "express";
import expressSession from "express-session";
import request, { type Response, type Test } from "supertest";
import { session as tessera } from "../../src/express/index.js";
import { setCookie } from "../helpers/http.js";

export { expressSession };

export type Library = "express-session" | "Tessera";
export const LIBRARIES: readonly Library[] = ["express-session", "Tessera"];

/** The options both libraries take, loosely typed: the tests pass what express-session accepts. */
export type Options = Record<string, unknown>;

/** The session middleware of `library`, made from the same options. */
export function sessionOf(library: Library, options: Options): RequestHandler {
  return (
    library === "Tessera" ? tessera(options as never) : expressSession(options as never)
  ) as RequestHandler;
}

/** An app and the errors its error handler received, in order. */
export interface Built {
  library: Library;
  app: Express;
  errors: unknown[];
}

/**
 * An error handler as apps write it: it answers with `err.message` (and the status the error
 * carries), or, when the response has already gone out, only records the error.
 */
function errorHandler(errors: unknown[]): ErrorRequestHandler {
  return (error, _req, res, _next) => {
    errors.push(error);
    if (res.headersSent) return;
    const status = (error as { status?: unknown }).status;
    res.status(typeof status === "number" ? status : 500).send((error as Error).message);
  };
}

/** `before` middlewares, `library`'s session(options), the routes, then the error handler. */
export function build(
  library: Library,
  options: Options,
  routes: (app: Express) => void,
  before: readonly RequestHandler[] = [],
): Built {
  const errors: unknown[] = [];
  const app = express();
  for (const middleware of before) app.use(middleware);
  app.use(sessionOf(library, options));
  routes(app);
  app.use(errorHandler(errors));
  return { library, app, errors };
}

/** The same app on both libraries: `[express-session's, Tessera's]`. */
export function both(
  options: Options | ((library: Library) => Options),
  routes: (app: Express) => void,
  before: readonly RequestHandler[] = [],
): [Built, Built] {
  const [theirs, ours] = LIBRARIES.map((library) =>
    build(library, typeof options === "function" ? options(library) : options, routes, before),
  ) as [Built, Built];
  return [theirs, ours];
}

/**
 * A Set-Cookie line with the signed id replaced, and Expires as whole minutes from now (so two
 * responses a few ms apart compare equal).
 */
export function normalizeCookie(line: string | undefined): string | undefined {
  if (line === undefined) return undefined;
  return line
    .replace(/^([^=]+)=s%3A[^;]+/, "$1=<signed id>")
    .replace(
      /Expires=([^;]+)/,
      (_match, date: string) =>
        `Expires=<${Math.round((Date.parse(date) - Date.now()) / 60_000)} min>`,
    );
}

/** What a client sees of a response: status, body and the session cookie, normalised. */
export function clientView(res: Response, name = "connect.sid") {
  return { status: res.status, body: res.text, cookie: normalizeCookie(setCookie(res, name)) };
}

/** GET `path` on `app`, sending `cookie` (a `name=value` pair) when given. */
export function get(app: Express, path: string, cookie?: string): Test {
  const test = request(app).get(path);
  return cookie === undefined ? test : test.set("Cookie", cookie);
}

/** Resolves once `check()` holds, polling every few ms; rejects after `timeoutMs`. */
export async function until(check: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`still not true after ${timeoutMs} ms: ${check}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** The data routes most tests use: `/count` adds one to `views`, `/read` shows it, `/logout` destroys the session. */
export function counterRoutes(app: Express): void {
  app.get("/count", (req, res) => {
    const data = req.session as unknown as { views?: number };
    data.views = (data.views ?? 0) + 1;
    res.send(String(data.views));
  });
  app.get("/read", (req, res) => {
    res.send(String((req.session as unknown as { views?: number }).views ?? "none"));
  });
  app.post("/logout", (req, res, next) => {
    req.session.destroy((error) => {
      if (error) return next(error);
      res.send("bye");
    });
  });
}

/** express-session's MemoryStore, which both libraries can share. */
export function sharedMemoryStore(): InstanceType<typeof expressSession.MemoryStore> {
  return new expressSession.MemoryStore();
}

/** The warnings Tessera emitted while this process ran, by code. */
export function recordWarnings(): { codes: string[] } {
  const seen = { codes: [] as string[] };
  process.on("warning", (warning: Error & { code?: string }) => {
    if (warning.code !== undefined) seen.codes.push(warning.code);
  });
  return seen;
}

/**
 * A store written for express-session: it extends express-session's Store (an EventEmitter),
 * answers through callbacks a tick later, and keeps JSON in a Map. An operation named in
 * `failures` passes that error to its callback instead.
 */
export class CallbackStore extends (expressSession.Store as unknown as typeof EventEmitter) {
  readonly sessions = new Map<string, string>();
  readonly failures = new Map<string, unknown>();

  get(id: string, callback: (error: unknown, session?: unknown) => void): void {
    setImmediate(() => {
      if (this.failures.has("get")) return callback(this.failures.get("get"));
      const json = this.sessions.get(id);
      callback(null, json === undefined ? null : JSON.parse(json));
    });
  }

  set(id: string, session: unknown, callback: (error?: unknown) => void): void {
    setImmediate(() => {
      if (this.failures.has("set")) return callback(this.failures.get("set"));
      this.sessions.set(id, JSON.stringify(session));
      callback();
    });
  }

  destroy(id: string, callback: (error?: unknown) => void): void {
    setImmediate(() => {
      if (this.failures.has("destroy")) return callback(this.failures.get("destroy"));
      this.sessions.delete(id);
      callback();
    });
  }

  touch(id: string, session: unknown, callback: (error?: unknown) => void): void {
    setImmediate(() => {
      if (this.failures.has("touch")) return callback(this.failures.get("touch"));
      const json = this.sessions.get(id);
      if (json !== undefined) {
        const stored = JSON.parse(json) as Record<string, unknown>;
        stored.cookie = (session as { cookie: unknown }).cookie;
        this.sessions.set(id, JSON.stringify(stored));
      }
      callback();
    });
  }
}
