// Fuzz: 100 000 random and adversarial Cookie headers through the real session middleware.
// Whatever the header, the request must go on (no throw, no next(err), no crash) with a fresh,
// empty session, and nothing may be written to the store. The stored session the forgeries aim
// at stays untouched; only its genuine cookie, sent as a control, opens it.
//
// The middleware is driven without a socket per request (a lightweight req/res pair that calls
// writeHead from end, as node's ServerResponse does), so the run takes seconds; a second pass
// sends a sample over a real keep-alive HTTP connection to show the two paths agree.
//
// Reproduce a failure with FUZZ_SEED=<the printed seed>.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { Agent, createServer, request as httpRequest, type IncomingMessage } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, it } from "node:test";
import { sign } from "../../src/core/signing.js";
import { session } from "../../src/express/index.js";
import type { SessionRequest, SessionResponse } from "../../src/node/middleware.js";
import type { SessionPatch, SessionRecord, Store } from "../../src/store/types.js";
import { MemoryStore } from "../../src/stores/memory.js";
import { ID, OLD_SECRET, SECRET } from "../helpers/http.js";

const COUNT = 100_000;
const SEED = Number(process.env.FUZZ_SEED ?? randomBytes(4).readUInt32BE(0));
const NAME = "connect.sid";
const STORED_SECRET = "the data only a genuine cookie may reach";
/** Signed with the current secret, and with the previous one (rotation accepts both). */
const VALID = `s:${sign(ID, SECRET)}`;
const VALID_OLD = `s:${sign(ID, OLD_SECRET)}`;
const BASE64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const BASE64URL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/** mulberry32: a small seeded generator, so a failing header can be produced again. */
function generator(seed: number) {
  let state = seed >>> 0;
  const next = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (max: number) => Math.floor(next() * max);
  const pick = <T>(items: readonly T[]): T => items[int(items.length)] as T;
  const chars = (alphabet: string, length: number) => {
    let out = "";
    for (let i = 0; i < length; i++) out += alphabet[int(alphabet.length)];
    return out;
  };
  /** Any UTF-16 code units: controls, Latin-1, CJK, emoji halves, lone surrogates. */
  const unicode = (length: number) => {
    let out = "";
    for (let i = 0; i < length; i++) {
      const range = int(5);
      const code =
        range === 0
          ? int(0x20)
          : range === 1
            ? 0x20 + int(0x5f)
            : range === 2
              ? 0x80 + int(0x80)
              : range === 3
                ? 0xd800 + int(0x800)
                : int(0x10000);
      out += String.fromCharCode(code);
    }
    return out;
  };
  return { int, pick, chars, unicode, next };
}

type Random = ReturnType<typeof generator>;

/** Replaces one character of `text` at `at` with a different one from `alphabet`. */
function flip(random: Random, text: string, at: number, alphabet: string): string {
  const old = text[at];
  let replacement = old;
  while (replacement === old) replacement = random.pick([...alphabet]);
  return `${text.slice(0, at)}${replacement}${text.slice(at + 1)}`;
}

const BAD_ESCAPES = ["%", "%Z", "%E0%A4%A", "%C0%AF", "%00", "%FF%FE", "%%", "%2", "%u2028", "%D8"];

/**
 * The adversarial shapes, by name. None of them carries the genuine signed value under the
 * session cookie's name: each is a forgery, a mutation, or noise.
 */
