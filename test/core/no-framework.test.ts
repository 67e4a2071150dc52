// The engine in src/core knows no framework: every adapter (Express, node:http, Fastify, Koa,
// Hono) reaches it through the same two phases, and nothing in it may reach back for a
// framework's objects or for node:http. Follows every import from src/core, relative ones
// included, and checks where they lead.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const CORE = join(ROOT, "src/core");

/**
 * Modules the engine may load: the cookie package, its own files and the store contract's. Node's
 * builtins are reached through `process.getBuiltinModule` (src/core/builtins.ts), never imported,
 * so the engine loads on runtimes that have none; `import type` of them is erased and allowed.
 */
const ALLOWED_BARE = new Set(["cookie"]);

/** Modules whose types the engine may name: Node's non-HTTP builtins. */
const ALLOWED_TYPES = new Set([
  "node:buffer",
  "node:crypto",
  "node:diagnostics_channel",
  "node:events",
  "node:util",
]);

interface Import {
  specifier: string;
  /** `import type` / `export type`: erased when compiled, so nothing is loaded. */
  typeOnly: boolean;
}

function importsOf(file: string): Import[] {
  const text = readFileSync(file, "utf8");
  const found: Import[] = [];
  for (const match of text.matchAll(/(?:^|\n)\s*((?:import|export)[^"';]*?)from\s+"([^"]+)"/g)) {
    found.push({
      specifier: match[2] as string,
      typeOnly: /^(?:import|export)\s+type\s/.test(match[1] as string),
    });
  }
  for (const match of text.matchAll(/(?:^|\n)\s*import\s+"([^"]+)"/g))
    found.push({ specifier: match[1] as string, typeOnly: false });
  return found;
}

/** Every file reached from the given ones through imports, with what each imports. */
function graph(...starts: string[]): Map<string, Import[]> {
  const seen = new Map<string, Import[]>();
  const queue = [...starts];
  while (queue.length > 0) {
    const file = queue.pop() as string;
    if (seen.has(file)) continue;
    const imports = importsOf(file);
    seen.set(file, imports);
    for (const { specifier } of imports) {
      if (specifier.startsWith("."))
        queue.push(resolve(dirname(file), specifier.replace(/\.js$/, ".ts")));
    }
  }
  return seen;
}

/** The bare modules a graph loads when it runs, and those it only names types from. */
function bareImports(files: Map<string, Import[]>): { loaded: string[]; typed: string[] } {
  const loaded = new Set<string>();
  const typed = new Set<string>();
  for (const imports of files.values()) {
    for (const { specifier, typeOnly } of imports) {
      if (specifier.startsWith(".")) continue;
      (typeOnly ? typed : loaded).add(specifier);
    }
  }
  return { loaded: [...loaded].sort(), typed: [...typed].sort() };
}

describe("the engine (src/core)", () => {
  const files = graph(join(CORE, "engine.ts"), join(CORE, "index.ts"));

  it("loads only its own files and the store contract's", () => {
    const outside = [...files.keys()]
      .map((file) => relative(ROOT, file))
      .filter((file) => !file.startsWith("src/core/") && !file.startsWith("src/store/"));
    assert.deepEqual(outside, []);
    assert.ok(files.size > 10, `only ${files.size} files found: the import scan is broken`);
  });

  it("imports no framework and no node: module; it names only non-HTTP builtins' types", () => {
    const { loaded, typed } = bareImports(files);
    assert.deepEqual(
      loaded.filter((name) => !ALLOWED_BARE.has(name)),
      [],
    );
    assert.deepEqual(
      typed.filter((name) => !ALLOWED_TYPES.has(name)),
      [],
    );
  });
});
