import "./types.js";

export { Cookie, type CookieOptions } from "../core/cookie.js";
export type { SessionOptions } from "../core/options.js";
export { Session, type SessionData } from "../core/session.js";
export { Store } from "../store/legacy.js";
export { MemoryStore } from "../stores/memory.js";
export { type SessionMiddleware, session as default, session } from "./session.js";
