import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parse as parseCookies } from "cookie";
import express, { type NextFunction, type Request, type Response } from "express";
import hbs from "hbs";
import { isTesseraError } from "../../src/core/errors.js";
import { requireRecentLogin } from "../../src/core/recent-login.js";
import {
  listUserSessions,
  revokeOtherSessions,
  revokeUserSession,
  sessionHandle,
} from "../../src/core/users.js";
import { csrf } from "../../src/csrf/index.js";
import { session } from "../../src/express/index.js";
import { flash } from "../../src/flash/index.js";
import type { Store } from "../../src/store/types.js";
import { cartLines, findProduct, formatPrice, MAX_QUANTITY, PRODUCTS } from "./catalog.js";
import type { DemoConfig, ListenConfig } from "./config.js";
import { DemoDatabase, type User } from "./database.js";
import { DEVICE_COOKIE, DEVICE_COOKIE_MAX_AGE_MS, DeviceCookies } from "./device-cookie.js";
import { deviceName } from "./devices.js";
import { LoginThrottle } from "./login-throttle.js";
import { hashPassword, verifyPassword } from "./passwords.js";
import { makePrivateDir } from "./private-files.js";
import { openSessionStore } from "./session-store.js";

/**
 * What the demo keeps in a session. It is read through {@link data} rather than declared by
 * merging into `SessionData`, so it cannot clash with an application's own declarations.
 */
interface DemoSessionData {
  /** Who is signed in; set only after a password check, on a regenerated session. */
  user: { id: number; name: string };
  /** When this sign-in happened (ms since the epoch). */
  loginAt: number;
  /** Visits to the home page. */
  views: number;
  /** Product id to quantity. */
  cart: Record<string, number>;
  /** The name this browser last signed the guestbook with. */
  guestName: string;
}

/** The session of `req`, typed with the demo's keys. */
function data(req: Request): Partial<DemoSessionData> {
  return req.session as unknown as Partial<DemoSessionData>;
}

/** The account created on first start and printed on the login page. */
export const DEMO_USER = Object.freeze({ username: "demo", password: "demo-password" });

/** The session cookie's name. */
export const COOKIE_NAME = "tessera.sid";

const HERE = fileURLToPath(new URL(".", import.meta.url));
const WEEK_MS = 7 * 24 * 60 * 60 * 1000;
const USERNAME = /^[a-zA-Z0-9_.-]{3,32}$/;
const MIN_PASSWORD = 8;
const MAX_PASSWORD = 200;
/** A session left alone this long ends, unless "remember me" was ticked at login. */
export const IDLE_TIMEOUT_MS = 2 * 60 * 60 * 1000;
/** How long a "remember me" login lasts, used or not: its session and its cookie. */
export const REMEMBER_ME_MS = 30 * 24 * 60 * 60 * 1000;
/** How recent a login must be for changing the password; older ones re-enter it first. */
export const RECENT_LOGIN_MS = 5 * 60_000;

/** A demo app, ready to be mounted on a server, and how to let go of what it opened. */
export interface Demo {
  app: express.Express;
  /** "SQLite", "Redis" or "PostgreSQL". */
  storeLabel: string;
  /** The session store the app runs on. */
  store: Store;
  /** Closes the session store and the demo's database. The server must be closed first. */
  close(): Promise<void>;
}

/**
 * Builds the demo app: opens its database and session store and creates the demo user on
 * first start. Logins are throttled as login-throttle.ts explains.
 *
 * @example
 * const demo = await createDemo({ dataDir: "/tmp/demo", secret: "a long random secret ..." });
 * const server = demo.app.listen(3000);
 */
