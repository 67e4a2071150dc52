import type { Context } from "koa";
import type { LegacyStore, SessionOptions } from "../core/options.js";
import type { Session, SessionData } from "../core/session.js";
import type { FlashFunction } from "../flash/flash.js";
import type { Store } from "../store/types.js";

/**
 * Options of `session()` under Koa: express-session's, plus Tessera's own. `genid` and a
 * `cookie` function are called with Koa's `ctx`.
 */
export type KoaSessionOptions = SessionOptions<Context>;

// Koa users get a typed `ctx.session`. `DefaultContext` is the interface @types/koa leaves open
// for this ("can be augmented by users to add types to Koa's default context"); declare your own
// keys by merging into `SessionData` (see its documentation).
declare module "koa" {
  interface DefaultContext {
    /** The request's session, set by `session()`. Read it afresh after `regenerate()` or `reload()`. */
    session: Session & Partial<SessionData>;
    /** The session's id: a credential, never to be shown or logged. */
    sessionID: string;
    /** The store `session()` keeps sessions in, for the user-session helpers (`listUserSessions(ctx)`). */
    sessionStore: Store | LegacyStore;
    /**
     * A CSRF token for this session, to put in a form's `_csrf` field or an `x-csrf-token`
     * header. Set by `csrf()` from `tessera/koa`.
     */
    csrfToken(): string;
    /** Flash messages kept in the session until read. Set by `flash()` from `tessera/koa`. */
    flash: FlashFunction;
  }
}
