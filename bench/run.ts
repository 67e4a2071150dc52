// `npm run bench`: Tessera against express-session and bare Express, side by side in one run.
// See bench/README.md for what each number means; `npm run bench -- --help` for the options.
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { cpus, loadavg, tmpdir, totalmem } from "node:os";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { renderChartFile } from "./chart.js";
import {
  BARE,
  CONTENDERS,
  type Contender,
  contenderByName,
  ROUTES,
  type Route,
  selectContenders,
} from "./contenders.js";
import { type MemoryResults, runMemoryBenchmark } from "./memory.js";
import {
  errorLine,
  type LoadResult,
  processCpuMs,
  type RunningServer,
  runLoad,
  startServer,
  stopServer,
} from "./processes.js";
import { monotonicUs, type ProfileWindow, renderTopFunctions, topFunctions } from "./profile.js";
import { renderReport } from "./report.js";
import type { BenchResults, HttpCell, RatioSummary } from "./results.js";
import { median, pairedRatios, spread } from "./stats.js";
import { evaluateTargets } from "./targets.js";

const ROOT = fileURLToPath(new URL("../", import.meta.url)).replace(/\/$/, "");
const BENCH = join(ROOT, "bench");
const RESULTS = join(BENCH, "results");
const PROFILES = join(RESULTS, "profiles");

const USAGE = `Usage: npm run bench [-- options]

  --quick               short runs for development: 2 rounds of 1 s, 20 000 sessions
  --contenders a,b      only these (${CONTENDERS.map((c) => c.name).join(", ")})
  --routes a,b          only these routes (${ROUTES.join(", ")})
  --rounds N            rounds per contender and route (default 5; quick 2)
  --duration S          seconds of load per round (default 2; quick 1; 10 when profiling)
  --warmup S            seconds of load before the first round (default 2; quick 1)
  --connections N       concurrent connections (default 10)
  --sessions N          sessions for the memory benchmark (default 100000; quick 20000)
  --skip-memory         no memory benchmark
  --memory-only         only the memory benchmark
  --profile NAME        run one contender under --cpu-prof, one profile per route, and
                        print its hottest functions (writes bench/results/profiles/)
  --name NAME           results file name (default latest; quick for --quick, custom for
                        a partial run, so a partial run never replaces latest.json)
  --fail-on-target      exit with 1 when a target FAILs
  --help

Environment: BENCH_REDIS_URL (default redis://127.0.0.1:6379/4), BENCH_DATABASE_URL
(default postgres://postgres@127.0.0.1:5432/test).`;

interface Settings {
  quick: boolean;
  contenders: string[] | undefined;
  routes: Route[];
  rounds: number;
  durationS: number;
  warmupS: number;
  connections: number;
  sessions: number;
  memory: "on" | "off" | "only";
  profile: string | undefined;
  name: string;
  failOnTarget: boolean;
}

function positive(value: string | undefined, fallback: number, option: string): number {
  if (value === undefined) return fallback;
  const number = Number(value);
  if (!Number.isFinite(number) || number <= 0) {
    throw new Error(`bench: --${option} takes a positive number, not "${value}".`);
  }
  return number;
}

function list(value: string | undefined): string[] | undefined {
  return value
    ?.split(",")
    .map((s) => s.trim())
    .filter(Boolean);
}

