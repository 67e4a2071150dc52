import { spawn } from "node:child_process";

/** How a child process ended, with what it wrote. */
export interface ChildOutcome {
  /** The exit code, or `null` when it did not exit on its own in time (it was killed). */
  code: number | null;
  signal: NodeJS.Signals | null;
  timedOut: boolean;
  stdout: string;
  stderr: string;
}

/**
 * Runs a script with the current Node.js binary and waits for it to exit on its own. A `.ts`
 * script runs through tsx's loader, so store authors can write it in TypeScript. A script still
 * running after `timeoutMs` is killed and reported as timed out. `nodeArgs` go to Node itself
 * (`--expose-gc`).
 */
export function runScript(
  script: string,
  args: readonly string[],
  timeoutMs: number,
  nodeArgs: readonly string[] = [],
): Promise<ChildOutcome> {
  const loader = /\.[cm]?ts$/.test(script) ? ["--import", "tsx"] : [];
  const child = spawn(process.execPath, [...nodeArgs, ...loader, script, ...args], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
    stdout += chunk;
  });
  child.stderr.setEncoding("utf8").on("data", (chunk: string) => {
    stderr += chunk;
  });
  return new Promise((resolve, reject) => {
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill("SIGKILL");
    }, timeoutMs);
    child.once("error", (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.once("close", (code, signal) => {
      clearTimeout(timer);
      resolve({ code: timedOut ? null : code, signal, timedOut, stdout, stderr });
    });
  });
}
