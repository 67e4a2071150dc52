// Where the test servers are, and what to do when one is missing: on a laptop without Redis or
// PostgreSQL the suites that need one skip with a loud message; under CI (CI set) a missing
// server is a failure, because CI machines always have them.
import { connect, createServer } from "node:net";

export const REDIS_URL = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";
export const DATABASE_URL = process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test";

const inCI = Boolean(process.env.CI) && process.env.CI !== "false" && process.env.CI !== "0";

function reachable(url: string, defaultPort: number): Promise<boolean> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const socket = connect({ host: hostname || "127.0.0.1", port: Number(port) || defaultPort });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    // Generous: under CI a false answer fails the file, and a server that is not running
    // refuses the connection at once anyway.
    socket.setTimeout(5000, () => done(false));
    socket.once("connect", () => done(true));
    socket.once("error", () => done(false));
  });
}

/**
 * Resolves `false` (after printing why) when the suite must be skipped, `true` when the server is
 * there. Under CI an unreachable server throws instead, failing the suite.
 * Use it as `describe("…", { skip: !(await needServer(...)) }, …)`.
 */
export async function needServer(name: "Redis" | "PostgreSQL", url: string): Promise<boolean> {
  const ok = await reachable(url, name === "Redis" ? 6379 : 5432);
  if (ok) return true;
  const where = new URL(url).host;
  if (inCI) throw new Error(`${name} is not reachable at ${where}, and CI requires it.`);
  console.warn(
    `\n!!! SKIPPING ${name} tests: nothing answers at ${where}. Start ${name} or set ${
      name === "Redis" ? "REDIS_URL" : "DATABASE_URL"
    } to run them.\n`,
  );
  return false;
}

/** A name unique to this process and call, for Redis key prefixes and PostgreSQL tables. */
export function uniqueName(prefix: string): string {
  return `${prefix}_${process.pid}_${Date.now().toString(36)}_${Math.random().toString(36).slice(2, 8)}`;
}

/** A TCP port on 127.0.0.1 that nothing listens on right now, for a server a test starts. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => {
        if (typeof address === "object" && address !== null) resolve(address.port);
        else reject(new Error("no port"));
      });
    });
  });
}
