// The Express 5 app of the journey suite: the route contract of journey.ts with Tessera's
// drop-in middleware, csrf() and flash(). express.test.ts runs the journey on it, and
// cross-framework.test.ts runs it beside the other frameworks' apps on one store.
import { createServer } from "node:http";
import express, { type ErrorRequestHandler, type Request } from "express";
import { csrf } from "../../../src/csrf/index.js";
import { session } from "../../../src/express/index.js";
import { flash } from "../../../src/flash/index.js";
import {
  errorReply,
  type JourneyApp,
  type JourneyData,
  type JourneyOptions,
  serve,
} from "../journey.js";

/** The session's data as the contract's routes keep it; read afresh after regenerate() or reload(). */
function data(req: Request): JourneyData {
  return req.session as unknown as JourneyData;
}

function expressApp(options: JourneyOptions): express.Express {
  const app = express();
  app.use(session(options));

  app.get("/count", (req, res) => {
    data(req).views = (data(req).views ?? 0) + 1;
    res.json({ views: data(req).views });
  });
  app.get("/me", (req, res) => {
    res.json({
      views: data(req).views ?? null,
      user: data(req).user ?? null,
      indexed: req.session.getUser() ?? null,
    });
  });
  app.post("/login", async (req, res) => {
    const user = String(req.query.user);
    await req.session.regenerate();
    req.session.setUser(user);
    data(req).user = user;
    res.json({ user });
  });
  app.post("/reload", async (req, res) => {
    data(req).views = -1;
    await req.session.reload();
    res.json({ views: data(req).views ?? null });
  });
  app.post("/logout", async (req, res) => {
    await req.session.destroy();
    res.type("text").send("bye");
  });

  app.use("/csrf", csrf());
  app.get("/csrf", (req, res) => {
    res.json({ token: req.csrfToken() });
  });
  app.post("/csrf", (_req, res) => {
    res.json({ ok: true });
  });

  app.use("/flash", flash());
  app.post("/flash", (req, res) => {
    res.json({ queued: req.flash("info", String(req.query.msg)) });
  });
  app.get("/flash", (req, res) => {
    res.json(req.flash("info"));
  });

  const answerError: ErrorRequestHandler = (error, _req, res, _next) => {
    const { status, body } = errorReply(error);
    res.status(status).json(body);
  };
  app.use(answerError);
  return app;
}

/** Starts the Express app with `options` on a free port of 127.0.0.1. */
export function makeExpressApp(options: JourneyOptions): Promise<JourneyApp> {
  return serve(createServer(expressApp(options)));
}