function parseSettings(argv: string[]): Settings | undefined {
  const { values } = parseArgs({
    args: argv,
    options: {
      quick: { type: "boolean", default: false },
      contenders: { type: "string" },
      routes: { type: "string" },
      rounds: { type: "string" },
      duration: { type: "string" },
      warmup: { type: "string" },
      connections: { type: "string" },
      sessions: { type: "string" },
      "skip-memory": { type: "boolean", default: false },
      "memory-only": { type: "boolean", default: false },
      profile: { type: "string" },
      name: { type: "string" },
      "fail-on-target": { type: "boolean", default: false },
      help: { type: "boolean", default: false },
    },
  });
  if (values.help) {
    console.log(USAGE);
    return undefined;
  }
  const quick = values.quick;
  const routes = (list(values.routes) ?? [...ROUTES]) as Route[];
  const badRoute = routes.find((r) => !ROUTES.includes(r));
  if (badRoute)
    throw new Error(`bench: unknown route ${badRoute}; choose from ${ROUTES.join(", ")}.`);
  if (values.profile && !contenderByName(values.profile)) {
    throw new Error(`bench: unknown contender ${values.profile} for --profile.`);
  }
  if (values["skip-memory"] && values["memory-only"]) {
    throw new Error("bench: --skip-memory and --memory-only contradict each other.");
  }
  const contenders = list(values.contenders);
  const partial =
    contenders !== undefined ||
    values.routes !== undefined ||
    values["skip-memory"] ||
    values["memory-only"];
  return {
    quick,
    contenders,
    routes,
    rounds: Math.round(positive(values.rounds, quick ? 2 : 5, "rounds")),
    // A profile needs more samples than a throughput round to rank functions reliably.
    durationS: positive(
      values.duration,
      values.profile ? (quick ? 5 : 10) : quick ? 1 : 2,
      "duration",
    ),
    warmupS: positive(values.warmup, quick ? 1 : 2, "warmup"),
    connections: Math.round(positive(values.connections, 10, "connections")),
    sessions: Math.round(positive(values.sessions, quick ? 20_000 : 100_000, "sessions")),
    memory: values["memory-only"] ? "only" : values["skip-memory"] ? "off" : "on",
    profile: values.profile,
    name: values.name ?? (quick ? "quick" : partial ? "custom" : "latest"),
    failOnTarget: values["fail-on-target"],
  };
}

function reachable(url: string, defaultPort: number): Promise<boolean> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const socket = connect({ host: hostname || "127.0.0.1", port: Number(port) || defaultPort });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(2000, () => done(false));
    socket.once("connect", () => done(true));
    socket.once("error", () => done(false));
  });
}

/** Names, files and keys one run owns, so that it cleans up only what it made. */
interface RunResources {
  id: string;
  redisUrl: string;
  databaseUrl: string;
  redisPrefix: (contender: string) => string;
  pgTable: string;
  sqliteDir: string;
}

function createResources(): RunResources {
  const id = `${Date.now().toString(36)}_${process.pid}`;
  return {
    id,
    // Database 4 of the shared Redis is the benchmark's, and every key carries this run's prefix.
    redisUrl: process.env.BENCH_REDIS_URL ?? "redis://127.0.0.1:6379/4",
    databaseUrl: process.env.BENCH_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test",
    redisPrefix: (contender) => `tessera-bench:${id}:${contender}:`,
    pgTable: `tessera_bench_${id}`,
    sqliteDir: mkdtempSync(join(tmpdir(), "tessera-bench-")),
  };
}

async function cleanUp(resources: RunResources, contenders: readonly Contender[]): Promise<void> {
  rmSync(resources.sqliteDir, { recursive: true, force: true });
  if (contenders.some((c) => c.store === "redis")) {
    const { createClient } = await import("redis");
    const client = createClient({ url: resources.redisUrl });
    try {
      await client.connect();
      const match = `tessera-bench:${resources.id}:*`;
      for await (const keys of client.scanIterator({ MATCH: match, COUNT: 1000 })) {
        if (keys.length > 0) await client.del(keys);
      }
    } catch (error) {
      console.error(`bench: could not remove this run's Redis keys: ${String(error)}`);
    } finally {
      if (client.isOpen) await client.close();
    }
  }
  if (contenders.some((c) => c.store === "postgres")) {
    const { default: pg } = await import("pg");
    const client = new pg.Client({ connectionString: resources.databaseUrl });
    try {
      await client.connect();
      await client.query(`DROP TABLE IF EXISTS "${resources.pgTable}"`);
    } catch (error) {
      console.error(`bench: could not drop this run's PostgreSQL table: ${String(error)}`);
    } finally {
      await client.end().catch(() => {});
    }
  }
}

