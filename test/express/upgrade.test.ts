// Sessions on WebSockets (express-session#592, websockets/ws#906 and #1406): the server's
// `upgrade` handler reads the session of the login cookie with `sessions.forUpgrade(req)`, over a
// real node:http server, Express, and the `ws` package; the socket sees a logout made over HTTP.
import assert from "node:assert/strict";
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, it, mock } from "node:test";
import express from "express";
import { createClient } from "redis";
import request from "supertest";
import { WebSocket, WebSocketServer } from "ws";
import type { UpgradeSession } from "../../src/core/upgrade.js";
import { revokeAllSessions } from "../../src/core/users.js";
import { type SessionMiddleware, session } from "../../src/express/index.js";
import type { Store } from "../../src/store/types.js";
import { MemoryStore } from "../../src/stores/memory.js";
import { RedisStore } from "../../src/stores/redis.js";
import { cookiePair, SECRET, SIGNED } from "../helpers/http.js";
import { needServer, REDIS_URL, uniqueName } from "../helpers/services.js";

declare module "../../src/core/session.js" {
  interface SessionData {
    /** Keys of their own: SessionData merges across the whole test program. */
    socketUser?: string;
    socketCount?: number;
  }
}

const MAX_AGE_MS = 100_000;
const KEEP_ALIVE_MS = 60_000;

/** An Express app with login and logout over HTTP, and a WebSocket server on its upgrades. */
class Harness {
  readonly sessions: SessionMiddleware;
  readonly server: Server;
  readonly wss = new WebSocketServer({ noServer: true });
  /** The handles the upgrade handler made, last one last. */
  readonly handles: UpgradeSession[] = [];
  private readonly sockets = new Set<WebSocket>();

  constructor(readonly store: Store) {
    this.sessions = session({
      secret: SECRET,
      store,
      resave: false,
      saveUninitialized: false,
      cookie: { maxAge: MAX_AGE_MS },
    });
    const app = express();
    app.use(this.sessions);
    app.post("/login/:user", async (req, res) => {
      await req.session.regenerate();
      req.session.socketUser = req.params.user;
      req.session.setUser(req.params.user);
      res.sendStatus(204);
    });
    app.post("/logout", async (req, res) => {
      await req.session.destroy();
      res.sendStatus(204);
    });
    app.post("/logout-everywhere", async (req, res) => {
      res.send(String(await revokeAllSessions(req)));
    });
    app.get("/count", (req, res) => {
      res.send(String(req.session.socketCount ?? 0));
    });
    this.server = createServer(app);
    this.server.on("upgrade", (req: IncomingMessage, socket, head) => {
      this.sessions.forUpgrade(req, { keepAliveMs: KEEP_ALIVE_MS }).then(
        (handle) => {
          if (handle?.session?.socketUser === undefined) {
            socket.end(
              "HTTP/1.1 401 Unauthorized\r\nConnection: close\r\nContent-Length: 0\r\n\r\n",
            );
            return;
          }
          this.handles.push(handle);
          this.wss.handleUpgrade(req, socket, head, (ws) => this.connected(ws, handle));
        },
        () => socket.end("HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\n\r\n"),
      );
    });
  }

  /** Sends the user when the socket opens, and the user as the store has it now on each message. */
  private connected(ws: WebSocket, handle: UpgradeSession): void {
    ws.send(JSON.stringify({ user: handle.session?.socketUser }));
    ws.on("message", async (data) => {
      if (String(data) === "count") {
        const current = handle.session;
        if (current === undefined) return ws.send(JSON.stringify({ count: null }));
        current.socketCount = (current.socketCount ?? 0) + 1;
        await current.save();
        return ws.send(JSON.stringify({ count: current.socketCount }));
      }
      const current = await handle.current();
      ws.send(JSON.stringify({ user: current?.socketUser ?? null }));
    });
  }

  async listen(): Promise<void> {
    await new Promise<void>((resolve) => this.server.listen(0, "127.0.0.1", resolve));
  }