export async function createDemo(config: DemoConfig): Promise<Demo> {
  makePrivateDir(config.dataDir);
  const db = new DemoDatabase(join(config.dataDir, "demo.db"));
  let sessions: Awaited<ReturnType<typeof openSessionStore>>;
  let throttle: LoginThrottle;
  try {
    throttle = new LoginThrottle(db.sqlite, config.loginThrottle);
    if (db.findUser(DEMO_USER.username) === undefined) {
      db.createUser(DEMO_USER.username, await hashPassword(DEMO_USER.password));
    }
    sessions = await openSessionStore(config);
  } catch (error) {
    db.close();
    throw error;
  }

  const devices = new DeviceCookies(config.secret);
  const app = express();
  app.disable("x-powered-by");
  if (config.trustProxy !== undefined) app.set("trust proxy", config.trustProxy);

  const views = hbs.create();
  registerHelpers(views);
  app.engine("hbs", views.__express);
  app.set("view engine", "hbs");
  app.set("views", join(HERE, "views"));

  // Static files first: a stylesheet request needs no session, so it never loads one.
  app.use("/static", express.static(join(HERE, "public"), { maxAge: "1h", index: false }));
  app.use(securityHeaders);
  app.use(
    session({
      secret: config.secret,
      store: sessions.store,
      name: COOKIE_NAME,
      resave: false,
      saveUninitialized: false,
      cookie: { httpOnly: true, sameSite: "lax", secure: "auto", maxAge: WEEK_MS },
      // "Last seen" on the sessions page is then exact to the minute, for one write a minute.
      touchAfterMs: 60_000,
      idleTimeoutMs: IDLE_TIMEOUT_MS,
      absoluteTimeoutMs: REMEMBER_ME_MS,
      recordClient: true,
      // A visitor is never shown "saved" (a cart, a login) when the store did not save it.
      saveErrorResponse: "error",
    }),
  );
  app.locals.storeLabel = sessions.label;
  // Before the body parser and csrf(), so the pages for their errors (413, 403) know who is
  // signed in too.
  app.use((req, res, next) => {
    res.locals.user = data(req).user;
    res.locals.cartCount = cartLines(data(req).cart).reduce((n, line) => n + line.quantity, 0);
    res.locals.path = req.path;
    // Called by the `csrfToken` helper, only in pages that have a form; csrf() defines it.
    res.locals.csrf = () => (typeof req.csrfToken === "function" ? req.csrfToken() : undefined);
    next();
  });
  app.use(express.urlencoded({ extended: false, limit: "16kb" }));
  app.use(csrf());
  app.use(flash({ locals: "flash" }));

  app.get("/", (req, res) => {
    data(req).views = (data(req).views ?? 0) + 1;
    res.render("home", {
      title: "Home",
      views: data(req).views,
      loginAt: data(req).loginAt,
      guestName: data(req).guestName,
    });
  });

  app.get("/signup", (req, res) => {
    res.render("signup", { title: "Sign up", next: safeNext(req.query.next) });
  });

  app.post("/signup", async (req, res) => {
    const username = field(req, "username").trim();
    const password = field(req, "password");
    const next = safeNext(req.body?.next);
    const problem = !USERNAME.test(username)
      ? "A username is 3 to 32 letters, digits, dots, dashes or underscores."
      : password.length < MIN_PASSWORD || password.length > MAX_PASSWORD
        ? `A password is at least ${MIN_PASSWORD} characters.`
        : undefined;
    if (problem !== undefined) {
      res.status(400).render("signup", { title: "Sign up", error: problem, username, next });
      return;
    }
    const user = db.createUser(username, await hashPassword(password));
    if (user === undefined) {
      res.status(409).render("signup", {
        title: "Sign up",
        error: "That username is taken. Pick another one.",
        username,
        next,
      });
      return;
    }
    await logIn(req, res, user, devices);
    req.flash("success", `Welcome, ${user.username}! Your account is ready.`);
    res.redirect(303, next);
  });

  app.get("/login", (req, res) => {
    const next = safeNext(req.query.next);
    if (data(req).user !== undefined) {
      res.redirect(next);
      return;
    }
    res.render("login", { title: "Log in", next, demo: DEMO_USER });
  });

  app.post("/login", async (req, res) => {
    const username = field(req, "username").trim();
    const password = field(req, "password");
    const next = safeNext(req.body?.next);
    // The session is left exactly as it was on every refusal: no flash, no write, same cookie.
    const refuse = (status: 401 | 429, error: string | undefined, retryAtMs?: number) => {
      const wait = retryAtMs === undefined ? undefined : waitOf(retryAtMs, throttle.now());
      if (wait !== undefined) res.setHeader("Retry-After", String(wait.seconds));
      res.status(status).render("login", {
        title: "Log in",
        error,
        wait,
        username,
        next,
        demo: DEMO_USER,
      });
    };
    const device = devices.verify(parseCookies(req.headers.cookie ?? "")[DEVICE_COOKIE], username);
    const attempt = throttle.admit({ username, ip: req.ip, device });
    if (!attempt.admitted) {
      refuse(429, undefined, attempt.retryAtMs);
      return;
    }
    const user = username === "" ? undefined : db.findUser(username);
    // verifyPassword does the full scrypt work for unknown users too, so timing reveals nothing.
    const ok = await verifyPassword(password.slice(0, MAX_PASSWORD), user?.passwordHash);
    if (!ok || user === undefined) {
      const retryAtMs = throttle.failed(attempt.ticket);
      refuse(retryAtMs === undefined ? 401 : 429, "Wrong username or password.", retryAtMs);
      return;
    }
    throttle.succeeded(attempt.ticket);
    await logIn(req, res, user, devices, field(req, "remember") === "on");
    req.flash("success", `Welcome back, ${user.username}.`);
    res.redirect(303, next);
  });

  app.post("/logout", async (req, res) => {
    if (data(req).user !== undefined) {
      clearSiteData(res);
      // regenerate() destroys the signed-in session in the store and starts an empty one under
      // a new ID: the old cookie is dead everywhere, and the new session holds only the flash.
      await req.session.regenerate();
      req.flash(
        "success",
        "You are logged out. Your session was destroyed and its cookie replaced.",
      );
    }
    res.redirect(303, "/");
  });

  app.get("/profile", requireLogin, (req, res) => {
    const user = db.findUserById((data(req).user as { id: number }).id);
    res.render("profile", {
      title: "Profile",
      account: user,
      loginAt: data(req).loginAt,
      views: data(req).views ?? 0,
    });
  });

  app.get("/cart", (req, res) => {
    const lines = cartLines(data(req).cart);
    res.render("cart", {
      title: "Cart",
      products: PRODUCTS.map((product) => ({ ...product, price: formatPrice(product.priceCents) })),
      lines: lines.map((line) => ({ ...line, total: formatPrice(line.totalCents) })),
      total: formatPrice(lines.reduce((sum, line) => sum + line.totalCents, 0)),
    });
  });

  app.post("/cart/add", (req, res) => {
    const product = findProduct(req.body?.product);
    if (product === undefined) {
      req.flash("error", "That product is not in the shop.");
    } else {
      const cart = data(req).cart ?? {};
      const quantity = Math.min((cart[product.id] ?? 0) + 1, MAX_QUANTITY);
      // A new object, so the session sees a changed `cart` key and writes it.
      data(req).cart = { ...cart, [product.id]: quantity };
      req.flash("success", `Added ${product.name} to your cart.`);
    }
    res.redirect(303, "/cart");
  });

  app.post("/cart/remove", (req, res) => {
    const product = findProduct(req.body?.product);
    const cart = data(req).cart ?? {};
    if (product !== undefined && cart[product.id] !== undefined) {
      const { [product.id]: _removed, ...rest } = cart;
      data(req).cart = rest;
      req.flash("success", `Removed ${product.name} from your cart.`);
    }
    res.redirect(303, "/cart");
  });

  app.get("/guestbook", (req, res) => {
    res.render("guestbook", {
      title: "Guestbook",
      entries: db.guestbook(),
      guestName: data(req).guestName,
    });
  });

  app.post("/guestbook", (req, res) => {
    const name = field(req, "name").trim().slice(0, 40);
    const message = field(req, "message").trim().slice(0, 280);
    if (name === "") {
      res.status(400).render("guestbook", {
        title: "Guestbook",
        entries: db.guestbook(),
        guestName: data(req).guestName,
        error: "Please write your name.",
        message,
      });
      return;
    }
    db.sign(name, message);
    const returning = data(req).guestName === name;
    data(req).guestName = name;
    req.flash("success", returning ? `Thanks again, ${name}!` : `Thanks for signing, ${name}!`);
    res.redirect(303, "/guestbook");
  });

  app.get("/sessions", requireLogin, async (req, res) => {
    const list = await listUserSessions(req);
    res.render("sessions", {
      title: "Your sessions",
      sessions: list.map((entry) => ({
        handle: entry.handle,
        current: entry.current,
        device: deviceName(entry.userAgent),
        ip: entry.ip,
        createdAt: entry.createdAt.getTime(),
        lastSeenAt: (entry.lastSeenAt ?? entry.createdAt).getTime(),
      })),
      others: list.some((entry) => !entry.current),
    });
  });

  app.post("/sessions/revoke", requireLogin, async (req, res) => {
    const handle = field(req, "handle");
    const current = handle === sessionHandle(req.sessionID);
    const revoked = handle !== "" && (await revokeUserSession(req, handle));
    if (revoked && current) {
      clearSiteData(res);
      res.redirect(303, "/login");
      return;
    }
    req.flash(revoked ? "success" : "error", revoked ? "Session revoked." : "No such session.");
    res.redirect(303, "/sessions");
  });

  app.post("/sessions/revoke-others", requireLogin, async (req, res) => {
    const count = await revokeOtherSessions(req);
    req.flash(
      "success",
      count === 0
        ? "No other sessions to log out."
        : `Logged out ${count} other session${count === 1 ? "" : "s"}.`,
    );
    res.redirect(303, "/sessions");
  });

  /**
   * Checks the signed-in user's password again, throttled as logins are (per account and
   * client), so a stolen session cannot be used to guess it.
   */
  async function confirmPassword(req: Request, user: User, password: string): Promise<Checked> {
    const attempt = throttle.admit({ username: user.username, ip: req.ip, device: undefined });
    if (!attempt.admitted) {
      return { ok: false, status: 429, wait: waitOf(attempt.retryAtMs, throttle.now()) };
    }
    if (await verifyPassword(password.slice(0, MAX_PASSWORD), user.passwordHash)) {
      throttle.succeeded(attempt.ticket);
      return { ok: true };
    }
    const retryAtMs = throttle.failed(attempt.ticket);
    return retryAtMs === undefined
      ? { ok: false, status: 401 }
      : { ok: false, status: 429, wait: waitOf(retryAtMs, throttle.now()) };
  }

  /** The signed-in user's account; requireLogin has run. */
  const account = (req: Request) => db.findUserById((data(req).user as { id: number }).id);

  // Changing the password is a sensitive action: a session left open on a shared computer must
  // not be enough (OWASP Authentication Cheat Sheet, "Reauthentication After Risk Events"). A
  // login older than RECENT_LOGIN_MS makes requireRecentLogin() throw ERR_REAUTHENTICATE, and the
  // error handler below answers with the password prompt.
  app.get("/password", requireLogin, (req, res) => {
    requireRecentLogin(req, { maxAgeMs: RECENT_LOGIN_MS });
    res.render("password", { title: "Change password" });
  });

  app.post("/password", requireLogin, async (req, res) => {
    requireRecentLogin(req, { maxAgeMs: RECENT_LOGIN_MS });
    const user = account(req);
    if (user === undefined) {
      res.redirect(303, "/login");
      return;
    }
    const fresh = field(req, "newPassword");
    if (fresh.length < MIN_PASSWORD || fresh.length > MAX_PASSWORD) {
      res.status(400).render("password", {
        title: "Change password",
        error: `A password is at least ${MIN_PASSWORD} characters.`,
      });
      return;
    }
    const checked = await confirmPassword(req, user, field(req, "currentPassword"));
    if (!checked.ok) {
      if (checked.wait !== undefined) res.setHeader("Retry-After", String(checked.wait.seconds));
      res.status(checked.status).render("password", {
        title: "Change password",
        error: checked.wait === undefined ? "Your current password is not right." : undefined,
        wait: checked.wait,
      });
      return;
    }
    db.setPasswordHash(user.id, await hashPassword(fresh));
    // Whoever else holds a session of this account (perhaps the reason for the change) is out.
    const others = await revokeOtherSessions(req);
    req.flash(
      "success",
      `Your password was changed${others === 0 ? "" : ` and your ${others} other session${others === 1 ? " was" : "s were"} logged out`}.`,
    );
    res.redirect(303, "/profile");
  });

  app.post("/reauthenticate", requireLogin, async (req, res) => {
    const next = safeNext(req.body?.next);
    const user = account(req);
    if (user === undefined) {
      res.redirect(303, "/login");
      return;
    }
    const checked = await confirmPassword(req, user, field(req, "password"));
    if (!checked.ok) {
      if (checked.wait !== undefined) res.setHeader("Retry-After", String(checked.wait.seconds));
      res.status(checked.status).render("reauthenticate", {
        title: "Confirm your password",
        error: checked.wait === undefined ? "That password is not right." : undefined,
        wait: checked.wait,
        next,
      });
      return;
    }
    // The same user, authenticated now: setUser() records the time requireRecentLogin() reads.
    req.session.setUser(user.id);
    res.redirect(303, next);
  });

  app.use((_req, res) => {
    res.status(404).render("error", {
      title: "Not found",
      status: 404,
      heading: "Page not found",
      text: "There is nothing at this address.",
    });
  });

  app.use((error: unknown, req: Request, res: Response, _next: NextFunction) => {
    if (res.headersSent) return;
    if (isTesseraError(error, "ERR_REAUTHENTICATE")) {
      res.status(401).render("reauthenticate", {
        title: "Confirm your password",
        next: safeNext(req.method === "GET" ? req.originalUrl : req.path),
      });
      return;
    }
    if (isTesseraError(error, "ERR_CSRF_INVALID")) {
      res.status(403).render("error", {
        title: "Forbidden",
        status: 403,
        heading: "This form could not be accepted",
        text: "It was sent without a valid security token, or from another site. Go back, reload the page and try again.",
      });
      return;
    }
    const unavailable = isTesseraError(error, "ERR_STORE_UNAVAILABLE");
    const status = unavailable ? 503 : (clientErrorStatus(error) ?? 500);
    if (status >= 500) console.error(`tessera demo: ${String((error as Error)?.message ?? error)}`);
    res.status(status).render("error", {
      title: "Error",
      status,
      heading: unavailable ? "Sessions are unavailable" : "Something went wrong",
      text: unavailable
        ? "The session store cannot be reached right now. Try again in a moment."
        : "The request could not be completed.",
    });
  });

  return {
    app,
    storeLabel: sessions.label,
    store: sessions.store,
    async close() {
      try {
        await sessions.close();
      } finally {
        db.close();
      }
    },
  };
}

