import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { RedisStore as ConnectRedisStore } from "connect-redis";
import express from "express";
import session from "express-session";
import { Redis } from "ioredis";
import { createClient, RESP_TYPES } from "redis";
import request from "supertest";
import { isTesseraError, type TesseraError } from "../../src/core/errors.js";
import { session as tesseraSession } from "../../src/express/index.js";
import type { SessionRecord } from "../../src/store/types.js";
import {
  type RedisClientLike,
  RedisStore,
  type RedisStoreOptions,
} from "../../src/stores/redis.js";
import {
  CLIENT_KINDS,
  type ClientKind,
  connectClient,
  createNodeRedis,
  DATABASE,
  deleteUnder,
  eventually,
  keysUnder,
  type NodeRedisClient,
  type TestClient,
  testPrefix,
  wrapIoRedis,
  wrapNodeRedis,
} from "../fixtures/redis/clients.js";
import { needServer, REDIS_URL } from "../helpers/services.js";

const available = await needServer("Redis", REDIS_URL);

/** A record shaped as the engine writes it. */
function record(data: Record<string, unknown> = {}, user?: string): SessionRecord {
  return {
    cookie: {
      originalMaxAge: TTL_MS,
      expires: new Date(Date.now() + TTL_MS).toISOString(),
      httpOnly: true,
      path: "/",
    },
    ...data,
    __tessera: user === undefined ? { createdAt: 1 } : { createdAt: 1, user },
  };
}

async function collect<T>(iterable: AsyncIterable<T>): Promise<T[]> {
  const items: T[] = [];
  for await (const item of iterable) items.push(item);
  return items;
}

async function rejectsWith(promise: Promise<unknown>, code: string): Promise<TesseraError> {
  const error = await promise.then(
    () => assert.fail(`expected a rejection with ${code}`),
    (reason: unknown) => reason,
  );
  assert.ok(isTesseraError(error), `expected a TesseraError, got ${String(error)}`);
  assert.equal(error.code, code, error.message);
  assert.match(error.message, /^tessera: /);
  return error;
}

function throwsWith(call: () => unknown, code: string): void {
  assert.throws(call, (error: unknown) => {
    assert.ok(isTesseraError(error), `expected a TesseraError, got ${String(error)}`);
    assert.equal(error.code, code, error.message);
    assert.match(error.message, /^tessera: /);
    return true;
  });
}

/** express-session's cookie value for an id: `s:` + id + `.` + base64 HMAC-SHA256, unpadded. */
function signedCookie(id: string): string {
  const mac = createHmac("sha256", SECRET).update(id).digest("base64").replace(/=+$/, "");
  return `connect.sid=${encodeURIComponent(`s:${id}.${mac}`)}`;
}

/** The session id in an express-session Set-Cookie header. */
function idFromSetCookie(header: string[] | string | undefined): string {
  const line = (Array.isArray(header) ? header : [header ?? ""]).find((l) =>
    l.startsWith("connect.sid="),
  );
  assert.ok(line, "express-session set no cookie");
  const value = decodeURIComponent(line.slice("connect.sid=".length).split(";")[0] ?? "");
  const match = /^s:(.+)\.[^.]+$/.exec(value);
  assert.ok(match?.[1], `not a signed session cookie: ${value}`);
  return match[1];
}

/** The same routes as the express-session app of the compatibility tests, on Tessera. */
function tesseraApp(store: RedisStore) {
  const server = express();
  server.use(tesseraSession({ secret: SECRET, store, resave: false, saveUninitialized: false }));
  type WithData = { session: Record<string, unknown> };
  server.get("/read", (req, res) => {
    const { cookie: _cookie, ...data } = (req as unknown as WithData).session;
    res.json(data);
  });
  server.post("/count", (req, res) => {
    const s = (req as unknown as WithData).session;
    s.count = Number(s.count ?? 0) + 1;
    res.json({ count: s.count });
  });
  return server;
}

const SECRET = "a secret of at least thirty-two characters, for tests";
const TTL_MS = 600_000;

