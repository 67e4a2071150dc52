import { emitWarning } from "./builtins.js";

const warned = new Set<string>();

/** Prints a warning once per process, as express-session's deprecations do. */
export function warnOnce(code: string, message: string): void {
  if (warned.has(code)) return;
  warned.add(code);
  emitWarning(message, code);
}