/** What checking the password again found. */
type Checked =
  | { ok: true }
  | { ok: false; status: 401 | 429; wait?: ReturnType<typeof waitOf> | undefined };

/** A running demo: its address, and how to stop it. */
export interface RunningDemo {
  server: Server;
  /** `http://host:port`, with the port actually chosen when `port` was 0. */
  url: string;
  storeLabel: string;
  /** Stops accepting connections, ends open ones, then closes the store and the database. */
  close(): Promise<void>;
}

/**
 * Creates the demo and listens on `config.host` and `config.port`.
 *
 * @example
 * const demo = await startServer({ ...loadConfig(), port: 0 });
 * console.log(demo.url);
 */
export async function startServer(config: DemoConfig & ListenConfig): Promise<RunningDemo> {
  const demo = await createDemo(config);
  let server: Server;
  try {
    server = await new Promise<Server>((resolve, reject) => {
      const listening = demo.app.listen(config.port, config.host, (error?: Error) =>
        error ? reject(error) : resolve(listening),
      );
      listening.once("error", reject);
    });
  } catch (error) {
    await demo.close();
    throw error;
  }
  const { address, port } = server.address() as AddressInfo;
  const host = address.includes(":") ? `[${address}]` : address;
  let closing: Promise<void> | undefined;
  return {
    server,
    url: `http://${host}:${port}`,
    storeLabel: demo.storeLabel,
    close() {
      closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        // Keep-alive connections would hold close() open until they time out.
        server.closeIdleConnections();
        setTimeout(() => server.closeAllConnections(), 2000).unref();
      }).then(() => demo.close());
      return closing;
    },
  };
}

