// The Node builtins the engine uses, loaded through `process.getBuiltinModule` rather than
// imported, so that the engine and the Hono door also load on runtimes that have no `node:`
// modules (Cloudflare Workers without nodejs_compat, edge runtimes). Each is looked up once, here,
// at load; where one is missing, the file that needs it picks its fallback once too, so the
// per-request path never asks again. On Node, Bun and Deno these are node's own modules, and
// the code paths are the ones a static import would give.

/** The parts of node's `process` Tessera reaches for, all optional: a runtime may have none. */
interface HostProcess {
  getBuiltinModule?: (id: string) => unknown;
  env?: Record<string, string | undefined>;
  emitWarning?: (message: string, options: { type: string; code: string }) => void;
  nextTick?: (callback: (...args: never[]) => void, ...args: unknown[]) => void;
  versions?: { node?: string };
}

const host = (globalThis as { process?: HostProcess }).process;

function builtin<T>(id: string): T | undefined {
  return host?.getBuiltinModule?.(id) as T | undefined;
}

/** node's Buffer, where the runtime has node:buffer. */
export const NodeBuffer = builtin<typeof import("node:buffer")>("node:buffer")?.Buffer;

/** node:crypto, where the runtime has it and node's Buffer: the code that uses one uses both. */
export const nodeCrypto =
  NodeBuffer === undefined ? undefined : builtin<typeof import("node:crypto")>("node:crypto");

/** node:diagnostics_channel, where the runtime has it. */
export const nodeDiagnosticsChannel = builtin<typeof import("node:diagnostics_channel")>(
  "node:diagnostics_channel",
);

/** node:events, where the runtime has it. */
export const nodeEvents = builtin<typeof import("node:events")>("node:events");

/** node:util, where the runtime has it. */
export const nodeUtil = builtin<typeof import("node:util")>("node:util");

/** An environment variable, or `undefined` where the runtime has no `process.env`. */
export function envVar(name: string): string | undefined {
  return host?.env?.[name];
}

/** `process.emitWarning`, or `console.warn` where the runtime has no `process`. */
export function emitWarning(message: string, code: string): void {
  if (typeof host?.emitWarning === "function") {
    host.emitWarning(message, { type: "TesseraWarning", code });
  } else {
    console.warn(`(TesseraWarning ${code}) ${message}`);
  }
}

/**
 * `process.nextTick(callback, ...args)`, or a microtask where the runtime has no `process`:
 * either way the callback runs after the caller returns, as a callback API promises.
 */
export function nextTick<A extends unknown[]>(callback: (...args: A) => void, ...args: A): void {
  if (typeof host?.nextTick === "function") host.nextTick(callback as never, ...args);
  else queueMicrotask(() => callback(...args));
}

// Node before 20.16 has no getBuiltinModule: everything still works on the fallbacks, but the
// diagnostics channels are Tessera's own (tessera/metrics, which subscribes through node's,
// hears nothing) and old-style stores extend a minimal EventEmitter. Said once, at load.
if (host?.versions?.node !== undefined && typeof host.getBuiltinModule !== "function") {
  emitWarning(
    "tessera: this Node.js has no process.getBuiltinModule, so Tessera runs without node:crypto, node:diagnostics_channel and node:events: sessions work, but the tessera:* diagnostics channels are not node's (tessera/metrics sees nothing). Upgrade to Node 20.16 or later.",
    "TESSERA_NO_BUILTINS",
  );
}
