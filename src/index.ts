export * from "./core/index.js";
export type { SessionOptions } from "./node/options.js";
export * from "./store/index.js";
export { type LegacyStoreBase, Store as StoreBase } from "./store/legacy.js";
