import type { Context, MiddlewareHandler } from "hono";
import { type CsrfOptions, type CsrfRequest, csrf as csrfMiddleware } from "../csrf/csrf.js";
import { runCallbackMiddleware } from "./callback-middleware.js";
import type { SessionEnv } from "./types.js";

/** What {@link csrf} puts on the context. */
export interface CsrfVariables {
  /**
   * A CSRF token for this session, for a form's `_csrf` field or an `x-csrf-token` header:
   * Express's `req.csrfToken()`.
   */
  csrfToken: () => string;
}

/** The Hono environment of routes behind {@link csrf}: `new Hono<SessionEnv & CsrfEnv>()`. */
export interface CsrfEnv {
  Variables: CsrfVariables;
}

type CsrfContext = Context<SessionEnv & CsrfEnv>;

/** Methods that must not change state (RFC 9110, section 9.2.1): csrf() checks no token on them. */
const SAFE_METHODS = new Set(["GET", "HEAD", "OPTIONS", "TRACE"]);

/** A Hono request as the Express csrf() reads it. */
class HonoCsrfRequest implements CsrfRequest {
  csrfToken?: () => string;
  private headerObject: CsrfRequest["headers"] | undefined;
  private parsedUrl: URL | undefined;

  constructor(
    private readonly context: CsrfContext,
    readonly body: unknown,
  ) {}

  get method(): string {
    return this.context.req.method;
  }

  /** Lower-cased names, as node's: the Fetch API's `Headers` iterates them that way. */
  get headers(): CsrfRequest["headers"] {
    this.headerObject ??= Object.fromEntries(this.context.req.raw.headers);
    return this.headerObject;
  }

  /** Read on each call: regenerate() replaces the session, and its CSRF secret with it. */
  get session(): object | undefined {
    return this.context.get("session");
  }

  /** The request's own origin comes from its URL: Hono has no "trust proxy" setting. */
  get protocol(): string {
    return this.url().protocol.slice(0, -1);
  }

  get host(): string {
    return this.url().host;
  }

  private url(): URL {
    this.parsedUrl ??= new URL(this.context.req.url);
    return this.parsedUrl;
  }
}

/**
 * CSRF protection for Hono: Tessera's `csrf()` (a token kept in the session, and the `Origin`
 * and `Sec-Fetch-Site` checks) with the token at `c.get("csrfToken")()`. Mount it after
 * `session()`. A refused request goes to `app.onError` with a `TesseraError` of code
 * `ERR_CSRF_INVALID` and status 403. The token is read from the `x-csrf-token` header, or from
 * the `_csrf` field of a form body, which this middleware parses with `c.req.parseBody()` (Hono
 * keeps the result, so the handler can parse it again).
 *
 * Behind a proxy that ends TLS, the request's URL (and so its own origin) says http: list the
 * public origin in `allowedOrigins`.
 *
 * @example
 * const app = new Hono<SessionEnv & CsrfEnv>();
 * app.use(session({ secret }));
 * app.use("/account/*", csrf());
 * app.get("/account/form", (c) => c.html(`<input type="hidden" name="_csrf" value="${c.get("csrfToken")()}">`));
 * app.post("/account/form", (c) => c.text("accepted"));
 */
export function csrf(options: CsrfOptions = {}): MiddlewareHandler<SessionEnv & CsrfEnv> {
  const check = csrfMiddleware(options);
  return async function csrf(c, next) {
    // parseBody() reads only form bodies (others give {} and stay unread), and keeps the form.
    const body = SAFE_METHODS.has(c.req.method) ? undefined : await c.req.parseBody();
    const request = new HonoCsrfRequest(c, body);
    await runCallbackMiddleware(check, request);
    c.set("csrfToken", request.csrfToken as () => string);
    await next();
  };
}
