import type { IncomingHttpHeaders } from "node:http";
import type { Socket } from "node:net";
import type { Context, Middleware } from "koa";
import { type CsrfOptions, type CsrfRequest, csrf as csrfMiddleware } from "../csrf/csrf.js";

/**
 * What csrf() reads, from Koa's context: the request's method and headers, the body a body
 * parser put on `ctx.request.body` (Koa's `ctx.body` is the response's), the session, and
 * Koa's `ctx.protocol` and `ctx.host`, which honour `app.proxy` as Express's do `trust proxy`.
 */
class KoaCsrfRequest implements CsrfRequest {
  readonly #ctx: Context;
  csrfToken?: () => string;

  constructor(ctx: Context) {
    this.#ctx = ctx;
  }

  get method(): string {
    return this.#ctx.method;
  }

  get headers(): IncomingHttpHeaders {
    return this.#ctx.req.headers;
  }

  get body(): unknown {
    return (this.#ctx.request as { body?: unknown }).body;
  }

  /** Read on every call of `csrfToken()`: `regenerate()` replaces the session mid-request. */
  get session(): object | undefined {
    return this.#ctx.session ?? undefined;
  }

  get protocol(): string {
    return this.#ctx.protocol;
  }

  get host(): string {
    return this.#ctx.host;
  }

  get socket(): Socket {
    return this.#ctx.req.socket;
  }
}

/**
 * CSRF protection for Koa: `csrf()` of `tessera/csrf` (the same options, the same checks) on
 * Koa's context. It adds `ctx.csrfToken()`, and throws a `TesseraError` of code
 * `ERR_CSRF_INVALID` and status 403 for a refused request. Mount it after `session()` and after
 * the body parser, if the token comes in a form field.
 *
 * @example
 * import { csrf, session } from "tessera/koa";
 *
 * app.use(session({ secret }));
 * app.use(bodyParser());
 * app.use(csrf());
 * app.use((ctx) => {
 *   if (ctx.method === "GET") ctx.body = `<input type="hidden" name="_csrf" value="${ctx.csrfToken()}">`;
 *   else ctx.body = "accepted";
 * });
 */
export function csrf(options?: CsrfOptions): Middleware {
  const check = csrfMiddleware(options);
  return async function csrf(ctx, next) {
    const request = new KoaCsrfRequest(ctx);
    try {
      await new Promise<void>((resolve, reject) => {
        check(request, undefined, (error) => (error === undefined ? resolve() : reject(error)));
      });
    } finally {
      // Also on a refused request, so that an error page can serve the form again.
      if (request.csrfToken !== undefined) ctx.csrfToken = request.csrfToken;
    }
    await next();
  };
}
