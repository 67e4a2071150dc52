import type { LegacyStore } from "../core/options.js";
import type { Session, SessionData } from "../core/session.js";
import type { Store } from "../store/types.js";

// Express users get typed `req.session` as they did with @types/express-session. Declare your
// own keys by merging into `SessionData` (see its documentation).
declare global {
  namespace Express {
    interface Request {
      session: Session & Partial<SessionData>;
      sessionID: string;
      sessionStore: Store | LegacyStore;
    }
  }
}