  get url(): string {
    return `ws://127.0.0.1:${(this.server.address() as AddressInfo).port}/socket`;
  }

  /** Logs `user` in over HTTP: the Cookie header the browser would send back. */
  async login(user: string): Promise<string> {
    return cookiePair(await request(this.server).post(`/login/${user}`).expect(204));
  }

  /**
   * Opens a WebSocket with `cookie`: the socket, its first message, and the upgrade response's
   * Set-Cookie header; or the status of the refused upgrade.
   */
  open(
    cookie?: string,
  ): Promise<
    | { ws: WebSocket; first: unknown; setCookie: string[] | undefined }
    | { refused: number | undefined }
  > {
    const headers = cookie === undefined ? {} : { Cookie: cookie };
    const ws = new WebSocket(this.url, { headers });
    this.sockets.add(ws);
    let setCookie: string[] | undefined;
    ws.once("upgrade", (res) => {
      setCookie = res.headers["set-cookie"];
    });
    return new Promise((resolve, reject) => {
      ws.once("unexpected-response", (_req, res) => {
        res.resume();
        ws.terminate();
        resolve({ refused: res.statusCode });
      });
      ws.once("message", (data) => resolve({ ws, first: JSON.parse(String(data)), setCookie }));
      ws.once("error", reject);
    });
  }

  /** Opens a WebSocket that must be accepted. */
  async accepted(
    cookie: string,
  ): Promise<{ ws: WebSocket; first: unknown; setCookie: string[] | undefined }> {
    const opened = await this.open(cookie);
    if ("refused" in opened) assert.fail(`the upgrade was refused with ${opened.refused}`);
    return opened;
  }

