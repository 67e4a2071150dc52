import type { IncomingMessage } from "node:http";
import type { SessionOptions as OptionsOf } from "../core/options.js";

/**
 * Options of `session()` under Express and node:http. `genid` and a `cookie` function are called
 * with node's request (Express's `req`).
 */
export type SessionOptions = OptionsOf<IncomingMessage>;
