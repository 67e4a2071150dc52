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
// once, or a check made in one door fails on an object made by another. Bundled per door, the
// CommonJS build held 13 copies of TesseraError (469 KB of .cjs), and a CommonJS app whose
// Redis was down answered 500 ERR_STORE instead of 503 ERR_STORE_UNAVAILABLE. So:
// - Only CommonJS is bundled, with shared chunks (`splitting`): every door requires the same
//   dist/chunk-*.cjs files (242 KB in all). tsup alone turns the chunks into CommonJS with
//   sucrase, which also rewrites `?.` and `??` into helper calls (214 of them, 25 in the
//   engine's chunk, on the request path); `treeshake` hands that step to rollup instead, which
//   leaves the code as esbuild wrote it.
// - Each ES module door (dist/x/index.js) only re-exports its CommonJS door; scripts/
//   esm-doors.mjs writes them after this build. Bundling ESM too would give an app that mixes
//   `import` and `require` (a CommonJS app with an ESM-only store package, or the other way
//   round) two copies, one per module system. CommonJS is the one copy because Node 20 imports
//   CommonJS everywhere but requires ESM only from 20.19.
// - Types follow the same rule: each .d.ts re-exports its .d.cts, so there is one declaration
//   of every type, and `declare module` through a door merges into it.
// `Symbol.for` keys were the third way: they share symbols across copies, but not classes,
// registries or caches, so they would only have hidden part of the problem.
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
