// The Fastify, Koa and Hono doors, as applications typed for them use them, in a program of
// their own (see tsconfig.json). Keys declared on SessionData through "tessera", as the docs of
// the three doors show, type `request.session`, `ctx.session` and `c.get("session")` alike.
// Lines marked @ts-expect-error must fail to compile; the file as a whole must compile.
import Fastify from "fastify";
import { Hono } from "hono";
import Koa from "koa";
import { listUserSessions, type UserSession } from "tessera";
import {
  type FastifySessionOptions,
  csrf as fastifyCsrf,
  flash as fastifyFlash,
  session as fastifySession,
} from "tessera/fastify";
import {
  type CsrfEnv,
  type HonoSessionOptions,
  csrf as honoCsrf,
  session as honoSession,
  type SessionEnv,
} from "tessera/hono";
import {
  type KoaSessionOptions,
  csrf as koaCsrf,
  flash as koaFlash,
  session as koaSession,
} from "tessera/koa";
import { MemoryStore } from "tessera/memory";

declare module "tessera" {
  interface SessionData {
    cart: string[];
  }
}

export async function fastifyApp(): Promise<void> {
  const app = Fastify();
  const options: FastifySessionOptions = {
    secret: ["current", "previous"],
    store: new MemoryStore(),
    resave: false,
    saveUninitialized: false,
    // Both are called with Fastify's request.
    genid: (request) => `${request.id}-${request.ip}`,
    cookie: (request) => ({ secure: request.protocol === "https", sameSite: "lax" }),
  };
  await app.register(fastifySession, options);
  // @ts-expect-error: the secret is required
  await app.register(fastifySession, { resave: false, saveUninitialized: false });
  // @ts-expect-error: unset is "destroy" or "keep"
  await app.register(fastifySession, { secret: "s", unset: "drop" });
  app.addHook("preHandler", fastifyCsrf());
  app.addHook("preHandler", fastifyFlash());

  app.get("/", async (request) => {
    request.session.cart = [...(request.session.cart ?? []), "book"];
    // @ts-expect-error: the cart holds strings
    request.session.cart = [1];
    // @ts-expect-error: keys not declared on SessionData are refused
    request.session.undeclared = true;
    const id: string = request.sessionID;
    await request.session.regenerate({ keepData: true });
    request.session.setUser("1");
    const sessions: UserSession[] = await listUserSessions(request);
    const token: string = request.csrfToken();
    const queued: number = request.flash("info", "saved");
    return { id, count: sessions.length, token, queued };
  });
}

export function koaApp(): Koa {
  const app = new Koa();
  const options: KoaSessionOptions = {
    secret: "keyboard cat",
    resave: false,
    saveUninitialized: false,
    // Called with Koa's context.
    genid: (ctx) => `${ctx.ip}-${Date.now()}`,
  };
  app.use(koaSession(options));
  // @ts-expect-error: time options are numbers of milliseconds
  app.use(koaSession({ secret: "s", absoluteTimeoutMs: "1h" }));
  app.use(koaCsrf());
  app.use(koaFlash());
  app.use(async (ctx) => {
    ctx.session.cart = [...(ctx.session.cart ?? []), "book"];
    // @ts-expect-error: the cart holds strings
    ctx.session.cart = "book";
    await ctx.session.regenerate();
    const sessions: UserSession[] = await listUserSessions(ctx);
    ctx.body = { id: ctx.sessionID, count: sessions.length, token: ctx.csrfToken() };
  });
  return app;
}

export function honoApp(): Hono<SessionEnv & CsrfEnv> {
  const app = new Hono<SessionEnv & CsrfEnv>();
  const options: HonoSessionOptions = {
    secret: "keyboard cat",
    resave: false,
    saveUninitialized: false,
    // Called with Hono's context.
    cookie: (c) => ({ secure: new URL(c.req.url).protocol === "https:" }),
  };
  app.use(honoSession(options));
  // @ts-expect-error: not an option of session()
  app.use(honoSession({ secret: "s", sameSite: "lax" }));
  app.use(honoCsrf());
  app.get("/", async (c) => {
    const session = c.get("session");
    session.cart = [...(session.cart ?? []), "book"];
    // @ts-expect-error: the cart holds strings
    session.cart = [true];
    await session.regenerate();
    const sessions: UserSession[] = await listUserSessions(c.var);
    return c.json({ id: c.get("sessionID"), count: sessions.length, token: c.get("csrfToken")() });
  });
  const plain = new Hono();
  // @ts-expect-error: without SessionEnv the context has no session
  plain.get("/", (c) => c.json({ cart: c.get("session").cart }));
  return app;
}
