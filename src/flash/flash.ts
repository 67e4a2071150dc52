import { nodeUtil } from "../core/builtins.js";
import { TesseraError } from "../core/errors.js";

/**
 * `util.format`, as connect-flash builds a message from `(type, format, ...args)`. Where the
 * runtime has no node:util, a smaller one: the same `%s %d %i %f %j %o %O %c %%` placeholders
 * and extra arguments joined by spaces, with objects written as JSON rather than inspected.
 */
const format: (format: unknown, ...args: unknown[]) => string = nodeUtil?.format ?? portableFormat;

function portableFormat(template: unknown, ...args: unknown[]): string {
  const shown = (value: unknown): string => {
    if (typeof value === "string") return value;
    if (typeof value === "bigint") return `${value}n`;
    if (typeof value !== "object" || value === null) return String(value);
    try {
      return JSON.stringify(value) ?? String(value);
    } catch {
      return String(value);
    }
  };
  if (typeof template !== "string") return [template, ...args].map(shown).join(" ");
  let next = 0;
  const text = template.replace(/%([sdifjoOc%])/g, (placeholder, kind: string) => {
    if (kind === "%") return "%";
    if (next >= args.length) return placeholder;
    const value = args[next++];
    if (typeof value === "symbol" && "dif".includes(kind)) return "NaN";
    switch (kind) {
      case "d":
        return typeof value === "bigint" ? `${value}n` : String(Number(value));
      case "i":
        return typeof value === "bigint" ? `${value}n` : String(Number.parseInt(String(value), 10));
      case "f":
        return String(Number.parseFloat(String(value)));
      case "c":
        return "";
      default:
        return shown(value);
    }
  });
  return [text, ...args.slice(next).map(shown)].join(" ");
}

/** Flash messages by type, as `req.flash()` returns them. */
export type FlashMessages = Record<string, string[]>;

/** `req.flash`, with connect-flash's four call shapes. */
export interface FlashFunction {
  /** Reads and clears every message of every type. */
  (): FlashMessages;
  /** Reads and clears the messages of one type; `[]` when there are none. */
  (type: string): string[];
  /** Adds one message, or each message of an array; resolves how many of that type are queued. */
  (type: string, message: string | readonly string[]): number;
  /** Adds one message built by `util.format(format, ...args)`. */
  (type: string, format: string, ...args: unknown[]): number;
}

declare global {
  // Express's request type is extended by declaration merging, as @types/connect-flash did.
  namespace Express {
    interface Request {
      /**
       * Flash messages kept in the session until read. Set by `flash()`.
       * `req.flash(type, message)` adds, `req.flash(type)` reads and clears one type,
       * `req.flash()` reads and clears all.
       */
      flash: FlashFunction;
    }
  }
}

/** Options of {@link flash}. */
export interface FlashOptions {
  /**
   * A `res.locals` name under which views find every message, read and cleared only when a
   * view is rendered (a lazy getter), so a redirect or a JSON response leaves them queued.
   * @default undefined (nothing is added to res.locals)
   */
  locals?: string;
}

/** The parts of a request `flash()` uses: Express's `req` has them all. */
export interface FlashRequest {
  session?: object | undefined;
  flash?: FlashFunction;
}

/** The parts of a response `flash()` uses. */
export interface FlashResponse {
  locals?: Record<string, unknown>;
}

/** The middleware {@link flash} returns. */
export type FlashMiddleware = (
  req: FlashRequest,
  res: FlashResponse,
  next: (error?: unknown) => void,
) => void;

/** The session key connect-flash uses, kept so sessions written by it are read. */
const SESSION_KEY = "flash";