function serverEnv(resources: RunResources, contender: Contender): NodeJS.ProcessEnv {
  return {
    ...process.env,
    NODE_ENV: "production",
    BENCH_REDIS_URL: resources.redisUrl,
    BENCH_REDIS_PREFIX: resources.redisPrefix(contender.name),
    BENCH_DATABASE_URL: resources.databaseUrl,
    BENCH_PG_TABLE: resources.pgTable,
    BENCH_SQLITE_PATH: join(resources.sqliteDir, `${contender.name}.db`),
  };
}

const running = new Set<RunningServer>();

async function start(
  contender: Contender,
  resources: RunResources,
  nodeArgs: readonly string[] = [],
): Promise<RunningServer> {
  const server = await startServer(contender.name, contender.server, {
    serversDir: join(BENCH, "servers"),
    cwd: ROOT,
    env: serverEnv(resources, contender),
    nodeArgs,
    timeoutMs: 30_000,
  });
  running.add(server);
  return server;
}

async function stop(server: RunningServer): Promise<void> {
  await stopServer(server);
  running.delete(server);
}

async function get(
  port: number,
  path: string,
  cookie?: string,
): Promise<{ status: number; body: string; setCookie: string | undefined }> {
  const response = await fetch(`http://127.0.0.1:${port}${path}`, {
    headers: cookie ? { cookie } : {},
    signal: AbortSignal.timeout(5000),
  });
  const body = await response.text();
  const setCookie = response.headers.getSetCookie()[0]?.split(";")[0];
  return { status: response.status, body, setCookie };
}

/**
 * Checks that the contender does what the route claims (a session is created, found, changed),
 * so that a broken middleware cannot post a fast number, and returns the Cookie header to send.
 */
async function prepareRoute(
  contender: Contender,
  server: RunningServer,
  route: Route,
): Promise<string | undefined> {
  const withSessions = contender.library !== "express";
  const expect = (what: string, ok: boolean) => {
    if (!ok) throw new Error(`/${route}: ${what}`);
  };
  if (route === "noop" || route === "new") {
    const res = await get(server.port, `/${route}`);
    expect(`answered ${res.status}`, res.status === 200);
    if (route === "new") {
      expect(
        withSessions ? "no session cookie was set" : "a cookie was set",
        (res.setCookie !== undefined) === withSessions,
      );
    }
    return undefined;
  }
  if (!withSessions) return undefined;
  const created = await get(server.port, "/new");
  expect("the setup request got no session cookie", created.setCookie !== undefined);
  const cookie = created.setCookie as string;
  const res = await get(server.port, `/${route}`, cookie);
  const wanted = route === "read" ? "1" : "2";
  expect(`the session was not found or not changed (got "${res.body}")`, res.body === wanted);
  return cookie;
}

