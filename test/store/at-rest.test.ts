import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { describe, it } from "node:test";
import express from "express";
import request from "supertest";
import { isTesseraError, type TesseraError } from "../../src/core/errors.js";
import { sign } from "../../src/core/signing.js";
import { session } from "../../src/express/index.js";
import { encryptRecords } from "../../src/store/encrypted.js";
import { hashIds } from "../../src/store/hashed-ids.js";
import {
  applyPatch,
  assertTtl,
  recordUser,
  requireCapability,
  storeError,
} from "../../src/store/record.js";
import type {
  DestroyForUserOptions,
  SessionPatch,
  SessionRecord,
  Store,
} from "../../src/store/types.js";
import { testStore } from "../../src/store-conformance/index.js";
import { MemoryStore } from "../../src/stores/memory.js";
import { cookiePair, SECRET, sessionIdOf } from "../helpers/http.js";

const TTL_MS = 60_000;
const ID = "3s2L0Kq7yq0gC0oQh8p1Jx6hTgq3X9b1m2Y4wZ5vA7c";
const OTHER_ID = "Zk9qP0l1mN2bV3cX4zA5sD6fG7hJ8kL9qW0eR1tY2uI";
const KEY_1 = randomBytes(32);
const KEY_2 = randomBytes(32).toString("base64");
const EXPIRES = new Date(Date.now() + TTL_MS).toISOString();

/**
 * A store kept in a Map that round-trips records through JSON, as a real store does, with every
 * optional capability, to show the wrappers advertise what their inner store has.
 */
class MapStore implements Store {
  readonly #records = new Map<string, { json: string; expiresAt: number }>();

