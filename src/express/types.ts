import type { LegacyStore } from "../core/options.js";
import type { Session, SessionData } from "../core/session.js";
import type { Store } from "../store/types.js";

/**
 * What express-session's own types (`@types/express-session`) declare on `Express.Request`,
 * or `unknown` when they are not loaded. They often are, beside Tessera: connect-redis's types
 * import them. Both packages declaring `req.session` on `Express.Request` would be an error
 * (TypeScript 2717) whose winner depends on import order; declaring Tessera's on Express's
 * `Request` instead, intersected with theirs, keeps both valid and Tessera's always visible.
 */
type ExpressSessionField<K extends string> = Express.Request extends { [P in K]: infer T }
  ? T
  : unknown;

// Express users get a typed `req.session`, as with @types/express-session. Declare your own keys
// by merging into `SessionData` (see its documentation).
declare module "express-serve-static-core" {
  interface Request {
    session: Session & Partial<SessionData> & ExpressSessionField<"session">;
    sessionID: string;
    sessionStore: (Store | LegacyStore) & ExpressSessionField<"sessionStore">;
  }
}
