export { type NodeSessionHandler, session } from "./session.js";
