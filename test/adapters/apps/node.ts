// The plain node:http app of the journey suite: the route contract of journey.ts with
// tessera/node, csrf() and flash(). Both helpers read only what node's own request has (method,
// headers, socket, and the session), so they run here unchanged. node.test.ts runs the journey
// on it, and cross-framework.test.ts runs it beside the other frameworks' apps on one store.
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { Session } from "../../../src/core/session.js";
import { csrf } from "../../../src/csrf/index.js";
import { type FlashFunction, type FlashResponse, flash } from "../../../src/flash/index.js";
import { session } from "../../../src/node/index.js";
import {
  errorReply,
  type JourneyApp,
  type JourneyData,
  type JourneyOptions,
  serve,
} from "../journey.js";

type Req = IncomingMessage & {
  session: Session & JourneyData;
  csrfToken?: () => string;
  flash?: FlashFunction;
};

function json(res: ServerResponse, status: number, body: unknown): void {
  res.statusCode = status;
  res.setHeader("Content-Type", "application/json; charset=utf-8");
  res.end(JSON.stringify(body));
}

function answerError(res: ServerResponse, error: unknown): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const { status, body } = errorReply(error);
  json(res, status, body);
}

/** Runs Connect-style middleware; resolves once it calls next, rejects with its error. */
function use<R, S>(
  middleware: (req: R, res: S, next: (error?: unknown) => void) => void,
  req: R,
  res: S,
): Promise<void> {
  return new Promise((resolve, reject) => {
    middleware(req, res, (error) => (error === undefined ? resolve() : reject(error)));
  });
}

function nodeApp(options: JourneyOptions) {
  const sessions = session(options);
  const checkCsrf = csrf();
  // Its `res` type, FlashResponse, holds only an optional `locals`, so TypeScript's weak-type
  // check refuses node's ServerResponse (which has no `locals`) without a cast; at run time
  // flash() only skips res.locals when it is absent.
  const flashes = flash();

  async function route(req: Req, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", "http://localhost");
    const where = `${req.method} ${url.pathname}`;
    if (where === "GET /count") {
      req.session.views = (req.session.views ?? 0) + 1;
      json(res, 200, { views: req.session.views });
    } else if (where === "GET /me") {
      const { views, user } = req.session;
      json(res, 200, {
        views: views ?? null,
        user: user ?? null,
        indexed: req.session.getUser() ?? null,
      });
    } else if (where === "POST /login") {
      const user = String(url.searchParams.get("user"));
      await req.session.regenerate();
      req.session.setUser(user);
      req.session.user = user;
      json(res, 200, { user });
    } else if (where === "POST /reload") {
      req.session.views = -1;
      await req.session.reload();
      json(res, 200, { views: req.session.views ?? null });
    } else if (where === "POST /logout") {
      await req.session.destroy();
      res.setHeader("Content-Type", "text/plain; charset=utf-8");
      res.end("bye");
    } else if (where === "GET /csrf") {
      await use(checkCsrf, req, res);
      json(res, 200, { token: req.csrfToken?.() });
    } else if (where === "POST /csrf") {
      await use(checkCsrf, req, res);
      json(res, 200, { ok: true });
    } else if (where === "POST /flash") {
      await use(flashes, req, res as FlashResponse);
      json(res, 200, { queued: req.flash?.("info", String(url.searchParams.get("msg"))) });
    } else if (where === "GET /flash") {
      await use(flashes, req, res as FlashResponse);
      json(res, 200, req.flash?.("info"));
    } else {
      json(res, 404, { code: null });
    }
  }

  // The Connect-style form of tessera/node: its `next` is called once the session is loaded
  // (or failed to load), and again with the error if saving it fails as the response ends, so
  // one error path answers both. (Awaited without `next`, a failed final save answers a plain
  // 503 of its own instead of the app's JSON.)
  return createServer((req, res) => {
    sessions(req, res, (error) => {
      if (error !== undefined) answerError(res, error);
      else route(req as Req, res).catch((failure: unknown) => answerError(res, failure));
    });
  });
}

/** Starts the node:http app with `options` on a free port of 127.0.0.1. */
export function makeNodeApp(options: JourneyOptions): Promise<JourneyApp> {
  return serve(nodeApp(options));
}
