// The installed package's types, compiled by `tsc --noEmit` in one small project per module
// setting (test/types/<setting>/), each with the sources of test/types/src/ in its shared/
// folder (the project's package.json decides whether they are CommonJS or ES modules). Each
// project that compiles shared/ compiles test/types/frameworks/ (Fastify, Koa, Hono) too, as a
// program of its own under the same settings. skipLibCheck is off: Tessera's own declarations,
// and the frameworks', are checked too.
import assert from "node:assert/strict";
import { cpSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { type Consumer, createConsumer, ROOT } from "./consumer.js";

const TYPES = join(ROOT, "test", "types");
const TSC = join(ROOT, "node_modules", "typescript", "bin", "tsc");
const PROJECTS = readdirSync(TYPES).filter(
  (name) => name !== "src" && name !== "frameworks" && statSync(join(TYPES, name)).isDirectory(),
);

/** Whether a project compiles the shared sources (the README's project has its own). */
function compilesShared(project: string): boolean {
  const tsconfig = JSON.parse(readFileSync(join(TYPES, project, "tsconfig.json"), "utf8")) as {
    include?: string[];
  };
  return tsconfig.include?.includes("shared/*") ?? false;
}

describe("the installed package › its types, under each module setting", () => {
  let consumer: Consumer;
  before(() => {
    consumer = createConsumer({
      type: "commonjs",
      dependencies: [
        "express",
        "fastify",
        "koa",
        "hono",
        "redis",
        "connect-redis",
        "@types/node",
        "@types/express",
        "@types/express-serve-static-core",
        "@types/express-session",
        "@types/koa",
        "@types/content-disposition",
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

  /** Runs tsc on a tsconfig of the scratch project and asserts it found nothing. */
  function compiles(tsconfig: string, what: string): void {
    const result = consumer.run(process.execPath, [TSC, "-p", tsconfig]);
    assert.equal(result.stdout + result.stderr, "", `tsc found errors in ${what}`);
    assert.equal(result.status, 0);
  }

  for (const project of PROJECTS) {
    it(`compiles with ${project}`, () => {
      const dir = join(consumer.dir, "types", project);
      cpSync(join(TYPES, "src"), join(dir, "shared"), { recursive: true });
      cpSync(join(TYPES, project), dir, { recursive: true });
      compiles(dir, project);
    });
  }

  for (const project of PROJECTS.filter(compilesShared)) {
    it(`compiles the Fastify, Koa and Hono doors with ${project}`, () => {
      const dir = join(consumer.dir, "types", project);
      cpSync(join(TYPES, project), dir, { recursive: true });
      cpSync(join(TYPES, "frameworks"), join(dir, "frameworks"), { recursive: true });
      compiles(join(dir, "frameworks"), `${project}/frameworks`);
    });
  }
});
