import type { Session } from "./session.js";

/**
 * What the engine reads of a request, whatever the framework: each adapter makes one per request
 * from its own request object. Properties are read when needed, so an adapter may define them as
 * getters over its request (most requests need only the Cookie header).
 */
export interface RequestView {
  /**
   * The framework's request object, opaque to the engine: what `genid(req)` and a `cookie(req)`
   * function are called with, and `req.session.req`.
   */
  readonly request: object;
  /** Where the session lives while the request runs (`req` itself under Express). */
  readonly slot: SessionSlot;
  /** The Cookie header, if any. */
  readonly cookieHeader: string | undefined;
  /** The path and query the app sees (Express's `originalUrl`), for a cookie with a `path`. */
  readonly url: string;
  /** The Host header (or HTTP/2's `:authority`). */
  readonly host: string | undefined;
  /** The connection itself is TLS. */
  readonly encrypted: boolean;
  /** The first `X-Forwarded-Proto` value, trusted only with `proxy: true`. */
  readonly forwardedProto: string | undefined;
  /**
   * The framework's own answer to "did this request come over HTTPS?", honouring its proxy
   * settings (Express's `req.secure`), used when the `proxy` option is left unset.
   */
  readonly frameworkSecure: boolean;
  /** For `recordClient`. */
  readonly userAgent: string | undefined;
  /** For `recordClient`: the client's address, as the framework resolves it behind proxies. */
  readonly ip: string | undefined;
  /** cookie-parser's secret, used when `session()` was given none (as express-session does). */
  readonly secret?: unknown;
  /** cookie-parser's parsed cookies, read when the Cookie header does not carry the session. */
  readonly cookies?: Record<string, unknown> | undefined;
  readonly signedCookies?: Record<string, unknown> | undefined;
}

/**
 * The place a request's session is kept: `req.session` and `req.sessionID` under Express (the
 * request itself is the slot). The app may replace or delete `session` (`req.session = null`
 * with `unset: "destroy"`), and may overwrite `sessionID`: the engine reads both back at the end.
 */
export interface SessionSlot {
  session?: Session | null | undefined;
  sessionID?: string | undefined;
}

/** True when the request came over TLS, or through a trusted proxy that says so. As express-session decides. */
export function isSecureView(view: RequestView, proxy: boolean | undefined): boolean {
  if (view.encrypted) return true;
  if (proxy === false) return false;
  if (proxy !== true) return view.frameworkSecure;
  const value = view.forwardedProto ?? "";
  const comma = value.indexOf(",");
  return (comma === -1 ? value : value.slice(0, comma)).trim().toLowerCase() === "https";
}

/**
 * Browsers treat http://localhost as a secure context and keep Secure cookies from it: the
 * `localhostIsSecure` option sends them there.
 */
export function isLocalhost(view: RequestView): boolean {
  return /^(localhost|127\.\d+\.\d+\.\d+|\[::1\])(:\d+)?$/i.test(view.host ?? "");
}

/** The pathname of a request URL (what precedes `?`). */
export function pathnameOf(url: string): string {
  const query = url.indexOf("?");
  return query === -1 ? url : url.slice(0, query);
}