function summarize(cells: HttpCell[]): void {
  const find = (contender: string | undefined, route: Route) =>
    cells.find((c) => c.contender === contender && c.route === route && !c.error);
  const summary = (ratios: number[], against: string): RatioSummary | undefined => {
    if (ratios.length === 0) return undefined;
    const s = spread(ratios);
    return { against, median: median(ratios), min: s.min, max: s.max };
  };
  const reqRatio = (cell: HttpCell, other: HttpCell | undefined) =>
    other && other !== cell
      ? summary(
          pairedRatios(
            cell.rounds.map((r) => r.reqPerSec),
            other.rounds.map((r) => r.reqPerSec),
          ),
          other.contender,
        )
      : undefined;
  // Less CPU per request is faster: their cost over ours.
  const cpuRatio = (cell: HttpCell, other: HttpCell | undefined) =>
    other && other !== cell && cell.rounds.every((r) => r.serverCpuUsPerRequest)
      ? summary(
          pairedRatios(
            other.rounds.map((r) => r.serverCpuUsPerRequest ?? 0),
            cell.rounds.map((r) => r.serverCpuUsPerRequest ?? 0),
          ),
          other.contender,
        )
      : undefined;
  for (const cell of cells) {
    if (cell.error || cell.rounds.length === 0) continue;
    const reqs = cell.rounds.map((r) => r.reqPerSec);
    const bare = find(BARE, cell.route);
    const peer = find(contenderByName(cell.contender)?.peer, cell.route);
    const cpu = cell.rounds.map((r) => r.serverCpuUsPerRequest);
    const vsBare = reqRatio(cell, bare);
    const vsPeer = reqRatio(cell, peer);
    const cpuVsBare = cpuRatio(cell, bare);
    const cpuVsPeer = cpuRatio(cell, peer);
    cell.summary = {
      reqPerSec: median(reqs),
      reqPerSecSpread: spread(reqs),
      latencyP99Ms: median(cell.rounds.map((r) => r.latencyP99Ms)),
      ...(vsBare ? { vsBare } : {}),
      ...(vsPeer ? { vsPeer } : {}),
      ...(cpu.every((v) => v !== undefined) ? { cpuUsPerRequest: median(cpu) } : {}),
      ...(cpuVsBare ? { cpuVsBare } : {}),
      ...(cpuVsPeer ? { cpuVsPeer } : {}),
    };
  }
}

function describeLoad(result: LoadResult): string {
  return `${Math.round(result.reqPerSec).toLocaleString("en-US").padStart(7)} req/s  p99 ${result.latencyP99Ms} ms`;
}

/**
 * One route: every contender's server started fresh, checked and warmed up, then the rounds.
 * Each round runs every contender once, back to back, starting one further along each round, so
 * that no contender always runs first or last after the others.
 */
async function benchRoute(
  route: Route,
  contenders: readonly Contender[],
  settings: Settings,
  resources: RunResources,
): Promise<HttpCell[]> {
  const cells = new Map<string, HttpCell>();
  const live = new Map<string, { server: RunningServer; cookie: string | undefined }>();
  const started = await Promise.allSettled(contenders.map((c) => start(c, resources)));
  for (const [i, contender] of contenders.entries()) {
    const cell: HttpCell = { contender: contender.name, route, rounds: [] };
    cells.set(contender.name, cell);
    const outcome = started[i];
    if (outcome?.status !== "fulfilled") {
      cell.error = String(
        outcome?.reason instanceof Error ? outcome.reason.message : outcome?.reason,
      );
      console.log(`  ${contender.name}: ${cell.error}`);
      continue;
    }
    const server = outcome.value;
    try {
      const cookie = await prepareRoute(contender, server, route);
      const url = `http://127.0.0.1:${server.port}/${route}`;
      await runLoad({
        url,
        connections: settings.connections,
        durationS: settings.warmupS,
        ...(cookie ? { cookie } : {}),
      });
      live.set(contender.name, { server, cookie });
    } catch (error) {
      const stderr = server.stderr();
      cell.error = `${error instanceof Error ? error.message : String(error)}${stderr ? ` (server: ${errorLine(stderr)})` : ""}`;
      console.log(`  ${contender.name}: ${cell.error}`);
      await stop(server);
    }
  }
  const order = contenders.filter((c) => live.has(c.name));
  for (let round = 0; round < settings.rounds; round++) {
    for (let k = 0; k < order.length; k++) {
      const contender = order[(k + round) % order.length] as Contender;
      const cell = cells.get(contender.name) as HttpCell;
      const target = live.get(contender.name);
      if (!target || cell.error) continue;
      try {
        const cpuBefore = processCpuMs(target.server.child.pid);
        const result = await runLoad({
          url: `http://127.0.0.1:${target.server.port}/${route}`,
          connections: settings.connections,
          durationS: settings.durationS,
          ...(target.cookie ? { cookie: target.cookie } : {}),
        });
        const cpuAfter = processCpuMs(target.server.child.pid);
        if (cpuBefore !== undefined && cpuAfter !== undefined && result.requests > 0) {
          result.serverCpuUsPerRequest = ((cpuAfter - cpuBefore) * 1000) / result.requests;
        }
        if (result.failures > 0) {
          throw new Error(
            `${result.failures} of ${result.requests} responses failed in round ${round + 1}: ${target.server.stderr().trim().split("\n").slice(-3).join(" ")}`,
          );
        }
        cell.rounds.push(result);
        console.log(
          `  /${route} round ${round + 1}/${settings.rounds}  ${contender.name.padEnd(24)} ${describeLoad(result)}`,
        );
      } catch (error) {
        cell.error = error instanceof Error ? error.message : String(error);
        console.log(`  ${contender.name}: ${cell.error}`);
      }
    }
  }
  for (const [name, { server, cookie }] of live) {
    const cell = cells.get(name) as HttpCell;
    if (route === "write" && cookie && !cell.error) {
      const views = Number((await get(server.port, "/read", cookie)).body);
      cell.viewsAfterWrites = views;
      const sent = cell.rounds.reduce((sum, r) => sum + r.requests, 0);
      // Parallel writes to one session may overwrite each other (last write wins, as with
      // express-session), so the count can be below the requests sent; it must have moved.
      if (!(views > 2))
        cell.error = `/write: the writes did not reach the store (views ${views} after ${sent} writes)`;
    }
    await stop(server);
  }
  return contenders.map((c) => cells.get(c.name) as HttpCell);
}