  close(): Promise<void> {
    for (const ws of this.sockets) ws.terminate();
    for (const handle of this.handles) handle.close();
    this.wss.close();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

/** Sends `message` and answers the server's reply. */
function ask(ws: WebSocket, message: string): Promise<unknown> {
  return new Promise((resolve, reject) => {
    ws.once("message", (data) => resolve(JSON.parse(String(data))));
    ws.once("error", reject);
    ws.send(message);
  });
}

/** Closes the client side and resolves once the server has seen the socket close. */
async function closeFromClient(harness: Harness, ws: WebSocket): Promise<void> {
  const [server] = [...harness.wss.clients];
  const closed = new Promise<void>((resolve) => server?.once("close", () => resolve()));
  ws.close();
  await closed;
}

describe("sessions.forUpgrade › with a MemoryStore", { timeout: 20_000 }, () => {
  const store = new MemoryStore();
  const harness = new Harness(store);
  before(() => harness.listen());
  after(() => harness.close());

  it("loads the session of the login cookie, and sends no cookie on the upgrade", async () => {
    const cookie = await harness.login("alice");
    const { first, setCookie } = await harness.accepted(cookie);
    assert.deepEqual(first, { user: "alice" });
    assert.equal(setCookie, undefined);
  });

  it("answers undefined without a cookie, with a tampered one, or for an unknown id, and stores nothing", async () => {
    const cookie = await harness.login("bob");
    const before = await store.length();
    const tampered = `${cookie.slice(0, -1)}${cookie.endsWith("A") ? "B" : "A"}`;
    assert.deepEqual(await harness.open(), { refused: 401 });
    assert.deepEqual(await harness.open(tampered), { refused: 401 });
    assert.deepEqual(await harness.open(`connect.sid=${encodeURIComponent(SIGNED)}`), {
      refused: 401,
    });
    assert.equal(await store.length(), before);
  });

  it("sees a logout over HTTP on the next access", async () => {
    const cookie = await harness.login("carol");
    const { ws } = await harness.accepted(cookie);
    assert.deepEqual(await ask(ws, "who"), { user: "carol" });
    await request(harness.server).post("/logout").set("Cookie", cookie).expect(204);
    assert.deepEqual(await ask(ws, "who"), { user: null });
    assert.equal(harness.handles.at(-1)?.session, undefined);
  });

  it("sees revokeAllSessions from another device on the next access", async () => {
    const phone = await harness.login("dave");
    const laptop = await harness.login("dave");
    const { ws } = await harness.accepted(phone);
    await request(harness.server).post("/logout-everywhere").set("Cookie", laptop).expect(200, "2");
    assert.deepEqual(await ask(ws, "who"), { user: null });
  });

  it("saves changes made over the socket with session.save()", async () => {
    const cookie = await harness.login("erin");
    const { ws } = await harness.accepted(cookie);
    assert.deepEqual(await ask(ws, "count"), { count: 1 });
    assert.deepEqual(await ask(ws, "count"), { count: 2 });
    await request(harness.server).get("/count").set("Cookie", cookie).expect(200, "2");
  });

  it("refuses a keepAliveMs that is not a period", async () => {
    const req = { headers: {}, socket: {} } as IncomingMessage;
    await assert.rejects(harness.sessions.forUpgrade(req, { keepAliveMs: -1 }), {
      code: "ERR_OPTION",
    });
  });
});

describe("sessions.forUpgrade › keepAliveMs", { timeout: 20_000 }, () => {
  // The store's clock and node's intervals move only when the test says: a session of
  // MAX_AGE_MS outlives it while the socket is open, and expires once it is closed.
  let clock = Date.now();
  const store = new MemoryStore({ now: () => clock });
  const harness = new Harness(store);
  before(() => harness.listen());
  after(async () => {
    mock.timers.reset();
    await harness.close();
  });

  it("touches the session while the socket is open, and stops when it closes", async () => {
    const cookie = await harness.login("frank");
    mock.timers.enable({ apis: ["setInterval"] });
    const { ws } = await harness.accepted(cookie);
    const id = (harness.handles.at(-1) as UpgradeSession).id;
    for (let minute = 1; minute <= 3; minute++) {
      clock += KEEP_ALIVE_MS;
      mock.timers.tick(KEEP_ALIVE_MS);
      // A round trip, so that the touch the interval started is done.
      assert.deepEqual(await ask(ws, "who"), { user: "frank" });
    }
    // Three minutes after login, well past MAX_AGE_MS: still there, touched a minute ago.
    assert.notEqual(await store.get(id), undefined);
    await closeFromClient(harness, ws);
    const lastTouch = clock;
    clock = lastTouch + MAX_AGE_MS - 10_000;
    mock.timers.tick(KEEP_ALIVE_MS * 2);
    clock = lastTouch + MAX_AGE_MS + 1;
    // A touch after the close would have kept it until lastTouch + 190 s.
    assert.equal(await store.get(id), undefined);
  });

  it("sees a session that expired while the socket was open as gone", async () => {
    const cookie = await harness.login("gina");
    const { ws } = await harness.accepted(cookie);
    clock += MAX_AGE_MS + 1;
    assert.deepEqual(await ask(ws, "who"), { user: null });
  });
});

const redisUp = await needServer("Redis", REDIS_URL);

describe("sessions.forUpgrade › with a RedisStore", { skip: !redisUp, timeout: 20_000 }, () => {
  const client = createClient({ url: REDIS_URL });
  let harness: Harness;
  before(async () => {
    await client.connect();
    harness = new Harness(new RedisStore({ client, prefix: `${uniqueName("ws")}:` }));
    await harness.listen();
  });
  after(async () => {
    await harness?.close();
    await client.quit();
  });

  it("loads the session, saves changes, and sees a logout over HTTP", async () => {
    const cookie = await harness.login("grace");
    const { ws, first } = await harness.accepted(cookie);
    assert.deepEqual(first, { user: "grace" });
    assert.deepEqual(await ask(ws, "count"), { count: 1 });
    await request(harness.server).get("/count").set("Cookie", cookie).expect(200, "1");
    await request(harness.server).post("/logout").set("Cookie", cookie).expect(204);
    assert.deepEqual(await ask(ws, "who"), { user: null });
    assert.deepEqual(await harness.open(cookie), { refused: 401 });
  });
});
