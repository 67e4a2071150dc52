// After the build: every door in package.json "exports" must exist in dist/ for import and
// require, with types, and must load under both module systems.
import { existsSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { pathToFileURL } from "node:url";

const pkg = JSON.parse(readFileSync("package.json", "utf8"));
const require = createRequire(import.meta.url);
const problems = [];
for (const [door, target] of Object.entries(pkg.exports)) {
  if (typeof target === "string") continue;
  for (const condition of ["import", "require"]) {
    for (const file of Object.values(target[condition])) {
      if (!existsSync(file)) problems.push(`${door} (${condition}): ${file} was not built`);
    }
  }
  if (problems.length > 0) continue;
  try {
    await import(pathToFileURL(target.import.default).href);
    require(`./../${target.require.default.slice(2)}`);
  } catch (error) {
    problems.push(`${door}: does not load: ${error.message}`);
  }
}
if (problems.length > 0) {
  console.error(`check-exports: ${problems.length} problem(s)\n  ${problems.join("\n  ")}`);
  process.exit(1);
}
console.log(
  `check-exports: ${Object.keys(pkg.exports).length - 1} doors built for import and require`,
);
