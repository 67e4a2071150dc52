// The Express app of the HTTP benchmark, called in process on node:http request and response
// objects that have no socket: everything an HTTP run measures except the network, the load
// generator and the other processes of the machine. CPU time per request is steady enough here
// to compare two versions of the core, which an HTTP run on a shared machine is not.
//   npx tsx bench/engine.ts [requests] [contender] [route]
// Each contender runs in a process of its own, as in the HTTP run: in one process, whichever
// ran first would leave Express's inline caches shaped for its objects, and the next pay for it.
import { execFileSync } from "node:child_process";
import { IncomingMessage, ServerResponse } from "node:http";
import { Socket } from "node:net";
import expressSession from "express-session";
import { session } from "../src/express/index.js";
import { MemoryStore } from "../src/stores/memory.js";
import { createApp, SESSION_OPTIONS } from "./servers/app.js";

type App = ReturnType<typeof createApp>;

const socket = new Socket();

/** One request through the app; resolves with its Set-Cookie once the response has ended. */
function request(app: App, path: string, cookie?: string): Promise<string | undefined> {
  const req = new IncomingMessage(socket);
  req.method = "GET";
  req.url = path;
  req.headers = cookie ? { host: "127.0.0.1", cookie } : { host: "127.0.0.1" };
  const res = new ServerResponse(req);
  return new Promise((resolve, reject) => {
    const end = res.end;
    res.end = function (this: ServerResponse, ...args: unknown[]) {
      (end as (...a: unknown[]) => unknown).apply(this, args);
      if (res.statusCode !== 200) reject(new Error(`bench: ${path} answered ${res.statusCode}.`));
      const set = res.getHeader("set-cookie");
      resolve(Array.isArray(set) ? set[0] : (set as string | undefined));
      return this;
    } as typeof res.end;
    app(req as never, res as never);
  });
}

async function measure(
  app: App,
  route: string,
  requests: number,
  sessions: boolean,
): Promise<number> {
  let cookie: string | undefined;
  if (sessions && (route === "read" || route === "write")) {
    cookie = (await request(app, "/new"))?.split(";")[0];
    if (!cookie) throw new Error("bench: /new set no session cookie.");
  }
  for (let i = 0; i < requests / 10; i++) await request(app, `/${route}`, cookie);
  // CPU time rather than wall time: other processes on the machine barely move it.
  const started = process.cpuUsage();
  for (let i = 0; i < requests; i++) await request(app, `/${route}`, cookie);
  const used = process.cpuUsage(started);
  return (used.user + used.system) / requests;
}

/** Runs one contender on one route in a fresh process and returns its CPU µs per request. */
function measureApart(requests: number, contender: string, route: string): number {
  const out = execFileSync(
    process.execPath,
    [...process.execArgv, process.argv[1] as string, String(requests), contender, route, "--child"],
    { encoding: "utf8" },
  );
  return Number(out.trim().split("\n").at(-1));
}

const requests = Number(process.argv[2] || 20_000);
const onlyContender = process.argv[3] || undefined;
const onlyRoute = process.argv[4] || undefined;
const CONTENDERS: [string, () => App][] = [
  ["express-bare", () => createApp()],
  [
    "express-session-memory",
    () =>
      createApp(
        expressSession({ ...SESSION_OPTIONS, store: new expressSession.MemoryStore() }) as never,
      ),
  ],
  [
    "tessera-memory",
    () => createApp(session({ ...SESSION_OPTIONS, store: new MemoryStore() }) as never),
  ],
  [
    // Not an express-session option: refresh the store's expiry at most once a minute, so
    // requests that change nothing write nothing.
    "tessera-memory-touchafter",
    () =>
      createApp(
        session({ ...SESSION_OPTIONS, store: new MemoryStore(), touchAfterMs: 60_000 }) as never,
      ),
  ],
];
const contenders = CONTENDERS.filter(([name]) => !onlyContender || name === onlyContender);
const routes = ["noop", "read", "write", "new"].filter((r) => !onlyRoute || r === onlyRoute);
if (process.argv[5] === "--child") {
  const [name, make] = contenders[0] as [string, () => App];
  const us = await measure(make(), routes[0] as string, requests, name !== "express-bare");
  console.log(us.toFixed(2));
} else {
  console.log(
    `CPU µs per request, Express in process without sockets, ${requests} requests, one process each`,
  );
  console.log(`${"route".padEnd(8)}${contenders.map(([n]) => n.padStart(26)).join("")}`);
  for (const route of routes) {
    const cells: string[] = [];
    for (const [name] of contenders) {
      cells.push(measureApart(requests, name, route).toFixed(2).padStart(26));
    }
    console.log(`${`/${route}`.padEnd(8)}${cells.join("")}`);
  }
}
