import type { preHandlerHookHandler } from "fastify";
import { type CsrfOptions, type CsrfRequest, csrf as csrfMiddleware } from "../csrf/csrf.js";

/**
 * CSRF protection for Fastify: `csrf()` of tessera/csrf as a `preHandler` hook. It checks every
 * unsafe request (anything but GET, HEAD, OPTIONS and TRACE) against the token kept in the
 * session and the browser's `Origin` and `Sec-Fetch-Site` headers, and adds
 * `request.csrfToken()`. A failed check goes to the error handler as a `TesseraError` of code
 * `ERR_CSRF_INVALID`, status 403. The origin check reads `request.protocol` and `request.host`,
 * which honour Fastify's `trustProxy`. A `preHandler` runs after the body is parsed, so the
 * token may come in the `_csrf` field of a form (parsed by @fastify/formbody).
 *
 * @example
 * import { csrf, session } from "tessera/fastify";
 *
 * await app.register(session, { secret, resave: false, saveUninitialized: false });
 * app.addHook("preHandler", csrf());
 * app.get("/form", async (request) => ({ token: request.csrfToken() }));
 * app.post("/form", async () => ({ ok: true })); // with an x-csrf-token header
 */
export function csrf(options: CsrfOptions = {}): preHandlerHookHandler {
  const check = csrfMiddleware(options);
  return function csrfHook(request, reply, done) {
    check(request as CsrfRequest, reply, done as (error?: unknown) => void);
  };
}
