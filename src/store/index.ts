export { TesseraError } from "../core/errors.js";
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
