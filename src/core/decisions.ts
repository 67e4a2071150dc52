/**
 * express-session's decisions at the end of a request (its index.js: `isModified`, `isSaved`,
 * `shouldSave`, `shouldSetCookie`), as pure functions of what the request saw. Where
 * express-session compares hashes of the whole session, Tessera knows which keys changed.
 */

/** What one request saw of its session, as the decisions need it. */
export interface RequestFacts {
  /** The verified id the browser sent, if any. */
  readonly cookieId: string | undefined;
  /** The id the session had when loaded or first made; another id now means regenerated. */
  readonly originalId: string | undefined;
  /** The session's id now. */
  readonly sessionId: string;
  /** `req.sessionID` is still a string: an app that replaced it with anything else gets nothing saved or sent. */
  readonly idValid: boolean;
  /** The session counts as saved while unchanged (express-session's `savedHash`). */
  readonly hasSaved: boolean;
  /** Changes of this request not written yet. */
  readonly pending: boolean;
  /** Changes this request already wrote (a `save()` of the app). */
  readonly written: boolean;
}

/** The options the decisions read. */
export interface DecisionOptions {
  readonly saveUninitialized: boolean;
  readonly rolling: boolean;
}

/** The session is not as it was loaded: another id (regenerated), or changed data. */
export function isModified(facts: RequestFacts): boolean {
  return facts.originalId !== facts.sessionId || facts.pending || facts.written;
}

/** The store must be written at the end of the request. */
export function shouldSave(facts: RequestFacts, options: DecisionOptions): boolean {
  if (!facts.idValid) return false;
  const saved = facts.hasSaved && facts.originalId === facts.sessionId && !facts.pending;
  // A new session nobody saved yet is stored only when changed, unless saveUninitialized.
  return !options.saveUninitialized && !facts.hasSaved && facts.cookieId !== facts.sessionId
    ? isModified(facts)
    : !saved;
}

/** The response must carry the session cookie. */
export function shouldSetCookie(
  facts: RequestFacts,
  options: DecisionOptions,
  cookie: {
    /** The cookie has an expiry (not a browser-session cookie). */
    readonly expires: boolean;
    /** The browser's cookie verified with an older secret of the list. */
    readonly signedWithOldSecret: boolean;
  },
): boolean {
  if (!facts.idValid) return false;
  if (facts.cookieId !== facts.sessionId) return options.saveUninitialized || isModified(facts);
  // Re-sign a cookie signed with an older secret, so rotation completes as visitors return.
  if (cookie.signedWithOldSecret) return true;
  return options.rolling || (cookie.expires && isModified(facts));
}

/**
 * An unchanged session's expiry is due to be refreshed in the store: always with
 * `touchAfterMs` 0 (express-session touches on every request), else once that long has passed
 * since the session was last seen.
 */
export function touchDue(
  meta: { readonly createdAt: number; readonly seenAt?: number | undefined },
  touchAfterMs: number,
  nowMs: number,
): boolean {
  return touchAfterMs === 0 || nowMs - (meta.seenAt ?? meta.createdAt) >= touchAfterMs;
}
