// tessera/fastify's types as an app uses them. Compiled by `npx tsc --noEmit -p tsconfig.json`
// with the rest of the tests, never run. Lines marked @ts-expect-error must fail to compile.
import Fastify from "fastify";
import { listUserSessions, type UserSession } from "../../src/core/users.js";
import { csrf, type FastifySessionOptions, flash, session } from "../../src/fastify/index.js";
import { MemoryStore } from "../../src/stores/memory.js";

// The app's session keys, by declaration merging, as with Express.
declare module "../../src/core/session.js" {
  interface SessionData {
    fastifyCart: string[];
  }
}

export async function typedApp(): Promise<void> {
  const app = Fastify();
  await app.register(session, {
    secret: process.env.SESSION_SECRET ?? "",
    store: new MemoryStore(),
    resave: false,
    saveUninitialized: false,
    // Both are called with Fastify's request.
    genid: (request) => `${request.id}-${request.ip}`,
    cookie: (request) => ({ secure: request.protocol === "https", sameSite: "lax" }),
  });
  // @ts-expect-error: the secret is required
  await app.register(session, { resave: false, saveUninitialized: false });
  // @ts-expect-error: resave is a boolean
  await app.register(session, { secret: "s", resave: "yes" });

  app.addHook("preHandler", csrf({ headerName: "x-xsrf-token" }));
  app.addHook("preHandler", flash({ locals: "flash" }));

  app.get("/", async (request) => {
    const cart: string[] | undefined = request.session.fastifyCart;
    request.session.fastifyCart = [...(cart ?? []), "apple"];
    // @ts-expect-error: the cart holds strings
    request.session.fastifyCart = [1];
    const id: string = request.sessionID;
    await request.session.regenerate({ keepData: true });
    request.session.save((error) => {
      if (error) request.log.error(error);
    });
    await request.session.reload();
    request.session.touch();
    request.session.setUser("alice");
    const user: string | undefined = request.session.getUser();
    const token: string = request.csrfToken();
    const queued: number = request.flash("info", "saved");
    const read: string[] = request.flash("info");
    const sessions: UserSession[] = await listUserSessions(request);
    await request.session.destroy();
    return { id, user, token, queued, read, sessions };
  });
}

export const rotation: FastifySessionOptions = { secret: ["current", "previous"] };

export const expressShaped: FastifySessionOptions = {
  secret: "s",
  // @ts-expect-error: genid is given Fastify's request, which has no Express `req.get()`
  genid: (req) => req.get("x-request-id"),
};
