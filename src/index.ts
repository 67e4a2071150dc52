export * from "./core/index.js";
export * from "./store/index.js";
export { type LegacyStoreBase, Store as StoreBase } from "./store/legacy.js";
