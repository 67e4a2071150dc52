// The same request sequences against express-session and Tessera, side by side: what the
// client sees (status, body, Set-Cookie) and what ends up in the store must match, except
// where Tessera deliberately differs (each difference is asserted on its own).
import assert from "node:assert/strict";
import { EventEmitter } from "node:events";
import { createRequire } from "node:module";
import { describe, it } from "node:test";
import express, { type Express } from "express";
import request, { type Response } from "supertest";
import { session as tessera } from "../../src/express/index.js";
import type { SessionOptions } from "../../src/index.js";
import { OldStyleStore } from "../fixtures/stores.js";
import { OLD_SECRET, SECRET, setCookie } from "../helpers/http.js";

const require = createRequire(import.meta.url);
type ExpressSession = typeof import("express-session");
const expressSession = require("express-session") as ExpressSession;

interface Inspectable {
  /** The stored sessions as parsed JSON, keyed by id. */
  dump(): Record<string, Record<string, unknown>>;
}

type MemoryStore = InstanceType<ExpressSession["MemoryStore"]>;

/** express-session's MemoryStore; readable the same way for both libraries. */
function memoryStore(): MemoryStore & Inspectable {
  const store = new expressSession.MemoryStore() as MemoryStore & Inspectable;
  store.dump = () =>
    Object.fromEntries(Object.entries(store.sessions).map(([id, json]) => [id, JSON.parse(json)]));
  return store;
}

function routes(app: Express): Express {
  app.get("/noop", (_req, res) => {
    res.send("noop");
  });
  app.get("/read", (req, res) => {
    res.send(String((req.session as unknown as Record<string, unknown>).views ?? "none"));
  });
  app.get("/write", (req, res) => {
    const data = req.session as unknown as Record<string, number>;
    data.views = (data.views ?? 0) + 1;
    res.send(String(data.views));
  });
  app.post("/regenerate", (req, res, next) => {
    req.session.regenerate((error) => {
      if (error) return next(error);
      (req.session as unknown as Record<string, unknown>).user = "ada";
      res.send("regenerated");
    });
  });
  app.post("/destroy", (req, res, next) => {
    req.session.destroy((error) => {
      if (error) return next(error);
      res.send("destroyed");
    });
  });
  app.get("/unset", (req, res) => {
    (req as unknown as { session: unknown }).session = null;
    res.send("unset");
  });
  app.get("/max-age", (req, res) => {
    req.session.cookie.maxAge = 5000;
    (req.session as unknown as Record<string, unknown>).changed = true;
    res.send("ok");
  });
  return app;
}

type Options = Omit<SessionOptions, "secret" | "store"> & { secret?: string | string[] };

function pair(options: Options) {
  const theirs = memoryStore();
  const ours = memoryStore();
  const full = { secret: SECRET, resave: false, saveUninitialized: false, ...options };
  const theirApp = express();
  theirApp.use(expressSession({ ...(full as object), store: theirs } as never));
  const ourApp = express();
  ourApp.use(tessera({ ...(full as SessionOptions), store: ours as never }));
  return {
    their: { app: routes(theirApp), store: theirs, cookie: "" },
    our: { app: routes(ourApp), store: ours, cookie: "" },
  };
}

const ID_PATTERN = /(connect\.sid|[\w.-]+)=s%3A[^.;]+\.[^;]+/;

/** A Set-Cookie line with the id and signature replaced, and Expires rounded to the minute. */
function normalizeCookie(line: string | undefined): string | undefined {
  if (line === undefined) return undefined;
  return line
    .replace(ID_PATTERN, "$1=<signed id>")
    .replace(
      /Expires=[^;]+/,
      (match) => `Expires=<${Math.round((Date.parse(match.slice(8)) - Date.now()) / 60_000)} min>`,
    );
}

/** Stored data without Tessera's own metadata and with times rounded away. */
function normalizeStore(store: Inspectable): unknown[] {
  return Object.values(store.dump())
    .map((record) => {
      const {
        __tessera: _meta,
        cookie,
        ...data
      } = record as { __tessera?: unknown; cookie: Record<string, unknown> };
      const { expires, originalMaxAge, ...rest } = cookie;
      return {
        cookie: {
          ...rest,
          // express-session's originalMaxAge can lose a millisecond to the clock; ours does not.
          originalMaxAge:
            typeof originalMaxAge === "number"
              ? Math.round(originalMaxAge / 100) * 100
              : originalMaxAge,
          expires: expires === null || expires === undefined ? expires : "<date>",
        },
        ...data,
      };
    })
    .sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)));
}