  #live(id: string) {
    const entry = this.#records.get(id);
    if (entry === undefined || entry.expiresAt <= Date.now()) return undefined;
    return entry;
  }

  // Synchronous inside, so patch reads and writes with no await between: atomic, as the
  // contract asks.
  #read(id: string): SessionRecord | undefined {
    const entry = this.#live(id);
    return entry === undefined ? undefined : (JSON.parse(entry.json) as SessionRecord);
  }

  #write(id: string, record: SessionRecord, ttlMs: number): void {
    this.#records.set(id, {
      json: JSON.stringify(record),
      expiresAt: Date.now() + assertTtl(ttlMs),
    });
  }

  async get(id: string) {
    return this.#read(id);
  }

  async set(id: string, record: SessionRecord, ttlMs: number) {
    this.#write(id, record, ttlMs);
  }

  async destroy(id: string) {
    this.#records.delete(id);
  }

  async touch(id: string, record: SessionRecord, ttlMs: number) {
    const stored = this.#read(id);
    if (stored === undefined) return;
    stored.cookie = record.cookie;
    if (record.__tessera !== undefined) stored.__tessera = record.__tessera;
    this.#write(id, stored, ttlMs);
  }

  async patch(id: string, patch: SessionPatch, ttlMs: number) {
    const stored = this.#read(id);
    if (stored === undefined) return false;
    this.#write(id, applyPatch(stored, JSON.parse(JSON.stringify(patch)) as SessionPatch), ttlMs);
    return true;
  }

  async *ids() {
    for (const id of [...this.#records.keys()]) if (this.#live(id)) yield id;
  }

  async *entries(): AsyncIterable<[string, SessionRecord]> {
    for (const id of [...this.#records.keys()]) {
      const record = await this.get(id);
      if (record !== undefined) yield [id, record];
    }
  }

  async length() {
    let count = 0;
    for await (const _ of this.ids()) count++;
    return count;
  }

  async clear() {
    this.#records.clear();
  }

  async idsForUser(user: string) {
    const ids: string[] = [];
    for await (const [id, record] of this.entries()) if (recordUser(record) === user) ids.push(id);
    return ids;
  }

  async destroyForUser(user: string, options?: DestroyForUserOptions) {
    const ids = (await this.idsForUser(user)).filter((id) => id !== options?.except);
    for (const id of ids) this.#records.delete(id);
    return ids.length;
  }

  async prune() {
    let removed = 0;
    for (const id of [...this.#records.keys()]) {
      if (!this.#live(id)) removed += Number(this.#records.delete(id));
    }
    return removed;
  }
}

/** A store with the four required methods only, whose touch rewrites the whole record. */
class NaiveStore implements Store {
  readonly records = new Map<string, string>();
  async get(id: string) {
    const json = this.records.get(id);
    return json === undefined ? undefined : (JSON.parse(json) as SessionRecord);
  }
  async set(id: string, record: SessionRecord) {
    this.records.set(id, JSON.stringify(record));
  }
  async destroy(id: string) {
    this.records.delete(id);
  }
  async touch(id: string, record: SessionRecord) {
    if (this.records.has(id)) this.records.set(id, JSON.stringify(record));
  }
}

/** Like express-session's MemoryStore: its touch writes the cookie and nothing else. */
class CookieTouchStore extends NaiveStore {
  override async touch(id: string, record: SessionRecord) {
    const json = this.records.get(id);
    if (json === undefined) return;
    this.records.set(id, JSON.stringify({ ...JSON.parse(json), cookie: record.cookie }));
  }
}

/** A store whose server is gone: every operation rejects as a real store's would. */
function failingStore(): Store {
  const fail = (operation: string) => async (): Promise<never> => {
    const refused = Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:1"), {
      code: "ECONNREFUSED",
    });
    throw storeError("FailingStore", operation, refused);
  };
  async function* failing(): AsyncIterable<never> {
    yield* [];
    await fail("listing")();
  }
  return {
    get: fail("get"),
    set: fail("set"),
    destroy: fail("destroy"),
    touch: fail("touch"),
    patch: fail("patch"),
    ids: failing,
    entries: failing,
    length: fail("length"),
    clear: fail("clear"),
    idsForUser: fail("idsForUser"),
    destroyForUser: fail("destroyForUser"),
    prune: fail("prune"),
  };
}

const innerName = "MemoryStore";

function innerStore(): Store {
  return new MemoryStore();
}

function record(data: Record<string, unknown> = {}, user?: string): SessionRecord {
  return {
    cookie: { originalMaxAge: TTL_MS, expires: EXPIRES, httpOnly: true, path: "/" },
    __tessera:
      user === undefined
        ? { createdAt: 1_700_000_000_000 }
        : { createdAt: 1_700_000_000_000, user },
    ...data,
  };
}

function sha256(id: string, encoding: "hex" | "base64url" = "hex"): string {
  return createHash("sha256").update(id).digest(encoding);
}

async function collect<T>(iterable: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of iterable) out.push(item);
  return out;
}

/** Collects what `onError` receives. */
function errorLog() {
  const errors: TesseraError[] = [];
  return { errors, onError: (error: TesseraError) => void errors.push(error) };
}

describe("hashIds()", () => {
  it("keys the inner store by the SHA-256 of the id: no plaintext id is stored", async () => {
    const inner = innerStore();
    const store = hashIds(inner);
    await store.set(ID, record({ n: 1 }), TTL_MS);
    assert.equal(await inner.get(ID), undefined);
    assert.deepEqual(await inner.get(sha256(ID)), record({ n: 1 }));
    requireCapability(inner, "ids", "the test");
    assert.deepEqual(await collect(inner.ids()), [sha256(ID)]);
    assert.equal(store.hashId(ID), sha256(ID));
    assert.deepEqual(await store.get(ID), record({ n: 1 }));
  });

  it("writes base64url digests when asked", async () => {
    const inner = innerStore();
    const store = hashIds(inner, { encoding: "base64url" });
    await store.set(ID, record(), TTL_MS);
    assert.ok(await inner.get(sha256(ID, "base64url")));
    assert.equal(store.hashId(ID).length, 43);
  });

  it("hashes the id in touch, patch and destroy", async () => {
    const inner = innerStore();
    const store = hashIds(inner);
    await store.set(ID, record({ a: 1 }), TTL_MS);
    requireCapability(store, "patch", "the test");
    assert.equal(await store.patch(ID, { set: { b: 2 }, unset: ["a"] }, TTL_MS), true);
    const touched = record({ b: 2 });
    touched.cookie.originalMaxAge = 5;
    await store.touch(ID, touched, TTL_MS);
    const stored = await inner.get(sha256(ID));
    assert.equal(stored?.b, 2);
    assert.equal(stored?.a, undefined);
    assert.equal(stored?.cookie.originalMaxAge, 5);
    assert.equal(await store.patch(OTHER_ID, { set: { b: 3 }, unset: [] }, TTL_MS), false);
    await store.destroy(ID);
    assert.equal(await inner.get(sha256(ID)), undefined);
  });

  it("cannot give ids back: ids(), entries() and idsForUser() are absent, with a clear error", () => {
    const store = hashIds(innerStore());
    for (const capability of ["ids", "entries", "idsForUser"] as const) {
      assert.equal(typeof store[capability as keyof typeof store], "undefined");
      assert.throws(
        () => requireCapability(store, capability, "listing sessions"),
        (error) =>
          isTesseraError(error, "ERR_STORE_CAPABILITY") &&
          /HashedIdStore has no/.test(error.message),
      );
    }
  });

  it("advertises only the capabilities of the inner store", () => {
    const optional = ["patch", "length", "clear", "hashedIdsForUser", "destroyForUser", "prune"];
    const bare = hashIds(new NaiveStore()) as unknown as Record<string, unknown>;
    for (const name of [...optional, "close"]) assert.equal(typeof bare[name], "undefined", name);
    const full = hashIds(new MapStore()) as unknown as Record<string, unknown>;
    for (const name of optional) assert.equal(typeof full[name], "function", name);
  });

  it("keeps the user index: hashedIdsForUser gives hashed ids, destroyForUser hashes except", async () => {
    const store = hashIds(innerStore());
    assert.ok(store.hashedIdsForUser && store.destroyForUser);
    await store.set(ID, record({}, "user-1"), TTL_MS);
    await store.set(OTHER_ID, record({}, "user-1"), TTL_MS);
    assert.deepEqual(
      (await store.hashedIdsForUser("user-1")).sort(),
      [store.hashId(ID), store.hashId(OTHER_ID)].sort(),
    );
    assert.equal(await store.destroyForUser("user-1", { except: ID }), 1);
    assert.ok(await store.get(ID), "the excepted session survives");
    assert.equal(await store.get(OTHER_ID), undefined);
    assert.equal(await store.destroyForUser("user-1"), 1);
    assert.equal(await store.get(ID), undefined);
  });

  it("does not find sessions written before it was enabled", async () => {
    const inner = innerStore();
    await inner.set(ID, record({ old: true }), TTL_MS);
    assert.equal(await hashIds(inner).get(ID), undefined);
  });

  it("refuses a wrong store or option with ERR_OPTION", () => {
    assert.throws(
      () => hashIds({} as Store),
      (error) => isTesseraError(error, "ERR_OPTION"),
    );
    assert.throws(
      () => hashIds(innerStore(), { encoding: "base64" as "hex" }),
      (error) => isTesseraError(error, "ERR_OPTION"),
    );
  });
});

describe("encryptRecords()", () => {
  it("keeps no plaintext value in the inner store, and reads records back whole", async () => {
    const inner = innerStore();
    const store = encryptRecords(inner, { keys: [KEY_1] });
    const original = record(
      { note: "launch codes 0000", cart: [{ sku: "A-1", qty: 2 }], n: 42 },
      "user-1",
    );
    await store.set(ID, original, TTL_MS);
    const raw = await inner.get(ID);
    assert.ok(raw);
    // All data is one envelope of base64url text only, so no plaintext can hide in it; the
    // secrets below all hold a character base64url lacks, so a chance match is impossible.
    // (The cookie and __tessera stay in clear, and their timestamps may contain any digits.)
    assert.deepEqual(Object.keys(raw).sort(), ["__tessera", "cookie", "data"]);
    assert.match(String(raw.data), /^tsr2\.[A-Za-z0-9_-]{8}\.\d+\.[A-Za-z0-9_-]+$/);
    const dump = JSON.stringify(raw);
    for (const secret of ["launch codes", '"sku"', '"qty":2', '"n":42', '"note"', '"cart"'])
      assert.ok(!dump.includes(secret), secret);
    assert.deepEqual(raw.cookie, original.cookie, "cookie stays in clear for the store's expiry");
    const { seal, ...meta } = raw.__tessera as unknown as Record<string, unknown>;
    assert.deepEqual(meta, original.__tessera, "__tessera stays in clear for the user index");
    assert.match(String(seal), /^tsr2\.[A-Za-z0-9_-]{8}\.w\.\d+\.\d+\.[A-Za-z0-9_-]{43}$/);
    assert.deepEqual(await store.get(ID), original);
  });

  it("patches by reading and rewriting the record; parallel patches from one process all land", async () => {
    const inner = innerStore();
    const store = encryptRecords(inner, { keys: [KEY_1] });
    await store.set(ID, record({ a: 1, b: 1, keep: "same" }), TTL_MS);
    const before = await inner.get(ID);
    requireCapability(store, "patch", "the test");
    const results = await Promise.all([
      store.patch(ID, { set: { a: 2 }, unset: [] }, TTL_MS),
      store.patch(ID, { set: { c: 3 }, unset: ["b"] }, TTL_MS),
      store.patch(ID, { set: { d: 4 }, unset: [] }, TTL_MS),
    ]);
    assert.deepEqual(results, [true, true, true]);
    assert.notEqual((await inner.get(ID))?.data, before?.data, "the data was sealed anew");
    assert.deepEqual(await store.get(ID), record({ a: 2, keep: "same", c: 3, d: 4 }));
    assert.equal(await store.patch(OTHER_ID, { set: { a: 1 }, unset: [] }, TTL_MS), false);
    assert.equal(await inner.get(OTHER_ID), undefined, "a patch of a missing session wrote one");
  });

  it("touches a store with patch through patch: cookie and last-seen time move, data stays", async () => {
    const inner = innerStore();
    const log = errorLog();
    const store = encryptRecords(inner, { keys: [KEY_1], onError: log.onError });
    await store.set(ID, record({ n: 1 }, "user-1"), TTL_MS);
    const touched = record({ n: 2, extra: "not written" }, "someone-else");
    touched.cookie.expires = new Date(Date.now() + 2 * TTL_MS).toISOString();
    (touched.__tessera as { seenAt?: number }).seenAt = 1_800_000_000_000;
    await store.touch(ID, touched, 2 * TTL_MS);
    const got = await store.get(ID);
    assert.equal(got?.n, 1);
    assert.equal(got?.extra, undefined);
    assert.equal(got?.cookie.expires, touched.cookie.expires);
    assert.deepEqual(
      got?.__tessera,
      { createdAt: 1_700_000_000_000, seenAt: 1_800_000_000_000, user: "user-1" },
      "touch moved the user",
    );
    assert.match(String((await inner.get(ID))?.__tessera?.["seal" as "user"]), /^tsr2\.[^.]+\.t\./);
    assert.deepEqual(log.errors, []);
  });

  it("keeps the user index working", async () => {
    const store = encryptRecords(innerStore(), { keys: [KEY_1] });
    requireCapability(store, "idsForUser", "the test");
    await store.set(ID, record({ secret: "x" }, "user-7"), TTL_MS);
    assert.deepEqual(await store.idsForUser("user-7"), [ID]);
  });

  it("reads records written with an old key after a new key is put first (rotation)", async () => {
    const inner = innerStore();
    await encryptRecords(inner, { keys: [KEY_1] }).set(ID, record({ v: "old" }), TTL_MS);
    const log = errorLog();
    const rotated = encryptRecords(inner, { keys: [KEY_2, KEY_1], onError: log.onError });
    assert.deepEqual(await rotated.get(ID), record({ v: "old" }));
    // A touch seals with the new key while the data stays under the old one.
    await rotated.touch(ID, record({ v: "old" }), TTL_MS);
    assert.deepEqual(await rotated.get(ID), record({ v: "old" }));
    await rotated.set(OTHER_ID, record({ v: "new" }), TTL_MS);
    const keyIdOf = async (id: string) => String((await inner.get(id))?.data).split(".")[1];
    assert.notEqual(await keyIdOf(ID), await keyIdOf(OTHER_ID), "new writes use the first key");
    const onlyNew = encryptRecords(inner, { keys: [KEY_2], onError: log.onError });
    assert.deepEqual(await onlyNew.get(OTHER_ID), record({ v: "new" }));
    assert.equal(await onlyNew.get(ID), undefined, "a record of a removed key reads as no session");
    assert.equal(log.errors.length, 1);
    assert.match(log.errors[0]?.message ?? "", /key that is not in keys/);
    // A patch through the rotated store moves the session to the new key.
    requireCapability(rotated, "patch", "the test");
    assert.equal(await rotated.patch(ID, { set: { v: "moved" }, unset: [] }, TTL_MS), true);
    assert.deepEqual(await onlyNew.get(ID), record({ v: "moved" }));
  });

  it("reads a tampered record as no session and reports it once", async () => {
    const inner = innerStore();
    const log = errorLog();
    const store = encryptRecords(inner, { keys: [KEY_1], onError: log.onError });
    await store.set(ID, record({ role: "user", name: "ann" }), TTL_MS);
    const raw = (await inner.get(ID)) as SessionRecord;
    const text = String(raw.data);
    const at = text.length - 20;
    const flipped = `${text.slice(0, at)}${text[at] === "A" ? "B" : "A"}${text.slice(at + 1)}`;
    await inner.set(ID, { ...raw, data: flipped }, TTL_MS);
    assert.equal(await store.get(ID), undefined);
    assert.equal(log.errors.length, 1, "one report per record");
    const [error] = log.errors;
    assert.ok(error && isTesseraError(error, "ERR_STORE"));
    assert.match(
      error.message,
      /^tessera: encryptRecords\(\) refused a session record \(authentication failed/,
    );
    assert.ok(!error.message.includes(ID), "the message holds no session id");
  });

  it("refuses data moved to another session", async () => {
    const inner = innerStore();
    const log = errorLog();
    const store = encryptRecords(inner, { keys: [KEY_1], onError: log.onError });
    await store.set(ID, record({ role: "admin", name: "root" }), TTL_MS);
    await store.set(OTHER_ID, record({ role: "user", name: "eve" }), TTL_MS);
    const admin = (await inner.get(ID)) as SessionRecord;
    const eve = (await inner.get(OTHER_ID)) as SessionRecord;
    await inner.set(OTHER_ID, { ...eve, data: admin.data }, TTL_MS);
    assert.equal(await store.get(OTHER_ID), undefined, "data copied from another session");
    await inner.set(OTHER_ID, admin, TTL_MS);
    assert.equal(await store.get(OTHER_ID), undefined, "a whole record copied");
    assert.equal(log.errors.length, 2);
    assert.match(log.errors[0]?.message ?? "", /older than its seal|authentication failed/);
    assert.match(log.errors[1]?.message ?? "", /authentication failed/);
  });

  it("reads a plaintext or per-key (tsr1) record as no session", async () => {
    const inner = innerStore();
    const log = errorLog();
    const store = encryptRecords(inner, { keys: [KEY_1], onError: log.onError });
    await inner.set(ID, record({ plain: "text" }), TTL_MS);
    assert.equal(await store.get(ID), undefined);
    await inner.set(ID, record({ plain: "tsr1.AAAAAAAA.AAAA" }), TTL_MS);
    assert.equal(await store.get(ID), undefined);
    assert.equal(log.errors.length, 2);
    assert.match(log.errors[0]?.message ?? "", /not written by encryptRecords\(\)/);
  });

  it("skips unreadable records in entries() and reports them", async () => {
    const inner = innerStore();
    const log = errorLog();
    const store = encryptRecords(inner, { keys: [KEY_1], onError: log.onError });
    await store.set(ID, record({ ok: 1 }), TTL_MS);
    await inner.set(OTHER_ID, record({ plain: 1 }), TTL_MS);
    requireCapability(store, "entries", "the test");
    assert.deepEqual(await collect(store.entries()), [[ID, record({ ok: 1 })]]);
    assert.equal(log.errors.length, 1);
  });

  it("survives an onError hook that throws, and warns once by default", async () => {
    const inner = innerStore();
    await inner.set(ID, record({ plain: 1 }), TTL_MS);
    const throwing = encryptRecords(inner, {
      keys: [KEY_1],
      onError: () => {
        throw new Error("hook failed");
      },
    });
    assert.equal(await throwing.get(ID), undefined);

    const warnings: Error[] = [];
    const listener = (warning: Error) => void warnings.push(warning);
    process.on("warning", listener);
    try {
      const quiet = encryptRecords(inner, { keys: [KEY_1] });
      assert.equal(await quiet.get(ID), undefined);
      assert.equal(await quiet.get(ID), undefined);
      const deadline = Date.now() + 2000;
      while (warnings.length === 0 && Date.now() < deadline)
        await new Promise((r) => setImmediate(r));
      await new Promise((r) => setImmediate(r));
      assert.equal(warnings.length, 1);
      assert.match(warnings[0]?.message ?? "", /pass onError/);
    } finally {
      process.off("warning", listener);
    }
  });

  it("touches a store without patch by handing back the stored record, whatever its touch writes", async () => {
    for (const inner of [new NaiveStore(), new CookieTouchStore()]) {
      const log = errorLog();
      const store = encryptRecords(inner, { keys: [KEY_1], onError: log.onError });
      await store.set(ID, record({ secret: "touch-me-not" }), TTL_MS);
      const before = inner.records.get(ID);
      const touched = record({ secret: "touch-me-not" });
      touched.cookie.expires = new Date(Date.now() + 2 * TTL_MS).toISOString();
      await store.touch(ID, touched, TTL_MS);
      assert.equal(inner.records.get(ID), before, `${inner.constructor.name}: the record changed`);
      assert.ok(!(inner.records.get(ID) ?? "").includes("touch-me-not"));
      assert.deepEqual(await store.get(ID), record({ secret: "touch-me-not" }));
      await store.touch(OTHER_ID, touched, TTL_MS);
      assert.equal(inner.records.has(OTHER_ID), false, "touch created a session");
      assert.deepEqual(log.errors, []);
    }
  });

  it("keeps session keys named like the stored parts (data, seal) as plain data", async () => {
    const inner = innerStore();
    const store = encryptRecords(inner, { keys: [KEY_1] });
    await store.set(ID, record({ data: "mine", seal: { of: "approval" } }), TTL_MS);
    requireCapability(store, "patch", "the test");
    assert.equal(
      await store.patch(ID, { set: { seal: "changed" }, unset: ["data"] }, TTL_MS),
      true,
    );
    assert.deepEqual(await store.get(ID), record({ seal: "changed" }));
    assert.match(String((await inner.get(ID))?.data), /^tsr2\./);
  });

  it("drops what JSON drops and refuses what JSON cannot write", async () => {
    const store = encryptRecords(innerStore(), { keys: [KEY_1] });
    await store.set(ID, record({ gone: undefined, fn: () => 1, kept: null }), TTL_MS);
    assert.deepEqual(await store.get(ID), record({ kept: null }));
    await assert.rejects(
      async () => store.set(ID, record({ big: 1n }), TTL_MS),
      (error) => isTesseraError(error, "ERR_SESSION_DATA"),
    );
  });

  it("refuses wrong keys with ERR_OPTION, never echoing them", () => {
    const short = randomBytes(31).toString("base64");
    const wrong: unknown[] = [
      undefined,
      { keys: [] },
      { keys: "not-a-list" },
      { keys: [short] },
      { keys: [randomBytes(33)] },
      { keys: [`${KEY_2.slice(0, -3)}!!=`] },
      { keys: [KEY_1, KEY_1.toString("base64")] },
      { keys: [KEY_1], onError: "log" },
    ];
    for (const options of wrong) {
      assert.throws(
        () => encryptRecords(innerStore(), options as { keys: string[] }),
        (error) =>
          isTesseraError(error, "ERR_OPTION") &&
          !error.message.includes(short) &&
          !error.message.includes(KEY_1.toString("base64")),
      );
    }
  });

  it("composes with hashIds() either way: neither the id nor the data is in the inner store", async () => {
    for (const order of ["hashIds(encryptRecords())", "encryptRecords(hashIds())"]) {
      const inner = innerStore();
      const store =
        order === "hashIds(encryptRecords())"
          ? hashIds(encryptRecords(inner, { keys: [KEY_1] }))
          : encryptRecords(hashIds(inner), { keys: [KEY_1] });
      await store.set(ID, record({ note: "composed secret" }, "user-1"), TTL_MS);
      const raw = await inner.get(sha256(ID));
      assert.ok(raw && !JSON.stringify(raw).includes("composed secret"), order);
      assert.equal(await inner.get(ID), undefined, order);
      requireCapability(store, "patch", "the test");
      assert.equal(await store.patch(ID, { set: { n: 1 }, unset: [] }, TTL_MS), true, order);
      await store.touch(ID, record({ note: "composed secret", n: 1 }, "user-1"), TTL_MS);
      assert.deepEqual(
        await store.get(ID),
        record({ note: "composed secret", n: 1 }, "user-1"),
        order,
      );
      requireCapability(store, "destroyForUser", "the test");
      assert.equal(await store.destroyForUser("user-1"), 1, order);
      assert.equal(await store.get(ID), undefined, order);
    }
  });
});

describe("through session()", () => {
  function site(store: Store) {
    const app = express();
    app.use(session({ secret: SECRET, store, resave: false, saveUninitialized: false }));
    app.post("/note/:text", (req, res) => {
      (req.session as unknown as Record<string, unknown>).note = req.params.text;
      res.send("saved");
    });
    app.get("/note", (req, res) => {
      res.send(String((req.session as unknown as Record<string, unknown>).note ?? "none"));
    });
    return app;
  }

  it("the cookie's id is not a key of the inner store, and its data is not readable there", async () => {
    const inner = new MemoryStore();
    const app = site(hashIds(encryptRecords(inner, { keys: [KEY_1] })));
    const first = await request(app).post("/note/top-secret-note").expect("saved");
    const id = sessionIdOf(first);
    await request(app).get("/note").set("Cookie", cookiePair(first)).expect("top-secret-note");
    assert.equal(await inner.get(id), undefined, "the id from the cookie finds nothing");
    const [key] = await collect(inner.ids());
    assert.equal(key, sha256(id));
    const dump = JSON.stringify(await inner.get(key as string));
    assert.ok(!dump.includes("top-secret-note") && !dump.includes(id));
  });

  it("a leaked dump cannot be replayed: its keys, sent as cookies, open nothing", async () => {
    const inner = new MemoryStore();
    const app = site(hashIds(inner));
    const first = await request(app).post("/note/mine").expect("saved");
    for (const leaked of await collect(inner.ids())) {
      const forged = `connect.sid=${encodeURIComponent(`s:${sign(leaked, SECRET)}`)}`;
      await request(app).get("/note").set("Cookie", forged).expect("none");
    }
    await request(app).get("/note").set("Cookie", cookiePair(first)).expect("mine");
  });
});

describe("costs (printed, not asserted)", () => {
  it("times set + get + patch of a five-key session through each wrapper", async () => {
    const data = {
      user: { id: "u-1", name: "Ann" },
      cart: [1, 2, 3],
      views: 7,
      flash: {},
      theme: "dark",
    };
    const variants: [string, Store][] = [
      ["plain", innerStore()],
      ["hashIds", hashIds(innerStore())],
      ["encryptRecords", encryptRecords(innerStore(), { keys: [KEY_1] })],
      ["both", hashIds(encryptRecords(innerStore(), { keys: [KEY_1] }))],
    ];
    // Many short batches, interleaved, best batch kept: on a machine busy with other work, a
    // long batch is always interrupted, and the best short one is the least disturbed.
    const best = new Map<string, number>();
    const deadline = Date.now() + 8000;
    const passes = 40;
    for (let pass = 0; pass < passes && Date.now() < deadline; pass++) {
      for (const [name, store] of variants) {
        const rounds = 25;
        const started = process.hrtime.bigint();
        for (let i = 0; i < rounds; i++) {
          const id = `${ID}${pass}-${i}`;
          await store.set(id, record(data), TTL_MS);
          await store.get(id);
          await store.patch?.(id, { set: { views: i }, unset: [] }, TTL_MS);
        }
        const us = Number(process.hrtime.bigint() - started) / 1000 / rounds;
        best.set(name, Math.min(best.get(name) ?? Number.POSITIVE_INFINITY, us));
      }
    }
    const plain = best.get("plain") ?? 0;
    const lines = variants.map(([name]) => {
      const us = best.get(name) ?? 0;
      return `#   ${name.padEnd(15)} ${us.toFixed(1).padStart(7)} µs per set+get+patch (+${(us - plain).toFixed(1)} µs)`;
    });
    console.log(
      `# at-rest costs over ${innerName}, best of ${passes} batches:\n${lines.join("\n")}`,
    );
    assert.equal(best.size, variants.length);
  });
});

// The shared Store contract, through each wrapper. hashIds() skips what it cannot offer (ids,
// entries, idsForUser); the suite prints each skip with its reason.
const conformance = { iterationCount: 300 };
testStore(
  `encryptRecords(${innerName})`,
  () => encryptRecords(innerStore(), { keys: [KEY_2, KEY_1] }),
  { ...conformance, failingFactory: () => encryptRecords(failingStore(), { keys: [KEY_1] }) },
);
testStore(`hashIds(${innerName})`, () => hashIds(innerStore()), {
  ...conformance,
  failingFactory: () => hashIds(failingStore()),
});
testStore(
  `hashIds(encryptRecords(${innerName}))`,
  () => hashIds(encryptRecords(innerStore(), { keys: [KEY_1] })),
  conformance,
);
