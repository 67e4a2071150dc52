import type { Context, MiddlewareHandler } from "hono";
import { type FlashFunction, type FlashRequest, flash as flashMiddleware } from "../flash/flash.js";
import { runCallbackMiddleware } from "./callback-middleware.js";
import type { SessionEnv } from "./types.js";

/** What {@link flash} puts on the context. */
export interface FlashVariables {
  /** Express's `req.flash`: `flash(type, message)` adds, `flash(type)` reads and clears. */
  flash: FlashFunction;
}

/** The Hono environment of routes behind {@link flash}: `new Hono<SessionEnv & FlashEnv>()`. */
export interface FlashEnv {
  Variables: FlashVariables;
}

/** A Hono request as the Express flash() reads it. */
class HonoFlashRequest implements FlashRequest {
  flash?: FlashFunction;

  constructor(private readonly context: Context<SessionEnv & FlashEnv>) {}

  /** Read on each call: regenerate() replaces the session. */
  get session(): object | undefined {
    return this.context.get("session");
  }
}

/**
 * Flash messages for Hono, kept in the session until read, as connect-flash keeps them:
 * `c.get("flash")`. Mount it after `session()`. Express's `locals` option has no Hono
 * counterpart and is not offered.
 *
 * @example
 * const app = new Hono<SessionEnv & FlashEnv>();
 * app.use(session({ secret }));
 * app.use(flash());
 * app.post("/login", (c) => {
 *   c.get("flash")("error", "Wrong password");
 *   return c.redirect("/login");
 * });
 * app.get("/login", (c) => c.json(c.get("flash")("error")));
 */
export function flash(): MiddlewareHandler<SessionEnv & FlashEnv> {
  const attach = flashMiddleware();
  return async function flash(c, next) {
    const request = new HonoFlashRequest(c);
    await runCallbackMiddleware(attach, request);
    c.set("flash", request.flash as FlashFunction);
    await next();
  };
}
