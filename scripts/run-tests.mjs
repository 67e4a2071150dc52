// Runs every test file under test/ with node's test runner (TypeScript through tsx), under c8
// for coverage, then enforces the coverage floor of the core.
//   node scripts/run-tests.mjs                 all tests
//   node scripts/run-tests.mjs test/core       only the files under these paths
// On Node 20 `node --test` takes no globs and ignores .ts files, so the files are listed here.
import { spawnSync } from "node:child_process";
import { readdirSync, statSync } from "node:fs";
import { join } from "node:path";

function collect(path, out) {
  if (statSync(path).isFile()) {
    if (/\.test\.ts$/.test(path)) out.push(path);
    return out;
  }
  for (const name of readdirSync(path).sort()) {
    if (name === "node_modules" || name === "types" || name === "fixtures") continue;
    collect(join(path, name), out);
  }
  return out;
}

const roots = process.argv.slice(2);
const files = (roots.length > 0 ? roots : ["test"]).flatMap((root) => collect(root, []));
if (files.length === 0) {
  console.error("run-tests: no test files found");
  process.exit(1);
}

const concurrency = process.env.TEST_CONCURRENCY ?? "2";
const c8 = [
  "c8",
  "--reporter=text-summary",
  "--reporter=lcov",
  "--include=src/**",
  "--exclude=src/store-conformance/**",
  "node",
  "--import",
  "tsx",
  "--test",
  `--test-concurrency=${concurrency}`,
  "--test-timeout=120000",
  ...files,
];
const run = spawnSync("npx", c8, { stdio: "inherit" });
if (run.status !== 0) process.exit(run.status ?? 1);

if (roots.length === 0) {
  console.log("\nLine coverage of src/core (floor: 90%):");
  const core = spawnSync(
    "npx",
    [
      "c8",
      "report",
      "--reporter=text-summary",
      "--include=src/core/**",
      "--check-coverage",
      "--lines=90",
    ],
    { stdio: "inherit" },
  );
  if (core.status !== 0) process.exit(core.status ?? 1);
}
