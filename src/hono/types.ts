import type { Context } from "hono";
import type { LegacyStore, SessionOptions } from "../core/options.js";
import type { Session, SessionData } from "../core/session.js";
import type { Store } from "../store/types.js";

/**
 * Options of `session()` under Hono: the same as under Express. `genid` and a `cookie` function
 * are called with Hono's `Context`.
 */
export type HonoSessionOptions = SessionOptions<Context>;

/**
 * What `session()` puts on the context: `c.get("session")`, `c.get("sessionID")` and
 * `c.get("sessionStore")`, as Express has them on `req`. `c.var` holds the three, so the
 * user-session helpers take it as they take `req`: `listUserSessions(c.var)`.
 *
 * After `await c.get("session").destroy()`, `c.get("session")` is `undefined` until the next
 * request, as `req.session` is under Express; the type leaves that out, as Express's does.
 */
export interface SessionVariables {
  /** The request's session: its data (typed by merging into `SessionData`) and its methods. */
  session: Session & Partial<SessionData>;
  /** The session's id. */
  sessionID: string;
  /** The store, as the app gave it. */
  sessionStore: Store | LegacyStore;
}

/**
 * The Hono environment of an app that uses `session()`: `new Hono<SessionEnv>()` types
 * `c.get("session")`. With bindings or variables of your own, intersect the variables:
 * `new Hono<{ Bindings: Bindings; Variables: SessionVariables & MyVariables }>()`.
 *
 * @example
 * import { Hono } from "hono";
 * import { session, type SessionEnv } from "tessera/hono";
 *
 * const app = new Hono<SessionEnv>();
 * app.use(session({ secret: process.env.SESSION_SECRET!, resave: false, saveUninitialized: false }));
 * app.get("/", (c) => c.text(`hello ${c.get("session").user ?? "stranger"}`));
 */
export interface SessionEnv {
  Variables: SessionVariables;
}