interface Step {
  method: "get" | "post";
  path: string;
}

async function send(
  side: { app: Express; cookie: string },
  step: Step,
  name: string,
): Promise<Response> {
  let req = request(side.app)[step.method](step.path);
  if (side.cookie) req = req.set("Cookie", side.cookie);
  const res = await req;
  const line = setCookie(res, name);
  if (line !== undefined) {
    const value = line.split(";")[0] as string;
    side.cookie = value.endsWith("=") ? "" : value;
  }
  return res;
}

async function compare(options: Options, steps: Step[]): Promise<void> {
  const { their, our } = pair(options);
  const name = options.name ?? "connect.sid";
  for (const step of steps) {
    const a = await send(their, step, name);
    const b = await send(our, step, name);
    const where = `${step.method.toUpperCase()} ${step.path} with ${JSON.stringify(options)}`;
    assert.equal(b.status, a.status, `status of ${where}`);
    assert.equal(b.text, a.text, `body of ${where}`);
    assert.equal(
      normalizeCookie(setCookie(b, name)),
      normalizeCookie(setCookie(a, name)),
      `Set-Cookie of ${where}`,
    );
    assert.deepEqual(
      normalizeStore(our.store),
      normalizeStore(their.store),
      `stored data after ${where}`,
    );
  }
}

const GET = (path: string): Step => ({ method: "get", path });
const POST = (path: string): Step => ({ method: "post", path });

const journey = [
  GET("/noop"),
  GET("/read"),
  GET("/write"),
  GET("/read"),
  GET("/write"),
  GET("/noop"),
  POST("/regenerate"),
  GET("/read"),
  GET("/write"),
  GET("/max-age"),
];

