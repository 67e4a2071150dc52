import type { LegacyStore } from "../core/options.js";
import type { Session, SessionData } from "../core/session.js";
import type { FlashFunction } from "../flash/flash.js";
import type { Store } from "../store/types.js";

// Fastify users get a typed `request.session`; declare your own keys by merging into
// `SessionData` (see its documentation). @fastify/session declares `request.session` too: the
// two plugins cannot be used in one program.
declare module "fastify" {
  interface FastifyRequest {
    /** The visitor's session, loaded by the `session` plugin before the route runs. */
    session: Session & Partial<SessionData>;
    /** The session's id (`request.session.id`). */
    sessionID: string;
    /** The store the `session` plugin was given, as the user-session helpers read it. */
    sessionStore: Store | LegacyStore;
    /**
     * A CSRF token for this session, for a form's `_csrf` field or an `x-csrf-token` header.
     * Set by the `csrf()` hook of tessera/fastify.
     */
    csrfToken(): string;
    /** Flash messages kept in the session until read. Set by the `flash()` hook of tessera/fastify. */
    flash: FlashFunction;
  }
}
