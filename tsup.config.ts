import { existsSync, readFileSync } from "node:fs";
import { defineConfig } from "tsup";

// One entry per public door, read from package.json "exports" so the two can never disagree:
// "./express" is built from src/express/index.ts into dist/express/index.{js,cjs,d.ts,d.cts}.
const pkg = JSON.parse(readFileSync("package.json", "utf8")) as {
  exports: Record<string, unknown>;
};
const entry: Record<string, string> = {};
for (const door of Object.keys(pkg.exports)) {
  if (door === "./package.json") continue;
  const name = door === "." ? "index" : `${door.slice(2)}/index`;
  const folder = door === "." ? "src/index.ts" : `src/${door.slice(2)}/index.ts`;
  // A store's door ("./sqlite") is its one file in src/stores/.
  entry[name] = existsSync(folder) ? folder : `src/stores/${door.slice(2)}.ts`;
}
if (existsSync("src/cli/main.ts")) entry["cli/main"] = "src/cli/main.ts";

// One copy of Tessera per process, whichever doors an app loads and however it loads them.
// `instanceof TesseraError`, the session's state symbol, the store registries: each must exist
// once, or a check made in one door fails on an object made by another. So:
// - Only CommonJS is bundled, with shared chunks (`splitting`), so `require("tessera/express")`
//   and `require("tessera/redis")` load the same `dist/chunk-*.cjs` files. tsup alone turns the
//   chunks into CommonJS with sucrase, which also rewrites `?.` and `??` into helper calls on the
//   request path; `treeshake` hands that step to rollup instead, which leaves them as they are.
// - Each ES module door (`dist/x/index.js`) only re-exports its CommonJS door, written by
//   scripts/esm-doors.mjs after this build. Bundling ESM as well would give an app that mixes
//   `import` and `require` (a CommonJS app with an ESM-only store, or the other way round) two
//   copies, one per module system; Node 20 loads CommonJS from ESM everywhere, but ESM from
//   `require` only from 20.19, so CommonJS is the one copy.
// - The types follow the same rule: `.d.ts` files re-export the `.d.cts` ones, so a
//   `declare module` merge into `SessionData` through any door reaches the one interface.
// `Symbol.for` keys would have been the other way to share symbols, but not classes or caches.
export default defineConfig({
  entry,
  format: ["cjs"],
  splitting: true,
  treeshake: true,
  dts: true,
  clean: true,
  sourcemap: false,
  target: "node20",
  platform: "node",
  // Keep "node:" in imports: "node:test" has no bare form.
  removeNodeProtocol: false,
  outDir: "dist",
});
