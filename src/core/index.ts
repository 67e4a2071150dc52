export { CHANNEL_NAMES, channels } from "./channels.js";
export { Cookie, type CookieData, type CookieOptions, type SameSite } from "./cookie.js";
export {
  isTesseraError,
  TesseraError,
  type TesseraErrorCode,
  type TesseraErrorOptions,
} from "./errors.js";
export type { SessionEvent, SessionEventHook } from "./events.js";
export { generateId, ID_BYTES } from "./id.js";
export type { LegacyStore, OfRequest } from "./options.js";
export { type RecentLoginOptions, recentLogin, requireRecentLogin } from "./recent-login.js";
export {
  type RegenerateOptions,
  Session,
  type SessionCallback,
  type SessionData,
  type SessionLifetime,
} from "./session.js";
export { sign, type Unsigned, unsign } from "./signing.js";
export { UpgradeSession, type UpgradeSessionOptions } from "./upgrade.js";
export {
  listUserSessions,
  revokeAllSessions,
  revokeOtherSessions,
  revokeUserSession,
  type SessionHolder,
  sessionHandle,
  type UserSession,
} from "./users.js";
