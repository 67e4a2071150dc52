import type { preHandlerHookHandler } from "fastify";
import {
  type FlashOptions,
  type FlashRequest,
  type FlashResponse,
  flash as flashMiddleware,
} from "../flash/flash.js";

/** What flash() is given for a reply without `reply.locals`. */
const NO_LOCALS: FlashResponse = {};

/**
 * Flash messages for Fastify: `flash()` of tessera/flash as a `preHandler` (or `onRequest`)
 * hook, kept in the session under `flash` until read, as connect-flash keeps them. It adds
 * `request.flash()`. With the `locals` option, views rendered through `reply.locals` (as
 * @fastify/view reads it) find the messages there.
 *
 * @example
 * import { flash, session } from "tessera/fastify";
 *
 * await app.register(session, { secret, resave: false, saveUninitialized: false });
 * app.addHook("preHandler", flash());
 * app.post("/login", async (request, reply) => {
 *   request.flash("error", "Wrong password");
 *   return reply.redirect("/login");
 * });
 * app.get("/login", async (request) => ({ errors: request.flash("error") }));
 */
export function flash(options: FlashOptions = {}): preHandlerHookHandler {
  const add = flashMiddleware(options);
  return function flashHook(request, reply, done) {
    const locals = (reply as { locals?: unknown }).locals;
    const res =
      typeof locals === "object" && locals !== null ? (reply as FlashResponse) : NO_LOCALS;
    add(request as FlashRequest, res, done as (error?: unknown) => void);
  };
}
