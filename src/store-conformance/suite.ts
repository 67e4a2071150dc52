import assert from "node:assert/strict";
import { describe, it, type TestContext } from "node:test";
import { isTesseraError } from "../core/errors.js";
import type { LegacyStore } from "../core/options.js";
import {
  META_KEY,
  type SessionPatch,
  type SessionRecord,
  type Store,
  type StoreCapability,
} from "../store/types.js";
import { runScript } from "./child.js";
import { asStored, largeString, nestedData, newId, sampleRecord, unicodeData } from "./records.js";
import { sessionIdOf, startVisitorApp, type VisitorApp } from "./visitor.js";
import { collect, inBatches, pollUntil, sleepUntil } from "./waiting.js";

/** Makes a fresh, empty store for one test. It may be async (to create a table, say). */
export type StoreFactory<S extends Store = Store> = () => S | Promise<S>;

/** How {@link testStore} runs. Every field is optional. */
export interface ConformanceOptions<S extends Store = Store> {
  /**
   * How many sessions the listing test writes, then reads back through `ids()`, `entries()` and
   * `length()`. Stores for large deployments should pass 100 000.
   * @default 2000
   */
  iterationCount?: number;
  /**
   * How many `set` calls the listing test keeps in flight at once while filling the store.
   * @default 100
   */
  writeConcurrency?: number;
  /**
   * The size, in UTF-8 bytes, of the large value that must round-trip unchanged.
   * @default 1_048_576
   */
  largeValueBytes?: number;
  /**
   * How many `patch` calls run in parallel on one session, each on its own key.
   * @default 50
   */
  parallelPatches?: number;
  /**
   * The TTL given to sessions that the expiry tests let expire, in ms.
   * @default 300
   */
  shortTtlMs?: number;
  /**
   * How long after its TTL an expired session may still be seen before the test fails, in ms.
   * Covers timer granularity and clock skew between the test and a database server.
   * @default 1000
   */
  expiryGraceMs?: number;
  /**
   * A script that creates the store, uses it, calls `close()` and returns without calling
   * `process.exit()`. The suite runs it with `process.execPath` (through tsx when it ends in
   * `.ts`) and fails unless it exits with code 0 on its own: a timer or socket the store left
   * open keeps the process alive. Without it the close() test is skipped.
   * @default undefined
   */
  closeScript?: string;
  /**
   * Arguments for {@link closeScript}.
   * @default []
   */
  closeScriptArgs?: readonly string[];
  /**
   * How long the close script may run before it counts as hung, in ms.
   * @default 15_000
   */
  closeTimeoutMs?: number;
  /**
   * Makes a store whose every operation fails, such as one over a database connection that was
   * closed under it. The suite checks that each call rejects with a `TesseraError` naming no
   * session id and no session data. Without it the error test is skipped: not every store can
   * be made to fail from the outside.
   * @default undefined
   */
  failingFactory?: StoreFactory;
  /**
   * Releases a store after its test: close it, drop its table, delete its keys.
   * @default (store) => store.close?.()
   */
  dispose?: (store: S) => void | Promise<void>;
  /**
   * The timeout of each test, in ms. The listing test gets twice this.
   * @default 60_000
   */
  timeoutMs?: number;
  /**
   * What the visitor test hands `session({ store })`, given the store under test: the store as
   * an app would pass it. Only a test of an express-session store wrapped for the suite with
   * `fromLegacyStore(legacy)` needs it, to hand over `legacy` itself, as apps do.
   * @default (store) => store
   */
  middlewareStore?: (store: S) => Store | LegacyStore;
}

type Settings<S extends Store> = Required<
  Omit<ConformanceOptions<S>, "closeScript" | "failingFactory">
> & {
  closeScript: string | undefined;
  failingFactory: StoreFactory | undefined;
};

/** Why a test is skipped when a store lacks a capability. Printed in the test report. */
const MISSING: Record<StoreCapability, string> = {
  patch: "no patch(): the store writes whole records",
  ids: "no ids(): the store cannot list its sessions",
  entries: "no entries(): the store cannot list its records",
  length: "no length(): the store cannot count its sessions",
  clear: "no clear(): the store cannot remove every session",
  idsForUser: "no idsForUser(): the store keeps no per-user index",
  destroyForUser: "no destroyForUser(): the store keeps no per-user index",
  prune: "no prune(): the store expires sessions natively",
  close: "no close(): the store holds nothing to release",
};

/** A TTL long enough that no test outlives it. */
const LONG_TTL_MS = 3_600_000;

/**
 * The first TTL of a session that a touch or patch, sent right after the write, must reach while
 * it is alive. One store call fits in it with room to spare on a loaded machine, even where the
 * first call also creates the table.
 */
const RENEWED_TTL_MS = 1500;

type With<C extends StoreCapability> = Store & Required<Pick<Store, C>>;

/** True when the store has every capability; otherwise skips the test, saying which is missing. */
function supports<C extends StoreCapability>(
  t: TestContext,
  store: Store,
  ...capabilities: C[]
): store is With<C> {
  const missing = capabilities.find((capability) => typeof store[capability] !== "function");
  if (missing === undefined) return true;
  t.skip(MISSING[missing]);
  return false;
}

