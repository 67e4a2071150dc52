import "./types.js";

export type { SessionData } from "../core/session.js";
export type { CsrfOptions } from "../csrf/csrf.js";
export type { FlashFunction, FlashMessages, FlashOptions } from "../flash/flash.js";
export { csrf } from "./csrf.js";
export { flash } from "./flash.js";
export { session } from "./session.js";
export type { KoaSessionOptions } from "./types.js";
