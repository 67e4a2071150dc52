// The journey suite's app on Koa 3: the route contract of journey.ts with tessera/koa's
// session(), csrf() and flash(). Koa has no router in its core, so the routes are a switch.
import { createServer } from "node:http";
import Koa, { type Context, type Middleware } from "koa";
import { csrf, flash, session } from "../../../src/koa/index.js";
import {
  errorReply,
  type JourneyApp,
  type JourneyData,
  type JourneyOptions,
  serve,
} from "../journey.js";

/** The session's data as the contract's routes keep it; read afresh after regenerate() or reload(). */
function data(ctx: Context): JourneyData {
  return ctx.session as unknown as JourneyData;
}

/** The contract's error handler: status `error.status ?? 500`, `{ code }`, whatever failed. */
export const answerErrors: Middleware = async (ctx, next) => {
  try {
    await next();
  } catch (error) {
    const { status, body } = errorReply(error);
    ctx.status = status;
    ctx.body = body;
  }
};

/** Runs `middleware` on the requests to `path` only. */
function at(path: string, middleware: Middleware): Middleware {
  return (ctx, next) => (ctx.path === path ? middleware(ctx, next) : next());
}

async function route(ctx: Context): Promise<void> {
  switch (`${ctx.method} ${ctx.path}`) {
    case "GET /count":
      data(ctx).views = (data(ctx).views ?? 0) + 1;
      ctx.body = { views: data(ctx).views };
      return;
    case "GET /me":
      ctx.body = {
        views: data(ctx).views ?? null,
        user: data(ctx).user ?? null,
        indexed: ctx.session.getUser() ?? null,
      };
      return;
    case "POST /login": {
      const user = String(ctx.query.user);
      await ctx.session.regenerate();
      ctx.session.setUser(user);
      data(ctx).user = user;
      ctx.body = { user };
      return;
    }
    case "POST /reload":
      data(ctx).views = -1;
      await ctx.session.reload();
      ctx.body = { views: data(ctx).views ?? null };
      return;
    case "POST /logout":
      await ctx.session.destroy();
      ctx.body = "bye";
      return;
    case "GET /csrf":
      ctx.body = { token: ctx.csrfToken() };
      return;
    case "POST /csrf":
      ctx.body = { ok: true };
      return;
    case "POST /flash":
      ctx.body = { queued: ctx.flash("info", String(ctx.query.msg)) };
      return;
    case "GET /flash":
      ctx.body = ctx.flash("info");
      return;
    default:
      ctx.status = 404;
      ctx.body = { code: null };
  }
}

/** A Koa app keeping the route contract, with the session options exactly as given. */
export function koaApp(options: JourneyOptions): Koa {
  const app = new Koa();
  app.use(answerErrors);
  app.use(session(options));
  app.use(at("/csrf", csrf()));
  app.use(at("/flash", flash()));
  app.use(route);
  return app;
}

/** The journey's `makeApp` for Koa: {@link koaApp} on a fresh node:http server on 127.0.0.1. */
export function makeKoaApp(options: JourneyOptions): Promise<JourneyApp> {
  return serve(createServer(koaApp(options).callback()));
}