function change(set: Record<string, unknown>, unset: string[] = []): SessionPatch {
  return { set, unset };
}

/**
 * Registers the Store contract's conformance tests for one store with node:test. Each test gets
 * a fresh store from `factory` and releases it afterwards; tests of an optional capability the
 * store lacks are skipped with the reason printed.
 *
 * @example
 * // test/my-store.test.ts, run with `node --import tsx --test test/my-store.test.ts`
 * import { testStore } from "tessera/store-conformance";
 * import { MyStore } from "../src/my-store.js";
 *
 * testStore("MyStore", () => new MyStore({ prefix: `test:${crypto.randomUUID()}:` }), {
 *   iterationCount: 100_000,
 *   closeScript: new URL("./fixtures/close-my-store.ts", import.meta.url).pathname,
 * });
 */
export function testStore<S extends Store>(
  name: string,
  factory: StoreFactory<S>,
  options: ConformanceOptions<S> = {},
): void {
  const settings: Settings<S> = {
    iterationCount: options.iterationCount ?? 2000,
    writeConcurrency: options.writeConcurrency ?? 100,
    largeValueBytes: options.largeValueBytes ?? 1_048_576,
    parallelPatches: options.parallelPatches ?? 50,
    shortTtlMs: options.shortTtlMs ?? 300,
    expiryGraceMs: options.expiryGraceMs ?? 1000,
    closeScript: options.closeScript,
    closeScriptArgs: options.closeScriptArgs ?? [],
    closeTimeoutMs: options.closeTimeoutMs ?? 15_000,
    failingFactory: options.failingFactory,
    dispose: options.dispose ?? ((store) => store.close?.()),
    timeoutMs: options.timeoutMs ?? 60_000,
    middlewareStore: options.middlewareStore ?? ((store) => store),
  };

  /** One test on a fresh store, released whatever happens. */
  function test(
    title: string,
    body: (store: S, t: TestContext) => Promise<void>,
    timeout = settings.timeoutMs,
  ): void {
    it(title, { timeout }, async (t) => {
      const store = await factory();
      try {
        await body(store, t);
      } finally {
        await settings.dispose(store);
      }
    });
  }

  describe(`${name} conforms to the Store contract`, () => {
    describe("get, set and destroy", () => {
      test("round-trips nested data of every JSON type", async (store) => {
        const id = newId();
        const record = sampleRecord(nestedData());
        await store.set(id, record, LONG_TTL_MS);
        assert.deepEqual(await store.get(id), asStored(record));
      });

      test("round-trips unicode: emoji, RTL text, CJK, combining marks, escapes", async (store) => {
        const id = newId();
        const record = sampleRecord(unicodeData());
        await store.set(id, record, LONG_TTL_MS);
        assert.deepEqual(await store.get(id), asStored(record));
      });

      test("gives back a Date as its ISO string, as express-session's JSON does", async (store) => {
        const id = newId();
        const expires = new Date(Date.now() + 60_000);
        const at = new Date("2024-02-29T23:59:59.123Z");
        const record: SessionRecord = {
          cookie: { originalMaxAge: 60_000, expires, httpOnly: true, path: "/" },
          lastLogin: at,
          history: [{ at }],
        };
        await store.set(id, record, LONG_TTL_MS);
        const got = await store.get(id);
        assert.equal(got?.cookie.expires, expires.toISOString());
        assert.equal(got?.lastLogin, "2024-02-29T23:59:59.123Z");
        assert.deepEqual(got?.history, [{ at: "2024-02-29T23:59:59.123Z" }]);
      });

      test(`round-trips a value of ${settings.largeValueBytes} bytes unchanged`, async (store) => {
        const id = newId();
        const value = largeString(settings.largeValueBytes);
        await store.set(id, sampleRecord({ value, after: "tail" }), LONG_TTL_MS);
        const got = await store.get(id);
        assert.equal(typeof got?.value, "string", "the large value is missing");
        // One boolean, not assert.equal: a failing diff of two 1 MB strings helps nobody.
        assert.ok(
          got?.value === value,
          `the large value changed: ${value.length} chars stored, ${String(got?.value).length} back`,
        );
        assert.equal(got?.after, "tail");
      });

      test("get of an unknown id resolves undefined", async (store) => {
        assert.equal(await store.get(newId()), undefined);
      });

      test("keeps ids apart that differ only in case or by one character", async (store) => {
        const id = newId();
        const variants = [`${id}a`, `${id}A`, `${id}b`, `${id}a ` /* trailing space */];
        for (const [i, variant] of variants.entries()) {
          await store.set(variant, sampleRecord({ i }), LONG_TTL_MS);
        }
        for (const [i, variant] of variants.entries()) {
          assert.equal((await store.get(variant))?.i, i, `id variant ${i} was mixed up`);
        }
        assert.equal(await store.get(id), undefined);
      });

      test("gives a copy: changing what get resolved changes nothing stored", async (store) => {
        const id = newId();
        const record = sampleRecord({ cart: { items: ["apple"] }, count: 1 });
        await store.set(id, record, LONG_TTL_MS);
        const first = await store.get(id);
        assert.ok(first);
        first.count = 2;
        (first.cart as { items: string[] }).items.push("pear");
        first.cookie.path = "/changed";
        assert.deepEqual(await store.get(id), asStored(record));
      });

      test("keeps no reference to the record given to set", async (store) => {
        const id = newId();
        const record = sampleRecord({ cart: { items: ["apple"] } });
        const stored = asStored(record);
        await store.set(id, record, LONG_TTL_MS);
        (record.cart as { items: string[] }).items.push("pear");
        record.added = true;
        assert.deepEqual(await store.get(id), stored);
      });

      test("set replaces the whole record, as express-session's stores do", async (store) => {
        const id = newId();
        await store.set(id, sampleRecord({ a: 1, b: 2 }), LONG_TTL_MS);
        const replacement = sampleRecord({ b: 3, c: 4 });
        await store.set(id, replacement, LONG_TTL_MS);
        assert.deepEqual(await store.get(id), asStored(replacement));
      });

      test("destroy removes the session; destroying an unknown id is not an error", async (store) => {
        const [kept, gone] = [newId(), newId()];
        await store.set(kept, sampleRecord({ who: "kept" }), LONG_TTL_MS);
        await store.set(gone, sampleRecord({ who: "gone" }), LONG_TTL_MS);
        await store.destroy(gone);
        assert.equal(await store.get(gone), undefined);
        assert.equal((await store.get(kept))?.who, "kept");
        await store.destroy(gone);
        await store.destroy(newId());
        assert.equal((await store.get(kept))?.who, "kept");
      });
    });

    describe("expiry", () => {
      /**
       * One reading method per test: a store that deletes expired sessions while listing would
       * otherwise hide that another method forgot to filter them.
       */
      function expiryTest<C extends StoreCapability>(
        what: string,
        capabilities: C[],
        sees: (store: With<C>, id: string, user: string) => Promise<boolean>,
      ): void {
        test(`an expired session is never ${what}`, async (store, t) => {
          if (!supports(t, store, ...capabilities)) return;
          const user = `user-${newId()}`;
          const [survivor, doomed] = [newId(), newId()];
          await store.set(survivor, sampleRecord({ role: "survivor" }, user), LONG_TTL_MS);
          const before = Date.now();
          await store.set(doomed, sampleRecord({ role: "doomed" }, user), settings.shortTtlMs);
          const after = Date.now();
          // Checked only when this machine was quick enough for the session to be surely alive:
          // the time is taken once the read has answered, so a slow read cannot have met the
          // session already expired. (The survivor, read at the end, is always checked.)
          const seenAlive = await sees(store, doomed, user);
          if (Date.now() - before < settings.shortTtlMs / 2) {
            assert.ok(seenAlive, "a live session is not seen at all");
          }
          await sleepUntil(after + settings.shortTtlMs);
          const deadline = after + settings.shortTtlMs + settings.expiryGraceMs;
          const gone = await pollUntil(async () => !(await sees(store, doomed, user)), deadline);
          assert.ok(
            gone,
            `still ${what} ${settings.expiryGraceMs} ms after its TTL of ${settings.shortTtlMs} ms`,
          );
          assert.ok(
            await sees(store, survivor, user),
            "a live session vanished with the expired one",
          );
        });
      }

      expiryTest("returned by get", [], async (store, id) => (await store.get(id)) !== undefined);
      expiryTest("listed by ids()", ["ids"], async (store, id) => {
        return (await collect(store.ids(), 100)).includes(id);
      });
      expiryTest("listed by entries()", ["entries"], async (store, id) => {
        return (await collect(store.entries(), 100)).some(([listed]) => listed === id);
      });
      expiryTest("listed by idsForUser()", ["idsForUser"], async (store, id, user) => {
        return (await store.idsForUser(user)).includes(id);
      });

      test("an expired session is never counted by length()", async (store, t) => {
        if (!supports(t, store, "length")) return;
        await store.set(newId(), sampleRecord({ role: "survivor" }), LONG_TTL_MS);
        await store.set(newId(), sampleRecord({ role: "doomed" }), settings.shortTtlMs);
        const after = Date.now();
        await sleepUntil(after + settings.shortTtlMs);
        const deadline = after + settings.shortTtlMs + settings.expiryGraceMs;
        const counted = await pollUntil(async () => (await store.length()) === 1, deadline);
        assert.ok(
          counted,
          `length() still counts a session ${settings.expiryGraceMs} ms after its TTL`,
        );
        assert.equal(await store.length(), 1, "length() lost the live session");
      });

      test("touch extends a session's life without changing its data", async (store) => {
        const id = newId();
        const ttl = Math.max(RENEWED_TTL_MS, settings.shortTtlMs);
        const record = sampleRecord({ ...nestedData(), ...unicodeData(), n: 1 });
        await store.set(id, record, ttl);
        const setAt = Date.now();
        const touched = sampleRecord({ n: 2, extra: "touch must not write data" });
        await store.touch(id, touched, LONG_TTL_MS);
        await sleepUntil(setAt + ttl + 200);
        const got = await store.get(id);
        assert.ok(got, "the touched session expired at its old time");
        const { cookie: _cookie, [META_KEY]: _meta, ...data } = got;
        const { cookie: _c, [META_KEY]: _m, ...original } = asStored(record) as SessionRecord;
        assert.deepEqual(data, original, "touch changed the session's data");
      });

      test("patch extends a session's life", async (store, t) => {
        if (!supports(t, store, "patch")) return;
        const id = newId();
        const ttl = Math.max(RENEWED_TTL_MS, settings.shortTtlMs);
        await store.set(id, sampleRecord({ n: 1 }), ttl);
        const setAt = Date.now();
        assert.equal(await store.patch(id, change({ n: 2 }), LONG_TTL_MS), true);
        await sleepUntil(setAt + ttl + 200);
        assert.equal((await store.get(id))?.n, 2, "the patched session expired at its old time");
      });

      test("set with a new TTL replaces the old expiry, both ways", async (store) => {
        const [shortened, lengthened] = [newId(), newId()];
        const ttl = Math.max(1000, settings.shortTtlMs);
        await store.set(shortened, sampleRecord(), LONG_TTL_MS);
        await store.set(lengthened, sampleRecord(), ttl);
        await store.set(shortened, sampleRecord(), settings.shortTtlMs);
        await store.set(lengthened, sampleRecord(), LONG_TTL_MS);
        const setAt = Date.now();
        const gone = await pollUntil(
          async () => (await store.get(shortened)) === undefined,
          setAt + settings.shortTtlMs + settings.expiryGraceMs,
        );
        assert.ok(gone, "a session kept its old, longer TTL after set gave it a short one");
        await sleepUntil(setAt + ttl + 200);
        assert.ok(await store.get(lengthened), "a session kept its old, shorter TTL after set");
      });

      test("touch and patch never bring back an expired session", async (store) => {
        const id = newId();
        const record = sampleRecord({ n: 1 });
        await store.set(id, record, settings.shortTtlMs);
        const setAt = Date.now();
        const gone = await pollUntil(
          async () => (await store.get(id)) === undefined,
          setAt + settings.shortTtlMs + settings.expiryGraceMs,
        );
        assert.ok(gone, "the session did not expire");
        await store.touch(id, record, LONG_TTL_MS);
        assert.equal(await store.get(id), undefined, "touch brought an expired session back");
        if (typeof store.patch === "function") {
          assert.equal(await store.patch(id, change({ n: 2 }), LONG_TTL_MS), false);
          assert.equal(await store.get(id), undefined, "patch brought an expired session back");
        }
      });
    });

    describe("touch", () => {
      test("does not create a session that does not exist", async (store) => {
        const id = newId();
        await store.touch(id, sampleRecord({ n: 1 }), LONG_TTL_MS);
        assert.equal(await store.get(id), undefined);
      });
    });

    describe("patch", () => {
      test("writes only the given keys: keys written meanwhile by another writer survive", async (store, t) => {
        if (!supports(t, store, "patch")) return;
        const id = newId();
        const record = sampleRecord({ a: "a0", b: "b0", c: "c0" }, "user-1");
        await store.set(id, record, LONG_TTL_MS);
        // Two requests loaded the session; each changes its own key, in either order.
        assert.equal(await store.patch(id, change({ b: "b1" }), LONG_TTL_MS), true);
        assert.equal(await store.patch(id, change({ a: "a1" }), LONG_TTL_MS), true);
        assert.deepEqual(await store.get(id), {
          ...(asStored(record) as SessionRecord),
          a: "a1",
          b: "b1",
        });
      });

      test("unset removes keys and leaves the others", async (store, t) => {
        if (!supports(t, store, "patch")) return;
        const id = newId();
        await store.set(id, sampleRecord({ a: 1, b: 2, c: 3 }), LONG_TTL_MS);
        assert.equal(await store.patch(id, change({ d: 4 }, ["b", "c"]), LONG_TTL_MS), true);
        const got = await store.get(id);
        assert.equal(got?.a, 1);
        assert.equal(got?.d, 4);
        assert.equal(Object.hasOwn(got ?? {}, "b"), false, "an unset key is still there");
        assert.equal(Object.hasOwn(got ?? {}, "c"), false, "an unset key is still there");
      });

      test("replaces a key's value whole, never merging into it", async (store, t) => {
        if (!supports(t, store, "patch")) return;
        const id = newId();
        await store.set(id, sampleRecord({ prefs: { theme: "dark", lang: "fr" } }), LONG_TTL_MS);
        await store.patch(id, change({ prefs: { theme: "light" } }), LONG_TTL_MS);
        assert.deepEqual((await store.get(id))?.prefs, { theme: "light" });
      });

      test("writes null as a value, not as a removal", async (store, t) => {
        if (!supports(t, store, "patch")) return;
        const id = newId();
        await store.set(id, sampleRecord({ coupon: "SAVE10" }), LONG_TTL_MS);
        await store.patch(id, change({ coupon: null }), LONG_TTL_MS);
        const got = await store.get(id);
        assert.equal(Object.hasOwn(got ?? {}, "coupon"), true, "a key patched to null vanished");
        assert.equal(got?.coupon, null);
      });

      test("resolves false on an unknown id and writes nothing", async (store, t) => {
        if (!supports(t, store, "patch")) return;
        const id = newId();
        assert.equal(await store.patch(id, change({ a: 1 }), LONG_TTL_MS), false);
        assert.equal(await store.get(id), undefined);
      });

      test(`${settings.parallelPatches} parallel patches on one session, each on its own key, all land`, async (store, t) => {
        if (!supports(t, store, "patch")) return;
        const id = newId();
        const count = settings.parallelPatches;
        await store.set(id, sampleRecord({ base: true, drop: "me" }, "user-1"), LONG_TTL_MS);
        const results = await Promise.all(
          Array.from({ length: count }, (_, i) =>
            store.patch(id, change({ [`k${i}`]: i }, i === 0 ? ["drop"] : []), LONG_TTL_MS),
          ),
        );
        assert.deepEqual(results, Array(count).fill(true));
        const got = await store.get(id);
        assert.ok(got);
        const lost = Array.from({ length: count }, (_, i) => `k${i}`).filter(
          (key, i) => got[key] !== i,
        );
        assert.deepEqual(lost, [], "parallel patches overwrote each other");
        assert.equal(got.base, true);
        assert.equal(Object.hasOwn(got, "drop"), false);
        assert.equal(got[META_KEY]?.user, "user-1");
      });
    });

    describe("listing and counting", () => {
      test(
        `ids(), entries() and length() see every one of ${settings.iterationCount} sessions, once`,
        async (store, t) => {
          if (!supports(t, store, "ids", "entries")) return;
          const count = settings.iterationCount;
          const prefix = newId();
          const ids = Array.from({ length: count }, (_, i) => `${prefix}.${i}`);
          await inBatches(count, settings.writeConcurrency, (i) =>
            store.set(ids[i] as string, { cookie: { originalMaxAge: null }, n: i }, LONG_TTL_MS),
          );

          const listed = await collect(store.ids(), count);
          assert.equal(listed.length, count, "ids() did not list each session exactly once");
          const seen = new Set(listed);
          assert.equal(seen.size, count, "ids() listed a session twice");
          assert.ok(
            ids.every((id) => seen.has(id)),
            "ids() missed a session",
          );

          let entries = 0;
          const indexOf = new Map(ids.map((id, i) => [id, i]));
          for await (const [id, record] of store.entries()) {
            entries++;
            assert.ok(entries <= count, "entries() listed more sessions than there are");
            assert.equal(record.n, indexOf.get(id), "entries() paired an id with another record");
          }
          assert.equal(entries, count, "entries() did not list each session exactly once");

          if (typeof store.length === "function") assert.equal(await store.length(), count);
        },
        settings.timeoutMs * 2,
      );

      test("breaking out of ids() or entries() early leaves the store usable", async (store, t) => {
        if (!supports(t, store, "ids", "entries")) return;
        const count = Math.min(settings.iterationCount, 1500);
        await inBatches(count, settings.writeConcurrency, () =>
          store.set(newId(), sampleRecord(), LONG_TTL_MS),
        );
        let taken = 0;
        for await (const _ of store.ids()) if (++taken === 5) break;
        for await (const _ of store.entries()) if (++taken === 10) break;
        assert.equal(taken, 10);
        // A cursor left open by the abandoned loops would block or fail these.
        const id = newId();
        await store.set(id, sampleRecord({ after: "break" }), LONG_TTL_MS);
        assert.equal((await store.get(id))?.after, "break");
        await store.destroy(id);
        assert.equal((await collect(store.ids(), count)).length, count);
      });

      test("writes during a listing do not break it", async (store, t) => {
        if (!supports(t, store, "ids")) return;
        const count = Math.min(settings.iterationCount, 1500);
        const steady = Array.from({ length: count }, () => newId());
        const doomed = Array.from({ length: 20 }, () => newId());
        for (const id of [...steady, ...doomed]) await store.set(id, sampleRecord(), LONG_TTL_MS);
        const listed = new Set<string>();
        let step = 0;
        for await (const id of store.ids()) {
          listed.add(id);
          const victim = doomed[step];
          if (victim !== undefined) await store.destroy(victim);
          if (step < 20) await store.set(newId(), sampleRecord(), LONG_TTL_MS);
          step++;
          assert.ok(step <= count + 60, "ids() never ends while sessions are written");
        }
        assert.ok(
          steady.every((id) => listed.has(id)),
          "a session that existed throughout was not listed",
        );
      });

      test("an empty store lists nothing and counts 0", async (store) => {
        if (typeof store.ids === "function") assert.deepEqual(await collect(store.ids(), 0), []);
        if (typeof store.entries === "function") {
          assert.deepEqual(await collect(store.entries(), 0), []);
        }
        if (typeof store.length === "function") assert.equal(await store.length(), 0);
      });

      test("length() counts each live session once", async (store, t) => {
        if (!supports(t, store, "length")) return;
        const [a, b, c] = [newId(), newId(), newId()];
        for (const id of [a, b, c]) await store.set(id, sampleRecord(), LONG_TTL_MS);
        assert.equal(await store.length(), 3);
        await store.set(a, sampleRecord({ again: true }), LONG_TTL_MS);
        assert.equal(await store.length(), 3, "writing a session again counted it twice");
        await store.destroy(b);
        assert.equal(await store.length(), 2);
      });

      test("clear() removes every session", async (store, t) => {
        if (!supports(t, store, "clear")) return;
        const ids = [newId(), newId(), newId()];
        for (const id of ids) await store.set(id, sampleRecord({}, "user-1"), LONG_TTL_MS);
        await store.clear();
        for (const id of ids) assert.equal(await store.get(id), undefined);
        if (typeof store.length === "function") assert.equal(await store.length(), 0);
        if (typeof store.ids === "function") assert.deepEqual(await collect(store.ids(), 0), []);
        if (typeof store.idsForUser === "function") {
          assert.deepEqual(await store.idsForUser("user-1"), []);
        }
        const id = newId();
        await store.set(id, sampleRecord({ after: "clear" }), LONG_TTL_MS);
        assert.equal((await store.get(id))?.after, "clear", "the store is unusable after clear()");
      });
    });

    describe("a destroyed session stays destroyed", () => {
      test("a touch from a request that loaded it before the destroy does not bring it back", async (store) => {
        const id = newId();
        await store.set(id, sampleRecord({ n: 1 }), LONG_TTL_MS);
        const loaded = await store.get(id);
        assert.ok(loaded);
        await store.destroy(id);
        await store.touch(id, loaded, LONG_TTL_MS);
        assert.equal(await store.get(id), undefined);
      });

      test("a patch from such a request resolves false and does not bring it back", async (store, t) => {
        if (!supports(t, store, "patch")) return;
        const id = newId();
        await store.set(id, sampleRecord({ n: 1 }, "user-1"), LONG_TTL_MS);
        assert.ok(await store.get(id));
        await store.destroy(id);
        assert.equal(await store.patch(id, change({ n: 2 }), LONG_TTL_MS), false);
        assert.equal(await store.get(id), undefined);
        if (typeof store.idsForUser === "function") {
          assert.deepEqual(await store.idsForUser("user-1"), []);
        }
      });

      test("a destroy racing touches and patches wins whatever the order", async (store) => {
        for (let round = 0; round < 10; round++) {
          const id = newId();
          await store.set(id, sampleRecord({ n: 0 }), LONG_TTL_MS);
          const loaded = await store.get(id);
          assert.ok(loaded);
          const writers: (() => Promise<unknown>)[] = [
            async () => store.touch(id, loaded, LONG_TTL_MS),
            async () => store.touch(id, loaded, LONG_TTL_MS),
          ];
          const { patch } = store;
          if (typeof patch === "function") {
            writers.push(async () => patch.call(store, id, change({ n: round }), LONG_TTL_MS));
          }
          // The destroy is sent at a different place among the writes each round.
          writers.splice(round % (writers.length + 1), 0, async () => store.destroy(id));
          await Promise.all(writers.map((write) => write()));
          assert.equal(await store.get(id), undefined, `round ${round}: the session came back`);
        }
      });
    });

    describe("the per-user index", () => {
      test("idsForUser lists a user's live sessions, and sessions with no user are in no index", async (store, t) => {
        if (!supports(t, store, "idsForUser")) return;
        const [alice, bob] = [`alice-${newId()}`, `bob-${newId()}`];
        const [a1, a2, b1, anonymous] = [newId(), newId(), newId(), newId()];
        await store.set(a1, sampleRecord({}, alice), LONG_TTL_MS);
        await store.set(a2, sampleRecord({}, alice), LONG_TTL_MS);
        await store.set(b1, sampleRecord({}, bob), LONG_TTL_MS);
        await store.set(anonymous, sampleRecord({ guest: true }), LONG_TTL_MS);
        assert.deepEqual((await store.idsForUser(alice)).sort(), [a1, a2].sort());
        assert.deepEqual(await store.idsForUser(bob), [b1]);
        assert.deepEqual(await store.idsForUser(`nobody-${newId()}`), []);
        for (const user of ["", "undefined", "null"]) {
          assert.ok(!(await store.idsForUser(user)).includes(anonymous), `indexed under "${user}"`);
        }
      });

      test("destroyForUser removes every session of the user and only those", async (store, t) => {
        if (!supports(t, store, "idsForUser", "destroyForUser")) return;
        const [alice, bob] = [`alice-${newId()}`, `bob-${newId()}`];
        const aliceIds = [newId(), newId(), newId()];
        const [b1, anonymous] = [newId(), newId()];
        for (const id of aliceIds) await store.set(id, sampleRecord({}, alice), LONG_TTL_MS);
        await store.set(b1, sampleRecord({}, bob), LONG_TTL_MS);
        await store.set(anonymous, sampleRecord(), LONG_TTL_MS);
        assert.equal(await store.destroyForUser(alice), 3);
        for (const id of aliceIds) assert.equal(await store.get(id), undefined);
        assert.deepEqual(await store.idsForUser(alice), []);
        assert.ok(await store.get(b1), "another user's session was destroyed");
        assert.ok(await store.get(anonymous), "a session with no user was destroyed");
        assert.equal(await store.destroyForUser(alice), 0);
        assert.equal(await store.destroyForUser(`nobody-${newId()}`), 0);
      });

      test("destroyForUser with except keeps that one session", async (store, t) => {
        if (!supports(t, store, "idsForUser", "destroyForUser")) return;
        const alice = `alice-${newId()}`;
        const [current, other1, other2] = [newId(), newId(), newId()];
        for (const id of [current, other1, other2]) {
          await store.set(id, sampleRecord({}, alice), LONG_TTL_MS);
        }
        assert.equal(await store.destroyForUser(alice, { except: current }), 2);
        assert.ok(await store.get(current), "the excepted session was destroyed");
        assert.equal(await store.get(other1), undefined);
        assert.equal(await store.get(other2), undefined);
        assert.deepEqual(await store.idsForUser(alice), [current]);
      });

      test("destroy takes a session out of its user's index", async (store, t) => {
        if (!supports(t, store, "idsForUser")) return;
        const alice = `alice-${newId()}`;
        const [kept, gone] = [newId(), newId()];
        await store.set(kept, sampleRecord({}, alice), LONG_TTL_MS);
        await store.set(gone, sampleRecord({}, alice), LONG_TTL_MS);
        await store.destroy(gone);
        assert.deepEqual(await store.idsForUser(alice), [kept]);
      });

      test("set with another user moves the session between indexes", async (store, t) => {
        if (!supports(t, store, "idsForUser")) return;
        const [alice, bob] = [`alice-${newId()}`, `bob-${newId()}`];
        const id = newId();
        await store.set(id, sampleRecord({}, alice), LONG_TTL_MS);
        await store.set(id, sampleRecord({}, bob), LONG_TTL_MS);
        assert.deepEqual(await store.idsForUser(alice), []);
        assert.deepEqual(await store.idsForUser(bob), [id]);
        await store.set(id, sampleRecord(), LONG_TTL_MS);
        assert.deepEqual(await store.idsForUser(bob), [], "a session set without a user stayed");
      });

      test("patch of __tessera with another user moves the session between indexes", async (store, t) => {
        if (!supports(t, store, "patch", "idsForUser")) return;
        const [alice, bob] = [`alice-${newId()}`, `bob-${newId()}`];
        const id = newId();
        await store.set(id, sampleRecord({ cart: 1 }, alice), LONG_TTL_MS);
        const meta = { createdAt: Date.now(), user: bob };
        assert.equal(await store.patch(id, change({ [META_KEY]: meta }), LONG_TTL_MS), true);
        assert.deepEqual(await store.idsForUser(alice), []);
        assert.deepEqual(await store.idsForUser(bob), [id]);
        assert.equal((await store.get(id))?.cart, 1);
        if (typeof store.destroyForUser === "function") {
          assert.equal(await store.destroyForUser(alice), 0, "the old user's logout hit it");
          assert.ok(await store.get(id));
        }
      });

      test("a patch that removes the user takes the session out of every index", async (store, t) => {
        if (!supports(t, store, "patch", "idsForUser")) return;
        const alice = `alice-${newId()}`;
        const [detached, unset] = [newId(), newId()];
        await store.set(detached, sampleRecord({}, alice), LONG_TTL_MS);
        await store.set(unset, sampleRecord({}, alice), LONG_TTL_MS);
        await store.patch(detached, change({ [META_KEY]: { createdAt: 1 } }), LONG_TTL_MS);
        await store.patch(unset, change({}, [META_KEY]), LONG_TTL_MS);
        assert.deepEqual(await store.idsForUser(alice), []);
        if (typeof store.destroyForUser === "function") {
          assert.equal(await store.destroyForUser(alice), 0);
          assert.ok(await store.get(detached));
          assert.ok(await store.get(unset));
        }
      });

      test("patch and touch that leave __tessera alone keep the session in its index", async (store, t) => {
        if (!supports(t, store, "idsForUser")) return;
        const alice = `alice-${newId()}`;
        const id = newId();
        const record = sampleRecord({ n: 1 }, alice);
        await store.set(id, record, LONG_TTL_MS);
        await store.touch(id, record, LONG_TTL_MS);
        if (typeof store.patch === "function") {
          await store.patch(id, change({ n: 2 }), LONG_TTL_MS);
        }
        assert.deepEqual(await store.idsForUser(alice), [id]);
      });
    });

    describe("through session(), over HTTP", () => {
      // The tests above call the store directly; apps hand it to session(), which must take it
      // for what it is (a Tessera store, or a callback store written for express-session) and
      // call it accordingly. A store taken for the wrong kind passes everything above and fails
      // here: its first save gets a callback where the TTL should be, or the other way round.
      test("a visitor's session is saved, read back, changed, regenerated and destroyed", async (store) => {
        const app = await startVisitorApp(settings.middlewareStore(store), settings.timeoutMs);
        try {
          await visitorJourney(app, store);
        } finally {
          await app.close();
        }
      });
    });

    describe("close()", () => {
      const skip =
        settings.closeScript === undefined
          ? "no closeScript option: give a script that uses the store and closes it"
          : false;
      it("releases everything: a process using the store exits on its own", { skip }, async () => {
        const script = settings.closeScript as string;
        const outcome = await runScript(script, settings.closeScriptArgs, settings.closeTimeoutMs);
        assert.equal(
          outcome.timedOut,
          false,
          `the process was still running ${settings.closeTimeoutMs} ms after start: close() left a timer, socket or handle open.\n${outcome.stderr}`,
        );
        assert.equal(outcome.code, 0, `the process failed:\n${outcome.stderr}`);
      });
    });

    describe("errors", () => {
      const skip =
        settings.failingFactory === undefined
          ? "no failingFactory option: this store's own tests check its errors"
          : false;
      it("a failing store rejects with a TesseraError naming no session id nor data", {
        skip,
      }, async () => {
        const failing = await (settings.failingFactory as StoreFactory)();
        try {
          await assertFailsCleanly(failing);
        } finally {
          // The store is broken on purpose: failing to close it too is no finding.
          await (async () => failing.close?.())().catch(() => undefined);
        }
      });
    });
  });
}

