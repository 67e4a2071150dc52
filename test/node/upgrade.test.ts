// `sessions.forUpgrade(req)` of tessera/node: a plain node:http server that logs in over HTTP
// and reads that session on a WebSocket upgrade (the `ws` package). The Express door's test,
// test/express/upgrade.test.ts, covers logout, revocation, saving and the keep-alive.
import assert from "node:assert/strict";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, it } from "node:test";
import request from "supertest";
import { WebSocket, WebSocketServer } from "ws";
import type { Session, SessionData } from "../../src/core/session.js";
import { session } from "../../src/node/index.js";
import { cookiePair, SECRET } from "../helpers/http.js";

describe("tessera/node › sessions.forUpgrade", { timeout: 20_000 }, () => {
  const sessions = session({ secret: SECRET, resave: false, saveUninitialized: false });
  const wss = new WebSocketServer({ noServer: true });
  const server = createServer(async (req, res) => {
    await sessions(req, res);
    const { session: current } = req as unknown as { session: Session & SessionData };
    await current.regenerate();
    (req as unknown as { session: Session & SessionData }).session.nodeSocketUser = "ada";
    res.statusCode = 204;
    res.end();
  });
  server.on("upgrade", async (req, socket, head) => {
    const handle = await sessions.forUpgrade(req);
    if (handle === undefined) {
      socket.end("HTTP/1.1 401 Unauthorized\r\nConnection: close\r\nContent-Length: 0\r\n\r\n");
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      ws.send(String(handle.session?.nodeSocketUser));
    });
  });
  const clients: WebSocket[] = [];
  before(() => new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve)));
  after(async () => {
    for (const ws of clients) ws.terminate();
    wss.close();
    await new Promise((resolve) => server.close(resolve));
  });

  /** The first message of a socket opened with `cookie`, or the status that refused it. */
  function open(cookie?: string): Promise<string | number | undefined> {
    const port = (server.address() as AddressInfo).port;
    const ws = new WebSocket(`ws://127.0.0.1:${port}/`, {
      headers: cookie === undefined ? {} : { Cookie: cookie },
    });
    clients.push(ws);
    return new Promise((resolve, reject) => {
      ws.once("unexpected-response", (_req, res) => {
        res.resume();
        resolve(res.statusCode);
      });
      ws.once("message", (data) => resolve(String(data)));
      ws.once("error", reject);
    });
  }

  it("reads the session of the login cookie, and refuses a socket without one", async () => {
    const cookie = cookiePair(await request(server).post("/login").expect(204));
    assert.equal(await open(cookie), "ada");
    assert.equal(await open(), 401);
  });
});

declare module "../../src/core/session.js" {
  interface SessionData {
    nodeSocketUser?: string;
  }
}
