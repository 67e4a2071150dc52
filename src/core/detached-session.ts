import { type CallbackStore, registerSessionFactory, toStore } from "../store/legacy.js";
import { cookieFromRecord } from "./cookie.js";
import { TesseraError } from "./errors.js";
import { kState, markStored, recordOf, Session, type SessionController } from "./session.js";

/**
 * express-session's `Store#createSession(req, record)`, for stores that extend our legacy
 * `Store` base: a session made outside any request's lifecycle, which can save and destroy
 * itself through the store, but not reload or regenerate (those need the middleware).
 */
registerSessionFactory((store, req, record) => {
  const detached: SessionController = {
    async save(session) {
      const adapted = toStore(store as unknown as CallbackStore);
      await adapted.set(session.id, recordOf(session), 86_400_000);
      markStored(session);
    },
    async reload() {
      throw new TesseraError(
        "ERR_SESSION_GONE",
        "reload() needs the session middleware: call it on req.session.",
      );
    },
    async regenerate() {
      throw new TesseraError(
        "ERR_SESSION_GONE",
        "regenerate() needs the session middleware: call it on req.session.",
      );
    },
    async destroy(session) {
      await toStore(store as unknown as CallbackStore).destroy(session.id);
      session[kState].gone = true;
    },
  };
  const meta = record.__tessera ?? { createdAt: Date.now() };
  return new Session(
    detached,
    req,
    String(req.sessionID),
    cookieFromRecord(record.cookie),
    meta,
    record,
  );
});
