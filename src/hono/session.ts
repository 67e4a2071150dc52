import type { Context, MiddlewareHandler } from "hono";
import { Engine } from "../core/engine.js";
import { TesseraError } from "../core/errors.js";
import type { RequestState } from "../core/request-state.js";
import type { Session } from "../core/session.js";
import type { RequestView, SessionSlot } from "../core/view.js";
import { isThenable } from "../store/types.js";
import { MemoryStore } from "../stores/memory.js";
import type { HonoSessionOptions, SessionEnv, SessionVariables } from "./types.js";

type SessionContext = Context<SessionEnv>;
type Status = Parameters<SessionContext["status"]>[0];

/**
 * Where the engine keeps the request's session: the context's variables. The engine writes the
 * slot when it loads, regenerates or reloads the session, and reads it back at the end, so
 * `c.get("session")` is always the session the engine holds, and what the app sets there itself
 * (`c.set("session", null)` with `unset: "destroy"`) is what the engine sees.
 */
class ContextSlot implements SessionSlot {
  constructor(readonly context: SessionContext) {}

  get session(): Session | null | undefined {
    return this.context.get("session");
  }

  set session(value: Session | null | undefined) {
    this.context.set("session", value as SessionVariables["session"]);
  }

  get sessionID(): string | undefined {
    return this.context.get("sessionID");
  }

  set sessionID(value: string | undefined) {
    this.context.set("sessionID", value as string);
  }
}

/**
 * `destroy()` ends with `delete slot.session`, as it deletes `req.session` under Express. On the
 * slot that would do nothing (the accessor is the prototype's), and `c.get("session")` would go
 * on answering the destroyed session: the trap clears the variable instead.
 */
const slotTraps: ProxyHandler<ContextSlot> = {
  deleteProperty(slot, key) {
    if (key === "session" || key === "sessionID") slot.context.set(key, undefined as never);
    return true;
  },
};

/**
 * A Hono request as the engine reads it, each property read from the Web `Request` when asked.
 * Hono has no portable client address (each runtime has its own `getConnInfo`), so `ip` is
 * left out and `recordClient` records the user agent only.
 */
class HonoRequestView implements RequestView {
  readonly slot: SessionSlot;

  constructor(readonly request: SessionContext) {
    this.slot = new Proxy(new ContextSlot(request), slotTraps);
  }

  get cookieHeader(): string | undefined {
    return this.request.req.header("cookie");
  }

  get url(): string {
    const url = this.request.req.url;
    // The path and query: what follows the origin of the absolute URL a Request carries.
    const path = url.indexOf("/", url.indexOf("//") + 2);
    return path === -1 ? "/" : url.slice(path);
  }

  get host(): string | undefined {
    // A Request built by the app itself (app.fetch(new Request(url))) has no Host header.
    return this.request.req.header("host") ?? new URL(this.request.req.url).host;
  }

  /** The URL says https: the runtime accepted the connection over TLS. */
  get encrypted(): boolean {
    return this.request.req.url.startsWith("https:");
  }

  get forwardedProto(): string | undefined {
    return this.request.req.header("x-forwarded-proto");
  }

  /** Hono has no "trust proxy" setting: its answer is the URL's. */
  get frameworkSecure(): boolean {
    return this.encrypted;
  }

  get userAgent(): string | undefined {
    return this.request.req.header("user-agent");
  }

  get ip(): string | undefined {
    return undefined;
  }
}

/**
 * The status of the error handler's response when it names none (`c.json(body)`): the error's
 * own (503 for a store out of reach), else 500, never the app's.
 */
function statusOf(error: unknown): number {
  const status = (error as { status?: unknown } | null)?.status;
  return typeof status === "number" && status >= 400 && status <= 599 ? status : 500;
}

/**
 * Saving the session failed: the app's response must not reach the visitor, who would be told
 * that something was saved when nothing was. It is dropped, headers and all (Hono copies the
 * headers of the response it replaces, a Location or an app's Set-Cookie, onto the error
 * handler's response), before the error goes to `app.onError`.
 */
function dropResponse(c: SessionContext, error: unknown): void {
  const body = c.res.body;
  // A stream the app is still writing (c.stream(), streamSSE()) is told that nobody reads it.
  if (body !== null && !body.locked) body.cancel().catch(() => {});
  // Unset first, so that the placeholder does not inherit the app's headers.
  c.res = undefined;
  c.res = new Response(null, { status: 500 });
  c.status(statusOf(error) as Status);
}

/**
 * Sessions for Hono, with the same options and the same session API as the Express middleware:
 * `c.get("session")` is Express's `req.session`. The session is loaded before the app's handlers
 * run and saved after them, before the response leaves, with its cookie appended to the
 * response's `Set-Cookie` headers.
 *
 * Errors go to `app.onError`, with `status` and `code` on them: a store that cannot be reached
 * while the session loads (503, `ERR_STORE_UNAVAILABLE`), and one that fails while it is saved,
 * which replaces the app's response. `saveErrorResponse: "app"` (send the app's response
 * anyway, report the error afterwards, as express-session does) is refused: Hono has no error
 * handler that runs once a response is out, so the failure would go unreported.
 *
 * @example
 * import { Hono } from "hono";
 * import { session, type SessionEnv } from "tessera/hono";
 * import { RedisStore } from "tessera/redis";
 *
 * const app = new Hono<SessionEnv>();
 * app.use(session({ secret: process.env.SESSION_SECRET!, store: new RedisStore({ client }), resave: false, saveUninitialized: false }));
 * app.get("/count", (c) => {
 *   const session = c.get("session");
 *   session.views = (session.views ?? 0) + 1;
 *   return c.json({ views: session.views });
 * });
 * app.onError((error, c) => c.json({ code: (error as { code?: string }).code ?? null }, 500));
 */
export function session(options: HonoSessionOptions): MiddlewareHandler<SessionEnv> {
  const given = typeof options === "object" && options !== null;
  if (given && options.saveErrorResponse === "app") {
    throw new TesseraError(
      "ERR_OPTION",
      'saveErrorResponse: "app" is not available under Hono, which has no error handler that runs after the response is sent: a failed save would go unreported. Leave the option unset.',
    );
  }
  // The node:http door's choice too: no express-session to match, so a failed final save
  // answers through the error handler.
  const engine = new Engine(
    given ? { saveErrorResponse: "error", ...options } : options,
    () => new MemoryStore(),
  );
  return async function session(c, next) {
    let state: RequestState | undefined;
    try {
      const answer = engine.load(new HonoRequestView(c));
      state = isThenable(answer) ? await answer : answer;
    } catch (error) {
      c.status(statusOf(error) as Status);
      throw error;
    }
    if (state === undefined) {
      await next();
      return;
    }
    c.set("sessionStore", engine.store);
    // An error thrown by a handler does not come out of next(): Hono has already answered it
    // with app.onError, and that response carries the session's cookie, as under Express.
    await next();
    try {
      const work = state.commit();
      if (work !== undefined) await work;
    } catch (error) {
      dropResponse(c, error);
      throw error;
    }
    const cookie = state.setCookie();
    if (state.cookieError !== undefined) {
      dropResponse(c, state.cookieError);
      throw state.cookieError;
    }
    // Appended, never set: the app's own Set-Cookie headers stay.
    if (cookie !== undefined) c.header("Set-Cookie", cookie, { append: true });
  };
}
