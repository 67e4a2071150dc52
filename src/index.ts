export * from "./core/index.js";
export * from "./store/index.js";
export {
  type CallbackStore,
  fromLegacyStore,
  isTesseraStore,
  type LegacyStoreBase,
  type LegacyStoreOptions,
  Store as StoreBase,
  TESSERA_STORE,
  toStore,
} from "./store/legacy.js";
