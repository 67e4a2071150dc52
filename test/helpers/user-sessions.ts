// The "your sessions" routes of an app, for tests of log out everywhere: each answers the
// helper's result as JSON, or passes its error to the error handler.
import type express from "express";
import {
  listUserSessions,
  revokeAllSessions,
  revokeOtherSessions,
  revokeUserSession,
} from "../../src/index.js";

type Run = (req: express.Request) => Promise<unknown>;

function answer(run: Run): express.RequestHandler {
  return async (req, res, next) => {
    try {
      res.json(await run(req));
    } catch (error) {
      next(error);
    }
  };
}

/** GET /sessions, POST /revoke/:handle, POST /others, POST /everywhere. */
export function userSessionRoutes(app: express.Express): void {
  app.get(
    "/sessions",
    answer((req) => listUserSessions(req)),
  );
  app.post(
    "/revoke/:handle",
    answer((req) => revokeUserSession(req, String(req.params.handle))),
  );
  app.post(
    "/others",
    answer((req) => revokeOtherSessions(req)),
  );
  app.post(
    "/everywhere",
    answer((req) => revokeAllSessions(req)),
  );
}
