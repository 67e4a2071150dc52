export { TesseraError } from "../core/errors.js";
// What a store needs to be taken for a Tessera store, or to wrap one written for express-session.
// express-session's abstract Store, for stores written the old way (`util.inherits(MyStore, Store)`).
export {
  type CallbackStore,
  fromLegacyStore,
  isTesseraStore,
  type LegacyStoreBase,
  type LegacyStoreOptions,
  Store as StoreBase,
  TESSERA_STORE,
  toStore,
} from "./legacy.js";
export {
  applyPatch,
  assertTtl,
  isUnavailableError,
  patchUser,
  recordUser,
  requireCapability,
  storeError,
  storeJson,
} from "./record.js";
export type {
  CookieRecord,
  DestroyForUserOptions,
  MaybePromise,
  SessionMeta,
  SessionPatch,
  SessionRecord,
  Store,
  StoreCapability,
} from "./types.js";
export { IN_PROCESS_STORE, isThenable, META_KEY } from "./types.js";