const SHAPES: Record<string, (random: Random) => string> = {
  "printable noise": (r) =>
    r.chars(" !\"#$%&'()*+,-./0123456789:;<=>?@AZaz[\\]^_`{|}~", r.int(200)),
  "unicode noise": (r) => `${NAME}=${r.unicode(r.int(120))}`,
  "unicode header": (r) => r.unicode(r.int(200)),
  "truncated signature": (r) => {
    const cut = VALID.slice(0, r.int(VALID.length));
    return `${NAME}=${r.next() < 0.5 ? encodeURIComponent(cut) : cut}`;
  },
  "flipped signature character": (r) => {
    const dot = VALID.lastIndexOf(".");
    return `${NAME}=${encodeURIComponent(flip(r, VALID, dot + 1 + r.int(VALID.length - dot - 1), BASE64))}`;
  },
  "flipped id character": (r) =>
    `${NAME}=${encodeURIComponent(flip(r, VALID, 2 + r.int(ID.length), BASE64URL))}`,
  "signature with extra characters": (r) =>
    `${NAME}=${encodeURIComponent(`${VALID}${r.pick(["=", "==", "A", ".", "x", r.chars(BASE64, 1 + r.int(8))])}`)}`,
  "signed with a wrong secret": (r) =>
    `${NAME}=${encodeURIComponent(`s:${sign(ID, r.chars(BASE64, 1 + r.int(60)))}`)}`,
  "forged signature": (r) =>
    `${NAME}=${encodeURIComponent(`s:${ID}.${r.chars(BASE64, r.pick([43, 44, 42, 0, 1, 86]))}`)}`,
  "unknown id, genuinely signed": (r) =>
    `${NAME}=${encodeURIComponent(`s:${sign(r.chars(BASE64URL, 43), SECRET)}`)}`,
  "s: without a dot": (r) =>
    `${NAME}=${r.pick(["s:", "s%3A", "s%3a"])}${r.chars(BASE64URL, r.int(90))}`,
  "no s: prefix": (r) => `${NAME}=${encodeURIComponent(VALID.slice(2 + r.int(3)))}`,
  "bad percent-encoding": (r) => {
    const value = encodeURIComponent(`s:${ID}.${r.chars(BASE64, 43)}`);
    const at = r.int(value.length + 1);
    return `${NAME}=${value.slice(0, at)}${r.pick(BAD_ESCAPES)}${value.slice(at)}`;
  },
  "huge value": (r) =>
    `${NAME}=s%3A${r.chars(BASE64URL, 256).repeat(16 + r.int(112))}${r.chars(BASE64URL, r.int(256))}.${r.chars(BASE64, 43)}`,
  "thousands of cookies": (r) => {
    const parts: string[] = [];
    const count = 500 + r.int(1500);
    const value = r.chars(BASE64URL, 12);
    for (let i = 0; i < count; i++) parts.push(`c${i}=${value.slice(r.int(12))}`);
    parts.splice(r.int(parts.length), 0, `${NAME}=s%3A${r.chars(BASE64URL, 20)}`);
    return parts.join("; ");
  },
  "duplicate session cookies": (r) => {
    const forged = () => encodeURIComponent(`s:${sign(ID, r.chars(BASE64, 32))}`);
    return Array.from({ length: 2 + r.int(6) }, () => `${NAME}=${forged()}`).join("; ");
  },
  "genuine value under a look-alike name": (r) =>
    `${r.pick(["Connect.sid", "CONNECT.SID", "connect_sid", "connect.sid2", "xconnect.sid", "connect.si"])}=${encodeURIComponent(VALID)}`,
  "separators only": (r) => r.chars(";= ,\t", r.int(40)),
  "empty value": (r) =>
    r.pick([`${NAME}=`, `${NAME}`, `${NAME}=;`, `=${encodeURIComponent(VALID)}`, ""]),
  "prototype keys": (r) =>
    `${r.pick(["__proto__", "constructor", "toString", "hasOwnProperty"])}=${encodeURIComponent(`s:${sign(ID, "x")}`)}; ${NAME}=${r.chars(BASE64URL, 10)}`,
};
const SHAPE_NAMES = Object.keys(SHAPES);
/** Heavy shapes (tens of kilobytes each) run once per round, the others four times. */
const HEAVY = new Set(["huge value", "thousands of cookies"]);
const SCHEDULE = SHAPE_NAMES.flatMap((name) => Array<string>(HEAVY.has(name) ? 1 : 4).fill(name));

/** What one request saw. */
interface Outcome {
  error?: unknown;
  sessionId: string | undefined;
  data: unknown;
  setCookie: string | string[] | undefined;
}

