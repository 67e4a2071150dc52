/**
 * Every error Tessera raises is a `TesseraError` with a stable `code`. Messages start with
 * `tessera:`, say what happened and how to fix it, and never contain a session ID or a secret.
 */

/** The stable codes a `TesseraError` can carry. */
export type TesseraErrorCode =
  /** An option passed to `session()`, a store or a helper is missing or wrong. */
  | "ERR_OPTION"
  /** The store could not be reached in time (connection refused, closed, or `storeTimeoutMs` passed). */
  | "ERR_STORE_UNAVAILABLE"
  /** The store was reached but failed the operation. */
  | "ERR_STORE"
  /** The store does not offer what was asked of it (for example `idsForUser` on a store without a user index). */
  | "ERR_STORE_CAPABILITY"
  /**
   * Session data cannot be stored: it does not survive JSON (a BigInt, a cycle), it is too
   * large, or its key names the session's behaviour (`save`, `__proto__`).
   */
  | "ERR_SESSION_DATA"
  /** A method was called on a session that was already destroyed or regenerated. */
  | "ERR_SESSION_GONE"
  /** The CSRF token was missing or wrong, or the request came from another site. */
  | "ERR_CSRF_INVALID"
  /** A sensitive action needs a recent login: there is no user, or they logged in too long ago. */
  | "ERR_REAUTHENTICATE";

export interface TesseraErrorOptions {
  cause?: unknown;
  /** An HTTP status an error handler may use. */
  status?: number;
  /**
   * @internal The message is express-session's, word for word, because apps compare it exactly
   * (`err.message === "failed to load session"`): no `tessera:` prefix is added.
   */
  verbatim?: boolean;
}

/** The one error class of Tessera. Check for it with {@link isTesseraError}. */
export class TesseraError extends Error {
  override readonly name = "TesseraError";
  readonly code: TesseraErrorCode;
  /** The HTTP status this error maps to (503 for an unavailable store, 403 for CSRF, 401 for a login that is not recent enough, 500 otherwise). */
  readonly status: number;
  /** Same as `status`, for error handlers written for http-errors. */
  readonly statusCode: number;
  /** Express's default error handler shows the message of an error that is exposed: ours never are. */
  readonly expose = false;

  constructor(code: TesseraErrorCode, message: string, options: TesseraErrorOptions = {}) {
    super(
      message.startsWith("tessera:") || options.verbatim ? message : `tessera: ${message}`,
      options.cause === undefined ? undefined : { cause: options.cause },
    );
    this.code = code;
    this.status = options.status ?? defaultStatus(code);
    this.statusCode = this.status;
  }
}

function defaultStatus(code: TesseraErrorCode): number {
  if (code === "ERR_STORE_UNAVAILABLE") return 503;
  if (code === "ERR_CSRF_INVALID") return 403;
  if (code === "ERR_REAUTHENTICATE") return 401;
  return 500;
}

/**
 * True for any Tessera error, optionally of one code. It checks `name` and `code` rather than
 * `instanceof` alone, because a package loaded both as ESM and as CommonJS has two classes.
 *
 * @example
 * app.use((err, req, res, next) => {
 *   if (isTesseraError(err, "ERR_STORE_UNAVAILABLE")) return res.status(503).send("Try again soon");
 *   next(err);
 * });
 */
export function isTesseraError(error: unknown, code?: TesseraErrorCode): error is TesseraError {
  if (error instanceof TesseraError) return code === undefined || error.code === code;
  if (typeof error !== "object" || error === null) return false;
  const candidate = error as { name?: unknown; code?: unknown };
  if (candidate.name !== "TesseraError" || typeof candidate.code !== "string") return false;
  return code === undefined || candidate.code === code;
}
