import type {
  FastifyInstance,
  FastifyPluginCallback,
  FastifyReply,
  FastifyRequest,
  onRequestHookHandler,
  onSendHookHandler,
} from "fastify";
import { Engine } from "../core/engine.js";
import { TesseraError } from "../core/errors.js";
import type { RequestState } from "../core/request-state.js";
import { isThenable } from "../store/types.js";
import { MemoryStore } from "../stores/memory.js";
import type { FastifySessionOptions } from "./options.js";
import { FastifyRequestView } from "./view.js";

/** A request as the hooks of one registration see it: its state sits under that registration's key. */
type Holder = FastifyRequest & Record<symbol, RequestState | null>;

/** The HTTP status an error answers with: its own when it has one, else 500. */
function statusOf(error: unknown): number {
  const status = (error as { statusCode?: unknown } | null)?.statusCode;
  return typeof status === "number" && status >= 400 && status <= 599 ? status : 500;
}

/**
 * Sessions for Fastify 5: `request.session` with the same options, methods and signed cookie as
 * Tessera's Express middleware. The session is loaded in `onRequest` and saved in `onSend`, so
 * the response goes out only once the store has it. It applies to every route of the context it
 * is registered in and of that context's children: register it at the root, before the routes,
 * for the whole app.
 *
 * A store that fails while the session loads, or while it is saved, sends the error (503
 * `ERR_STORE_UNAVAILABLE` when the store is unreachable) to Fastify's error handler. Unlike
 * Express's, a failed save replaces the route's response by default (`saveErrorResponse`
 * defaults to `"error"`).
 *
 * @example
 * import Fastify from "fastify";
 * import { session } from "tessera/fastify";
 * import { SqliteStore } from "tessera/sqlite";
 *
 * const app = Fastify();
 * await app.register(session, {
 *   secret: process.env.SESSION_SECRET!,
 *   store: new SqliteStore({ path: "sessions.db" }),
 *   resave: false,
 *   saveUninitialized: false,
 * });
 * app.get("/", async (request) => {
 *   request.session.views = (request.session.views ?? 0) + 1;
 *   return { views: request.session.views };
 * });
 */
export const session: FastifyPluginCallback<FastifySessionOptions> = function tesseraSession(
  app: FastifyInstance,
  options: FastifySessionOptions,
  done: (error?: Error) => void,
): void {
  let engine: Engine;
  try {
    engine = createEngine(options);
  } catch (error) {
    done(error as Error);
    return;
  }
  // Each registration keeps its requests' state under a key of its own: a second registration
  // (on a cookie path of its own, as with two express-session middlewares) leaves the first's alone.
  const kState = Symbol("tessera.requestState");
  app.decorateRequest(kState, null);
  // A second registration finds these already declared (by itself or a parent context). Empty
  // until a request loads its session; the empty list of dependencies picks Fastify's typing
  // for a null placeholder.
  if (!app.hasRequestDecorator("session")) {
    app.decorateRequest("session", null, []);
    app.decorateRequest("sessionID", null, []);
    app.decorateRequest("sessionStore", null, []);
  }
  const replaceResponse = engine.options.replaceResponseOnSaveError;

  const loadSession: onRequestHookHandler = (request, _reply, next) => {
    let loaded: ReturnType<Engine["load"]>;
    try {
      loaded = engine.load(new FastifyRequestView(request));
    } catch (error) {
      next(error as Error);
      return;
    }
    // Nothing to do: an earlier registration loaded the session, the store is disconnected,
    // or the request is outside the cookie's path.
    if (loaded === undefined) {
      next();
      return;
    }
    request.sessionStore = engine.store;
    if (!isThenable(loaded)) {
      (request as Holder)[kState] = loaded;
      next();
      return;
    }
    loaded.then(
      (state) => {
        (request as Holder)[kState] = state ?? null;
        next();
      },
      (error: unknown) => next(error as Error),
    );
  };

  const saveSession: onSendHookHandler = (request, reply, payload, next) => {
    const state = (request as Holder)[kState];
    // No session of this registration, or the response that replaces one whose save failed:
    // Fastify runs onSend again for the error handler's response.
    if (state === null || state === undefined) {
      next(null, payload);
      return;
    }
    (request as Holder)[kState] = null;
    const fail = (error: unknown): void => {
      if (!replaceResponse) {
        // saveErrorResponse: "app", express-session's way: the route's response goes out, without
        // the session cookie, and the error is logged, as Express's error handler does once the
        // response is out.
        request.log.error(
          { err: error },
          "tessera: the session could not be saved, or its cookie could not be made; the route's response was sent without the session cookie",
        );
        next(null, payload);
        return;
      }
      answerWithError(reply, error);
      next(error as Error);
    };
    const send = (): void => {
      let value: string | undefined;
      try {
        value = state.setCookie();
      } catch (error) {
        // Run from a Promise's callback, a throw would leave the response waiting forever.
        fail(error);
        return;
      }
      if (state.cookieError !== undefined) {
        fail(state.cookieError);
        return;
      }
      // reply.header() appends to the Set-Cookie values already set: the app's cookies stay.
      if (value !== undefined) reply.header("set-cookie", value);
      next(null, payload);
    };
    let work: Promise<void> | undefined;
    try {
      work = state.commit();
    } catch (error) {
      fail(error);
      return;
    }
    if (work === undefined) send();
    else work.then(send, fail);
  };

  app.addHook("onRequest", loadSession);
  app.addHook("onSend", saveSession);
  done();
};

function createEngine(options: FastifySessionOptions): Engine {
  const secret = (options as Partial<FastifySessionOptions> | undefined)?.secret as unknown;
  if (secret === undefined || secret === null || secret === "") {
    // Express falls back to cookie-parser's `req.secret`; Fastify has no such thing.
    throw new TesseraError(
      "ERR_OPTION",
      "secret option required for sessions: app.register(session, { secret: process.env.SESSION_SECRET }).",
    );
  }
  // No express-session to match here: a failed save answers through the error handler, as
  // @fastify/session does, unless the app asks for its own response.
  return new Engine({ saveErrorResponse: "error", ...options }, () => new MemoryStore());
}

/**
 * Drops what the route put on the reply before Fastify hands `error` to the error handler:
 * nothing of a response that claims success (its Location, its cookies, its cache headers)
 * may reach the client with the error. Fastify itself removes only Content-Type and
 * Content-Length, and leaves the route's status, which its default handler keeps when it is not
 * 200: the status is set from the error here.
 */
function answerWithError(reply: FastifyReply, error: unknown): void {
  for (const name of Object.keys(reply.getHeaders())) reply.removeHeader(name);
  reply.code(statusOf(error));
}

// What fastify-plugin sets: the plugin shares the context it is registered in (so it applies to
// that context's routes and children, every route when registered at the root), and has a name.
Object.assign(session, {
  [Symbol.for("skip-override")]: true,
  [Symbol.for("fastify.display-name")]: "tessera",
  [Symbol.for("plugin-meta")]: { name: "tessera", fastify: "5.x" },
});
