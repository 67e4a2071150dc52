import "./types.js";

export { Cookie, type CookieOptions } from "../core/cookie.js";
export type { SessionOptions } from "../core/options.js";
export { Session, type SessionData } from "../core/session.js";
export type { UpgradeSession, UpgradeSessionOptions } from "../core/upgrade.js";
export { MemoryStore } from "../stores/memory.js";
export { type SessionFunction, Store, session, session as default } from "./door.js";
export type { SessionMiddleware } from "./session.js";
