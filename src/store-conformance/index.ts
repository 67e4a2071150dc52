export type { ConformanceOptions, StoreFactory } from "./suite.js";
export { testStore } from "./suite.js";
