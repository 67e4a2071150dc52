import type { FastifyRequest } from "fastify";
import type { SessionOptions } from "../core/options.js";

/**
 * Options of the Fastify `session` plugin: the same as Express's `session()`. `genid` and a
 * `cookie` function are called with Fastify's `request`.
 */
export type FastifySessionOptions = SessionOptions<FastifyRequest>;
