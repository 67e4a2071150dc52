// The app every CSRF and flash test runs on: Tessera's own session middleware, an in-memory
// store, and the body parsers csrf() reads tokens from.
import express, { type ErrorRequestHandler, type RequestHandler } from "express";
import { session } from "../../src/express/index.js";
import { MemoryStore } from "../../src/stores/memory.js";

export const SECRET = "keyboard cat, but long enough for a test secret";

/** The session middleware the suites run against, with a store of its own. */
export function sessionUnderTest(): RequestHandler {
  return session({
    secret: SECRET,
    store: new MemoryStore(),
    resave: false,
    saveUninitialized: false,
  });
}

/** Sends every error as JSON, so tests can assert its code, status and message. */
export const jsonErrors: ErrorRequestHandler = (error, _req, res, _next) => {
  const { code, status, message } = error as { code?: string; status?: number; message?: string };
  res.status(status ?? 500).json({ code, message });
};

/** An Express app with the body parsers mounted and, when given, the session middleware. */
export function makeApp(sessionMiddleware?: RequestHandler): express.Express {
  const app = express();
  if (sessionMiddleware !== undefined) app.use(sessionMiddleware);
  app.use(express.urlencoded({ extended: false }));
  app.use(express.json());
  return app;
}