async function logIn(
  req: Request,
  res: Response,
  user: User,
  devices: DeviceCookies,
  remember = false,
): Promise<void> {
  // A new id on sign-in defeats session fixation; the data (cart, visit count, guestbook name)
  // comes along, but not the CSRF secret, so a token issued before sign-in stops working.
  await req.session.regenerate({ keepData: true });
  delete (req.session as unknown as Record<string, unknown>)._csrfSecret;
  data(req).user = { id: user.id, name: user.username };
  data(req).loginAt = Date.now();
  // Ties the session to the user, for the sessions page and "log out everywhere else".
  req.session.setUser(user.id);
  // "Remember me": no idle timeout, and a cookie that lasts as long as the session may.
  if (remember) {
    req.session.setLifetime({
      idleTimeoutMs: 0,
      absoluteTimeoutMs: REMEMBER_ME_MS,
      cookieMaxAgeMs: REMEMBER_ME_MS,
    });
  }
  // Marks this browser as one that knows the password: other clients' failures no longer lock
  // it out of this account (login-throttle.ts). Sent back only to the login form.
  res.cookie(DEVICE_COOKIE, devices.issue(user.username), {
    httpOnly: true,
    secure: req.secure,
    sameSite: "strict",
    path: "/login",
    maxAge: DEVICE_COOKIE_MAX_AGE_MS,
  });
}

