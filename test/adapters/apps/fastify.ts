// The journey suite's route contract on Fastify 5, with tessera/fastify's session plugin and its
// csrf() and flash() hooks, on a real Fastify server listening on 127.0.0.1.
import Fastify, { type FastifyInstance, type FastifyRequest } from "fastify";
import { csrf, type FastifySessionOptions, flash, session } from "../../../src/fastify/index.js";
import { errorReply, type JourneyApp, type JourneyData, type JourneyOptions } from "../journey.js";

/** The session's data as the contract's routes keep it; read afresh after regenerate() or reload(). */
function data(request: FastifyRequest): JourneyData {
  return request.session as unknown as JourneyData;
}

/** Starts `app` on a free port of 127.0.0.1; `close()` also ends open connections. */
export async function listen(app: FastifyInstance): Promise<JourneyApp> {
  await app.listen({ host: "127.0.0.1", port: 0 });
  const address = app.server.address();
  if (typeof address !== "object" || address === null) {
    await app.close();
    throw new Error("the server has no port");
  }
  return { url: `http://127.0.0.1:${address.port}`, close: () => app.close() };
}

/** A Fastify app, unstarted, with the session plugin registered with `options` and the contract's error handler. */
export async function fastifyWithSessions(
  options: FastifySessionOptions,
  settings: { trustProxy?: boolean } = {},
): Promise<FastifyInstance> {
  // forceCloseConnections: close() ends every connection, not only the idle ones.
  const app = Fastify({ forceCloseConnections: true, trustProxy: settings.trustProxy ?? false });
  await app.register(session, options);
  app.setErrorHandler((error, _request, reply) => {
    const { status, body } = errorReply(error);
    return reply.code(status).send(body);
  });
  return app;
}

export async function makeFastifyApp(options: JourneyOptions): Promise<JourneyApp> {
  const app = await fastifyWithSessions(options);

  app.get("/count", async (request) => {
    data(request).views = (data(request).views ?? 0) + 1;
    return { views: data(request).views };
  });
  app.get("/me", async (request) => ({
    views: data(request).views ?? null,
    user: data(request).user ?? null,
    indexed: request.session.getUser() ?? null,
  }));
  app.post<{ Querystring: { user: string } }>("/login", async (request) => {
    const user = String(request.query.user);
    await request.session.regenerate();
    request.session.setUser(user);
    data(request).user = user;
    return { user };
  });
  app.post("/reload", async (request) => {
    data(request).views = -1;
    await request.session.reload();
    return { views: data(request).views ?? null };
  });
  app.post("/logout", async (request, reply) => {
    await request.session.destroy();
    return reply.type("text/plain; charset=utf-8").send("bye");
  });

  const checkCsrf = csrf();
  app.get("/csrf", { preHandler: checkCsrf }, async (request) => ({
    token: request.csrfToken(),
  }));
  app.post("/csrf", { preHandler: checkCsrf }, async () => ({ ok: true }));

  const flashes = flash();
  app.post<{ Querystring: { msg: string } }>(
    "/flash",
    { preHandler: flashes },
    async (request) => ({ queued: request.flash("info", String(request.query.msg)) }),
  );
  app.get("/flash", { preHandler: flashes }, async (request) => request.flash("info"));

  return listen(app);
}
