// encryptRecords() against someone who can write the store but holds no key. Each attack edits
// a stored record in place, on every real store; the wrapper must read the result as no session,
// report it once, and never crash. The attacks work on the inner record whatever its format:
// they delete parts, put back older parts, copy a record under another id, edit the readable
// `cookie` and `__tessera`, or write garbage.
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { after, before, describe, it } from "node:test";
import express from "express";
import type pg from "pg";
import request from "supertest";
import { isTesseraError, type TesseraError } from "../../src/core/errors.js";
import { session } from "../../src/express/index.js";
import { encryptRecords } from "../../src/store/encrypted.js";
import { hashIds } from "../../src/store/hashed-ids.js";
import { META_KEY, type SessionRecord, type Store } from "../../src/store/types.js";
import { newId } from "../../src/store-conformance/records.js";
import { MemoryStore } from "../../src/stores/memory.js";
import { PostgresStore } from "../../src/stores/postgres.js";
import { RedisStore } from "../../src/stores/redis.js";
import { SqliteStore } from "../../src/stores/sqlite.js";
import { testPool } from "../fixtures/postgres/pools.js";
import {
  connectClient,
  deleteUnder,
  type TestClient,
  testPrefix,
} from "../fixtures/redis/clients.js";
import { cookiePair, SECRET } from "../helpers/http.js";
import { DATABASE_URL, needServer, REDIS_URL, uniqueName } from "../helpers/services.js";

const KEY = randomBytes(32);
const LONG_TTL_MS = 3_600_000;
const TEN_YEARS_MS = 10 * 365 * 86_400_000;

type Raw = Record<string, unknown>;

/** Where the inner store keeps a session, and how the app's store wraps it. */
interface Layout {
  wrap(inner: Store, onError: (error: TesseraError) => void): Store;
  innerId(id: string): string;
}

const plain: Layout = {
  wrap: (inner, onError) => encryptRecords(inner, { keys: [KEY], onError }),
  innerId: (id) => id,
};

const hashed: Layout = {
  wrap: (inner, onError) => hashIds(encryptRecords(inner, { keys: [KEY], onError })),
  innerId: (id) => createHash("sha256").update(id).digest("hex"),
};

/** A record as the engine writes it. */
function sessionRecord(
  data: Record<string, unknown>,
  user?: string,
  expires: string | null = new Date(Date.now() + LONG_TTL_MS).toISOString(),
): SessionRecord {
  const now = Date.now();
  return {
    cookie: {
      originalMaxAge: expires === null ? null : LONG_TTL_MS,
      expires,
      httpOnly: true,
      secure: true,
      path: "/",
      sameSite: "lax",
    },
    [META_KEY]:
      user === undefined ? { createdAt: now, seenAt: now } : { createdAt: now, seenAt: now, user },
    ...data,
  };
}

function without(record: Raw, key: string): Raw {
  const copy = { ...record };
  delete copy[key];
  return copy;
}

function withField(record: Raw, part: string, field: string, value: unknown): Raw {
  const inner = { ...(record[part] as Raw) };
  if (value === undefined) delete inner[field];
  else inner[field] = value;
  return { ...record, [part]: inner };
}

const clear = new Set(["cookie", META_KEY]);

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** One test's view: the wrapped store, the inner store under it, and what onError received. */
class Target {
  readonly errors: TesseraError[] = [];
  readonly store: Store;

  constructor(
    readonly inner: Store,
    readonly layout: Layout,
  ) {
    this.store = layout.wrap(inner, (error) => void this.errors.push(error));
  }

  /** The record as the inner store holds it: what an attacker with write access sees. */
  async raw(id: string): Promise<Raw> {
    const record = await this.inner.get(this.layout.innerId(id));
    assert.ok(record, "the inner store holds no record");
    return structuredClone(record) as Raw;
  }

  /** Writes a forged record straight into the inner store, as the attacker would. */
  async forge(id: string, record: Raw): Promise<void> {
    await this.inner.set(this.layout.innerId(id), record as SessionRecord, LONG_TTL_MS);
  }

  /**
   * Writes each forgery under `id` and checks that it reads as no session, is reported once
   * with a message holding neither the id nor the data, and leaves the store usable.
   */
  async assertRefused(id: string, forgeries: [label: string, record: Raw][]): Promise<void> {
    assert.ok(forgeries.length > 0, "no forgery to try");
    for (const [label, forged] of forgeries) {
      await this.forge(id, forged);
      const reported = this.errors.length;
      const read = await this.store.get(id);
      assert.equal(
        read,
        undefined,
        `${label}: the forged record was read as ${JSON.stringify(read)}`,
      );
      assert.equal(this.errors.length, reported + 1, `${label}: not reported exactly once`);
      const error = this.errors.at(-1) as TesseraError;
      assert.ok(isTesseraError(error, "ERR_STORE"), `${label}: ${String(error)}`);
      assert.match(error.message, /^tessera: encryptRecords\(\)/);
      for (const secret of [id, this.layout.innerId(id), "admin", "mallory", "launch"]) {
        assert.ok(!error.message.includes(secret), `${label}: the report holds "${secret}"`);
      }
    }
  }
}