function requireLogin(req: Request, res: Response, next: NextFunction): void {
  if (data(req).user !== undefined) {
    next();
    return;
  }
  const back = req.method === "GET" ? req.originalUrl : "/";
  res.redirect(303, `/login?next=${encodeURIComponent(back)}`);
}

/**
 * The page to return to after signing in: a path on this site only. `//evil.example` and
 * `/\evil.example` are rejected, as browsers read both as another host (an open redirect).
 */
function safeNext(value: unknown): string {
  if (typeof value !== "string" || !/^\/(?![/\\])[^\s\\]*$/.test(value) || value.length > 512) {
    return "/";
  }
  return value;
}

/** The status of a client error, such as the body parser's 413 for an oversized form. */
function clientErrorStatus(error: unknown): number | undefined {
  const status = (error as { status?: unknown } | null)?.status;
  return typeof status === "number" && status >= 400 && status < 500 ? status : undefined;
}

function field(req: Request, name: string): string {
  const value = (req.body as Record<string, unknown> | undefined)?.[name];
  return typeof value === "string" ? value : "";
}

/**
 * Sent when a signed-in session ends. "cache" drops any page of the session a browser kept
 * despite no-store (in some browsers, its back-forward cache too), "storage" the origin's
 * localStorage, IndexedDB and service workers. Not "cookies": it would delete every cookie of
 * the whole registrable domain, other apps' on sibling hosts included, along with the new
 * session that carries the "logged out" message and the device cookie that keeps this browser
 * exempt from other clients' login failures; and it adds no safety, as the old session is
 * already destroyed on the server, so its cookie opens nothing wherever a copy of it is.
 */