/**
 * Flash messages for Express, used as connect-flash is: messages are kept in the session under
 * `flash` until read. Mount it after `session()`.
 *
 * Unlike connect-flash, reading when nothing is queued writes nothing to the session, and
 * `req.flash(type, "")` adds an empty message instead of reading.
 *
 * @example
 * app.use(session({ secret }));
 * app.use(flash({ locals: "flash" }));
 * app.post("/login", (req, res) => {
 *   req.flash("error", "Wrong password for %s", req.body.email);
 *   res.redirect("/login");
 * });
 * app.get("/login", (req, res) => res.render("login")); // the view reads `flash.error`
 */
export function flash(options: FlashOptions = {}): FlashMiddleware {
  const locals = normalizeOptions(options);

  return function flashMiddleware(req, res, next) {
    const session = req.session;
    if (session === undefined || session === null) {
      next(
        new TesseraError(
          "ERR_OPTION",
          "flash() found no session on this request: mount session() before flash().",
        ),
      );
      return;
    }
    const flashFn = bindFlash(req);
    req.flash = flashFn;
    if (locals !== undefined && res.locals !== undefined) {
      let read: FlashMessages | undefined;
      // A getter, so messages are consumed by the render that shows them and not before.
      Object.defineProperty(res.locals, locals, {
        configurable: true,
        enumerable: true,
        get: () => {
          read ??= flashFn();
          return read;
        },
      });
    }
    next();
  };
}

function normalizeOptions(options: FlashOptions): string | undefined {
  if (typeof options !== "object" || options === null) {
    throw new TesseraError("ERR_OPTION", "flash() takes an options object.");
  }
  for (const key of Object.keys(options)) {
    if (key !== "locals") {
      throw new TesseraError(
        "ERR_OPTION",
        `flash() has no option "${key}": its one option is locals.`,
      );
    }
  }
  const { locals } = options;
  if (locals !== undefined && (typeof locals !== "string" || locals === "")) {
    throw new TesseraError("ERR_OPTION", "flash() option locals must be a non-empty string.");
  }
  return locals;
}

/**
 * `req.flash` for one request. It reads `req.session` on each call rather than once, because
 * `req.session.regenerate()` replaces the session object during the request.
 */
function bindFlash(req: FlashRequest): FlashFunction {
  function flashFn(type?: string, message?: string | readonly string[], ...args: unknown[]) {
    const session = req.session as Record<string, unknown> | undefined;
    if (session === undefined || session === null) {
      throw new TesseraError(
        "ERR_OPTION",
        "flash() was called without a session (it was destroyed, or session() is not mounted).",
      );
    }
    const queued = storedMessages(session);

    if (type === undefined) {
      // connect-flash leaves `flash: {}` behind; removing the key keeps the session clean.
      if (queued !== undefined) delete session[SESSION_KEY];
      return queued ?? {};
    }
    // connect-flash reads when the message is missing; `undefined` from a caller's
    // `req.flash("error", err.message)` keeps that meaning.
    if (message === undefined || message === null) {
      const messages =
        queued !== undefined && Object.hasOwn(queued, type) ? queued[type] : undefined;
      if (messages === undefined) return [];
      const { [type]: _read, ...rest } = queued as FlashMessages;
      if (Object.keys(rest).length === 0) delete session[SESSION_KEY];
      else session[SESSION_KEY] = rest;
      return Array.isArray(messages) ? messages : [];
    }

    const added =
      args.length > 0
        ? [format(message, ...args)]
        : Array.isArray(message)
          ? message.map(String)
          : [String(message)];
    const before = queued !== undefined && Object.hasOwn(queued, type) ? (queued[type] ?? []) : [];
    const messages = [...before, ...added];
    // A new object rather than a push, so a store that diffs by reference sees the change.
    session[SESSION_KEY] = { ...queued, [type]: messages };
    return messages.length;
  }
  return flashFn as FlashFunction;
}

/** The queued messages, or `undefined` when there are none (or the key holds something else). */
function storedMessages(session: Record<string, unknown>): FlashMessages | undefined {
  const stored = session[SESSION_KEY];
  if (typeof stored !== "object" || stored === null || Array.isArray(stored)) return undefined;
  return stored as FlashMessages;
}
