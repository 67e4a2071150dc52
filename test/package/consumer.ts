// A scratch application that installs Tessera from the tarball `npm pack` makes, as a user's
// project would, and runs code there: the built package, not the TypeScript sources the other
// suites import. Run after `npm run build` (`npm test` builds first).
//
// The install never touches the network: the tarball is a local file, and every other package
// (Tessera's own dependencies, Express, the Redis client, third-party stores, type packages) is
// a `file:` link to the copy `npm ci` put in this repository's node_modules. npm links those
// without reading the registry or its cache, so this works on a fresh CI machine as it does here.
import assert from "node:assert/strict";
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import {
  copyFileSync,
  existsSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

export const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const FIXTURES = fileURLToPath(new URL("./fixtures/", import.meta.url));

export interface ConsumerOptions {
  /** package.json "type" of the application. */
  type: "commonjs" | "module";
  /** Packages of this repository's node_modules the application depends on, besides Tessera. */
  dependencies?: readonly string[];
  /** Files of test/package/fixtures/ copied into the application. */
  fixtures?: readonly string[];
}

export interface Consumer {
  dir: string;
  /** Runs a command in the application's folder and waits for it. */
  run(command: string, args: readonly string[], env?: Record<string, string>): RunResult;
  /** Starts a fixture app that prints `{"port": n}`, and resolves once it listens. */
  start(script: string, env?: Record<string, string>): Promise<App>;
  remove(): void;
}

export interface RunResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** Packs the package and installs it, with `dependencies`, into a new folder of os.tmpdir(). */
export function createConsumer(options: ConsumerOptions): Consumer {
  assert.ok(
    existsSync(join(ROOT, "dist", "index.cjs")),
    "test/package runs against the build: run `npm run build` first",
  );
  const dir = mkdtempSync(join(tmpdir(), "tessera-consumer-"));
  const pack = spawnSync("npm", ["pack", "--json", "--pack-destination", dir], {
    cwd: ROOT,
    encoding: "utf8",
    env: childEnv(),
  });
  assert.equal(pack.status, 0, `npm pack failed: ${pack.stderr}`);
  const [{ filename }] = JSON.parse(pack.stdout) as [{ filename: string }];

  const own = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as {
    dependencies?: Record<string, string>;
  };
  const links = [...Object.keys(own.dependencies ?? {}), ...(options.dependencies ?? [])];
  const dependencies: Record<string, string> = { tessera: `file:./${filename}` };
  for (const name of links) {
    const path = join(ROOT, "node_modules", name);
    assert.ok(existsSync(path), `${name} is not in node_modules: run npm ci`);
    dependencies[name] = `file:${path}`;
  }
  writeFileSync(
    join(dir, "package.json"),
    JSON.stringify({ name: "consumer", private: true, type: options.type, dependencies }),
  );
  const install = spawnSync(
    "npm",
    ["install", "--offline", "--ignore-scripts", "--no-audit", "--no-fund", "--no-package-lock"],
    { cwd: dir, encoding: "utf8", env: childEnv() },
  );
  assert.equal(install.status, 0, `npm install failed: ${install.stderr}`);
  for (const file of options.fixtures ?? []) copyFileSync(join(FIXTURES, file), join(dir, file));

  const apps = new Set<App>();
  return {
    dir,
    run(command, args, env = {}) {
      const result = spawnSync(command, args, {
        cwd: dir,
        encoding: "utf8",
        env: { ...childEnv(), ...env },
        timeout: 60_000,
      });
      return { status: result.status, stdout: result.stdout, stderr: result.stderr };
    },
    async start(script, env = {}) {
      const app = await startApp(dir, script, env);
      apps.add(app);
      return app;
    },
    remove() {
      for (const app of apps) app.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * The parent's environment without what would change how the children run: coverage of the
 * test runner (the children run dist/, which the coverage report leaves out) and npm's own
 * settings for the `npm test` that started this process.
 */
function childEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  delete env.NODE_V8_COVERAGE;
  delete env.NODE_OPTIONS;
  for (const key of Object.keys(env)) if (key.startsWith("npm_")) delete env[key];
  return env;
}

/** A fixture app running in a child process, with a client that keeps its cookies. */
export interface App {
  url: string;
  stop(): void;
}

/** Apps still running, killed however this test process ends. */
const running = new Set<ChildProcess>();
let hooked = false;

/**
 * Makes sure an app dies with the test process: on a normal exit, and on the SIGTERM or SIGINT
 * that ends a test file that overran its time, when `after` hooks do not run.
 */
function killOnExit(child: ChildProcess): void {
  if (!hooked) {
    hooked = true;
    const killAll = () => {
      for (const app of running) app.kill("SIGKILL");
    };
    process.once("exit", killAll);
    for (const signal of ["SIGTERM", "SIGINT"] as const) {
      process.once(signal, () => {
        killAll();
        process.kill(process.pid, signal);
      });
    }
  }
  running.add(child);
  child.once("exit", () => running.delete(child));
}

/** Generous: an app starts in well under a second, but the machine may be busy. */
const START_TIMEOUT_MS = 30_000;

function startApp(dir: string, script: string, env: Record<string, string>): Promise<App> {
  const child: ChildProcess = spawn(process.execPath, [script], {
    cwd: dir,
    env: { ...childEnv(), ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  killOnExit(child);
  let stderr = "";
  child.stderr?.setEncoding("utf8").on("data", (chunk: string) => {
    stderr += chunk;
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`${script} did not listen within ${START_TIMEOUT_MS} ms: ${stderr}`));
    }, START_TIMEOUT_MS);
    let stdout = "";
    child.stdout?.setEncoding("utf8").on("data", (chunk: string) => {
      stdout += chunk;
      const line = stdout.split("\n").find((candidate) => candidate.startsWith('{"port":'));
      if (line === undefined) return;
      const { port } = JSON.parse(line) as { port: number };
      clearTimeout(timer);
      resolve({
        url: `http://127.0.0.1:${port}`,
        stop: () => child.kill("SIGKILL"),
      });
    });
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`${script} exited (${code}): ${stderr}`));
    });
  });
}

