export type { UpgradeSession, UpgradeSessionOptions } from "../core/upgrade.js";
export { type NodeSessionHandler, session } from "./session.js";
