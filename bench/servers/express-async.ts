// The ceiling for any session middleware whose store answers asynchronously: Express 5 with a
// middleware that does no session work at all, but passes the request on and ends the response
// one Promise later, as a middleware that awaits a store read and a store write must.
import type { RequestHandler, Response } from "express";
import { createApp, serve } from "./app.js";

const deferred: RequestHandler = (_req, res, next) => {
  const end = res.end;
  res.end = function (this: Response, ...args: unknown[]) {
    Promise.resolve().then(() => (end as (...a: unknown[]) => unknown).apply(this, args));
    return this;
  } as Response["end"];
  Promise.resolve().then(() => next());
};

serve(createApp(deferred));
