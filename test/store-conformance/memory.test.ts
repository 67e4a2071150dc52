// MemoryStore against the Store contract's conformance suite.
import { fileURLToPath } from "node:url";
import { testStore } from "../../src/store-conformance/index.js";
import { MemoryStore } from "../../src/stores/memory.js";

testStore("MemoryStore", () => new MemoryStore(), {
  iterationCount: 100_000,
  closeScript: fileURLToPath(new URL("../fixtures/stores/memory-close.ts", import.meta.url)),
});
