export { TesseraError } from "../core/errors.js";
// What a store needs to be taken for a Tessera store, or to wrap one written for express-session.
export {
  type CallbackStore,
  fromLegacyStore,
  isTesseraStore,
  type LegacyStoreOptions,
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
  SessionMeta,
  SessionPatch,
  SessionRecord,
  Store,
  StoreCapability,
} from "./types.js";
export { IN_PROCESS_STORE, META_KEY } from "./types.js";
