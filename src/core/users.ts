import { toStore } from "../store/legacy.js";
import { requireCapability } from "../store/record.js";
import type { SessionRecord, Store } from "../store/types.js";
import { toBase64Url } from "./base64.js";
import { nodeCrypto } from "./builtins.js";
import { TesseraError } from "./errors.js";
import type { LegacyStore } from "./options.js";
import { kState, type Session } from "./session.js";
import { sha256 } from "./sha256.js";

/**
 * What the user-session helpers read of a request once session() has run: its session, id and
 * store. Express's and node's `req`, Fastify's `request`, Koa's `ctx` and Hono's `c.var` have them.
 */
export interface SessionHolder {
  session?: Session | null | undefined;
  sessionID?: string | undefined;
  sessionStore?: Store | LegacyStore | undefined;
}

/** One of a user's sessions, as a "your active sessions" page shows it. */
export interface UserSession {
  /**
   * An opaque handle for this session, safe to put in a page or a form: a session id is a
   * credential and must never be shown, so revoking goes by handle.
   */
  handle: string;
  /** True for the session of the request that asked. */
  current: boolean;
  createdAt: Date;
  /** When a request last wrote or touched the session (see `touchAfterMs`). */
  lastSeenAt: Date | undefined;
  /** When the browser's cookie expires, if it is not a browser-session cookie. */
  expiresAt: Date | undefined;
  /** Recorded only with the `recordClient` option. */
  userAgent: string | undefined;
  /** Recorded only with the `recordClient` option. */
  ip: string | undefined;
}

const utf8 = new TextEncoder();

/** The handle of a session id: a truncated SHA-256, from which the id cannot be recovered. */
export const sessionHandle: (id: string) => string =
  nodeCrypto === undefined
    ? (id) => toBase64Url(sha256(utf8.encode(id))).slice(0, 22)
    : nodeSessionHandle(nodeCrypto.createHash);

function nodeSessionHandle(
  createHash: typeof import("node:crypto").createHash,
): typeof sessionHandle {
  return (id) => createHash("sha256").update(id).digest("base64url").slice(0, 22);
}

function storeOf(req: SessionHolder): Store {
  const store = req.sessionStore;
  if (store === undefined) {
    throw new TesseraError(
      "ERR_OPTION",
      "no session store on this request: mount session() before using user sessions.",
    );
  }
  return toStore(store as Store);
}

function userOf(req: SessionHolder, user: string | undefined): string {
  const key = user ?? req.session?.getUser();
  if (key === undefined) {
    throw new TesseraError(
      "ERR_OPTION",
      "this session is not tied to a user: call req.session.setUser(id) at login, or set the userKey option.",
    );
  }
  return key;
}

function describe(id: string, record: SessionRecord, currentId: string | undefined): UserSession {
  const meta = record.__tessera;
  const expires = record.cookie.expires;
  return {
    handle: sessionHandle(id),
    current: id === currentId,
    createdAt: new Date(meta?.createdAt ?? 0),
    lastSeenAt: meta?.seenAt === undefined ? undefined : new Date(meta.seenAt),
    expiresAt: expires ? new Date(expires) : undefined,
    userAgent: meta?.userAgent,
    ip: meta?.ip,
  };
}

/**
 * How to report sessions revoked by id to the app's `onSessionEvent` hook: through the engine
 * behind the request's own session. Without a session on the request (the app unset it) there
 * is no engine to ask, and nothing is reported.
 */
function revokedReporter(req: SessionHolder): ((id: string, user: string) => void) | undefined {
  const session = req.session as Partial<Session> | null | undefined;
  return session?.[kState]?.controller.revokedReporter?.();
}

/** Ends the request's own session as revoked (destroy() where the session cannot say so). */
function revokeCurrent(session: Session): Promise<void> {
  const controller = session[kState]?.controller;
  return controller?.revoke === undefined ? session.destroy() : controller.revoke(session);
}

/**
 * The ids the user's sessions have before a bulk revocation, to report each one; only when the
 * app has a hook, and only where the store can list them (not behind hashIds()).
 */
async function idsToReport(
  store: Store,
  user: string,
  report: ((id: string, user: string) => void) | undefined,
): Promise<string[]> {
  if (report === undefined || typeof store.idsForUser !== "function") return [];
  return store.idsForUser(user);
}

/**
 * The live sessions of the request's user (or of `user`), most recently seen first.
 * Needs a store with a user index; throws `ERR_STORE_CAPABILITY` otherwise.
 *
 * @example
 * app.get("/sessions", async (req, res) => {
 *   res.render("sessions", { sessions: await listUserSessions(req) });
 * });
 */
export async function listUserSessions(req: SessionHolder, user?: string): Promise<UserSession[]> {
  const key = userOf(req, user);
  const store = storeOf(req);
  requireCapability(store, "idsForUser", "listing a user's sessions");
  const ids = await store.idsForUser(key);
  const records = await Promise.all(ids.map((id) => store.get(id)));
  const sessions: UserSession[] = [];
  ids.forEach((id, index) => {
    const record = records[index];
    if (record !== undefined && record.__tessera?.user === key)
      sessions.push(describe(id, record, req.sessionID));
  });
  const seen = (session: UserSession) => (session.lastSeenAt ?? session.createdAt).getTime();
  return sessions.sort((a, b) => seen(b) - seen(a));
}

/**
 * Revokes one of the user's sessions by its handle. Resolves `false` when no session of this
 * user has that handle, so one user can never revoke another's session. Revoking the current
 * session destroys `req.session` and clears its cookie.
 */
export async function revokeUserSession(
  req: SessionHolder,
  handle: string,
  user?: string,
): Promise<boolean> {
  const key = userOf(req, user);
  const store = storeOf(req);
  requireCapability(store, "idsForUser", "revoking a user's session");
  const id = (await store.idsForUser(key)).find((candidate) => sessionHandle(candidate) === handle);
  if (id === undefined) return false;
  if (id === req.sessionID && req.session) {
    await revokeCurrent(req.session);
  } else {
    await store.destroy(id);
    revokedReporter(req)?.(id, key);
  }
  return true;
}

/** Revokes every session of the user except the current one ("log out everywhere else"). */
export async function revokeOtherSessions(req: SessionHolder, user?: string): Promise<number> {
  const key = userOf(req, user);
  const store = storeOf(req);
  requireCapability(store, "destroyForUser", "logging a user out everywhere");
  const report = revokedReporter(req);
  const ids = await idsToReport(store, key, report);
  const removed = await (req.sessionID === undefined
    ? store.destroyForUser(key)
    : store.destroyForUser(key, { except: req.sessionID }));
  for (const id of ids) if (id !== req.sessionID) report?.(id, key);
  return removed;
}

/** Revokes every session of the user, the current one included ("log out everywhere"). */
export async function revokeAllSessions(req: SessionHolder, user?: string): Promise<number> {
  const key = userOf(req, user);
  const store = storeOf(req);
  requireCapability(store, "destroyForUser", "logging a user out everywhere");
  const report = revokedReporter(req);
  const ids = await idsToReport(store, key, report);
  const removed = await store.destroyForUser(key);
  const current = req.session && req.session.getUser() === key ? req.session : undefined;
  // The request's own session is reported once, by its revocation below.
  for (const id of ids) if (current === undefined || id !== current.id) report?.(id, key);
  if (current !== undefined) await revokeCurrent(current);
  return removed;
}