/** A response with just what the middleware uses. `end()` writes the head first, as node does. */
class LightResponse implements SessionResponse {
  headersSent = false;
  readonly #headers = new Map<string, number | string | string[]>();
  constructor(private readonly done: () => void) {}
  getHeader(name: string) {
    return this.#headers.get(name.toLowerCase());
  }
  setHeader(name: string, value: number | string | readonly string[]) {
    this.#headers.set(name.toLowerCase(), value as string);
    return this as never;
  }
  getHeaderNames() {
    return [...this.#headers.keys()];
  }
  removeHeader(name: string) {
    this.#headers.delete(name.toLowerCase());
  }
  writeHead(..._args: unknown[]) {
    this.headersSent = true;
    return this as never;
  }
  end(..._args: unknown[]) {
    if (!this.headersSent) this.writeHead(200);
    this.done();
    return this as never;
  }
}

/** A MemoryStore that counts every call, so the test can show garbage never writes. */
function countingStore(inner: MemoryStore): Store & { calls: Map<string, number> } {
  const calls = new Map<string, number>();
  const counted = <A extends unknown[], R>(name: string, run: (...args: A) => R) => {
    return (...args: A): R => {
      calls.set(name, (calls.get(name) ?? 0) + 1);
      return run(...args);
    };
  };
  return {
    calls,
    get: counted("get", (id: string) => inner.get(id)),
    set: counted("set", (id: string, record: SessionRecord, ttlMs: number) =>
      inner.set(id, record, ttlMs),
    ),
    destroy: counted("destroy", (id: string) => inner.destroy(id)),
    touch: counted("touch", (id: string, record: SessionRecord, ttlMs: number) =>
      inner.touch(id, record, ttlMs),
    ),
    patch: counted("patch", (id: string, changes: SessionPatch, ttlMs: number) =>
      inner.patch(id, changes, ttlMs),
    ),
  };
}

const SEEDED: SessionRecord = {
  cookie: { originalMaxAge: null, expires: null, httpOnly: true, path: "/" },
  __tessera: { createdAt: Date.now() },
  secret: STORED_SECRET,
};

async function seededStore() {
  const inner = new MemoryStore();
  await inner.set(ID, structuredClone(SEEDED), 3_600_000);
  return { inner, store: countingStore(inner) };
}

function middlewareFor(store: Store) {
  return session({
    secret: [SECRET, OLD_SECRET],
    store,
    resave: false,
    saveUninitialized: false,
  });
}

/** Runs one request through the middleware with a lightweight req/res pair. */
function drive(middleware: ReturnType<typeof session>, header: string): Promise<Outcome> {
  return new Promise((resolve) => {
    const req = {
      headers: { cookie: header },
      url: "/",
      method: "GET",
      socket: {},
    } as unknown as SessionRequest;
    const outcome: Outcome = { sessionId: undefined, data: undefined, setCookie: undefined };
    const res = new LightResponse(() => {
      outcome.setCookie = res.getHeader("set-cookie") as string | string[] | undefined;
      resolve(outcome);
    });
    try {
      middleware(req, res, (error?: unknown) => {
        if (error !== undefined) {
          outcome.error = error;
          resolve(outcome);
          return;
        }
        outcome.sessionId = req.sessionID;
        outcome.data = (req.session as unknown as Record<string, unknown> | undefined)?.secret;
        res.end();
      });
    } catch (error) {
      outcome.error = error;
      resolve(outcome);
    }
  });
}

function describeHeader(header: string): string {
  const shown = header.length > 120 ? `${header.slice(0, 120)}… (${header.length} chars)` : header;
  return JSON.stringify(shown);
}

/** Fails unless the request went on with a fresh, empty session and sent no cookie. */
function assertFresh(outcome: Outcome, header: string, shape: string): void {
  const context = `${shape} (seed ${SEED}): ${describeHeader(header)}`;
  assert.equal(outcome.error, undefined, `the request failed: ${context}`);
  assert.ok(outcome.sessionId, `no session: ${context}`);
  assert.notEqual(outcome.sessionId, ID, `the stored session was opened: ${context}`);
  assert.match(outcome.sessionId, /^[A-Za-z0-9_-]{43}$/, `not a fresh id: ${context}`);
  assert.equal(outcome.data, undefined, `the session held data: ${context}`);
  assert.equal(outcome.setCookie, undefined, `a cookie was sent: ${context}`);
}

describe("fuzz: adversarial Cookie headers", () => {
  const crashes: unknown[] = [];
  const onCrash = (error: unknown) => void crashes.push(error);
  before(() => {
    process.on("uncaughtException", onCrash);
    process.on("unhandledRejection", onCrash);
  });
  after(() => {
    process.off("uncaughtException", onCrash);
    process.off("unhandledRejection", onCrash);
  });

  it("the genuine cookies (the controls) open the stored session, so the harness can tell", async () => {
    const { store } = await seededStore();
    const middleware = middlewareFor(store);
    const current = await drive(middleware, `${NAME}=${encodeURIComponent(VALID)}`);
    assert.equal(current.sessionId, ID);
    assert.equal(current.data, STORED_SECRET);
    const old = await drive(middleware, `other=1; ${NAME}=${encodeURIComponent(VALID_OLD)}`);
    assert.equal(old.data, STORED_SECRET, "a cookie signed with the previous secret still works");
    assert.match(String(old.setCookie), new RegExp(`^${NAME}=${encodeURIComponent(VALID)};`));
  });

  it(`${COUNT.toLocaleString("en")} headers: never a crash, never anything but a fresh session`, async () => {
    const { inner, store } = await seededStore();
    const middleware = middlewareFor(store);
    const random = generator(SEED);
    const perShape = new Map<string, number>();
    const started = performance.now();
    for (let i = 0; i < COUNT; i++) {
      const shape = SCHEDULE[i % SCHEDULE.length] as string;
      const header = (SHAPES[shape] as (r: Random) => string)(random);
      perShape.set(shape, (perShape.get(shape) ?? 0) + 1);
      assertFresh(await drive(middleware, header), header, shape);
    }
    const seconds = (performance.now() - started) / 1000;
    const counts = [...perShape].map(([name, n]) => `${name} ${n}`).join(", ");
    console.log(
      `# fuzz: ${COUNT} headers in ${seconds.toFixed(2)} s (${Math.round(COUNT / seconds)} per second), seed ${SEED}: ${counts}`,
    );

    assert.deepEqual(crashes, []);
    assert.equal(perShape.size, SHAPE_NAMES.length, "every shape ran");
    const writes = ["set", "destroy", "touch", "patch"].map((name) => store.calls.get(name) ?? 0);
    assert.deepEqual(writes, [0, 0, 0, 0], "garbage never writes to the store");
    assert.deepEqual(await inner.get(ID), SEEDED, "the targeted session is untouched");
    assert.equal(await inner.length(), 1, "no session was created for garbage");
  });

  it("a sample over a real keep-alive HTTP connection agrees", async () => {
    const { store } = await seededStore();
    const middleware = middlewareFor(store);
    const server = createServer((req, res) => {
      middleware(req, res, (error?: unknown) => {
        const data = (req as SessionRequest).session as unknown as Record<string, unknown>;
        res.setHeader("content-type", "application/json");
        res.end(
          JSON.stringify({
            error: error === undefined ? null : String(error),
            id: (req as SessionRequest).sessionID,
            data: data?.secret ?? null,
          }),
        );
      });
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const { port } = server.address() as AddressInfo;
    const send = (cookie: string) =>
      new Promise<{ body: string; response: IncomingMessage }>((resolve, reject) => {
        const req = httpRequest({ port, host: "127.0.0.1", path: "/", agent, headers: { cookie } });
        req.on("response", (response) => {
          let body = "";
          response.setEncoding("utf8");
          response.on("data", (chunk: string) => {
            body += chunk;
          });
          response.on("end", () => resolve({ body, response }));
        });
        req.on("error", reject);
        req.end();
      });
    try {
      const random = generator(SEED ^ 0x5eed);
      let sent = 0;
      for (let i = 0; sent < 2000; i++) {
        const shape = SHAPE_NAMES[i % SHAPE_NAMES.length] as string;
        // Node's HTTP client refuses control characters and code points above U+00FF in a
        // header; the server parser sees only Latin-1, which the shapes above also cover.
        const header = (SHAPES[shape] as (r: Random) => string)(random);
        if (/[^\t\x20-\x7e\x80-\xff]/.test(header) || header.length > 16_000) continue;
        const { body, response } = await send(header);
        const seen = JSON.parse(body) as { error: string | null; id: string; data: unknown };
        assert.equal(response.statusCode, 200, describeHeader(header));
        assertFresh(
          {
            sessionId: seen.id,
            data: seen.data ?? undefined,
            setCookie: response.headers["set-cookie"],
            ...(seen.error === null ? {} : { error: seen.error }),
          },
          header,
          shape,
        );
        sent++;
      }
      const control = await send(`${NAME}=${encodeURIComponent(VALID)}`);
      assert.equal((JSON.parse(control.body) as { data: unknown }).data, STORED_SECRET);
    } finally {
      agent.destroy();
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
