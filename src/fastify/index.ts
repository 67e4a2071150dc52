import "./types.js";

export type { SessionOptions } from "../core/options.js";
export { Session, type SessionData } from "../core/session.js";
export type { CsrfOptions } from "../csrf/csrf.js";
export type { FlashFunction, FlashMessages, FlashOptions } from "../flash/flash.js";
export { csrf } from "./csrf.js";
export { flash } from "./flash.js";
export type { FastifySessionOptions } from "./options.js";
export { session } from "./session.js";
