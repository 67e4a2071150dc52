// The child processes of a run: contender servers, and autocannon driving them from its own
// process so that the load generator never shares an event loop with the server it measures.
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { PORT_LINE_PREFIX } from "./servers/app.js";

const require = createRequire(import.meta.url);
const AUTOCANNON_BIN = require.resolve("autocannon/autocannon.js");

/** The line of a crash's stderr that says what went wrong, for a one-line report. */
export function errorLine(stderr: string): string {
  const lines = stderr
    .split("\n")
    .map((line) => line.trim())
    .filter(Boolean);
  return lines.find((line) => /^\w*Error\b|^error:/i.test(line)) ?? lines.at(-1) ?? "";
}

/** A contender's server, running. */
export interface RunningServer {
  name: string;
  port: number;
  child: ChildProcess;
  /** The end of what the server wrote to stderr, to explain a crash. */
  stderr(): string;
}

export interface StartOptions {
  /** Where bench/servers/ is. */
  serversDir: string;
  /** The repository root: the servers run from there, so `--import tsx` resolves. */
  cwd: string;
  env: NodeJS.ProcessEnv;
  /** Extra node flags, such as `--cpu-prof`. */
  nodeArgs?: readonly string[];
  /** How long the server may take to print its port. */
  timeoutMs: number;
}

/** Starts one server file and resolves once it has printed the port it listens on. */
export function startServer(
  name: string,
  file: string,
  options: StartOptions,
): Promise<RunningServer> {
  const child = spawn(
    process.execPath,
    [...(options.nodeArgs ?? []), "--import", "tsx", join(options.serversDir, file)],
    { cwd: options.cwd, env: options.env, stdio: ["ignore", "pipe", "pipe"] },
  );
  let stderr = "";
  child.stderr?.setEncoding("utf8");
  child.stderr?.on("data", (chunk: string) => {
    stderr = (stderr + chunk).slice(-4000);
  });
  return new Promise((resolve, reject) => {
    let stdout = "";
    const fail = (why: string) => {
      clearTimeout(timer);
      child.kill("SIGKILL");
      const cause = stderr ? `: ${errorLine(stderr)}\n${stderr.trim()}` : "";
      reject(new Error(`${name} did not start (${why})${cause}`));
    };
    const timer = setTimeout(
      () => fail(`no port printed within ${options.timeoutMs} ms`),
      options.timeoutMs,
    );
    child.once("exit", (code, signal) => fail(`it exited (${signal ?? `code ${code}`})`));
    child.once("error", (error) => fail(error.message));
    child.stdout?.setEncoding("utf8");
    child.stdout?.on("data", (chunk: string) => {
      stdout += chunk;
      const match = new RegExp(`${PORT_LINE_PREFIX}(\\d+)`).exec(stdout);
      if (!match?.[1]) return;
      clearTimeout(timer);
      child.removeAllListeners("exit");
      child.removeAllListeners("error");
      child.stdout?.removeAllListeners("data");
      child.stdout?.resume();
      resolve({ name, port: Number(match[1]), child, stderr: () => stderr });
    });
  });
}

/**
 * Asks a server to exit (SIGTERM: it closes its store and exits cleanly, which is when
 * `--cpu-prof` writes its profile) and kills it if it has not within `timeoutMs`.
 */
export function stopServer(server: RunningServer, timeoutMs = 10_000): Promise<void> {
  const { child } = server;
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.once("exit", () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill("SIGTERM");
  });
}

export interface LoadOptions {
  url: string;
  connections: number;
  durationS: number;
  /** A Cookie header sent with every request, for routes that need an existing session. */
  cookie?: string;
}

/** What one autocannon run measured. */
export interface LoadResult {
  /** Completed requests per second over the whole run. */
  reqPerSec: number;
  latencyP50Ms: number;
  latencyP99Ms: number;
  requests: number;
  /** Responses that were not 2xx, plus connection errors and timeouts. */
  failures: number;
  durationS: number;
  /** CPU time the server process used per completed request, in µs (see {@link processCpuMs}). */
  serverCpuUsPerRequest?: number;
}

interface AutocannonJson {
  duration: number;
  errors: number;
  timeouts: number;
  non2xx: number;
  requests: { total: number };
  latency: { p50: number; p99: number };
}

/** Runs autocannon in its own process against one URL and returns what it measured. */
export function runLoad(options: LoadOptions): Promise<LoadResult> {
  const args = [
    AUTOCANNON_BIN,
    "--json",
    "--connections",
    String(options.connections),
    "--duration",
    String(options.durationS),
    "--timeout",
    "5",
  ];
  if (options.cookie) args.push("--headers", `cookie:${options.cookie}`);
  args.push(options.url);
  // autocannon stops itself after the duration; the limit only guards against a hung process.
  const limitMs = (options.durationS + 30) * 1000;
  return runJsonChild<AutocannonJson>(args, { limitMs, what: "autocannon" }).then((json) => ({
    reqPerSec: json.requests.total / json.duration,
    latencyP50Ms: json.latency.p50,
    latencyP99Ms: json.latency.p99,
    requests: json.requests.total,
    failures: json.non2xx + json.errors + json.timeouts,
    durationS: json.duration,
  }));
}

/**
 * Runs `node <args>` and resolves the JSON object on the last line it prints. It fails with
 * the tail of its stderr when it exits with an error, prints no JSON, or outlives `limitMs`.
 */
export function runJsonChild<T>(
  args: string[],
  options: { limitMs: number; what: string; cwd?: string },
): Promise<T> {
  const child = spawn(process.execPath, args, {
    cwd: options.cwd,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
    stdout += chunk;
  });
  child.stderr.setEncoding("utf8").on("data", (chunk: string) => {
    stderr = (stderr + chunk).slice(-4000);
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => child.kill("SIGKILL"), options.limitMs);
    child.once("error", reject);
    child.once("exit", (code, signal) => {
      clearTimeout(timer);
      const line = stdout.trim().split("\n").pop() ?? "";
      if (code !== 0 || !line.startsWith("{")) {
        reject(
          new Error(
            `${options.what} failed (${signal ?? `code ${code}`}): ${stderr.trim() || line}`,
          ),
        );
        return;
      }
      resolve(JSON.parse(line) as T);
    });
  });
}

let ticksPerSecond: number | undefined;

/**
 * CPU time (user + system, all threads) a process has used so far, in ms, read from
 * /proc/<pid>/stat; `undefined` where there is no /proc (macOS, Windows). Unlike req/s, CPU
 * time per request barely moves when other processes compete for the cores, which makes it the
 * steadier number on a shared machine.
 */
export function processCpuMs(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // Fields after the command name (which may hold spaces, hence the last ")"): utime and
    // stime are the 12th and 13th.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const ticks = Number(fields[11]) + Number(fields[12]);
    ticksPerSecond ??= Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" })) || 100;
    return Number.isFinite(ticks) ? (ticks * 1000) / ticksPerSecond : undefined;
  } catch {
    return undefined;
  }
}
