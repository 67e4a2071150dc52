import {
  isThenable,
  type MaybePromise,
  type SessionMeta,
  type SessionPatch,
  type SessionRecord,
} from "../store/types.js";
import { channels, publish } from "./channels.js";
import {
  Cookie,
  type CookieOptions,
  cookieFromRecord,
  type SafeAttributes,
  safeAttributesOf,
  serializeCookie,
} from "./cookie.js";
import { type RequestFacts, shouldSave, shouldSetCookie, touchDue } from "./decisions.js";
import type { Engine } from "./engine.js";
import { TesseraError } from "./errors.js";
import { emitSessionEvent, type SessionEvent } from "./events.js";
import { expiredBecause, idleTimeoutOf, pastAbsoluteTimeout, ttlOf } from "./expiry.js";
import { warnOnce } from "./options.js";
import {
  changesOf,
  fullPatchOf,
  kState,
  markStored,
  notRenewed,
  type RegenerateOptions,
  recordOf,
  Session,
  type SessionController,
} from "./session.js";
import type { Secret } from "./signing.js";
import { sessionHandle } from "./users.js";
import { isLocalhost, isSecureView, type RequestView } from "./view.js";

/** A verified session id from the request's cookie, and which secret signed it (0: the current). */
export interface CookieFound {
  value: string;
  secretIndex: number;
}

function isRecord(value: unknown): value is SessionRecord {
  return (
    typeof value === "object" &&
    value !== null &&
    typeof (value as SessionRecord).cookie === "object" &&
    (value as SessionRecord).cookie !== null
  );
}

/**
 * One request's session, between the engine's two phases. It is the controller behind
 * `req.session`'s methods, and it runs the request's store writes one after the other.
 * Adapters call {@link commit} when the app is done and {@link setCookie} when the response's
 * headers go out; nothing here knows the framework.
 */
export class RequestState implements SessionController {
  /** The session id the browser sent (verified), if any. */
  private readonly cookieId: string | undefined;
  private readonly signedWithOldSecret: boolean;
  /** The id the session had when loaded or generated; a different id means regenerated. */
  private originalId: string | undefined;
  /** Whether the session counts as saved when unchanged (express-session's `savedHash`). */
  private hasSaved = false;
  /** Whether the session changed since it was loaded, including changes already written. */
  private modified = false;
  /** {@link commit} has run: the app is done with the session. */
  private ended = false;
  /** {@link setCookie} has run: the response's headers are out. */
  private headersDone = false;
  /** The browser holds a cookie for a session that no longer exists: clear it. */
  private clearCookie = false;
  /** Store writes of this request run one after the other. */
  private queue: Promise<void> | undefined;
  /** No store work of this request is under way: new work can start at once. */
  private idle = true;
  /**
   * The error that kept {@link setCookie} from making the cookie (an attribute the cookie
   * format refuses): the response goes on without it, and the adapter hands this to the app's
   * error handler, as express-session does.
   */
  cookieError: unknown;
  /**
   * The new session whose first write the `onSessionEvent` hook hears of as `created` or
   * `regenerated` (then with the id it replaced): a visitor whose session is never stored
   * causes no event. Kept only when the hook is set.
   */
  private unannounced:
    | { session: Session; type: "created" | "regenerated"; previousId?: string }
    | undefined;
  /** The session last put in the slot, for the event of `req.session = null`. */
  private last: Session | undefined;

  constructor(
    private readonly engine: Engine,
    private readonly view: RequestView,
    private readonly cookieOptions: CookieOptions,
    found: CookieFound | undefined,
    /** The secrets of this request, current first (the options', or cookie-parser's). */
    private readonly secrets: readonly Secret[],
  ) {
    this.cookieId = found?.value;
    this.signedWithOldSecret = found !== undefined && found.secretIndex > 0;
  }

  /** The session the app holds now, unless it is gone (destroyed, regenerated, expired). */
  get session(): Session | undefined {
    const session = this.view.slot.session;
    return session instanceof Session && !session[kState].gone ? session : undefined;
  }

  // ---- phase one: the session the request starts with ----