/**
 * Values that a JSON round trip through Redis's cjson would change: an empty array becomes an
 * object, numbers are cut to 14 significant digits, a lone surrogate is refused.
 */
const FRAGILE = {
  emptyObject: {},
  emptyArray: [],
  nested: { list: [], map: {}, deep: [[], [{}]] },
  maxSafe: Number.MAX_SAFE_INTEGER,
  minSafe: Number.MIN_SAFE_INTEGER,
  big: 2 ** 60,
  tenth: 0.1 + 0.2,
  tiny: 5e-324,
  huge: 1.7976931348623157e308,
  negativeZero: -0,
  loneSurrogate: "\ud800 alone",
  emoji: "😀 e\u0301 \u2028 </script>",
  numericKeys: { "1": "one", "2": "two" },
};

describe("RedisStore", { skip: !available }, () => {
  let node: TestClient;
  let io: TestClient;
  const prefixes: string[] = [];
  const stores: RedisStore[] = [];

  before(async () => {
    node = await connectClient("node-redis");
    io = await connectClient("ioredis");
  });
  after(async () => {
    for (const store of stores) await store.close();
    for (const prefix of prefixes) {
      await deleteUnder(node, prefix);
      await deleteUnder(io, prefix);
    }
    await node.close();
    await io.close();
  });

  function clientOf(kind: ClientKind): TestClient {
    return kind === "node-redis" ? node : io;
  }

  function freshStore(kind: ClientKind, options: Partial<RedisStoreOptions> = {}): RedisStore {
    const prefix = options.prefix ?? testPrefix();
    prefixes.push(prefix);
    const store = new RedisStore({ client: clientOf(kind).client, ...options, prefix });
    stores.push(store);
    return store;
  }

  describe("options", () => {
    it("detects the client library and takes connect-redis's default prefix", () => {
      const a = new RedisStore({ client: node.client });
      const b = new RedisStore({ client: io.client });
      assert.equal(a.clientLibrary, "node-redis");
      assert.equal(b.clientLibrary, "ioredis");
      assert.equal(a.prefix, "sess:");
      assert.equal(a.commandTimeoutMs, 3000);
      assert.equal(a.scanCount, 100);
    });

    it("refuses what is not a Redis client, an empty prefix and bad numbers", () => {
      for (const client of [undefined, null, {}, { get() {} }, "redis://localhost"]) {
        throwsWith(() => new RedisStore({ client } as unknown as RedisStoreOptions), "ERR_OPTION");
      }
      throwsWith(() => new RedisStore(undefined as unknown as RedisStoreOptions), "ERR_OPTION");
      throwsWith(() => new RedisStore({ client: node.client, prefix: "" }), "ERR_OPTION");
      for (const bad of [0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY]) {
        throwsWith(
          () => new RedisStore({ client: node.client, commandTimeoutMs: bad }),
          "ERR_OPTION",
        );
        throwsWith(() => new RedisStore({ client: node.client, scanCount: bad }), "ERR_OPTION");
      }
    });

    it("close() leaves the app's clients open and working", async () => {
      await new RedisStore({ client: node.client }).close();
      await new RedisStore({ client: io.client }).close();
      assert.equal(await node.command("PING"), "PONG");
      assert.equal(await io.command("PING"), "PONG");
    });
  });

  for (const kind of CLIENT_KINDS) {
    describe(`with ${kind}`, () => {
      describe("the key layout", () => {
        it("keeps a session as the JSON of its record under <prefix><id>, with a native TTL", async () => {
          const store = freshStore(kind);
          const r = record({ cart: [1, 2] });
          await store.set("abc", r, 60_000);
          const redis = clientOf(kind);
          assert.equal(await redis.command("GET", `${store.prefix}abc`), JSON.stringify(r));
          const pttl = Number(await redis.command("PTTL", `${store.prefix}abc`));
          // The TTL given, not the record's 10 min: 10 s of margin for the two reads above.
          assert.ok(pttl > 50_000 && pttl <= 60_000, `PTTL ${pttl}`);
        });

        it("keeps a user's index as a set under <prefix>user:<user> that outlives its sessions", async () => {
          const store = freshStore(kind);
          const redis = clientOf(kind);
          await store.set("s1", record({}, "alice"), 5000);
          const index = `${store.prefix}user:alice`;
          assert.deepEqual(await redis.command("SMEMBERS", index), ["s1"]);
          const indexTtl = () => redis.command("PTTL", index).then(Number);
          assert.ok((await indexTtl()) > 5000, "the index would expire before its session");
          // touch and patch push the index's expiry along with the session's.
          await store.touch("s1", record({}, "alice"), 50_000);
          assert.ok((await indexTtl()) > 50_000, "touch did not extend the index");
          await store.patch("s1", { set: { n: 1 }, unset: [] }, 80_000);
          assert.ok((await indexTtl()) > 80_000, "patch did not extend the index");
          // A shorter TTL never shortens the index below a longer-lived session.
          await store.set("s2", record({}, "alice"), 1000);
          assert.ok((await indexTtl()) > 80_000, "a short session shortened the index");
        });

        it("refuses to store an id under user:, where the index lives, and never reads one", async () => {
          const store = freshStore(kind);
          await store.set("s1", record({}, "bob"), TTL_MS);
          await rejectsWith(store.set("user:bob", record(), TTL_MS), "ERR_OPTION");
          assert.equal(await store.get("user:bob"), undefined);
          assert.equal(await store.patch("user:bob", { set: { a: 1 }, unset: [] }, TTL_MS), false);
          await store.touch("user:bob", record(), TTL_MS);
          await store.destroy("user:bob");
          assert.deepEqual(await store.idsForUser("bob"), ["s1"], "the index was damaged");
        });

        it("lists, counts and clears only its own prefix, taken literally, never index keys", async () => {
          const redis = clientOf(kind);
          // Glob characters in a prefix must match themselves: "t*[x]?:" must not match "tAxB:".
          const base = testPrefix();
          const store = freshStore(kind, { prefix: `${base}t*[x]?\\:` });
          const lookalike = freshStore(kind, { prefix: `${base}tZxQ\\:` });
          const outside = `${base}unrelated`;
          prefixes.push(outside);
          await store.set("mine", record({}, "carol"), TTL_MS);
          await lookalike.set("theirs", record({}, "carol"), TTL_MS);
          await redis.command("SET", outside, "app data");
          assert.deepEqual(await collect(store.ids()), ["mine"]);
          assert.deepEqual(
            (await collect(store.entries())).map(([id]) => id),
            ["mine"],
          );
          assert.equal(await store.length(), 1);
          await store.clear();
          assert.deepEqual(await keysUnder(redis, store.prefix), [], "clear() left keys behind");
          assert.deepEqual(await lookalike.idsForUser("carol"), ["theirs"]);
          assert.equal(await redis.command("GET", outside), "app data");
        });
      });

      describe("patch", () => {
        it("leaves untouched values equal in meaning, where cjson would change them", async () => {
          const store = freshStore(kind);
          const redis = clientOf(kind);
          const original = record({ ...FRAGILE, counter: 1 }, "dave");
          await store.set("p", original, TTL_MS);
          assert.equal(await store.patch("p", { set: { counter: 2 }, unset: [] }, TTL_MS), true);
          const raw = (await redis.command("GET", `${store.prefix}p`)) as string;
          const stored = JSON.parse(raw) as Record<string, unknown>;
          assert.deepEqual(stored, { ...JSON.parse(JSON.stringify(original)), counter: 2 });
          // Stronger than deepEqual: each untouched value is written exactly as JSON.stringify
          // wrote it, so no number lost a digit and no [] became {}.
          for (const [key, value] of Object.entries(FRAGILE)) {
            assert.ok(
              raw.includes(`${JSON.stringify(key)}:${JSON.stringify(value)}`),
              `${key} was rewritten`,
            );
          }
        });

        it("(why not cjson) Redis's cjson would damage those values on this server", async () => {
          const redis = clientOf(kind);
          const json = JSON.stringify({ emptyArray: [], maxSafe: Number.MAX_SAFE_INTEGER });
          const back = (await redis.command(
            "EVAL",
            "return cjson.encode(cjson.decode(ARGV[1]))",
            "0",
            json,
          )) as string;
          assert.notDeepEqual(JSON.parse(back), JSON.parse(json));
          await assert.rejects(
            redis.command(
              "EVAL",
              "return cjson.encode(cjson.decode(ARGV[1]))",
              "0",
              '{"s":"\\ud800"}',
            ),
          );
        });

        it("sets the TTL it is given, and never creates the session nor its index entry", async () => {
          const store = freshStore(kind);
          const redis = clientOf(kind);
          await store.set("p", record({}, "erin"), 5000);
          await store.patch("p", { set: { a: 1 }, unset: [] }, 90_000);
          const pttl = Number(await redis.command("PTTL", `${store.prefix}p`));
          assert.ok(pttl > 85_000 && pttl <= 90_000, `PTTL ${pttl}`);
          const meta = { createdAt: 1, user: "frank" };
          assert.equal(
            await store.patch("missing", { set: { __tessera: meta }, unset: [] }, TTL_MS),
            false,
          );
          assert.deepEqual(await keysUnder(redis, `${store.prefix}missing`), []);
          assert.equal(await redis.command("EXISTS", `${store.prefix}user:frank`), 0);
        });

        it("keeps both changes when two stores (two app instances) patch one session at once", async (t) => {
          // Two stores do not share their queue of patches, so they really race: the loser of
          // each compare-and-set reads again and merges on top of the winner.
          const prefix = testPrefix();
          const one = freshStore(kind, { prefix });
          const second = await connectClient(kind);
          t.after(() => second.close());
          const other = new RedisStore({ client: second.client, prefix });
          await one.set("hot", record({}, "gina"), TTL_MS);
          const writes = Array.from({ length: 40 }, (_, i) =>
            (i % 2 === 0 ? one : other).patch("hot", { set: { [`k${i}`]: i }, unset: [] }, TTL_MS),
          );
          assert.deepEqual(await Promise.all(writes), Array(40).fill(true));
          const got = await one.get("hot");
          const lost = Array.from({ length: 40 }, (_, i) => i).filter((i) => got?.[`k${i}`] !== i);
          assert.deepEqual(lost, [], "a patch was lost");
          assert.deepEqual(await one.idsForUser("gina"), ["hot"]);
        });

        it("rejects data that does not survive JSON with ERR_SESSION_DATA, alone", async () => {
          const store = freshStore(kind);
          await store.set("p", record({ a: 1 }), TTL_MS);
          const cyclic: Record<string, unknown> = {};
          cyclic.self = cyclic;
          // Sent together, so the good patch is queued with the bad one: it must still land.
          const [bad, good] = await Promise.allSettled([
            store.patch("p", { set: { big: 10n }, unset: [] }, TTL_MS),
            store.patch("p", { set: { b: 2 }, unset: [] }, TTL_MS),
            store.patch("p", { set: { cyclic }, unset: [] }, TTL_MS).catch((e) => e),
          ]);
          assert.equal(bad?.status, "rejected");
          assert.equal(
            isTesseraError((bad as PromiseRejectedResult).reason, "ERR_SESSION_DATA"),
            true,
          );
          assert.deepEqual(good, { status: "fulfilled", value: true });
          const got = await store.get("p");
          assert.equal(got?.a, 1);
          assert.equal(got?.b, 2);
          assert.equal(Object.hasOwn(got ?? {}, "big"), false);
          await rejectsWith(store.set("q", record({ big: 10n }), TTL_MS), "ERR_SESSION_DATA");
          assert.equal(await store.get("q"), undefined, "a failed set wrote something");
        });
      });

      describe("the user index", () => {
        it("drops members whose session expired, was destroyed or moved to another user", async () => {
          const store = freshStore(kind);
          const redis = clientOf(kind);
          const index = `${store.prefix}user:hana`;
          await store.set("live", record({}, "hana"), TTL_MS);
          await store.set("expiring", record({}, "hana"), 50);
          await store.set("moved", record({}, "hana"), TTL_MS);
          await store.set("moved", record({}, "ivan"), TTL_MS);
          // Deleted behind the store's back, as connect-redis's destroy() would.
          await store.set("deleted", record({}, "hana"), TTL_MS);
          await redis.command("DEL", `${store.prefix}deleted`);
          assert.ok(
            await eventually(async () => (await store.get("expiring")) === undefined, 2000),
          );
          assert.deepEqual(await store.idsForUser("hana"), ["live"]);
          assert.deepEqual(await redis.command("SMEMBERS", index), ["live"]);
          assert.equal(await store.destroyForUser("hana"), 1);
          assert.ok(await store.get("moved"), "another user's session was destroyed");
        });

        it("a touch of a missing session adds no index entry: write and entry are one script", async () => {
          const store = freshStore(kind);
          const redis = clientOf(kind);
          await store.set("kept", record({}, "kai"), TTL_MS);
          await store.set("gone", record({}, "kai"), TTL_MS);
          await store.destroy("gone");
          await store.touch("gone", record({}, "kai"), TTL_MS);
          await store.touch("never", record({}, "kai"), TTL_MS);
          assert.deepEqual(await redis.command("SMEMBERS", `${store.prefix}user:kai`), ["kept"]);
        });

        it("destroy takes the id out of the index set itself", async () => {
          const store = freshStore(kind);
          const redis = clientOf(kind);
          await store.set("a", record({}, "jon"), TTL_MS);
          await store.set("b", record({}, "jon"), TTL_MS);
          await store.destroy("a");
          assert.deepEqual(await redis.command("SMEMBERS", `${store.prefix}user:jon`), ["b"]);
        });
      });

      describe("errors", () => {
        it("a value that is not a record is ERR_STORE, naming neither the id nor the value", async () => {
          const store = freshStore(kind);
          const redis = clientOf(kind);
          const id = "secret-id-123";
          await redis.command("SET", `${store.prefix}${id}`, "not json: secret-value");
          await redis.command("SET", `${store.prefix}array`, "[1,2]");
          await redis.command("SADD", `${store.prefix}aset`, "x");
          for (const call of [
            store.get(id),
            store.patch(id, { set: { a: 1 }, unset: [] }, TTL_MS),
            store.get("array"),
            store.get("aset"),
            collect(store.entries()),
          ]) {
            const error = await rejectsWith(call, "ERR_STORE");
            assert.ok(!error.message.includes(id), "the message names the session id");
            assert.ok(!error.message.includes("secret-value"), "the message shows the value");
          }
          // destroy still removes it: a corrupt session must not be stuck forever.
          await store.destroy(id);
          assert.equal(await redis.command("EXISTS", `${store.prefix}${id}`), 0);
        });
      });

      describe("compatibility with connect-redis 9", () => {
        // connect-redis 9 speaks node-redis; RedisStore reads and writes the same keys through
        // either library, so both are checked against one connect-redis writer on one database.
        let writer: NodeRedisClient;
        let reader: TestClient;
        before(async () => {
          writer = createNodeRedis(REDIS_URL, DATABASE["node-redis"]);
          await writer.connect();
          reader =
            kind === "node-redis"
              ? wrapNodeRedis(writer)
              : wrapIoRedis(new Redis(REDIS_URL, { db: DATABASE["node-redis"] }));
        });
        after(async () => {
          if (kind === "ioredis") await reader.close();
          writer.destroy();
        });

        function app(prefix: string) {
          const server = express();
          server.use(
            session({
              secret: SECRET,
              store: new ConnectRedisStore({ client: writer, prefix }),
              resave: false,
              saveUninitialized: false,
              cookie: { maxAge: 60_000 },
            }),
          );
          type WithSession = { session: Record<string, unknown> };
          server.post("/login", (req, res) => {
            const s = (req as unknown as WithSession).session;
            s.user = { id: 7, name: "Zoë" };
            s.cart = [];
            res.send("ok");
          });
          server.get("/read", (req, res) => {
            const { cookie: _cookie, ...data } = (req as unknown as WithSession).session;
            res.json(data);
          });
          server.post("/count", (req, res) => {
            const s = (req as unknown as WithSession).session;
            s.count = Number(s.count ?? 0) + 1;
            res.json({ count: s.count });
          });
          return server;
        }

        it("serves a session that express-session with connect-redis wrote", async () => {
          const prefixKey = testPrefix();
          prefixes.push(prefixKey);
          const res = await request(app(prefixKey)).post("/login").expect(200);
          const id = idFromSetCookie(res.headers["set-cookie"]);
          const store = new RedisStore({ client: reader.client, prefix: prefixKey });
          const got = await store.get(id);
          assert.deepEqual(got?.user, { id: 7, name: "Zoë" });
          assert.deepEqual(got?.cart, []);
          // express-session derives originalMaxAge from its expiry and the clock: 60 000 ms,
          // or a millisecond less when the clock ticked in between.
          const originalMaxAge = Number(got?.cookie.originalMaxAge);
          assert.ok(originalMaxAge >= 59_990 && originalMaxAge <= 60_000, String(originalMaxAge));
          assert.equal(typeof got?.cookie.expires, "string");
          assert.equal(got?.cookie.httpOnly, true);
          assert.equal(got?.cookie.path, "/");
          // Patched and touched by Tessera, still read by express-session.
          assert.equal(
            await store.patch(id, { set: { theme: "dark" }, unset: ["cart"] }, TTL_MS),
            true,
          );
          await store.touch(id, got as SessionRecord, TTL_MS);
          const read = await request(app(prefixKey)).get("/read").set("Cookie", signedCookie(id));
          assert.deepEqual(read.body, { user: { id: 7, name: "Zoë" }, theme: "dark" });
        });

        it("switching the app from express-session to Tessera logs nobody out, and back", async () => {
          const prefixKey = testPrefix();
          prefixes.push(prefixKey);
          const login = await request(app(prefixKey)).post("/login").expect(200);
          const id = idFromSetCookie(login.headers["set-cookie"]);
          const cookie = signedCookie(id);
          await request(app(prefixKey)).post("/count").set("Cookie", cookie).expect(200);
          // The same cookie, the same secret, the same keys: now served by Tessera's middleware.
          const tessera = tesseraApp(new RedisStore({ client: reader.client, prefix: prefixKey }));
          const read = await request(tessera).get("/read").set("Cookie", cookie).expect(200);
          assert.deepEqual(read.body, { user: { id: 7, name: "Zoë" }, cart: [], count: 1 });
          const counted = await request(tessera).post("/count").set("Cookie", cookie).expect(200);
          assert.deepEqual(counted.body, { count: 2 });
          // A persistent cookie is sent again when the session changed, as express-session does:
          // with the same id, so the visitor keeps the session.
          const again = counted.headers["set-cookie"];
          if (again !== undefined) assert.equal(idFromSetCookie(again), id);
          // Rolled back to express-session: what Tessera wrote is still read.
          // (express-session shows Tessera's bookkeeping, __tessera, as one more key of data.)
          const back = await request(app(prefixKey)).get("/read").set("Cookie", cookie);
          const { __tessera: meta, ...rest } = back.body as Record<string, unknown>;
          assert.deepEqual(rest, { user: { id: 7, name: "Zoë" }, cart: [], count: 2 });
          assert.equal(typeof (meta as { createdAt?: unknown })?.createdAt, "number");
        });

        it("has express-session with connect-redis serve a session RedisStore wrote", async () => {
          const prefixKey = testPrefix();
          prefixes.push(prefixKey);
          const store = new RedisStore({ client: reader.client, prefix: prefixKey });
          const id = "tessera-written-id";
          await store.set(id, record({ count: 41, cart: ["book"] }, "kim"), TTL_MS);
          const res = await request(app(prefixKey))
            .post("/count")
            .set("Cookie", signedCookie(id))
            .expect(200);
          assert.deepEqual(res.body, { count: 42 });
          // express-session saved it back whole: Tessera's metadata and index survive the trip.
          const got = await store.get(id);
          assert.equal(got?.count, 42);
          assert.deepEqual(got?.cart, ["book"]);
          assert.equal(got?.__tessera?.user, "kim");
          assert.deepEqual(await store.idsForUser("kim"), [id]);
          await store.destroy(id);
          const gone = await request(app(prefixKey)).get("/read").set("Cookie", signedCookie(id));
          assert.deepEqual(gone.body, {}, "connect-redis still served a destroyed session");
        });
      });
    });
  }

  describe("the user index under a race", () => {
    it("an entry whose session is written while idsForUser reads it is kept", async () => {
      // A real client, wrapped so that a second app instance writes the session for the user
      // right after idsForUser found it missing: the entry must survive the cleanup that follows.
      const prefix = testPrefix();
      prefixes.push(prefix);
      const writer = freshStore("node-redis", { prefix });
      await writer.set("late", record({}, "lou"), TTL_MS);
      await node.command("DEL", `${prefix}late`);
      let raced = false;
      const client = node.client as NodeRedisClient;
      const racing = {
        get isOpen() {
          return client.isOpen;
        },
        get isReady() {
          return client.isReady;
        },
        async sendCommand(args: readonly string[], options?: { timeout?: number }) {
          const reply = await client.sendCommand([...args], options);
          if (!raced && args[0] === "GET" && args[1] === `${prefix}late`) {
            raced = true;
            await writer.set("late", record({ back: true }, "lou"), TTL_MS);
          }
          return reply;
        },
      };
      const reader = new RedisStore({ client: racing, prefix });
      assert.deepEqual(await reader.idsForUser("lou"), [], "the first read saw no session");
      assert.ok(raced, "the race was not staged");
      assert.deepEqual(await reader.idsForUser("lou"), ["late"], "the index lost a live session");
      assert.equal(await reader.destroyForUser("lou"), 1);
    });
  });

  describe("client set-ups", () => {
    it("ioredis with keyPrefix: keys carry both prefixes, and listing and clear still work", async () => {
      const client = new Redis(REDIS_URL, { db: DATABASE.ioredis, keyPrefix: "kp:" });
      try {
        const prefix = testPrefix();
        prefixes.push(`kp:${prefix}`);
        const store = new RedisStore({ client, prefix });
        await store.set("a", record({ n: 1 }, "lee"), TTL_MS);
        assert.equal(await io.command("EXISTS", `kp:${prefix}a`), 1);
        assert.deepEqual(await collect(store.ids()), ["a"]);
        assert.deepEqual(await store.idsForUser("lee"), ["a"]);
        assert.equal(await store.patch("a", { set: { n: 2 }, unset: [] }, TTL_MS), true);
        assert.equal((await store.get("a"))?.n, 2);
        await store.clear();
        assert.deepEqual(await keysUnder(io, `kp:${prefix}`), []);
      } finally {
        client.disconnect();
      }
    });

    it("node-redis with RESP3 and with replies mapped to Buffers", async () => {
      const resp3 = createClient({ url: REDIS_URL, database: DATABASE["node-redis"], RESP: 3 });
      resp3.on("error", () => {});
      await resp3.connect();
      try {
        const buffers = resp3.withTypeMapping({ [RESP_TYPES.BLOB_STRING]: Buffer });
        for (const client of [resp3, buffers]) {
          const store = freshStoreFor(client);
          await store.set("a", record({ n: 1 }, "max"), TTL_MS);
          assert.equal((await store.get("a"))?.n, 1);
          assert.equal(await store.patch("a", { set: { n: 2 }, unset: [] }, TTL_MS), true);
          assert.deepEqual(await collect(store.ids()), ["a"]);
          assert.deepEqual(await store.idsForUser("max"), ["a"]);
          assert.equal(await store.destroyForUser("max"), 1);
        }
      } finally {
        resp3.destroy();
      }
    });

    function freshStoreFor(client: RedisClientLike): RedisStore {
      const prefix = testPrefix();
      prefixes.push(prefix);
      return new RedisStore({ client, prefix });
    }
  });
});