/**
 * Seven requests, as one browser sends them, checked against what the store then holds. The
 * messages say what the visitor would see, since the store is called by the middleware here.
 */
async function visitorJourney(app: VisitorApp, store: Store): Promise<void> {
  const first = await app.send("GET", "/count");
  assert.equal(first.status, 200, `a new visitor's first request failed: ${first.body}`);
  assert.ok(
    first.cookie,
    "a new visitor's changed session got no cookie: session() did not save it",
  );
  const id = sessionIdOf(first.cookie);
  assert.equal((await store.get(id))?.count, 1, "the session saved by session() is not stored");

  const second = await app.send("GET", "/count", first.cookie);
  assert.equal(second.status, 200, `the returning visitor's request failed: ${second.body}`);
  assert.equal(second.body, "2", "the session was not read back with its data");
  assert.equal((await store.get(id))?.count, 2, "the changed session was not written");

  const login = await app.send("POST", "/login", first.cookie);
  assert.equal(login.status, 200, `regenerate() failed: ${login.body}`);
  assert.ok(login.cookie, "regenerate() sent no new cookie");
  const renewed = sessionIdOf(login.cookie);
  assert.notEqual(renewed, id, "regenerate() kept the session id");
  assert.equal(await store.get(id), undefined, "regenerate() left the old session in the store");
  assert.equal(
    (await store.get(renewed))?.member,
    "alice",
    "the regenerated session is not stored",
  );
  const before = await app.send("GET", "/me", first.cookie);
  assert.deepEqual(
    JSON.parse(before.body),
    { count: null, member: null },
    "the old id still works",
  );
  const after = await app.send("GET", "/me", login.cookie);
  assert.deepEqual(JSON.parse(after.body), { count: null, member: "alice" });

  const logout = await app.send("POST", "/logout", login.cookie);
  assert.equal(logout.status, 200, `destroy() failed: ${logout.body}`);
  assert.equal(await store.get(renewed), undefined, "destroy() left the session in the store");
  const gone = await app.send("GET", "/me", login.cookie);
  assert.deepEqual(
    JSON.parse(gone.body),
    { count: null, member: null },
    "a destroyed session came back",
  );
}

