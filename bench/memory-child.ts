// One memory measurement, in its own process started with --expose-gc: put N sessions into one
// store through its `set` (the call the middleware makes when a session is saved), collect
// garbage, and print the heap growth as one JSON line. See memory.ts for the orchestration.
import { randomBytes } from "node:crypto";
import { parseArgs } from "node:util";
import session from "express-session";
import { Cookie, generateId } from "../src/core/index.js";
import { MemoryStore } from "../src/stores/memory.js";
import { type MemoryLibrary, type MemoryProfile, sessionData } from "./memory-data.js";
import { DAY_MS } from "./servers/app.js";

/** What the child prints. */
export interface MemoryChildResult {
  library: MemoryLibrary;
  profile: MemoryProfile;
  inserted: number;
  /** Sessions the store still holds after the inserts (less than `inserted` when bounded). */
  kept: number;
  max: number | null;
  /** Length of one record's JSON, as express-session would store it. */
  recordJsonBytes: number;
  heapDeltaBytes: number;
}

const gc = globalThis.gc;
if (!gc) throw new Error("bench: run memory-child.ts with node --expose-gc.");

// Several passes, so that objects freed by the first one (weak references, finalizers) go too.
function settledHeap(collect: () => void): number {
  for (let i = 0; i < 4; i++) collect();
  return process.memoryUsage().heapUsed;
}

const { values } = parseArgs({
  options: {
    library: { type: "string" },
    profile: { type: "string" },
    sessions: { type: "string" },
    max: { type: "string" },
  },
});
const library = values.library as MemoryLibrary;
const profile = values.profile as MemoryProfile;
const sessions = Number(values.sessions);
const max = values.max === undefined ? null : Number(values.max);

interface Inserter {
  set(i: number): unknown;
  length(): Promise<number>;
}

async function expressSessionInserter(): Promise<Inserter> {
  const store = new session.MemoryStore();
  return {
    set(i) {
      // express-session's ids: uid-safe with 24 bytes, 32 base64url characters.
      const id = randomBytes(24).toString("base64url");
      const data = { cookie: new session.Cookie(), ...sessionData(profile, i) };
      return new Promise<void>((resolve, reject) => {
        store.set(id, data, (error) => (error ? reject(error) : resolve()));
      });
    },
    length: () =>
      new Promise((resolve, reject) => {
        store.length((error, length) => (error ? reject(error) : resolve(Number(length))));
      }),
  };
}

async function tesseraInserter(): Promise<Inserter> {
  const store = new MemoryStore(max === null ? {} : { max });
  return {
    set(i) {
      // The record the engine writes for a new session: its Cookie, the data, its metadata.
      const now = Date.now();
      const record = {
        cookie: new Cookie(),
        ...sessionData(profile, i),
        __tessera: { createdAt: now, seenAt: now },
      };
      return store.set(generateId(), record, DAY_MS);
    },
    length: () => store.length(),
  };
}

const inserter = library === "tessera" ? await tesseraInserter() : await expressSessionInserter();
// One insert before the baseline, so code compiled and tables allocated on first use are not
// counted as session memory.
await inserter.set(-1);
const before = settledHeap(gc);
for (let i = 0; i < sessions; i++) await inserter.set(i);
const after = settledHeap(gc);
// The warm-up session counts in `length()` unless a bounded store already evicted it.
const kept = Math.min(await inserter.length(), sessions);

const result: MemoryChildResult = {
  library,
  profile,
  inserted: sessions,
  kept,
  max,
  recordJsonBytes: JSON.stringify({ cookie: new session.Cookie(), ...sessionData(profile, 0) })
    .length,
  heapDeltaBytes: after - before,
};
process.stdout.write(`${JSON.stringify(result)}\n`);
