import type { Middleware } from "koa";
import {
  type FlashOptions,
  type FlashRequest,
  type FlashResponse,
  flash as flashMiddleware,
} from "../flash/flash.js";

/**
 * Flash messages for Koa: `flash()` of `tessera/flash` (kept in the session under `flash` until
 * read, as connect-flash keeps them) on Koa's context. It adds `ctx.flash`; the `locals`
 * option puts the messages on `ctx.state`, which Koa's view renderers read, as a getter that
 * reads and clears them only when a view is rendered. Mount it after `session()`.
 *
 * @example
 * import { flash, session } from "tessera/koa";
 *
 * app.use(session({ secret }));
 * app.use(flash({ locals: "flash" }));
 * app.use(async (ctx) => {
 *   ctx.flash("error", "Wrong password");
 *   ctx.redirect("/login");
 * });
 */
export function flash(options?: FlashOptions): Middleware {
  const attach = flashMiddleware(options);
  return async function flash(ctx, next) {
    // A getter: ctx.flash() reads the session on each call, and regenerate() replaces it.
    const request: FlashRequest = {
      get session() {
        return ctx.session ?? undefined;
      },
    };
    const response: FlashResponse = { locals: ctx.state };
    await new Promise<void>((resolve, reject) => {
      attach(request, response, (error) => (error === undefined ? resolve() : reject(error)));
    });
    if (request.flash !== undefined) ctx.flash = request.flash;
    await next();
  };
}