/** A browser's worth of HTTP: one cookie jar for one app. */
export class Browser {
  #cookies = new Map<string, string>();

  constructor(private readonly app: App) {}

  /** The session cookie, `name=value`, as the browser would send it. */
  get cookie(): string | undefined {
    const value = this.#cookies.get("connect.sid");
    return value === undefined ? undefined : `connect.sid=${value}`;
  }

  async request(
    method: string,
    path: string,
    body?: unknown,
    headers: Record<string, string> = {},
  ): Promise<{ status: number; body: Record<string, unknown> }> {
    const cookie = [...this.#cookies].map(([name, value]) => `${name}=${value}`).join("; ");
    const response = await fetch(`${this.app.url}${path}`, {
      method,
      headers: {
        ...(cookie === "" ? {} : { cookie }),
        ...(body === undefined ? {} : { "content-type": "application/json" }),
        ...headers,
      },
      body: body === undefined ? null : JSON.stringify(body),
    });
    for (const line of response.headers.getSetCookie()) {
      const [pair = "", ...attributes] = line.split(";");
      const [name = "", value = ""] = pair.split("=");
      const expired = attributes.some((a) => /^\s*(expires=Thu, 01 Jan 1970|max-age=0$)/i.test(a));
      if (expired) this.#cookies.delete(name);
      else this.#cookies.set(name, value);
    }
    return { status: response.status, body: (await response.json()) as Record<string, unknown> };
  }

  get(path: string) {
    return this.request("GET", path);
  }

  post(path: string, body: unknown = {}, headers: Record<string, string> = {}) {
    return this.request("POST", path, body, headers);
  }
}
