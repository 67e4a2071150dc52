// The installed package's types, compiled by `tsc --noEmit` in one small project per module
// setting (test/types/<setting>/), each with the sources of test/types/src/ in its shared/
// folder (the project's package.json decides whether they are CommonJS or ES modules).
// skipLibCheck is off: Tessera's own declarations are checked too.
import assert from "node:assert/strict";
import { cpSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { type Consumer, createConsumer, ROOT } from "./consumer.js";

const TYPES = join(ROOT, "test", "types");
const TSC = join(ROOT, "node_modules", "typescript", "bin", "tsc");
const PROJECTS = readdirSync(TYPES).filter(
  (name) => name !== "src" && statSync(join(TYPES, name)).isDirectory(),
);

describe("the installed package › its types, under each module setting", () => {
  let consumer: Consumer;
  before(() => {
    consumer = createConsumer({
      type: "commonjs",
      dependencies: [
        "express",
        "redis",
        "connect-redis",
        "@types/node",
        "@types/express",
        "@types/express-serve-static-core",
        "@types/express-session",
      ],
    });
    cpSync(join(TYPES, "tsconfig.base.json"), join(consumer.dir, "types", "tsconfig.base.json"));
  });
  after(() => consumer?.remove());

  it("has a project per module setting", () => {
    assert.deepEqual(PROJECTS.sort(), [
      "beside-express-session",
      "bundler",
      "commonjs",
      "node16",
      "nodenext",
      "readme",
    ]);
  });

  for (const project of PROJECTS) {
    it(`compiles with ${project}`, () => {
      const dir = join(consumer.dir, "types", project);
      cpSync(join(TYPES, "src"), join(dir, "shared"), { recursive: true });
      cpSync(join(TYPES, project), dir, { recursive: true });
      const result = consumer.run(process.execPath, [TSC, "-p", dir]);
      assert.equal(result.stdout + result.stderr, "", `tsc found errors in ${project}`);
      assert.equal(result.status, 0);
    });
  }
});