/** Every attack, against one inner store. */
function attacks(name: string, innerStore: () => Store, layout: Layout = plain): void {
  describe(`encryptRecords() over ${name}: a record edited in the store reads as no session`, () => {
    let inner: Store;
    before(() => {
      inner = innerStore();
    });

    it("a deleted key: removing any part of the record, such as an mfaPending flag", async () => {
      const t = new Target(inner, layout);
      const id = newId();
      await t.store.set(id, sessionRecord({ mfaPending: true, role: "user" }, "ann"), LONG_TTL_MS);
      const base = await t.raw(id);
      const forgeries: [string, Raw][] = [];
      // The parts that hold the data first, then the readable ones.
      const keys = Object.keys(base).sort((a, b) => Number(clear.has(a)) - Number(clear.has(b)));
      for (const key of keys) forgeries.push([`without ${key}`, without(base, key)]);
      for (const part of ["cookie", META_KEY]) {
        for (const field of Object.keys(base[part] as Raw)) {
          forgeries.push([`without ${part}.${field}`, withField(base, part, field, undefined)]);
        }
      }
      await t.assertRefused(id, forgeries);
      await t.forge(id, base);
      assert.equal((await t.store.get(id))?.mfaPending, true, "the untouched record is refused");
    });

    it("an older ciphertext of a key put back into a newer record, to restore role: admin", async () => {
      const t = new Target(inner, layout);
      const id = newId();
      await t.store.set(id, sessionRecord({ role: "admin", theme: "dark" }, "ann"), LONG_TTL_MS);
      const old = await t.raw(id);
      if (t.store.patch) {
        assert.equal(
          await t.store.patch(id, { set: { role: "user" }, unset: [] }, LONG_TTL_MS),
          true,
        );
      } else {
        await t.store.set(id, sessionRecord({ role: "user", theme: "dark" }, "ann"), LONG_TTL_MS);
      }
      const current = await t.raw(id);
      assert.equal((await t.store.get(id))?.role, "user");
      const forgeries: [string, Raw][] = Object.keys(old)
        .filter((key) => JSON.stringify(old[key]) !== JSON.stringify(current[key]))
        .map((key) => [`the old ${key}`, { ...current, [key]: old[key] }]);
      await t.assertRefused(id, forgeries);
    });

    it("an older whole record put back after its lifetime, even over a newer record", async () => {
      const t = new Target(inner, layout);
      const id = newId();
      const shortTtlMs = 400;
      // A browser-session cookie (no expiry): only the store's TTL ends this record's life.
      await t.store.set(id, sessionRecord({ role: "admin" }, "ann", null), shortTtlMs);
      const writtenAt = Date.now();
      const old = await t.raw(id);
      await t.store.set(id, sessionRecord({ role: "user" }, "ann", null), LONG_TTL_MS);
      await sleep(writtenAt + shortTtlMs + 300 - Date.now());
      await t.assertRefused(id, [["the expired older record", old]]);
    });

    it("a record copied under another session id, with data or with only its metadata", async () => {
      const t = new Target(inner, layout);
      const [admin, bare, victim] = [newId(), newId(), newId()];
      await t.store.set(admin, sessionRecord({ role: "admin" }, "root"), LONG_TTL_MS);
      await t.store.set(bare, sessionRecord({}, "root"), LONG_TTL_MS);
      await t.store.set(victim, sessionRecord({ role: "user" }, "eve"), LONG_TTL_MS);
      await t.assertRefused(victim, [
        ["a record with data", await t.raw(admin)],
        ["a record without data", await t.raw(bare)],
      ]);
    });

    it("edits of __tessera: another user, createdAt ten years ahead, seenAt moved", async () => {
      const t = new Target(inner, layout);
      const id = newId();
      await t.store.set(id, sessionRecord({ role: "user" }, "ann"), LONG_TTL_MS);
      const base = await t.raw(id);
      const meta = base[META_KEY] as { createdAt: number; seenAt: number };
      await t.assertRefused(id, [
        ["user: mallory", withField(base, META_KEY, "user", "mallory")],
        [
          "createdAt ten years ahead",
          withField(base, META_KEY, "createdAt", meta.createdAt + TEN_YEARS_MS),
        ],
        [
          "createdAt a year back",
          withField(base, META_KEY, "createdAt", meta.createdAt - TEN_YEARS_MS / 10),
        ],
        ["seenAt an hour ahead", withField(base, META_KEY, "seenAt", meta.seenAt + LONG_TTL_MS)],
        ["an added field", withField(base, META_KEY, "ip", "203.0.113.9")],
      ]);
      // The store's index follows the clear user, but the session cannot be opened as mallory's.
      await t.forge(id, withField(base, META_KEY, "user", "mallory"));
      if (t.store.idsForUser) assert.deepEqual(await t.store.idsForUser("mallory"), [id]);
      assert.equal(await t.store.get(id), undefined);
    });

    it("edits of the cookie: no HttpOnly, no Secure, SameSite=None, another domain, ten years", async () => {
      const t = new Target(inner, layout);
      const id = newId();
      await t.store.set(id, sessionRecord({ role: "user" }, "ann"), LONG_TTL_MS);
      const base = await t.raw(id);
      const later = new Date(Date.now() + TEN_YEARS_MS).toISOString();
      await t.assertRefused(id, [
        ["httpOnly: false", withField(base, "cookie", "httpOnly", false)],
        ["secure: false", withField(base, "cookie", "secure", false)],
        ["sameSite: none", withField(base, "cookie", "sameSite", "none")],
        ["domain: evil.example", withField(base, "cookie", "domain", "evil.example")],
        ["path: /admin", withField(base, "cookie", "path", "/admin")],
        ["expires in ten years", withField(base, "cookie", "expires", later)],
        ["originalMaxAge of ten years", withField(base, "cookie", "originalMaxAge", TEN_YEARS_MS)],
      ]);
    });

    it("garbage never crashes: each malformed record reads as no session", async () => {
      const t = new Target(inner, layout);
      const id = newId();
      await t.store.set(id, sessionRecord({ launch: "codes" }, "ann"), LONG_TTL_MS);
      const base = await t.raw(id);
      const meta = base[META_KEY] as Raw;
      const junk: [string, Raw][] = [
        ["an empty record", {}],
        ["only a cookie", { cookie: base.cookie }],
        ["__tessera a string", { ...base, [META_KEY]: "x" }],
        ["__tessera an array", { ...base, [META_KEY]: [meta] }],
      ];
      for (const key of Object.keys(base)) {
        if (clear.has(key)) continue;
        for (const value of [42, null, "", "tsr2.AAAAAAAA.1.AAAA", `${base[key]}`.slice(0, 30)]) {
          junk.push([`${key}: ${JSON.stringify(value)}`, { ...base, [key]: value }]);
        }
      }
      for (const field of Object.keys(meta)) {
        if (typeof meta[field] !== "string") continue;
        for (const value of [
          42,
          "tsr2.AAAAAAAA.w.1.0.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
          `${meta[field]}`.replace(/\.(\d+)\./, ".99999999999999999."),
        ]) {
          junk.push([
            `__tessera.${field}: ${JSON.stringify(value)}`,
            withField(base, META_KEY, field, value),
          ]);
        }
      }
      const same = JSON.stringify(base);
      await t.assertRefused(
        id,
        junk.filter(([, record]) => JSON.stringify(record) !== same),
      );
    });

    it("patch and touch never build on a refused record", async () => {
      const t = new Target(inner, layout);
      const id = newId();
      const record = sessionRecord({ role: "user" }, "ann");
      await t.store.set(id, record, LONG_TTL_MS);
      const forged = withField(await t.raw(id), "cookie", "httpOnly", false);
      await t.assertRefused(id, [["httpOnly: false", forged]]);
      if (t.store.patch) {
        assert.equal(
          await t.store.patch(id, { set: { theme: "dark" }, unset: [] }, LONG_TTL_MS),
          false,
        );
      }
      await t.store.touch(id, record, LONG_TTL_MS);
      assert.equal(await t.store.get(id), undefined, "patch or touch made the forgery readable");
    });
  });
}

