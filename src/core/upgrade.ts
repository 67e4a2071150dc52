import { isTesseraError, TesseraError } from "./errors.js";
import type { RequestState } from "./request-state.js";
import { kState, type Session, type SessionData } from "./session.js";

/** A session as the app reads it, with its declared keys. */
type AppSession = Session & Partial<SessionData>;

/** Options of `sessions.forUpgrade(req, options)`. */
export interface UpgradeSessionOptions {
  /**
   * Touch the session this often while the socket is open, so that it does not expire while
   * the user is on a page that only talks over the socket. 0 for never.
   * @default 0
   */
  keepAliveMs?: number;
  /** Hears of a keep-alive touch that failed (the store was unreachable); the next one tries again. */
  onKeepAliveError?: (error: unknown) => void;
}

/**
 * The session of a request that gets no response: a WebSocket (or any other) upgrade. There is
 * no cookie to send, so it only reads and refreshes a session that exists: the app decides,
 * from `current()`, whether the socket may go on.
 *
 * @example
 * server.on("upgrade", async (req, socket, head) => {
 *   const handle = await sessions.forUpgrade(req, { keepAliveMs: 60_000 });
 *   if (handle?.session?.user === undefined) return refuse(socket, 401);
 *   wss.handleUpgrade(req, socket, head, (ws) => {
 *     ws.on("message", async () => {
 *       if ((await handle.current()) === undefined) ws.close(4401, "session ended");
 *     });
 *   });
 * });
 */
export class UpgradeSession {
  /** The session's id (the cookie's). */
  readonly id: string;
  private timer: ReturnType<typeof setInterval> | undefined;

  constructor(
    private readonly state: RequestState,
    options: UpgradeSessionOptions = {},
  ) {
    this.id = (state.session as Session).id;
    const every = keepAliveMsOf(options);
    if (every > 0) {
      const failed = options.onKeepAliveError ?? (() => {});
      this.timer = setInterval(() => {
        if (this.state.session === undefined) this.close();
        else this.touch().then(undefined, failed);
      }, every);
      // The socket keeps the process alive, not its session's keep-alive.
      this.timer.unref();
    }
  }

  /**
   * The session as last read, or `undefined` once this process saw it end (destroyed,
   * regenerated, expired). Changes to it are written by `await handle.session.save()`.
   */
  get session(): AppSession | undefined {
    return this.state.session as AppSession | undefined;
  }

  /**
   * Reads the session again from the store: `undefined` when it ended meanwhile, anywhere (a
   * logout, "log out everywhere", a timeout). Changes not saved are dropped, as `reload()` does.
   */
  async current(): Promise<AppSession | undefined> {
    const session = this.state.session;
    if (session === undefined) return undefined;
    try {
      await session.reload();
    } catch (error) {
      if (!isTesseraError(error, "ERR_SESSION_GONE")) throw error;
      session[kState].gone = true;
      this.close();
      return undefined;
    }
    return this.state.session as AppSession | undefined;
  }

  /**
   * Refreshes the session's expiry in the store as the end of a request does (writing the
   * changes not saved yet, if any, as the end of a request would). It cannot tell that the
   * session ended elsewhere: `current()` does.
   */
  async touch(): Promise<void> {
    if (this.state.session === undefined) return;
    await this.state.commit();
  }

  /** Stops the keep-alive. Called when the socket closes (the node and Express doors do it). */
  close(): void {
    if (this.timer === undefined) return;
    clearInterval(this.timer);
    this.timer = undefined;
  }
}

/** The keep-alive period the options ask for; throws `ERR_OPTION` on one that is not a period. */
export function keepAliveMsOf(options: UpgradeSessionOptions): number {
  const every = options.keepAliveMs ?? 0;
  if (typeof every !== "number" || !Number.isFinite(every) || every < 0) {
    throw new TesseraError(
      "ERR_OPTION",
      "tessera: keepAliveMs must be a finite number of milliseconds, 0 (no keep-alive) or more.",
    );
  }
  return every;
}
