// No session cookie crosses to another visitor through the app's own headers. Apps often answer
// with one module-level headers object (`res.writeHead(200, HEADERS)`) that already holds a
// Set-Cookie of their own. Writing the session cookie into that object would hand it to every
// later visitor (replaying it opens the first visitor's session) and grow the object without
// bound; replacing the app's cookie, or dropping ours, breaks the app or its logins. Each form
// of node's writeHead must send both cookies and leave what the app passed untouched, on
// tessera/express and on tessera/node alike.
import assert from "node:assert/strict";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { describe, it } from "node:test";
import express from "express";
import request from "supertest";
import { session as expressSession } from "../../src/express/index.js";
import { session as nodeSession } from "../../src/node/index.js";
import { MemoryStore } from "../../src/stores/memory.js";
import { cookiePair, SECRET, sessionIdOf, setCookies } from "../helpers/http.js";

type Respond = (req: IncomingMessage, res: ServerResponse) => void;
type Target = Parameters<typeof request>[0];

const OPTIONS = { secret: SECRET, resave: false, saveUninitialized: false } as const;

/** Marks the visitor's session as changed, so that its cookie goes out with the response. */
function touchSession(req: IncomingMessage): void {
  const data = (req as unknown as { session: Record<string, unknown> }).session;
  data.visits = Number(data.visits ?? 0) + 1;
}

const adapters: { name: string; serve(respond: Respond): Target }[] = [
  {
    name: "tessera/express",
    serve(respond) {
      const app = express();
      app.use(expressSession({ ...OPTIONS, store: new MemoryStore() }));
      app.get("/", (req, res) => {
        touchSession(req);
        respond(req, res);
      });
      return app;
    },
  },
  {
    name: "tessera/node",
    serve(respond) {
      const sessions = nodeSession({ ...OPTIONS, store: new MemoryStore() });
      return createServer(async (req, res) => {
        await sessions(req, res);
        touchSession(req);
        respond(req, res);
      });
    },
  },
];

/** The Set-Cookie lines of a response: the app's own, and the session cookie's. */
function splitCookies(res: request.Response): { app: string[]; session: string[] } {
  const lines = setCookies(res);
  return {
    app: lines.filter((line) => !line.startsWith("connect.sid=")),
    session: lines.filter((line) => line.startsWith("connect.sid=")),
  };
}

/** Asserts the response carries the app's cookies and exactly one session cookie. */
function shouldCarryBoth(res: request.Response, appCookies: string[]): string {
  const { app, session } = splitCookies(res);
  assert.deepEqual(app, appCookies, "the app's own cookies go out, unchanged");
  assert.equal(session.length, 1, `one session cookie, got ${JSON.stringify(session)}`);
  return sessionIdOf(res);
}

for (const adapter of adapters) {
  describe(`${adapter.name} › writeHead with the app's own Set-Cookie`, () => {
    it("one shared headers object: never modified, each visitor gets only their own session cookie", async () => {
      const SHARED = { "Content-Type": "text/plain", "Set-Cookie": "theme=dark; Path=/" };
      const before = structuredClone(SHARED);
      const server = adapter.serve((_req, res) => {
        res.writeHead(200, SHARED);
        res.end("hello");
      });
      const seen: string[] = [];
      for (let visitor = 0; visitor < 4; visitor++) {
        const res = await request(server).get("/").expect(200, "hello");
        const id = shouldCarryBoth(res, ["theme=dark; Path=/"]);
        assert.ok(!seen.includes(id), "a new visitor never gets an earlier visitor's session");
        seen.push(id);
        assert.deepEqual(SHARED, before, `the app's headers object after visitor ${visitor + 1}`);
      }
    });

    it("a shared object whose Set-Cookie is a list: both of the app's cookies and ours", async () => {
      const SHARED = { "set-cookie": ["theme=dark", "lang=en"], "content-type": "text/plain" };
      const before = structuredClone(SHARED);
      const server = adapter.serve((_req, res) => {
        res.writeHead(200, SHARED);
        res.end("hello");
      });
      const first = shouldCarryBoth(await request(server).get("/"), ["theme=dark", "lang=en"]);
      const second = shouldCarryBoth(await request(server).get("/"), ["theme=dark", "lang=en"]);
      assert.notEqual(first, second);
      assert.deepEqual(SHARED, before, "the app's list is not extended");
    });

    it("node's raw flat array form keeps both cookies, and the array is not modified", async () => {
      const RAW = ["Set-Cookie", "theme=dark", "Content-Type", "text/plain"];
      const before = [...RAW];
      const server = adapter.serve((_req, res) => {
        res.writeHead(200, RAW);
        res.end("hello");
      });
      for (let visitor = 0; visitor < 3; visitor++) {
        const res = await request(server).get("/").expect(200, "hello");
        assert.equal(res.headers["content-type"], "text/plain");
        shouldCarryBoth(res, ["theme=dark"]);
        assert.deepEqual(RAW, before, `the app's array after visitor ${visitor + 1}`);
      }
    });

    it("the form with a status message keeps both cookies and the object as it was", async () => {
      const SHARED = { "Set-Cookie": "theme=dark", "Content-Type": "text/plain" };
      const before = structuredClone(SHARED);
      const server = adapter.serve((_req, res) => {
        res.writeHead(200, "Fine Thanks", SHARED);
        res.end("hello");
      });
      for (let visitor = 0; visitor < 3; visitor++) {
        const res = await request(server).get("/").expect(200, "hello");
        // supertest's types leave out the raw response it keeps, which holds the status message.
        const raw = (res as unknown as { res: { statusMessage: string } }).res;
        assert.equal(raw.statusMessage, "Fine Thanks");
        shouldCarryBoth(res, ["theme=dark"]);
        assert.deepEqual(SHARED, before, `the app's headers object after visitor ${visitor + 1}`);
      }
    });

    it("returning visitors keep their own sessions, and get no one else's cookie", async () => {
      const SHARED = { "Set-Cookie": "theme=dark", "Content-Type": "text/plain" };
      const server = adapter.serve((req, res) => {
        const data = (req as unknown as { session: Record<string, unknown> }).session;
        res.writeHead(200, SHARED);
        res.end(String(data.visits));
      });
      const ada = await request(server).get("/").expect("1");
      const grace = await request(server).get("/").expect("1");
      assert.notEqual(shouldCarryBoth(ada, ["theme=dark"]), shouldCarryBoth(grace, ["theme=dark"]));
      for (const [visitor, count] of [
        [ada, "2"],
        [grace, "2"],
        [ada, "3"],
      ] as const) {
        const again = await request(server)
          .get("/")
          .set("Cookie", cookiePair(visitor))
          .expect(count);
        // A browser-session cookie of a known session is not sent again: only the app's goes out.
        assert.deepEqual(setCookies(again), ["theme=dark"]);
      }
      assert.deepEqual(SHARED, { "Set-Cookie": "theme=dark", "Content-Type": "text/plain" });
    });
  });
}
