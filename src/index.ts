export * from "./core/index.js";
export * from "./store/index.js";
export {
  type CallbackStore,
  fromLegacyStore,
  isTesseraStore,
  type LegacyStoreBase,
  Store as StoreBase,
  TESSERA_STORE,
  toStore,
} from "./store/legacy.js";