  /**
   * A new, empty session with a new id, in the slot. On load (`initial`), it is what the
   * request started with; from `regenerate()` or `store.generate(req)` it replaces that, and so
   * counts as a change: express-session saves the regenerated session and sends its cookie even
   * with `saveUninitialized: false` (passport's `logout()` relies on it).
   */
  generate(initial = false, replacing?: Session): Session {
    const engine = this.engine;
    const view = this.view;
    const id = engine.options.genid(view.request);
    if (typeof id !== "string" || id === "") {
      throw new TesseraError(
        "ERR_OPTION",
        "the genid option returned something other than a non-empty string.",
      );
    }
    const meta: SessionMeta = { createdAt: Date.now() };
    if (engine.options.recordClient) {
      const agent = view.userAgent;
      if (typeof agent === "string") meta.userAgent = agent.slice(0, 256);
      const ip = view.ip;
      if (ip) meta.ip = ip;
    }
    const session = new Session(this, view.request, id, this.freshCookie(), meta);
    view.slot.sessionID = id;
    view.slot.session = session;
    this.last = session;
    if (engine.options.onSessionEvent !== undefined) {
      const pending = this.unannounced;
      if (replacing === undefined) {
        this.unannounced = { session, type: "created" };
      } else if (pending !== undefined && pending.session === replacing) {
        // The replaced session was never stored: nothing in the store was replaced.
        this.unannounced = { ...pending, session };
      } else {
        this.unannounced = { session, type: "regenerated", previousId: replacing.id };
      }
    }
    if (initial) {
      this.originalId = id;
      this.hasSaved = false;
      this.modified = false;
    }
    publish(channels.created, {});
    return session;
  }

  /** Turns what the store answered for the cookie's id into the slot's session: the stored one, or a fresh one. */
  load(record: SessionRecord | undefined): void {
    // Nothing stored, a record that is not a session (corrupt, or written by something else),
    // or one past a timeout: the visitor gets a fresh session, as with a tampered cookie.
    if (!this.adopt(record)) this.generate(true);
  }

  /**
   * Puts the stored session in the slot. Answers false, leaving the slot empty, when the record
   * is not a live session (a session past a timeout is removed from the store).
   */
  adopt(record: SessionRecord | undefined): boolean {
    const engine = this.engine;
    const id = this.cookieId as string;
    if (!isRecord(record)) return false;
    const reason = expiredBecause(
      engine.options,
      engine.calls.native,
      record.__tessera,
      Date.now(),
    );
    if (reason !== undefined) {
      // A session past a timeout is removed from the store, not merely ignored.
      try {
        const done = engine.calls.destroy(id);
        if (isThenable(done)) done.then(undefined, () => {});
      } catch {
        // The next request that finds it tries again; this one goes on with a fresh session.
      }
      publish(channels.expired, { reason });
      this.report("expired", id, record.__tessera?.user, reason);
      return false;
    }
    const session = this.inflate(id, record);
    this.view.slot.session = session;
    this.last = session;
    this.originalId = id;
    this.hasSaved = !engine.options.resave;
    publish(channels.loaded, {});
    return true;
  }

  /**
   * A `Session` around a stored record. The cookie's expiry comes from the record; the
   * attributes that keep it safe (httpOnly, secure, sameSite, domain, path, partitioned,
   * priority) come from this request's options, never from the store, so that whoever can write
   * the store cannot make the browser keep the cookie without HttpOnly, or send it cross-site.
   */
  private inflate(id: string, record: SessionRecord): Session {
    const stored = record.__tessera;
    const meta: SessionMeta =
      stored && typeof stored === "object" && typeof stored.createdAt === "number"
        ? { ...stored }
        : { createdAt: Date.now() };
    const cookie = Object.assign(cookieFromRecord(record.cookie), this.safeAttributes());
    return new Session(this, this.view.request, id, cookie, meta, record);
  }

  /** The safe attributes of this request's cookie options, for a session loaded from the store. */
  private safeAttributes(): SafeAttributes {
    const options = this.cookieOptions;
    const engine = this.engine;
    if (options === engine.options.cookie && engine.staticAttributes !== undefined) {
      return engine.staticAttributes;
    }
    return safeAttributesOf(options, () => isSecureView(this.view, engine.options.proxy));
  }

