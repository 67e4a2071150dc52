import type { IncomingHttpHeaders } from "node:http";
import type { Socket } from "node:net";
import type { Context, Middleware } from "koa";
import { Engine } from "../core/engine.js";
import { TesseraError } from "../core/errors.js";
import type { RequestState } from "../core/request-state.js";
import type { SessionSlot } from "../core/view.js";
import { warnOnce } from "../core/warnings.js";
import { NodeRequestViewBase } from "../node/request-view.js";
import { isThenable } from "../store/types.js";
import { MemoryStore } from "../stores/memory.js";
import type { KoaSessionOptions } from "./types.js";

/** A Koa request as the engine reads it: each property read from `ctx` when asked. */
class KoaRequestView extends NodeRequestViewBase {
  constructor(readonly request: Context) {
    super();
  }

  get slot(): SessionSlot {
    return this.request;
  }

  protected get headers(): IncomingHttpHeaders {
    return this.request.req.headers;
  }

  protected get socket(): Socket | undefined {
    return this.request.req.socket;
  }

  get url(): string {
    return this.request.originalUrl;
  }

  /** Koa's own answer, which trusts `X-Forwarded-Proto` only with `app.proxy`. */
  get frameworkSecure(): boolean {
    return this.request.secure;
  }

  /** Koa's `ctx.ip`: `X-Forwarded-For` with `app.proxy`, else the socket's address. */
  get ip(): string | undefined {
    return this.request.ip;
  }
}

function koaOptions(options: KoaSessionOptions): KoaSessionOptions {
  // Not an object: the engine says what is wrong.
  if (typeof options !== "object" || options === null) return options;
  if (!options.secret) {
    // Under Express a missing secret falls back to cookie-parser's req.secret; Koa has no such
    // fallback, so every request would fail. Better said once, at start-up.
    throw new TesseraError(
      "ERR_OPTION",
      "session() needs a secret under Koa: session({ secret: process.env.SESSION_SECRET }).",
    );
  }
  // No express-session to match here: a failed final write answers with the error, as
  // koa-session's failed commit does.
  return { saveErrorResponse: "error", ...options };
}

/**
 * Sessions for Koa, with the same options and the same session as the Express middleware:
 * `ctx.session`, `ctx.sessionID` and `ctx.sessionStore`. The session is loaded before the rest
 * of the middleware runs and saved after it, before Koa sends the response; store failures are
 * thrown, so Koa's error handling answers them (503 while the store is unreachable).
 *
 * @example
 * import Koa from "koa";
 * import { session } from "tessera/koa";
 * import { SqliteStore } from "tessera/sqlite";
 *
 * const app = new Koa();
 * app.use(session({
 *   secret: process.env.SESSION_SECRET!,
 *   store: new SqliteStore({ path: "sessions.db" }),
 *   resave: false,
 *   saveUninitialized: false,
 * }));
 * app.use((ctx) => {
 *   ctx.session.views = (ctx.session.views ?? 0) + 1;
 *   ctx.body = { views: ctx.session.views };
 * });
 */
export function session(options: KoaSessionOptions): Middleware {
  const engine = new Engine(koaOptions(options), () => new MemoryStore());
  return async function session(ctx, next) {
    const loading = engine.load(new KoaRequestView(ctx));
    if (loading === undefined) return next();
    ctx.sessionStore = engine.store;
    const state = isThenable(loading) ? await loading : loading;
    if (state === undefined) return next();
    let thrown: { error: unknown } | undefined;
    try {
      await next();
    } catch (error) {
      thrown = { error };
    }
    await finish(engine, state, ctx, thrown);
  };
}

/**
 * The session's side of the response, once the middleware after `session()` is done and before
 * Koa sends anything: the store write, then the cookie.
 *
 * When that middleware threw, the session is saved all the same and its cookie added, as
 * express-session saves on the response its error handler sends (and koa-session commits in a
 * `finally`); then the error goes on up, to the app's error middleware or Koa's own handler.
 */
async function finish(
  engine: Engine,
  state: RequestState,
  ctx: Context,
  thrown: { error: unknown } | undefined,
): Promise<void> {
  try {
    const work = state.commit();
    if (work !== undefined) await work;
  } catch (error) {
    if (thrown !== undefined) {
      // The app's error is the one answered; the store's is reported beside it.
      report(ctx, error);
      throw thrown.error;
    }
    if (!engine.options.replaceResponseOnSaveError) {
      // saveErrorResponse: "app": the app's response goes out, without a cookie for a session
      // the store does not hold, and the error is reported as Koa reports one it cannot answer.
      report(ctx, error);
      return;
    }
    // Nothing of the app's response may reach the error handler's: not its Location, not its
    // cookies. Koa's own handler clears the headers too, an app's error middleware would not.
    if (!ctx.headerSent) for (const name of ctx.res.getHeaderNames()) ctx.res.removeHeader(name);
    throw error;
  }
  const value = state.setCookie();
  if (value !== undefined) {
    if (ctx.headerSent) {
      warnOnce(
        "TESSERA_KOA_HEADERS_SENT",
        "tessera: the response's headers went out before session() could add the session cookie (a route with ctx.respond = false that wrote to ctx.res itself), so the browser did not get it. Let Koa send such responses: set ctx.body, which may be a stream.",
      );
    } else {
      ctx.append("Set-Cookie", value);
    }
  }
  if (state.cookieError !== undefined) {
    // A cookie attribute the cookie format refuses (from a cookie function): a bug to surface.
    if (thrown !== undefined) report(ctx, state.cookieError);
    else throw state.cookieError;
  }
  if (thrown !== undefined) throw thrown.error;
}

/** Hands `error` to the app's `error` listeners (Koa's default one logs it), as Koa does for errors it cannot answer. */
function report(ctx: Context, error: unknown): void {
  if (ctx.app.listenerCount("error") === 0) return;
  ctx.app.emit("error", error instanceof Error ? error : notAnError(error), ctx);
}

/**
 * A store written for express-session may fail with anything, and Koa's default `error`
 * listener throws on what is not an Error.
 */
function notAnError(cause: unknown): TesseraError {
  const message = "the session store failed with a value that is not an Error (see cause).";
  return new TesseraError("ERR_STORE", message, { cause });
}
