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

/** Modules the engine may load: Node's non-HTTP builtins, the cookie package, its own files and the store contract's. */
const ALLOWED_BARE = new Set([
  "cookie",
  "node:crypto",
  "node:diagnostics_channel",
  "node:events",
  "node:util",
]);

function importsOf(file: string): string[] {
  const text = readFileSync(file, "utf8");
  const found: string[] = [];
  for (const match of text.matchAll(/(?:^|\n)\s*(?:import|export)[^"';]*?from\s+"([^"]+)"/g)) {
    found.push(match[1] as string);
  }
  for (const match of text.matchAll(/(?:^|\n)\s*import\s+"([^"]+)"/g))
    found.push(match[1] as string);
  return found;
}

/** Every file the engine loads, starting from src/core/engine.ts, with what each imports. */
function graph(): Map<string, string[]> {
  const seen = new Map<string, string[]>();
  const queue = [join(CORE, "engine.ts"), join(CORE, "index.ts")];
  while (queue.length > 0) {
    const file = queue.pop() as string;
    if (seen.has(file)) continue;
    const specifiers = importsOf(file);
    seen.set(file, specifiers);
    for (const specifier of specifiers) {
      if (specifier.startsWith("."))
        queue.push(resolve(dirname(file), specifier.replace(/\.js$/, ".ts")));
    }
  }
  return seen;
}

describe("the engine (src/core)", () => {
  const files = graph();

  it("loads only its own files and the store contract's", () => {
    const outside = [...files.keys()]
      .map((file) => relative(ROOT, file))
      .filter((file) => !file.startsWith("src/core/") && !file.startsWith("src/store/"));
    assert.deepEqual(outside, []);
    assert.ok(files.size > 10, `only ${files.size} files found: the import scan is broken`);
  });

  it("imports no framework and no node:http, node:http2 or node:net", () => {
    const bare = new Set<string>();
    for (const specifiers of files.values()) {
      for (const specifier of specifiers) if (!specifier.startsWith(".")) bare.add(specifier);
    }
    assert.deepEqual([...bare].filter((name) => !ALLOWED_BARE.has(name)).sort(), []);
  });
});