  /** The cookie a new session of this request starts with. */
  private freshCookie(): Cookie {
    const cookie = new Cookie(this.cookieOptions);
    const options = this.cookieOptions;
    if (options.secure === "auto" || options.sameSite === "auto") {
      const { secure, sameSite } = this.safeAttributes();
      cookie.secure = secure;
      cookie.sameSite = sameSite;
    }
    return cookie;
  }

  // ---- phase two: what the end of the request writes and sends ----

  /**
   * The app is done: writes what the request changed (or touches, or destroys), as
   * express-session decides. Answers `undefined` when there is nothing to wait for, else the
   * work's Promise; the response should go out only once it resolves, so that a redirect sent
   * right after login never reaches the browser before the session is saved (express-session
   * #360). Throws (or rejects) when the store fails.
   */
  commit(): Promise<void> | undefined {
    this.ended = true;
    const slot = this.view.slot;
    const engine = this.engine;
    if (slot.session == null && engine.options.unsetDestroy && typeof slot.sessionID === "string") {
      const id = slot.sessionID;
      this.clearCookie = this.cookieId === id;
      const unset = this.last;
      // Only the stored session the app let go of is an event: not one it destroyed itself
      // (destroy() also empties the slot), nor a new one that never reached the store.
      const ends =
        unset !== undefined && unset.id === id && !unset[kState].gone && unset[kState].stored;
      return Promise.resolve(engine.calls.destroy(id)).then(() => {
        if (!ends) return;
        unset[kState].gone = true;
        publish(channels.destroyed, { reason: "unset" });
        this.report("destroyed", id, unset.getUser(), "unset");
      });
    }
    const session = this.session;
    if (session === undefined) return undefined;
    // A request that is not activity leaves the expiry where the last activity put it.
    const active = !session[kState].notActivity;
    if (active && !this.headersDone) session.cookie.resetMaxAge();
    const changes = changesOf(session);
    if (this.shouldSave(session, changes)) return this.enqueue(() => this.write(session, changes));
    if (active && this.cookieId === session.id && !this.bogusId()) {
      if (!this.idle) {
        // Decide once the writes under way are done: they move `seenAt`.
        return this.enqueue(() => (this.touchDue(session) ? this.touch(session) : undefined));
      }
      if (!this.touchDue(session)) return undefined;
      // A store that answers within the call is touched here, and the response ends at once.
      const touched = this.touch(session);
      return touched === undefined ? undefined : this.enqueue(() => touched);
    }
    return undefined;
  }

  /**
   * The Set-Cookie value the response must carry, or `undefined`: call it as the headers go out
   * (after {@link commit} where the framework lets the response wait). A cookie the format
   * refuses leaves the value `undefined` and the reason in {@link cookieError}.
   */
  setCookie(): string | undefined {
    if (this.headersDone) return undefined;
    this.headersDone = true;
    const engine = this.engine;
    const session = this.session;
    if (session === undefined) {
      if (!this.clearCookie) return undefined;
      const cookie = new Cookie(this.cookieOptions);
      return serializeCookie(engine.options.name, "", { ...cookie.data, expires: new Date(0) });
    }
    let changes: SessionPatch | undefined;
    try {
      changes = changesOf(session);
    } catch {
      changes = undefined;
    }
    if (!this.shouldSetCookie(session, changes)) return undefined;
    if (session.cookie.secure || engine.securePrefix) {
      // Browsers drop a Secure cookie sent over plain HTTP, and a __Secure-/__Host- one without
      // Secure. express-session sends no cookie then; so do we, unless told that localhost is a
      // secure context (browsers treat it as one).
      const secure =
        isSecureView(this.view, engine.options.proxy) ||
        (engine.options.localhostIsSecure && isLocalhost(this.view));
      if (!secure) {
        warnOnce(
          "TESSERA_INSECURE_COOKIE",
          "tessera: the session cookie must be Secure (cookie.secure, or a __Secure-/__Host- name) but this request came over plain HTTP, so the browser would drop it and no cookie was sent. Behind a TLS proxy set the proxy option (or Express's trust proxy); otherwise use cookie.secure: 'auto' with an unprefixed name, or serve the site over HTTPS.",
        );
        return undefined;
      }
      session.cookie.secure = true;
    }
    if (!this.ended && !session[kState].notActivity) session.cookie.resetMaxAge();
    try {
      return engine.signedCookie(session.id, session.cookie, this.secrets[0] as Secret);
    } catch (error) {
      this.cookieError = error;
      return undefined;
    }
  }

