import { TesseraError } from "./errors.js";
import type { SessionHolder } from "./users.js";

/** Options of {@link requireRecentLogin} and {@link recentLogin}. */
export interface RecentLoginOptions {
  /**
   * How long ago, at most, the user may have authenticated, in ms: better-auth's `freshAge`,
   * OpenID Connect's `max_age` (RFC 9470 for APIs).
   */
  maxAgeMs: number;
}

function maxAgeOf(options: RecentLoginOptions): number {
  const maxAgeMs = options?.maxAgeMs;
  if (typeof maxAgeMs !== "number" || !(maxAgeMs >= 0)) {
    throw new TesseraError(
      "ERR_OPTION",
      "requireRecentLogin() needs maxAgeMs, a number of milliseconds of 0 or more.",
    );
  }
  return maxAgeMs;
}

function check(holder: SessionHolder, maxAgeMs: number): Date {
  const session = holder.session;
  const at = session?.getUser() === undefined ? undefined : session?.getAuthenticatedAt();
  // OWASP (Authentication Cheat Sheet, "Reauthentication After Risk Events"; ASVS V3.7.1): a
  // sensitive action needs a login that is recent, not merely a session that is still alive.
  if (at === undefined || Date.now() - at.getTime() > maxAgeMs) {
    throw new TesseraError(
      "ERR_REAUTHENTICATE",
      "this action needs a recent login: ask the user for their password again, then call req.session.setUser(id).",
    );
  }
  return at;
}

/**
 * Checks that the request's user authenticated (`req.session.setUser(id)`) at most `maxAgeMs`
 * ago, and returns when. Throws `ERR_REAUTHENTICATE` (status 401) when there is no user or the
 * login is older: the app's error handler answers it with a password prompt. `holder` is what
 * session() decorates: Express's and node's `req`, Fastify's `request`, Koa's `ctx`, Hono's `c.var`.
 *
 * @example
 * app.post("/email", (req, res) => {
 *   requireRecentLogin(req, { maxAgeMs: 5 * 60_000 });
 *   // change the e-mail address
 * });
 */
export function requireRecentLogin(holder: SessionHolder, options: RecentLoginOptions): Date {
  return check(holder, maxAgeOf(options));
}

/**
 * {@link requireRecentLogin} as Express or connect middleware: passes `ERR_REAUTHENTICATE` to
 * `next` when the login is not recent enough.
 *
 * @example
 * app.post("/password", recentLogin({ maxAgeMs: 5 * 60_000 }), changePassword);
 */
export function recentLogin(
  options: RecentLoginOptions,
): (req: SessionHolder, res: unknown, next: (error?: unknown) => void) => void {
  const maxAgeMs = maxAgeOf(options);
  return function recentLoginMiddleware(req, _res, next) {
    try {
      check(req, maxAgeMs);
    } catch (error) {
      next(error);
      return;
    }
    next();
  };
}
