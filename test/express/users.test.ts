import assert from "node:assert/strict";
import { describe, it } from "node:test";
import express, { type Express } from "express";
import request from "supertest";
import { session } from "../../src/express/index.js";
import {
  isTesseraError,
  listUserSessions,
  revokeAllSessions,
  revokeOtherSessions,
  revokeUserSession,
  sessionHandle,
} from "../../src/index.js";
import { MemoryStore } from "../../src/stores/memory.js";
import { JsonStore } from "../fixtures/stores.js";
import { cookiePair, SECRET, sessionIdOf, shouldSetCookie } from "../helpers/http.js";

function site(store: object = new MemoryStore()): Express {
  const app = express();
  app.use(
    session({
      secret: SECRET,
      store: store as MemoryStore,
      resave: false,
      saveUninitialized: false,
      recordClient: true,
    }),
  );
  app.post("/login/:user", async (req, res) => {
    await req.session.regenerate();
    req.session.setUser(req.params.user);
    res.send("in");
  });
  app.get("/sessions", async (req, res, next) => {
    try {
      res.json(await listUserSessions(req));
    } catch (error) {
      next(error);
    }
  });
  app.post("/revoke/:handle", async (req, res) => {
    res.send(String(await revokeUserSession(req, req.params.handle)));
  });
  app.post("/others", async (req, res) => {
    res.send(String(await revokeOtherSessions(req)));
  });
  app.post("/everywhere", async (req, res) => {
    res.send(String(await revokeAllSessions(req)));
  });
  app.get("/who", (req, res) => {
    res.send(req.session.getUser() ?? "nobody");
  });
  app.use(
    (error: unknown, _req: express.Request, res: express.Response, _next: express.NextFunction) => {
      res.status(500).send(isTesseraError(error) ? error.code : "other");
    },
  );
  return app;
}

async function login(app: Express, user: string, agent = "test-agent"): Promise<string> {
  const res = await request(app).post(`/login/${user}`).set("User-Agent", agent).expect("in");
  return cookiePair(res);
}

describe("a user's sessions (log out everywhere)", () => {
  it("lists the user's sessions with times and client, without exposing ids", async () => {
    const app = site();
    const laptop = await login(app, "ada", "Laptop");
    await login(app, "ada", "Phone");
    await login(app, "grace", "Other");
    const res = await request(app).get("/sessions").set("Cookie", laptop).expect(200);
    const sessions = res.body as {
      handle: string;
      current: boolean;
      userAgent: string;
      createdAt: string;
    }[];
    assert.equal(sessions.length, 2);
    assert.deepEqual(sessions.map((s) => s.userAgent).sort(), ["Laptop", "Phone"]);
    assert.equal(sessions.filter((s) => s.current).length, 1);
    assert.equal(sessions.find((s) => s.current)?.userAgent, "Laptop");
    const laptopId = decodeURIComponent(laptop)
      .slice("connect.sid=s:".length)
      .split(".")[0] as string;
    assert.ok(!JSON.stringify(res.body).includes(laptopId), "no session id in the listing");
    assert.equal(sessions.find((s) => s.current)?.handle, sessionHandle(laptopId));
  });

  it("revokes one session by handle, and only the user's own", async () => {
    const app = site();
    const laptop = await login(app, "ada");
    const phone = await login(app, "ada");
    const other = await login(app, "grace");
    const otherHandle = (await request(app).get("/sessions").set("Cookie", other)).body[0]
      .handle as string;
    await request(app).post(`/revoke/${otherHandle}`).set("Cookie", laptop).expect("false");
    await request(app).get("/who").set("Cookie", other).expect("grace");

    const list = (await request(app).get("/sessions").set("Cookie", laptop)).body as {
      handle: string;
      current: boolean;
    }[];
    const phoneHandle = list.find((s) => !s.current)?.handle as string;
    await request(app).post(`/revoke/${phoneHandle}`).set("Cookie", laptop).expect("true");
    await request(app).get("/who").set("Cookie", phone).expect("nobody");
    await request(app).get("/who").set("Cookie", laptop).expect("ada");
  });

  it("logs out everywhere else, keeping the current session", async () => {
    const app = site();
    const laptop = await login(app, "ada");
    const phone = await login(app, "ada");
    const tablet = await login(app, "ada");
    await request(app).post("/others").set("Cookie", laptop).expect("2");
    await request(app).get("/who").set("Cookie", phone).expect("nobody");
    await request(app).get("/who").set("Cookie", tablet).expect("nobody");
    await request(app).get("/who").set("Cookie", laptop).expect("ada");
  });

  it("logs out everywhere, clearing the current cookie too", async () => {
    const app = site();
    const laptop = await login(app, "ada");
    await login(app, "ada");
    const res = await request(app).post("/everywhere").set("Cookie", laptop).expect("2");
    assert.match(shouldSetCookie(res), /^connect\.sid=;/);
    await request(app).get("/who").set("Cookie", laptop).expect("nobody");
  });

  it("a store without a user index gives a clear ERR_STORE_CAPABILITY", async () => {
    const app = site(new JsonStore());
    const cookie = await login(app, "ada");
    await request(app).get("/sessions").set("Cookie", cookie).expect(500, "ERR_STORE_CAPABILITY");
  });

  it("a session not tied to a user gives a clear error", async () => {
    const app = site();
    const res = await request(app).get("/sessions").expect(500, "ERR_OPTION");
    assert.equal(res.headers["set-cookie"], undefined);
  });

  it("setUser alone is a change that gets saved", async () => {
    const store = new MemoryStore();
    const app = site(store);
    const cookie = await login(app, "ada");
    const id = sessionIdOf({ headers: { "set-cookie": [cookie] } } as never);
    assert.deepEqual(await store.idsForUser("ada"), [id]);
  });
});
