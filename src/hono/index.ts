export { Cookie, type CookieOptions } from "../core/cookie.js";
export { Session, type SessionData } from "../core/session.js";
export type { CsrfOptions } from "../csrf/csrf.js";
export type { FlashFunction, FlashMessages } from "../flash/flash.js";
export { MemoryStore } from "../stores/memory.js";
export { type CsrfEnv, type CsrfVariables, csrf } from "./csrf.js";
export { type FlashEnv, type FlashVariables, flash } from "./flash.js";
export { session } from "./session.js";
export type { HonoSessionOptions, SessionEnv, SessionVariables } from "./types.js";