describe("compatibility with express-session", () => {
  const variants: [string, Options][] = [
    ["resave false, saveUninitialized false", {}],
    ["resave true", { resave: true }],
    ["saveUninitialized true", { saveUninitialized: true }],
    ["rolling true", { rolling: true, cookie: { maxAge: 60_000 } }],
    [
      "rolling with saveUninitialized",
      { rolling: true, saveUninitialized: true, cookie: { maxAge: 60_000 } },
    ],
    ["cookie maxAge", { cookie: { maxAge: 3_600_000 } }],
    ["a custom name", { name: "app.sid" }],
    [
      "every cookie attribute",
      {
        cookie: {
          path: "/",
          domain: "example.test",
          sameSite: "strict",
          httpOnly: false,
          secure: false,
          partitioned: true,
          priority: "high",
          maxAge: 120_000,
        },
      },
    ],
    ["sameSite auto on plain HTTP", { cookie: { sameSite: "auto", secure: "auto" } }],
    ["cookie options from a function", { cookie: () => ({ maxAge: 60_000, sameSite: "lax" }) }],
  ];
  for (const [what, options] of variants) {
    it(`the same journey gives the same cookies and stored data: ${what}`, () =>
      compare(options, journey));
  }

  it("unset: 'destroy' removes the session as express-session does, and also clears the cookie", async () => {
    await compare({ unset: "destroy" }, [GET("/write"), GET("/read")]);
    const { their, our } = pair({ unset: "destroy" });
    for (const side of [their, our]) await send(side, GET("/write"), "connect.sid");
    const a = await send(their, GET("/unset"), "connect.sid");
    const b = await send(our, GET("/unset"), "connect.sid");
    assert.deepEqual(normalizeStore(our.store), normalizeStore(their.store));
    assert.deepEqual(normalizeStore(our.store), []);
    assert.equal(setCookie(a), undefined);
    assert.match(setCookie(b) ?? "", /^connect\.sid=; Path=\/; Expires=Thu, 01 Jan 1970/);
  });

  it("unset: 'keep' keeps it", () =>
    compare({ unset: "keep" }, [GET("/write"), GET("/unset"), GET("/read")]));

  it("expired sessions are gone for both", async () => {
    const { their, our } = pair({ cookie: { maxAge: 150 } });
    for (const side of [their, our]) await send(side, GET("/write"), "connect.sid");
    await new Promise((resolve) => setTimeout(resolve, 200));
    for (const side of [their, our]) {
      const res = await send(side, GET("/read"), "connect.sid");
      assert.equal(res.text, "none");
    }
  });

  it("destroy: the same store state; Tessera also clears the cookie (express-session #241)", async () => {
    const { their, our } = pair({});
    for (const side of [their, our]) await send(side, GET("/write"), "connect.sid");
    const a = await send(their, POST("/destroy"), "connect.sid");
    const b = await send(our, POST("/destroy"), "connect.sid");
    assert.equal(a.text, b.text);
    assert.deepEqual(normalizeStore(our.store), normalizeStore(their.store));
    assert.equal(setCookie(a), undefined);
    assert.match(setCookie(b) ?? "", /^connect\.sid=; Path=\/; Expires=Thu, 01 Jan 1970/);
  });

  describe("cookies cross over in both directions", () => {
    for (const [issuer, reader] of [
      ["express-session", "Tessera"],
      ["Tessera", "express-session"],
    ] as const) {
      for (const readerSecret of [SECRET, [OLD_SECRET, SECRET]] as const) {
        it(`a cookie from ${issuer} is accepted by ${reader} with ${Array.isArray(readerSecret) ? "[S2, S]" : "S"}`, async () => {
          const store = memoryStore();
          const make = (which: string, secret: string | readonly string[]) => {
            const app = express();
            const options = { secret, store, resave: false, saveUninitialized: false };
            app.use(which === "Tessera" ? tessera(options as never) : expressSession(options));
            return routes(app);
          };
          const first = await request(make(issuer, SECRET)).get("/write");
          const cookie = (setCookie(first) ?? "").split(";")[0] as string;
          await request(make(reader, readerSecret)).get("/read").set("Cookie", cookie).expect("1");
        });
      }
    }
  });

  describe("stores written for express-session work under Tessera", () => {
    const stores: [string, () => EventEmitter][] = [
      ["express-session's own MemoryStore", () => new expressSession.MemoryStore()],
      [
        "a store built with Store.call(this) and util.inherits",
        () => new (OldStyleStore as unknown as new () => EventEmitter)(),
      ],
      ["a hand-written callback store", handWritten],
    ];
    for (const [what, make] of stores) {
      it(what, async () => {
        const app = express();
        app.use(
          tessera({
            secret: SECRET,
            store: make() as never,
            resave: false,
            saveUninitialized: false,
          }),
        );
        routes(app);
        const first = await request(app).get("/write").expect("1");
        const cookie = (setCookie(first) ?? "").split(";")[0] as string;
        await request(app).get("/write").set("Cookie", cookie).expect("2");
        const regenerated = await request(app)
          .post("/regenerate")
          .set("Cookie", cookie)
          .expect("regenerated");
        const next = (setCookie(regenerated) ?? "").split(";")[0] as string;
        await request(app).get("/read").set("Cookie", cookie).expect("none");
        await request(app).get("/read").set("Cookie", next).expect("none");
        await request(app).post("/destroy").set("Cookie", next).expect("destroyed");
      });
    }

    it("requests go on without a session while the store says it is disconnected", async () => {
      const store = new expressSession.MemoryStore();
      const app = express();
      app.use(
        tessera({ secret: SECRET, store: store as never, resave: false, saveUninitialized: false }),
      );
      app.get("/", (req, res) => {
        res.send(req.session === undefined ? "no session" : "session");
      });
      store.emit("disconnect");
      await request(app).get("/").expect("no session");
      store.emit("connect");
      await request(app).get("/").expect("session");
    });
  });
});

function handWritten(): EventEmitter {
  const sessions = new Map<string, string>();
  return Object.assign(new EventEmitter(), {
    get(id: string, callback: (error: unknown, session?: unknown) => void) {
      setImmediate(() => {
        const json = sessions.get(id);
        callback(null, json === undefined ? null : JSON.parse(json));
      });
    },
    set(id: string, session: unknown, callback: (error?: unknown) => void) {
      setImmediate(() => {
        sessions.set(id, JSON.stringify(session));
        callback();
      });
    },
    destroy(id: string, callback: (error?: unknown) => void) {
      setImmediate(() => {
        sessions.delete(id);
        callback();
      });
    },
  });
}
