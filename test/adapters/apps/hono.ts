// The route contract of journey.ts on Hono 4, with tessera/hono's session(), csrf() and flash().
// makeHonoApp serves it on node:http through @hono/node-server; honoApp is the app itself, for
// tests that call app.fetch() without a server.
import type { Server } from "node:http";
import { createAdaptorServer } from "@hono/node-server";
import { type Context, Hono } from "hono";
import {
  type CsrfEnv,
  csrf,
  type FlashEnv,
  flash,
  type SessionEnv,
  session,
} from "../../../src/hono/index.js";
import {
  errorReply,
  type JourneyApp,
  type JourneyData,
  type JourneyOptions,
  serve,
} from "../journey.js";

export type JourneyEnv = SessionEnv & CsrfEnv & FlashEnv;

/** The session's data as the contract's routes keep it; read afresh after regenerate() or reload(). */
function data(c: Context<JourneyEnv>): JourneyData {
  return c.get("session") as unknown as JourneyData;
}

export function honoApp(options: JourneyOptions): Hono<JourneyEnv> {
  const app = new Hono<JourneyEnv>();
  app.use(session(options));

  app.get("/count", (c) => {
    data(c).views = (data(c).views ?? 0) + 1;
    return c.json({ views: data(c).views });
  });
  app.get("/me", (c) =>
    c.json({
      views: data(c).views ?? null,
      user: data(c).user ?? null,
      indexed: c.get("session").getUser() ?? null,
    }),
  );
  app.post("/login", async (c) => {
    const user = String(c.req.query("user"));
    await c.get("session").regenerate();
    c.get("session").setUser(user);
    data(c).user = user;
    return c.json({ user });
  });
  app.post("/reload", async (c) => {
    data(c).views = -1;
    await c.get("session").reload();
    return c.json({ views: data(c).views ?? null });
  });
  app.post("/logout", async (c) => {
    await c.get("session").destroy();
    return c.text("bye");
  });

  app.use("/csrf", csrf());
  app.get("/csrf", (c) => c.json({ token: c.get("csrfToken")() }));
  app.post("/csrf", (c) => c.json({ ok: true }));

  app.use("/flash", flash());
  app.post("/flash", (c) => c.json({ queued: c.get("flash")("info", String(c.req.query("msg"))) }));
  app.get("/flash", (c) => c.json(c.get("flash")("info")));

  app.onError((error, c) => {
    const { status, body } = errorReply(error);
    return c.json(body, status as 500);
  });
  return app;
}

/** The contract's app on a fresh node:http server on 127.0.0.1. */
export function makeHonoApp(options: JourneyOptions): Promise<JourneyApp> {
  return serve(createAdaptorServer({ fetch: honoApp(options).fetch }) as Server);
}