  /** Runs `work` after the request's store work under way, or at once when there is none. */
  private enqueue(work: () => Promise<void> | undefined): Promise<void> {
    let run: Promise<void>;
    if (this.idle) {
      // Starting at once when nothing is under way saves a turn of the microtask queue.
      try {
        run = Promise.resolve(work());
      } catch (error) {
        run = Promise.reject(error);
      }
    } else {
      // Not idle: work is under way, and `queue` is its end.
      run = (this.queue as Promise<void>).then(work);
    }
    this.idle = false;
    const settled: Promise<void> = run.then(
      () => this.settled(settled),
      () => this.settled(settled),
    );
    this.queue = settled;
    return run;
  }

  private settled(work: Promise<void>): void {
    if (this.queue === work) this.idle = true;
  }

  // ---- the decisions, as express-session makes them ----

  /** The app replaced `req.sessionID` with something that is not an id: nothing is saved or sent. */
  private bogusId(): boolean {
    return typeof this.view.slot.sessionID !== "string";
  }

  /** What this request saw of `session`, for the decisions. */
  private facts(session: Session, changes: SessionPatch | undefined): RequestFacts {
    return {
      cookieId: this.cookieId,
      originalId: this.originalId,
      sessionId: session.id,
      idValid: !this.bogusId(),
      hasSaved: this.hasSaved,
      pending: changes !== undefined,
      written: this.modified,
    };
  }

  private shouldSave(session: Session, changes: SessionPatch | undefined): boolean {
    return shouldSave(this.facts(session, changes), this.engine.options);
  }

  private shouldSetCookie(session: Session, changes: SessionPatch | undefined): boolean {
    return shouldSetCookie(this.facts(session, changes), this.engine.options, {
      expires: session.cookie.expires != null,
      signedWithOldSecret: this.signedWithOldSecret,
    });
  }

  private touchDue(session: Session): boolean {
    const options = this.engine.options;
    const meta = session[kState].meta;
    let touchAfterMs = options.touchAfterMs;
    // The options refuse a touchAfterMs as long as the idle timeout; a session's own, shorter
    // idle timeout (setLifetime()) cannot be refused then, so its touches are never put off.
    const idleTimeoutMs = idleTimeoutOf(options, meta);
    if (idleTimeoutMs > 0 && touchAfterMs >= idleTimeoutMs) touchAfterMs = 0;
    return touchDue(meta, touchAfterMs, Date.now());
  }

  // ---- writing ----

  /** Writes the session: a patch of what changed when the store can, else the whole record. */
  private async write(session: Session, changes: SessionPatch | undefined): Promise<void> {
    const engine = this.engine;
    const calls = engine.calls;
    const options = engine.options;
    const state = session[kState];
    const time = Date.now();
    const ttlMs = ttlOf(options, session, time);
    if (ttlMs === 0) {
      if (pastAbsoluteTimeout(options, session, time)) {
        await calls.destroy(state.id);
        state.gone = true;
        publish(channels.expired, { reason: "absolute" });
        this.report("expired", state.id, state.meta.user, "absolute");
        return;
      }
      // The app gave the cookie an expiry that has passed (maxAge 0, expires in the past): the
      // browser is sent that cookie, as express-session sends it, and the store keeps nothing.
      if (state.stored) await this.expireByCookie(session);
      return;
    }
    this.updateMeta(session);
    const id = state.id;
    if (state.stored && calls.canPatch()) {
      const written = await calls.patch(
        id,
        changes === undefined || options.resave
          ? fullPatchOf(session)
          : {
              set: { ...changes.set, cookie: session.cookie, __tessera: state.meta },
              unset: changes.unset,
            },
        ttlMs,
      );
      if (!written) {
        this.destroyedMeanwhile(session);
        return;
      }
    } else {
      if (state.stored && calls.tombstones.has(id)) {
        // A `set` cannot refuse the write itself, as `patch` does: a store written for
        // express-session, a Tessera store without patch, or a set the app replaced.
        this.destroyedMeanwhile(session);
        return;
      }
      await calls.set(id, recordOf(session), ttlMs);
    }
    if (changes !== undefined) this.modified = true;
    markStored(session);
    publish(channels.saved, {});
    const pending = this.unannounced;
    if (pending !== undefined && pending.session === session) {
      this.unannounced = undefined;
      this.report(pending.type, id, state.meta.user, undefined, pending.previousId);
    }
  }