attacks("MemoryStore", () => new MemoryStore());
attacks("MemoryStore through hashIds()", () => new MemoryStore(), hashed);
attacks("SqliteStore", () => new SqliteStore({ path: ":memory:" }));

const redisAvailable = await needServer("Redis", REDIS_URL);
describe("on Redis", { skip: !redisAvailable }, () => {
  let redis: TestClient;
  const prefix = testPrefix();
  before(async () => {
    redis = await connectClient("node-redis");
  });
  after(async () => {
    await deleteUnder(redis, prefix);
    await redis.close();
  });
  attacks("RedisStore", () => new RedisStore({ client: redis.client, prefix }));
});

const postgresAvailable = await needServer("PostgreSQL", DATABASE_URL);
describe("on PostgreSQL", { skip: !postgresAvailable }, () => {
  let pool: pg.Pool;
  const tableName = uniqueName("tessera_tamper");
  before(() => {
    pool = testPool(DATABASE_URL);
  });
  after(async () => {
    await pool.query(`DROP TABLE IF EXISTS "${tableName}"`);
    await pool.end();
  });
  attacks(
    "PostgresStore",
    () => new PostgresStore({ pool, tableName, createTable: true, pruneIntervalMs: 0 }),
  );
});

describe("encryptRecords() with writers in several processes", () => {
  // Two wrappers over one inner store stand for two processes of one app.
  function twoProcesses() {
    const inner = new MemoryStore();
    const errors: TesseraError[] = [];
    const onError = (error: TesseraError) => void errors.push(error);
    return {
      inner,
      errors,
      one: encryptRecords(inner, { keys: [KEY], onError }),
      two: encryptRecords(inner, { keys: [KEY], onError }),
    };
  }

  it("parallel patches of one session from two processes always leave a readable record", async () => {
    const { one, two, errors } = twoProcesses();
    const id = newId();
    await one.set(id, sessionRecord({ n: 0 }, "ann"), LONG_TTL_MS);
    for (let round = 1; round <= 20; round++) {
      const results = await Promise.all([
        one.patch?.(id, { set: { a: round }, unset: [] }, LONG_TTL_MS),
        two.patch?.(id, { set: { b: round }, unset: [] }, LONG_TTL_MS),
      ]);
      assert.deepEqual(results, [true, true]);
      const read = await one.get(id);
      assert.ok(read, `round ${round}: the record became unreadable`);
      assert.ok(read.a === round || read.b === round, `round ${round}: both writes were lost`);
    }
    assert.deepEqual(errors, []);
  });

  it("a touch that lands after another process's patch keeps the newer data", async () => {
    const { one, two, errors } = twoProcesses();
    const id = newId();
    await one.set(id, sessionRecord({ n: 1 }, "ann"), LONG_TTL_MS);
    const loaded = await one.get(id);
    assert.ok(loaded);
    assert.equal(await two.patch?.(id, { set: { n: 2 }, unset: [] }, LONG_TTL_MS), true);
    await one.touch(id, loaded, LONG_TTL_MS);
    assert.equal((await two.get(id))?.n, 2);
    assert.equal((await one.get(id))?.n, 2);
    assert.deepEqual(errors, []);
  });

  it("a touch that would undo another process's change of user is refused, not re-indexed", async () => {
    const { one, two, errors } = twoProcesses();
    const id = newId();
    await one.set(id, sessionRecord({ n: 1 }), LONG_TTL_MS);
    const loaded = await one.get(id);
    assert.ok(loaded);
    const meta = { createdAt: Date.now(), user: "bob" };
    assert.equal(
      await two.patch?.(id, { set: { [META_KEY]: meta }, unset: [] }, LONG_TTL_MS),
      true,
    );
    await one.touch(id, loaded, LONG_TTL_MS);
    assert.equal(await two.get(id), undefined);
    assert.equal(errors.length, 1);
  });
});

