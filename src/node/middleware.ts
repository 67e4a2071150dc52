import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from "node:http";
import type { Socket } from "node:net";
import type { Engine } from "../core/engine.js";
import type { LegacyStore } from "../core/options.js";
import type { RequestState } from "../core/request-state.js";
import type { Session } from "../core/session.js";
import { keepAliveMsOf, UpgradeSession, type UpgradeSessionOptions } from "../core/upgrade.js";
import { isSecureView } from "../core/view.js";
import { isThenable, type Store } from "../store/types.js";
import { NodeRequestViewBase } from "./request-view.js";
import { headersSentError, writeHeadWithCookie } from "./response.js";

/** The request as the node:http and Express adapters see it: node's, plus what Express or the app may have added. */
export interface SessionRequest extends IncomingMessage {
  session?: Session | null | undefined;
  sessionID?: string | undefined;
  sessionStore?: Store | LegacyStore;
  originalUrl?: string;
  secure?: boolean;
  ip?: string | undefined;
  /** cookie-parser's secret, used when `session()` was given none (as express-session does). */
  secret?: unknown;
  /** cookie-parser's parsed cookies, read when the Cookie header does not carry the session. */
  cookies?: Record<string, unknown>;
  signedCookies?: Record<string, unknown>;
}

/** The response as the engine sees it: node:http's, or node:http2's compatibility response. */
export type SessionResponse = Pick<
  ServerResponse,
  "getHeader" | "setHeader" | "getHeaderNames" | "removeHeader" | "end" | "writeHead"
> & {
  readonly headersSent: boolean;
};

export type Next = (error?: unknown) => void;

/** A node (or Express) request as the engine reads it: each property read from `req` when asked. */
class NodeRequestView extends NodeRequestViewBase {
  constructor(readonly request: SessionRequest) {
    super();
  }

  get slot(): SessionRequest {
    return this.request;
  }

  protected get headers(): IncomingHttpHeaders {
    return this.request.headers;
  }

  protected get socket(): Socket | undefined {
    return this.request.socket;
  }

  get url(): string {
    return this.request.originalUrl ?? this.request.url ?? "/";
  }

  get frameworkSecure(): boolean {
    return this.request.secure === true;
  }

  get ip(): string | undefined {
    return this.request.ip ?? this.request.socket?.remoteAddress;
  }

  get secret(): unknown {
    return this.request.secret;
  }

  get cookies(): Record<string, unknown> | undefined {
    return this.request.cookies;
  }

  get signedCookies(): Record<string, unknown> | undefined {
    return this.request.signedCookies;
  }
}

/** True when the request came over TLS, or through a trusted proxy that says so. As express-session decides. */
export function isSecureRequest(req: SessionRequest, proxy: boolean | undefined): boolean {
  return isSecureView(new NodeRequestView(req), proxy);
}

/**
 * Runs the engine on a node request, as express-session does: loads `req.session`, calls `next`,
 * and commits the session when the response ends, adding the cookie as its headers go out. Used
 * by `tessera/express` and `tessera/node`.
 */
export function runSession(
  engine: Engine,
  req: SessionRequest,
  res: SessionResponse,
  next: Next,
): void {
  let loaded: ReturnType<Engine["load"]>;
  try {
    loaded = engine.load(new NodeRequestView(req));
  } catch (error) {
    next(error);
    return;
  }
  if (loaded === undefined) {
    next();
    return;
  }
  req.sessionStore = engine.store;
  if (!isThenable(loaded)) {
    new ResponseHook(engine, loaded, res, next);
    next();
    return;
  }
  loaded.then(
    (state) => {
      new ResponseHook(engine, state as RequestState, res, next);
      next();
    },
    (error: unknown) => next(error),
  );
}

/**
 * The session of an upgrade request (a WebSocket's), which gets no response: the stored session
 * its cookie names, or `undefined`. Its keep-alive stops when the request's socket closes.
 * Used by `sessions.forUpgrade(req)` of `tessera/express` and `tessera/node`.
 */
export async function loadForUpgrade(
  engine: Engine,
  req: SessionRequest,
  options: UpgradeSessionOptions = {},
): Promise<UpgradeSession | undefined> {
  keepAliveMsOf(options);
  const state = await engine.loadExisting(new NodeRequestView(req));
  if (state === undefined) return undefined;
  req.sessionStore = engine.store;
  const handle = new UpgradeSession(state, options);
  const socket = req.socket;
  if (socket.destroyed) handle.close();
  else socket.once("close", () => handle.close());
  return handle;
}

/**
 * The node response's side of one request: it holds `res.end()` until the store has the session
 * (a redirect sent right after login never reaches the browser before the session is saved,
 * express-session #360), and adds the session cookie as the headers go out.
 */
