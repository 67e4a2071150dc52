// Starts the demo the way `npm start` does, as its own process, and stops it with a signal, so
// the browser tests exercise the real start-up, shutdown and restart.
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const SERVER = join(ROOT, "examples/demo/server.ts");
const READY = "Tessera demo listening on http://";
const START_TIMEOUT_MS = 30_000;

/** One running demo process. */
export interface DemoProcess {
  /** `http://127.0.0.1:<port>` */
  url: string;
  child: ChildProcess;
  /** What the process wrote to stdout and stderr so far, for failure messages. */
  output(): string;
  /** Sends SIGTERM and resolves the exit code (the demo promises 0). */
  stop(): Promise<number | null>;
}

/** A fresh data folder; remove it with {@link removeDataDir}. */
export function makeDataDir(): string {
  return mkdtempSync(join(tmpdir(), "tessera-demo-"));
}

export function removeDataDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

/**
 * Starts `examples/demo/server.ts` through tsx on a free port with `dataDir` as DATA_DIR and
 * resolves once it prints its address. No SESSION_SECRET, REDIS_URL or DATABASE_URL is passed
 * on: the demo runs on SQLite with the secret it generates and keeps in the data folder.
 */
export function startDemo(dataDir: string, env: NodeJS.ProcessEnv = {}): Promise<DemoProcess> {
  const {
    SESSION_SECRET: _secret,
    REDIS_URL: _redis,
    DATABASE_URL: _database,
    ...inherited
  } = process.env;
  const child = spawn(process.execPath, ["--import", "tsx", SERVER], {
    cwd: ROOT,
    env: { ...inherited, PORT: "0", HOST: "127.0.0.1", DATA_DIR: dataDir, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
    out += chunk;
  });
  child.stderr.setEncoding("utf8").on("data", (chunk: string) => {
    out += chunk;
  });
  const exited = new Promise<number | null>((resolve) => child.once("exit", resolve));

  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`the demo did not start within ${START_TIMEOUT_MS} ms:\n${out}`));
    }, START_TIMEOUT_MS);
    const onData = () => {
      const line = out.split("\n").find((candidate) => candidate.startsWith(READY));
      if (line === undefined || !out.includes(`${line}\n`)) return;
      clearTimeout(timer);
      child.stdout.off("data", onData);
      resolve({
        url: line.slice("Tessera demo listening on ".length).trim(),
        child,
        output: () => out,
        stop() {
          if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
          return exited;
        },
      });
    };
    child.stdout.on("data", onData);
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`the demo exited with ${code} before listening:\n${out}`));
    });
  });
}

/** Kills a demo left running by a failed test. */
export function killDemo(demo: DemoProcess | undefined): void {
  if (demo !== undefined && demo.child.exitCode === null && demo.child.signalCode === null) {
    demo.child.kill("SIGKILL");
  }
}

export const CHROMIUM = "/usr/bin/chromium";

const inCI = Boolean(process.env.CI) && process.env.CI !== "false" && process.env.CI !== "0";

/**
 * `true` when Chromium is installed. Without it the browser suite is skipped with a loud
 * message on a developer's machine, and fails under CI, where it must run.
 */
export function needChromium(): boolean {
  if (existsSync(CHROMIUM)) return true;
  if (inCI) throw new Error(`${CHROMIUM} is missing, and CI requires the browser tests.`);
  console.warn(
    `\n!!! SKIPPING the demo's browser tests: ${CHROMIUM} is missing. Install Debian's chromium package to run them.\n`,
  );
  return false;
}
