// Runs the demo app as a child process, as `npm start` would, and drives it like a browser: a
// cookie jar, forms with their CSRF token, redirects not followed (the tests look at them).
import { type ChildProcess, spawn } from "node:child_process";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const SERVER = fileURLToPath(new URL("../../examples/demo/server.ts", import.meta.url));

export const DEMO_USER = { username: "demo", password: "demo-password" };
export const COOKIE_NAME = "tessera.sid";
export const DEMO_SECRET = "a demo secret for the production tests and at least 32 characters";

export interface RunningDemo {
  url: string;
  child: ChildProcess;
  /** The last lines the demo wrote on stderr, to print when a test fails. */
  log(): string;
  /** True while the process runs: a crash shows here. */
  alive(): boolean;
  stop(): Promise<void>;
}

/**
 * Starts `examples/demo/server.ts` on a free port of 127.0.0.1 and resolves once it prints its
 * address. `env` picks the store: REDIS_URL, DATABASE_URL, or neither for SQLite in DATA_DIR.
 */
export function startDemo(env: Record<string, string>, timeoutMs = 40_000): Promise<RunningDemo> {
  const base = { ...process.env };
  delete base.REDIS_URL;
  delete base.DATABASE_URL;
  const child = spawn(process.execPath, ["--import", "tsx", SERVER], {
    cwd: ROOT,
    env: {
      ...base,
      NODE_ENV: "production",
      PORT: "0",
      HOST: "127.0.0.1",
      SESSION_SECRET: DEMO_SECRET,
      ...env,
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const tail: string[] = [];
  child.stderr?.setEncoding("utf8").on("data", (chunk: string) => {
    tail.push(...chunk.split("\n").filter((line) => line !== ""));
    if (tail.length > 40) tail.splice(0, tail.length - 40);
  });
  const alive = () => child.exitCode === null && child.signalCode === null;
  return new Promise((resolve, reject) => {
    let stdout = "";
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`the demo did not start within ${timeoutMs} ms:\n${tail.join("\n")}`));
    }, timeoutMs);
    child.once("exit", (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`the demo exited (${code ?? signal}) at start:\n${tail.join("\n")}`));
    });
    child.stdout?.setEncoding("utf8").on("data", (chunk: string) => {
      stdout += chunk;
      const match = /Tessera demo listening on (http:\/\/\S+)/.exec(stdout);
      if (match === null) return;
      clearTimeout(timer);
      child.removeAllListeners("exit");
      resolve({
        url: (match[1] as string).replace(/\/$/, ""),
        child,
        log: () => tail.join("\n"),
        alive,
        async stop() {
          if (!alive()) return;
          const exited = new Promise((done) => child.once("exit", done));
          child.kill("SIGTERM");
          const timer = setTimeout(() => child.kill("SIGKILL"), 5000);
          await exited;
          clearTimeout(timer);
        },
      });
    });
  });
}

export interface Page {
  status: number;
  location: string | null;
  text: string;
}

/** One browser: its own cookie jar, sending each request to whichever instance it is given. */
export class Browser {
  #cookie: string | undefined;

  /** The session cookie as a `Cookie` header value, or undefined when there is none. */
  get cookie(): string | undefined {
    return this.#cookie;
  }

  async get(base: string, path: string): Promise<Page> {
    return this.#send(base, path, { method: "GET" });
  }

  async post(base: string, path: string, form: Record<string, string>): Promise<Page> {
    return this.#send(base, path, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams(form).toString(),
    });
  }

  /**
   * GETs a page with a form and POSTs to `path` with the page's CSRF token: to the same
   * instance, or to `postBase` (another instance) when given.
   */
  async submit(
    base: string,
    formPage: string,
    path: string,
    form: Record<string, string> = {},
    postBase = base,
  ): Promise<Page> {
    const page = await this.get(base, formPage);
    const token = /name="_csrf" value="([^"]+)"/.exec(page.text)?.[1];
    if (token === undefined) {
      throw new Error(`no CSRF token on ${formPage} (status ${page.status})`);
    }
    return this.post(postBase, path, { ...form, _csrf: token });
  }

  /** Logs in as the demo user: the form from `base`, the login sent to `postBase`. */
  async logIn(base: string, postBase = base): Promise<Page> {
    return this.submit(base, "/login", "/login", { ...DEMO_USER, next: "/" }, postBase);
  }

  async #send(base: string, path: string, init: RequestInit): Promise<Page> {
    const headers = new Headers(init.headers);
    if (this.#cookie !== undefined) headers.set("cookie", this.#cookie);
    const res = await fetch(base + path, {
      ...init,
      headers,
      redirect: "manual",
      signal: AbortSignal.timeout(20_000),
    });
    for (const line of res.headers.getSetCookie()) {
      const [pair = "", ...attributes] = line.split(";").map((part) => part.trim());
      const [name] = pair.split("=", 1);
      if (name !== COOKIE_NAME) continue;
      const expired =
        pair === `${COOKIE_NAME}=` ||
        attributes.some(
          (attribute) =>
            /^max-age=0$/i.test(attribute) ||
            (/^expires=/i.test(attribute) && Date.parse(attribute.slice(8)) <= Date.now()),
        );
      this.#cookie = expired ? undefined : pair;
    }
    return { status: res.status, location: res.headers.get("location"), text: await res.text() };
  }
}