class ResponseHook {
  private ended = false;
  private failed = false;
  private headersDone = false;
  /**
   * `end()` was called and waits for the store: the response must act as one whose headers
   * went out (late header changes throw, a second `end()` does nothing), as under
   * express-session, though nothing has been sent yet.
   */
  private holding = false;
  private readonly realEnd: SessionResponse["end"];

  constructor(
    private readonly engine: Engine,
    private readonly state: RequestState,
    private readonly res: SessionResponse,
    private readonly next: Next,
  ) {
    const realEnd = res.end;
    const realWriteHead = res.writeHead;
    this.realEnd = realEnd;
    const hook = this;
    // Two properties, the fewest that can hold the response and add the cookie (each one added
    // to a response costs a little, see `prepareForProperties`).
    // Unnamed on purpose: a compiler that keeps function names (esbuild's keepNames, as tsx
    // runs) would define `name` on each of these per request, a property added to a function
    // every time. Stack traces still call them res.writeHead and res.end.
    res.writeHead = function (this: SessionResponse, ...args: unknown[]) {
      if (hook.holding) throw headersSentError("write");
      return (realWriteHead as (...a: unknown[]) => unknown).apply(this, hook.onHeaders(args));
    } as SessionResponse["writeHead"];
    res.end = ((...args: unknown[]) => hook.onEnd(args)) as SessionResponse["end"];
  }

  /**
   * While `end()` waits for the store, the response refuses header changes as a sent one does
   * (express-session has sent the headers by then), and ignores writes. Installed only on the
   * responses that wait.
   */
  private hold(): void {
    this.holding = true;
    const res = this.res as unknown as Record<string, unknown>;
    const hook = this;
    const guard = (name: string, verb: "set" | "append" | "remove") => {
      const real = res[name];
      if (typeof real !== "function") return;
      res[name] = function (this: unknown, ...args: unknown[]) {
        if (hook.holding) throw headersSentError(verb);
        return (real as (...a: unknown[]) => unknown).apply(this, args);
      };
    };
    guard("setHeader", "set");
    guard("appendHeader", "append");
    guard("removeHeader", "remove");
    const write = res.write;
    if (typeof write === "function") {
      res.write = function (this: unknown, ...args: unknown[]) {
        if (hook.holding) return false;
        return (write as (...a: unknown[]) => unknown).apply(this, args);
      };
    }
  }

  private onEnd(args: unknown[]): unknown {
    const realEnd = this.realEnd as (...a: unknown[]) => unknown;
    // After a failed commit the error handler's response goes through as it is.
    if (this.failed) return realEnd.apply(this.res, args);
    // express-session ignores every end() after the first.
    if (this.ended) return false;
    this.ended = true;
    let work: Promise<void> | undefined;
    try {
      work = this.state.commit();
    } catch (error) {
      this.fail(error);
      return this.res;
    }
    if (work === undefined) return realEnd.apply(this.res, args);
    this.hold();
    work.then(
      () => {
        this.holding = false;
        realEnd.apply(this.res, args);
      },
      (error: unknown) => this.fail(error, args),
    );
    return this.res;
  }

  /**
   * The store write at the end of the request failed. As express-session does, the response
   * the app wrote goes out and the error goes to the error handler afterwards (once the
   * response is out, Express's handler only closes the connection), unless
   * `saveErrorResponse: "error"` asks for the error handler's response instead. That is only
   * possible while nothing is sent: then nothing of the app's response, not its Location nor its
   * Content-Type, may leak into the error handler's.
   */
  private fail(error: unknown, endArgs?: unknown[]): void {
    this.failed = true;
    this.holding = false;
    const res = this.res;
    if (
      endArgs !== undefined &&
      (res.headersSent || !this.engine.options.replaceResponseOnSaveError)
    ) {
      (this.realEnd as (...a: unknown[]) => unknown).apply(res, endArgs);
      setImmediate(() => this.next(error));
      return;
    }
    if (!res.headersSent) for (const name of res.getHeaderNames()) res.removeHeader(name);
    this.next(error);
  }

  /** Adds the session cookie as the headers go out; returns the arguments for the real writeHead. */
  private onHeaders(args: unknown[]): unknown[] {
    if (this.headersDone) return args;
    this.headersDone = true;
    if (this.failed) return args;
    const state = this.state;
    const value = state.setCookie();
    if (state.cookieError !== undefined) {
      // A cookie attribute the cookie format refuses (an invalid Date for expires): as
      // express-session does, the response goes on without the cookie and the error goes to
      // next, once the headers are out.
      const error = state.cookieError;
      process.nextTick(() => this.next(error));
    }
    return value === undefined ? args : writeHeadWithCookie(this.res, args, value);
  }
}
