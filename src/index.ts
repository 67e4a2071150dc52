// The root door: what apps use. The session and its data, the options, errors, diagnostics
// channels, cookie signing, the user-session helpers ("log out everywhere"), and the store
// contract's types for typing a store. Store authors import from `tessera/store`; the engine
// itself is not exported.
export * from "./core/index.js";
export type { SessionOptions } from "./node/options.js";
export type {
  CookieRecord,
  MaybePromise,
  SessionMeta,
  SessionPatch,
  SessionRecord,
  Store,
} from "./store/types.js";
