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

export default defineConfig({
  entry,
  format: ["esm", "cjs"],
  dts: true,
  clean: true,
  sourcemap: false,
  target: "node20",
  platform: "node",
  // Keep "node:" in imports: "node:test" has no bare form.
  removeNodeProtocol: false,
  outDir: "dist",
  // express-session is `module.exports = session`; `require("tessera/express")` must be too.
  footer: ({ format }) =>
    format === "cjs"
      ? {
          js: "if (module.exports && typeof module.exports.default === 'function' && module.exports.default.session === module.exports.default) { const m = module.exports; module.exports = Object.assign(m.default, m); }",
        }
      : {},
});