/** Every operation of a broken store must reject with a coded TesseraError that leaks nothing. */
async function assertFailsCleanly(store: Store): Promise<void> {
  const id = newId();
  const secret = `secret-${newId()}`;
  const user = `user-${newId()}`;
  const record = sampleRecord({ secret }, user);
  const calls: [string, () => Promise<unknown>][] = [
    ["get", async () => store.get(id)],
    ["set", async () => store.set(id, record, LONG_TTL_MS)],
    ["touch", async () => store.touch(id, record, LONG_TTL_MS)],
    ["destroy", async () => store.destroy(id)],
  ];
  const optional: [StoreCapability, () => Promise<unknown>][] = [
    ["patch", async () => store.patch?.(id, change({ secret }), LONG_TTL_MS)],
    ["ids", () => callOptional(store.ids && collect(store.ids(), 10))],
    ["entries", () => callOptional(store.entries && collect(store.entries(), 10))],
    ["length", () => callOptional(store.length?.())],
    ["clear", () => callOptional(store.clear?.())],
    ["idsForUser", () => callOptional(store.idsForUser?.(user))],
    ["destroyForUser", () => callOptional(store.destroyForUser?.(user, { except: id }))],
    ["prune", () => callOptional(store.prune?.())],
  ];
  for (const [name, call] of optional) {
    if (typeof store[name] === "function") calls.push([name, call]);
  }
  for (const [name, call] of calls) {
    let result: Promise<unknown>;
    try {
      result = call();
    } catch (error) {
      assert.fail(`${name}() threw synchronously instead of rejecting: ${String(error)}`);
    }
    const error = await result.then(
      () => assert.fail(`${name}() succeeded on a store that should fail`),
      (reason: unknown) => reason,
    );
    assert.ok(isTesseraError(error), `${name}() rejected with something else than a TesseraError`);
    assert.ok(
      error.code === "ERR_STORE" || error.code === "ERR_STORE_UNAVAILABLE",
      `${name}() rejected with ${error.code}, not ERR_STORE or ERR_STORE_UNAVAILABLE`,
    );
    assert.match(error.message, /^tessera: /);
    for (const [what, value] of [
      ["session id", id],
      ["session data", secret],
    ] as const) {
      assert.ok(!error.message.includes(value), `${name}()'s error message contains the ${what}`);
      assert.ok(
        !String(error.stack).includes(value),
        `${name}()'s error stack contains the ${what}`,
      );
    }
  }
}

function callOptional(value: Promise<unknown> | undefined): Promise<unknown> {
  return value ?? Promise.resolve();
}