  /** Removes a stored session whose cookie the app made expire. */
  private async expireByCookie(session: Session): Promise<void> {
    const state = session[kState];
    await this.engine.calls.destroy(state.id);
    publish(channels.expired, { reason: "cookie" });
    this.report("expired", state.id, state.meta.user, "cookie");
  }

  /** Tells the app's `onSessionEvent` hook, if it has one. */
  private report(
    type: SessionEvent["type"],
    id: string,
    user: string | undefined,
    reason?: SessionEvent["reason"],
    previousId?: string,
  ): void {
    const hook = this.engine.options.onSessionEvent;
    if (hook === undefined) return;
    emitSessionEvent(hook, type, id, user, {
      ...(reason === undefined ? {} : { reason }),
      ...(previousId === undefined ? {} : { previousHandle: sessionHandle(previousId) }),
    });
  }

  /**
   * For the user-session helpers: reports sessions they removed from the store by id as
   * `revoked`, or `undefined` when the app has no hook (so they need not list the ids).
   */
  revokedReporter(): ((id: string, user: string) => void) | undefined {
    if (this.engine.options.onSessionEvent === undefined) return undefined;
    return (id, user) => this.report("revoked", id, user);
  }

  /**
   * Another request destroyed this session while this one ran (a logout): it stays destroyed,
   * and the browser's cookie is cleared.
   */
  private destroyedMeanwhile(session: Session): void {
    const state = session[kState];
    state.gone = true;
    this.clearCookie = this.cookieId === state.id;
    publish(channels.destroyed, { reason: "concurrent" });
    this.report("destroyed", state.id, state.meta.user, "concurrent");
  }

  private updateMeta(session: Session): void {
    const state = session[kState];
    const meta = state.meta;
    if (!state.notActivity) meta.seenAt = Date.now();
    const read = this.engine.options.userKey;
    if (read !== undefined) {
      const user = read(state.target);
      if (user === undefined || user === null || user === "") {
        delete meta.user;
        delete meta.authenticatedAt;
      } else {
        const key = String(user);
        // A new user in the data is a login, as setUser() is. The same user is not: a session
        // stored without the time keeps none, rather than passing for a recent login.
        if (meta.user !== key) meta.authenticatedAt = Date.now();
        meta.user = key;
      }
    }
  }

  /**
   * Refreshes the session's expiry in the store. Answers `undefined` when the store did it
   * within the call, else the Promise of it.
   */
  private touch(session: Session): Promise<void> | undefined {
    const engine = this.engine;
    const calls = engine.calls;
    const ttlMs = ttlOf(engine.options, session, Date.now());
    const state = session[kState];
    let done: MaybePromise<void>;
    if (ttlMs === 0) {
      // The app moved the cookie's expiry into the past: the session ends, as express-session's
      // store ends it when touched with that expiry.
      done = this.expireByCookie(session);
    } else if (calls.touchRewrites(idleTimeoutOf(engine.options, state.meta))) {
      // A store written for express-session keeps only its own expiry on touch, and the idle
      // timeout is read from the record's last-seen time: the record itself must be rewritten.
      // touch() always runs as queued work already: queueing the write again would wait on itself.
      done = this.write(session, undefined);
    } else {
      state.meta.seenAt = Date.now();
      done = calls.touch(state.id, recordOf(session), ttlMs);
    }
    return isThenable(done) ? done : undefined;
  }

