// After tsup: writes each door's ES module files over its CommonJS build, so that `import` and
// `require` share one copy of Tessera (tsup.config.ts says why). For every door in
// package.json "exports":
//   index.cjs    built by tsup. A door whose default export is a function becomes that
//                function, with the named exports on it: express-session's
//                `module.exports = session`, so `require("tessera/express")` is callable.
//   index.js     `import door from "./index.cjs"`, then the door's names, one by one.
//   index.d.cts  built by tsup; for a function door, written here in express-session's shape
//                (`export = session` with a namespace of the same name), over tsup's
//                declarations, which move to named.d.cts.
//   index.d.ts   re-exports index.d.cts, so that there is one declaration of every type.
// Every door's declarations also load the root door's, so that `declare module "tessera"`
// works in a file that imports only `tessera/express`.
import { appendFileSync, readdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, relative, resolve } from "node:path";
import ts from "typescript";

const pkg = JSON.parse(readFileSync("package.json", "utf8"));
const require = createRequire(resolve("package.json"));
const root = pkg.exports["."];

// tsup's declarations keep the `type` of `export type { SessionData }` in the sources on every
// name they pass on. TypeScript then merges no `declare module "tessera/express"` through such
// a name (it declares a second, empty SessionData) and lets no `export import` alias it. In a
// declaration file the modifier means nothing else, so it goes.
for (const file of readdirSync("dist", { recursive: true })) {
  if (!String(file).endsWith(".d.cts")) continue;
  const path = join("dist", String(file));
  writeFileSync(path, withoutTypeModifiers(readFileSync(path, "utf8")));
}

for (const [door, target] of Object.entries(pkg.exports)) {
  if (typeof target === "string") continue;
  const cjs = resolve(target.require.default);
  const esm = resolve(target.import.default);
  const dcts = resolve(target.require.types);
  const dts = resolve(target.import.types);
  const fromRoot = (file) => relative(dirname(esm), resolve(file)).replace(/\.d\.c?ts$/, "");
  const loadsRoot =
    door === "."
      ? { cts: "", ts: "" }
      : {
          cts: `import type {} from "${fromRoot(root.require.types)}.cjs";\n`,
          ts: `import type {} from "${fromRoot(root.import.types)}.js";\n`,
        };

  const exports = require(cjs);
  const names = Object.keys(exports)
    .filter((name) => name !== "default")
    .sort();
  const isFunctionDoor = typeof exports.default === "function";
  if (isFunctionDoor) {
    appendFileSync(
      cjs,
      "\n// express-session's shape: the module is the function, with the named exports on it.\n" +
        "module.exports = Object.assign(exports.default, exports);\n",
    );
  }

  const header = `// ${door === "." ? "tessera" : `tessera/${door.slice(2)}`}: the CommonJS build, re-exported, so that import and require share one copy.\n`;
  writeFileSync(
    esm,
    `${header}import door from "./index.cjs";\n\n` +
      (isFunctionDoor ? "export default door;\n" : "") +
      `export const { ${names.join(", ")} } = door;\n`,
  );

  if (!isFunctionDoor) {
    const declarations = readFileSync(dcts, "utf8");
    writeFileSync(dcts, loadsRoot.cts + declarations);
    writeFileSync(dts, `${header}${loadsRoot.ts}export * from "./index.cjs";\n`);
    continue;
  }

  const named = dcts.replace(/index\.d\.cts$/, "named.d.cts");
  renameSync(dcts, named);
  const [fn, ...members] = exportedNames(named);
  writeFileSync(
    dcts,
    `${header.replace("re-exported, so that import and require share one copy", "typed as express-session's own types are")}` +
      loadsRoot.cts +
      `import * as door from "./named.cjs";\n\n` +
      `declare function ${fn}(...options: Parameters<typeof door.${fn}>): ReturnType<typeof door.${fn}>;\n` +
      `declare namespace ${fn} {\n` +
      members.map((name) => `  export import ${name} = door.${name};\n`).join("") +
      `  export { self as default, self as ${fn} };\n}\n` +
      `import self = ${fn};\n` +
      `export = ${fn};\n`,
  );
  writeFileSync(
    dts,
    `${header}${loadsRoot.ts}import door from "./index.cjs";\n\n` +
      "export default door;\n" +
      `export { ${[fn, ...members].sort().join(", ")} } from "./index.cjs";\n`,
  );
}

/** The names a declaration file exports, the function's own first, `default` left out. */
function exportedNames(file) {
  const program = ts.createProgram([file], { noEmit: true, types: [] });
  const checker = program.getTypeChecker();
  const source = program.getSourceFile(file);
  const symbol = source && checker.getSymbolAtLocation(source);
  if (!symbol) throw new Error(`esm-doors: cannot read the declarations in ${file}`);
  const names = checker.getExportsOfModule(symbol).map((s) => s.name);
  const defaultExport = checker.getExportsOfModule(symbol).find((s) => s.name === "default");
  const fn = defaultExport && checker.getImmediateAliasedSymbol(defaultExport)?.name;
  if (!fn) throw new Error(`esm-doors: ${file} has no default export to name the function`);
  return [fn, ...names.filter((name) => name !== "default" && name !== fn).sort()];
}

/** `import type { A, type B }` and `export { type C }` without `type`: see above. */
function withoutTypeModifiers(text) {
  return text.replace(
    /^(import|export) (type )?\{([^}]*)\}/gm,
    (_, keyword, _type, names) => `${keyword} {${names.replace(/(^|,)(\s*)type /g, "$1$2")}}`,
  );
}
