// After the build: every door in package.json "exports" must exist in dist/ for import and
// require, with types, must load under both module systems, and must be one and the same
// module through both (the ES module door re-exports the CommonJS one: tsup.config.ts says why).
// Every door but the root also needs its "typesVersions" entry, which TypeScript's older
// resolution (`"module": "commonjs"`) reads instead of "exports".
import { existsSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { pathToFileURL } from "node:url";

const pkg = JSON.parse(readFileSync("package.json", "utf8"));
const require = createRequire(import.meta.url);
const typesVersions = pkg.typesVersions?.["*"] ?? {};
const problems = [];
for (const [door, target] of Object.entries(pkg.exports)) {
  if (typeof target === "string") continue;
  for (const condition of ["import", "require"]) {
    for (const file of Object.values(target[condition])) {
      if (!existsSync(file)) problems.push(`${door} (${condition}): ${file} was not built`);
    }
  }
  if (door !== "." && typesVersions[door.slice(2)]?.[0] !== target.require.types) {
    problems.push(
      `${door}: typesVersions["*"]["${door.slice(2)}"] must be [${target.require.types}]`,
    );
  }
  if (problems.length > 0) continue;
  try {
    const imported = await import(pathToFileURL(target.import.default).href);
    const required = require(`./../${target.require.default.slice(2)}`);
    for (const [name, value] of Object.entries(imported)) {
      if (value !== (name === "default" ? required : required[name])) {
        problems.push(`${door}: import and require give two different ${name}`);
      }
    }
  } catch (error) {
    problems.push(`${door}: does not load: ${error.message}`);
  }
}
if (problems.length > 0) {
  console.error(`check-exports: ${problems.length} problem(s)\n  ${problems.join("\n  ")}`);
  process.exit(1);
}
console.log(
  `check-exports: ${Object.keys(pkg.exports).length - 1} doors built for import and require, one copy each`,
);