  // ---- req.session's methods ----

  save(session: Session): Promise<void> {
    return this.enqueue(async () => {
      const state = session[kState];
      if (state.gone) throw gone("save");
      const changes = changesOf(session);
      await this.write(session, changes);
      this.hasSaved = true;
    });
  }

  reload(session: Session): Promise<void> {
    return this.enqueue(async () => {
      const state = session[kState];
      const engine = this.engine;
      const record = await engine.calls.get(state.id);
      if (
        !isRecord(record) ||
        expiredBecause(engine.options, engine.calls.native, record.__tessera, Date.now()) !==
          undefined
      ) {
        throw gone("reload");
      }
      state.gone = true;
      const fresh = this.inflate(state.id, record);
      this.view.slot.session = fresh;
      this.last = fresh;
    });
  }

  regenerate(session: Session, options: RegenerateOptions): Promise<void> {
    return this.enqueue(async () => {
      const state = session[kState];
      await this.engine.calls.destroy(state.id);
      state.gone = true;
      if (state.stored) publish(channels.destroyed, { reason: "regenerate" });
      const fresh = this.generate(false, session);
      if (options.keepData) {
        // Renewal (OWASP's renewal timeout) is not a new login: the session keeps its user, and
        // so its place in the user index for "log out everywhere", and its creation time, so the
        // absolute timeout still counts from the login. What must not outlive an id (the CSRF
        // secret) is left behind.
        const target = fresh[kState].target;
        for (const key of Object.keys(state.target)) {
          if (key !== "cookie" && !notRenewed.has(key)) target[key] = state.target[key];
        }
        // The time of the last authentication too: renewing must not make an old login recent.
        const meta = fresh[kState].meta;
        meta.createdAt = state.meta.createdAt;
        // The session's own lifetime ("remember me") is the login's too, and so is its cookie.
        const old = state.meta;
        if (old.idleTimeoutMs !== undefined) meta.idleTimeoutMs = old.idleTimeoutMs;
        if (old.absoluteTimeoutMs !== undefined) meta.absoluteTimeoutMs = old.absoluteTimeoutMs;
        if (old.cookieMaxAgeMs !== undefined) {
          meta.cookieMaxAgeMs = old.cookieMaxAgeMs;
          fresh.cookie.maxAge = old.cookieMaxAgeMs;
        }
        if (state.meta.user !== undefined) {
          meta.user = state.meta.user;
          if (state.meta.authenticatedAt !== undefined) {
            meta.authenticatedAt = state.meta.authenticatedAt;
          }
          fresh[kState].metaChanged = true;
        }
      }
    });
  }

  destroy(session: Session): Promise<void> {
    return this.end(session, "destroyed");
  }

  /** destroy(), reported to the hook as revoked by the user-session helpers. */
  revoke(session: Session): Promise<void> {
    return this.end(session, "revoked");
  }

  private end(session: Session, type: "destroyed" | "revoked"): Promise<void> {
    return this.enqueue(async () => {
      const state = session[kState];
      await this.engine.calls.destroy(state.id);
      state.gone = true;
      const slot = this.view.slot;
      if (slot.session === session) delete slot.session;
      // express-session leaves the cookie in the browser (its #241); clear it.
      this.clearCookie = this.cookieId === state.id;
      publish(channels.destroyed, { reason: "destroy" });
      if (state.stored) {
        this.report(type, state.id, state.meta.user, type === "destroyed" ? "destroy" : undefined);
      }
    });
  }
}

function gone(method: string): TesseraError {
  // express-session's words for a reload that finds nothing, which apps compare exactly.
  if (method === "reload") {
    return new TesseraError("ERR_SESSION_GONE", "failed to load session", { verbatim: true });
  }
  return new TesseraError(
    "ERR_SESSION_GONE",
    `req.session.${method}() was called on a session that no longer exists (destroyed, regenerated or expired): use the current req.session.`,
  );
}