/** The main thread's profile in a folder `--cpu-prof-dir` wrote: `CPU.<date>.<time>.<pid>.0.<n>.cpuprofile`. */
function mainThreadProfile(dir: string): string {
  const files = readdirSync(dir).filter((name) => name.endsWith(".cpuprofile"));
  const main = files.find((name) => name.split(".")[4] === "0");
  if (!main) throw new Error(`bench: no main-thread profile in ${relative(ROOT, dir)}.`);
  return join(dir, main);
}

async function profileRun(
  contender: Contender,
  settings: Settings,
  resources: RunResources,
): Promise<void> {
  mkdirSync(PROFILES, { recursive: true });
  const stamp = new Date().toISOString().replace(/[:.]/g, "-");
  for (const route of settings.routes) {
    // One folder per profile: tsx's loader runs in a worker thread that writes a profile of its
    // own, and only the main thread's (thread id 0) shows the request path.
    const dir = join(PROFILES, `${contender.name}-${route}-${stamp}`);
    const server = await start(contender, resources, ["--cpu-prof", `--cpu-prof-dir=${dir}`]);
    let window: ProfileWindow;
    try {
      const cookie = await prepareRoute(contender, server, route);
      const load = {
        url: `http://127.0.0.1:${server.port}/${route}`,
        connections: settings.connections,
        ...(cookie ? { cookie } : {}),
      };
      await runLoad({ ...load, durationS: settings.warmupS });
      const fromUs = monotonicUs();
      const result = await runLoad({ ...load, durationS: settings.durationS });
      window = { fromUs, toUs: monotonicUs() };
      console.log(
        `\n/${route}: ${describeLoad(result)} (under the profiler: slower than a normal run)`,
      );
    } finally {
      await stop(server);
    }
    const path = mainThreadProfile(dir);
    console.log(
      `${relative(ROOT, path)}\nhottest functions by self time during the measured ${settings.durationS} s (start-up and warm-up left out):`,
    );
    console.log(renderTopFunctions(topFunctions(path, ROOT, window)));
  }
}

