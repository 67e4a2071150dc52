import { emitWarning } from "./builtins.js";
import { sessionHandle } from "./users.js";

/**
 * Something that happened to a session, for an audit log: what the `onSessionEvent` option
 * receives. It never holds the session id (a credential) or session data: `handle` is the
 * session's handle, the one `listUserSessions()` shows and `revokeUserSession()` takes.
 *
 * - `created`: a new session was stored for the first time (a visitor who never gets a stored
 *   session causes no event).
 * - `regenerated`: `regenerate()` replaced a session; reported when the new one is first stored,
 *   so `user` is the user set after a login's `regenerate()`. `previousHandle` is the old one's.
 * - `destroyed`: `reason` `"destroy"` (`req.session.destroy()`), `"unset"` (`req.session = null`
 *   with `unset: "destroy"`) or `"concurrent"` (this request found its session destroyed by
 *   another one while it ran).
 * - `revoked`: removed by `revokeUserSession()`, `revokeOtherSessions()` or `revokeAllSessions()`.
 * - `expired`: a stored session was found past a timeout and removed: `reason` `"absolute"`,
 *   `"idle"` (only over a store written for express-session: a Tessera store's TTL removes idle
 *   sessions without a request seeing them) or `"cookie"` (the app moved the cookie's expiry
 *   into the past).
 */
export interface SessionEvent {
  type: "created" | "regenerated" | "destroyed" | "revoked" | "expired";
  reason?: "destroy" | "unset" | "concurrent" | "absolute" | "idle" | "cookie";
  /** The user the session is tied to (`getUser()`), if any. */
  user?: string;
  /** The session's handle: a truncated SHA-256 of its id, from which the id cannot be recovered. */
  handle: string;
  /** For `regenerated`: the handle of the session it replaced. */
  previousHandle?: string;
}

/** The `onSessionEvent` option: called synchronously, right after the event. */
export type SessionEventHook = (event: SessionEvent) => void;

const reported = new Set<string>();

/**
 * Calls the app's hook. An audit hook that throws must not fail the request whose session it
 * describes: its error becomes a process warning, once per distinct message so a hook failing
 * on every request does not flood the log.
 */
export function emitSessionEvent(
  hook: SessionEventHook,
  type: SessionEvent["type"],
  id: string,
  user: string | undefined,
  details?: Pick<SessionEvent, "reason" | "previousHandle">,
): void {
  const event: SessionEvent = { type, handle: sessionHandle(id) };
  if (details?.reason !== undefined) event.reason = details.reason;
  if (user !== undefined) event.user = user;
  if (details?.previousHandle !== undefined) event.previousHandle = details.previousHandle;
  try {
    hook(event);
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    if (reported.has(message)) return;
    reported.add(message);
    emitWarning(
      `tessera: the onSessionEvent hook threw while reporting a ${type} event, and the request went on: ${message}`,
      "TESSERA_SESSION_EVENT_HOOK",
    );
  }
}