describe("encryptRecords() through session(): a forged record gives a fresh session", () => {
  function site(store: Store) {
    const app = express();
    app.use(session({ secret: SECRET, store, resave: false, saveUninitialized: false }));
    app.post("/login", (req, res) => {
      Object.assign(req.session, { user: "ann", role: "admin" });
      res.send("in");
    });
    app.get("/who", (req, res) => {
      const data = req.session as unknown as { user?: string; role?: string };
      res.send(data.user === undefined ? "nobody" : `${data.user} ${data.role}`);
    });
    return app;
  }

  for (const [label, edit] of [
    ["the cookie without HttpOnly", (raw: Raw) => withField(raw, "cookie", "httpOnly", false)],
    ["the user changed", (raw: Raw) => withField(raw, META_KEY, "user", "mallory")],
  ] as const) {
    it(`${label}: 200, nobody signed in, reported once`, async () => {
      const inner = new MemoryStore();
      const errors: TesseraError[] = [];
      const app = site(encryptRecords(inner, { keys: [KEY], onError: (e) => void errors.push(e) }));
      const login = await request(app).post("/login").expect("in");
      await request(app).get("/who").set("Cookie", cookiePair(login)).expect("ann admin");
      const [id] = await collect(inner.ids());
      const raw = (await inner.get(id as string)) as Raw;
      await inner.set(id as string, edit(raw) as SessionRecord, LONG_TTL_MS);
      await request(app).get("/who").set("Cookie", cookiePair(login)).expect(200, "nobody");
      assert.equal(errors.length, 1);
    });
  }
});

async function collect<T>(iterable: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of iterable) out.push(item);
  return out;
}