async function main(): Promise<number> {
  const settings = parseSettings(process.argv.slice(2));
  if (!settings) return 0;
  const loadAverageBefore = loadavg()[0] ?? 0;
  const resources = createResources();
  const services = {
    redis: await reachable(resources.redisUrl, 6379),
    postgres: await reachable(resources.databaseUrl, 5432),
  };
  const wanted = settings.profile ? [settings.profile] : settings.contenders;
  const { run: contenders, skipped } = selectContenders(ROOT, wanted, services);
  for (const skip of skipped) console.log(`skipped ${skip.name}: ${skip.reason}`);

  const interrupt = () => {
    console.log("\ninterrupted: stopping servers and removing this run's data");
    void Promise.all([...running].map((server) => stopServer(server)))
      .then(() => cleanUp(resources, contenders))
      .finally(() => process.exit(130));
  };
  process.once("SIGINT", interrupt);
  process.once("SIGTERM", interrupt);

  try {
    if (settings.profile) {
      const contender = contenders[0];
      if (!contender) throw new Error(`bench: ${settings.profile} cannot run here (see above).`);
      await profileRun(contender, settings, resources);
      return 0;
    }
    const http: HttpCell[] = [];
    if (settings.memory !== "only") {
      console.log(
        `\n${contenders.length} contenders, ${settings.routes.length} routes, ${settings.rounds} rounds of ${settings.durationS} s, ${settings.connections} connections`,
      );
      for (const route of settings.routes) {
        console.log(`\n/${route}`);
        http.push(...(await benchRoute(route, contenders, settings, resources)));
      }
      summarize(http);
    }
    let memory: MemoryResults | undefined;
    if (settings.memory !== "off") {
      console.log(`\nmemory: ${settings.sessions.toLocaleString("en-US")} sessions per store`);
      const tessera = contenderByName("tessera-memory") as Contender;
      const selected = selectContenders(ROOT, [tessera.name], services);
      memory = await runMemoryBenchmark(
        ROOT,
        settings.sessions,
        selected.run.length > 0
          ? { run: true }
          : { run: false, reason: selected.skipped[0]?.reason ?? "not available" },
        (line) => console.log(line),
      );
    }

    const machine = cpus();
    const results: BenchResults = {
      version: 1,
      name: settings.name,
      date: new Date().toISOString(),
      machine: {
        cpuModel: machine[0]?.model.trim() ?? "unknown",
        cores: machine.length,
        totalMemoryMb: Math.round(totalmem() / 2 ** 20),
        nodeVersion: process.version,
        platform: `${process.platform} ${process.arch}`,
        loadAverageBefore,
        loadAverageAfter: loadavg()[0] ?? 0,
      },
      settings: {
        quick: settings.quick,
        rounds: settings.rounds,
        durationS: settings.durationS,
        warmupS: settings.warmupS,
        connections: settings.connections,
        routes: settings.memory === "only" ? [] : settings.routes,
        memorySessions: settings.memory === "off" ? null : settings.sessions,
      },
      contenders: contenders.map(({ name, label, library, store, peer }) => ({
        name,
        label,
        library,
        store,
        ...(peer ? { peer } : {}),
      })),
      skipped,
      http,
      ...(memory ? { memory } : {}),
      targets: [],
    };
    results.targets = evaluateTargets(results);

    mkdirSync(RESULTS, { recursive: true });
    const jsonPath = join(RESULTS, `${settings.name}.json`);
    writeFileSync(jsonPath, `${JSON.stringify(results, null, 2)}\n`);
    const svgPath = renderChartFile(jsonPath);
    console.log(`\n${renderReport(results)}\n`);
    console.log(`wrote ${relative(ROOT, jsonPath)} and ${relative(ROOT, svgPath)}`);
    const failed = results.targets.some((t) => t.verdict === "FAIL");
    return settings.failOnTarget && failed ? 1 : 0;
  } finally {
    await Promise.all([...running].map((server) => stop(server)));
    await cleanUp(resources, contenders);
  }
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    console.error(error instanceof Error ? error.message : error);
    process.exitCode = 1;
  },
);