function clearSiteData(res: Response): void {
  res.setHeader("Clear-Site-Data", '"cache", "storage"');
}

/** How long a throttled login waits, for the Retry-After header and the login page. */
function waitOf(retryAtMs: number, nowMs: number): { seconds: number; text: string; at: string } {
  const seconds = Math.max(1, Math.ceil((retryAtMs - nowMs) / 1000));
  const minutes = Math.ceil(seconds / 60);
  const text =
    seconds < 60
      ? `${seconds} second${seconds === 1 ? "" : "s"}`
      : `${minutes} minute${minutes === 1 ? "" : "s"}`;
  return { seconds, text, at: new Date(retryAtMs).toISOString() };
}

function securityHeaders(_req: Request, res: Response, next: NextFunction): void {
  // Every page past the static files is made for one visitor: a signed-in user's name, profile
  // and sessions, or at least a CSRF token, a cart and flash messages. No cache, shared or the
  // browser's own, may keep it for the next person at the keyboard (OWASP Session Management
  // Cheat Sheet, "Web Content Caching"; ASVS V8.2.1).
  res.setHeader("Cache-Control", "no-store");
  res.setHeader(
    "Content-Security-Policy",
    "default-src 'self'; style-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
  );
  res.setHeader("X-Content-Type-Options", "nosniff");
  res.setHeader("Referrer-Policy", "same-origin");
  next();
}

const DATE_TIME = new Intl.DateTimeFormat("en-GB", { dateStyle: "medium", timeStyle: "short" });

function registerHelpers(views: ReturnType<typeof hbs.create>): void {
  views.registerHelper("csrfToken", (options: { data: { root: { csrf?: () => string } } }) =>
    options.data.root.csrf?.(),
  );
  views.registerHelper("dateTime", (ms: unknown) =>
    typeof ms === "number" ? DATE_TIME.format(ms) : "",
  );
  views.registerHelper("isoTime", (ms: unknown) =>
    typeof ms === "number" ? new Date(ms).toISOString() : "",
  );
  views.registerHelper("ago", (ms: unknown) => (typeof ms === "number" ? ago(ms) : ""));
  views.registerHelper("eq", (a: unknown, b: unknown) => a === b);
  views.registerHelper("plural", (count: unknown, one: string, many: string) =>
    count === 1 ? one : many,
  );
}

function ago(ms: number): string {
  const seconds = Math.max(0, Math.round((Date.now() - ms) / 1000));
  if (seconds < 60) return "just now";
  const minutes = Math.round(seconds / 60);
  if (minutes < 60) return `${minutes} min ago`;
  const hours = Math.round(minutes / 60);
  if (hours < 48) return `${hours} h ago`;
  return `${Math.round(hours / 24)} days ago`;
}
