import assert from "node:assert/strict";
import { createServer, request as httpRequest, type IncomingMessage, type Server } from "node:http";
import { connect, createServer as createHttp2Server, type Http2Server } from "node:http2";
import type { AddressInfo } from "node:net";
import { after, before, describe, it } from "node:test";
import { session } from "../../src/node/index.js";
import { failOn, JsonStore } from "../fixtures/stores.js";
import { SECRET } from "../helpers/http.js";

function listen(server: Server | Http2Server): Promise<number> {
  return new Promise((resolve) =>
    server.listen(0, "127.0.0.1", () => resolve((server.address() as AddressInfo).port)),
  );
}

function get(
  port: number,
  path: string,
  cookie?: string,
): Promise<{ status: number; body: string; setCookie: string[] }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      { host: "127.0.0.1", port, path, headers: cookie ? { cookie } : {} },
      (res: IncomingMessage) => {
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (chunk: string) => {
          body += chunk;
        });
        res.on("end", () =>
          resolve({
            status: res.statusCode ?? 0,
            body,
            setCookie: res.headers["set-cookie"] ?? [],
          }),
        );
      },
    );
    req.on("error", reject);
    req.end();
  });
}

describe("tessera/node", () => {
  describe("on node:http", () => {
    const store = new JsonStore();
    const sessions = session({ secret: SECRET, store, resave: false, saveUninitialized: false });
    const server = createServer(async (req, res) => {
      try {
        await sessions(req, res);
      } catch {
        res.statusCode = 503;
        res.end("store down");
        return;
      }
      const data = (req as unknown as { session: Record<string, number> }).session;
      data.views = (data.views ?? 0) + 1;
      res.end(`views: ${data.views}`);
    });
    let port = 0;
    before(async () => {
      port = await listen(server);
    });
    after(() => server.close());

    it("gives plain handlers the same req.session, kept across requests", async () => {
      const first = await get(port, "/");
      assert.equal(first.body, "views: 1");
      const cookie = (first.setCookie[0] ?? "").split(";")[0];
      const second = await get(port, "/", cookie);
      assert.equal(second.body, "views: 2");
      assert.equal(second.setCookie.length, 0);
    });

    it("works as connect-style middleware when given next", async () => {
      const middleware = session({
        secret: SECRET,
        store: new JsonStore(),
        resave: false,
        saveUninitialized: false,
      });
      const plain = createServer((req, res) => {
        middleware(req, res, (error) => {
          if (error) throw error;
          (req as unknown as { session: Record<string, unknown> }).session.seen = true;
          res.end("ok");
        });
      });
      const plainPort = await listen(plain);
      try {
        const res = await get(plainPort, "/");
        assert.equal(res.body, "ok");
        assert.equal(res.setCookie.length, 1);
      } finally {
        plain.close();
      }
    });

    it("answers with an error status itself when the final write fails and no next was given", async () => {
      const sessionsDown = session({
        secret: SECRET,
        store: failOn(new JsonStore(), ["set"]),
        resave: false,
        saveUninitialized: false,
      });
      const failing = createServer(async (req, res) => {
        await sessionsDown(req, res);
        (req as unknown as { session: Record<string, unknown> }).session.x = 1;
        res.end("should not be seen");
      });
      const failingPort = await listen(failing);
      try {
        const res = await get(failingPort, "/");
        assert.equal(res.status, 500);
        assert.doesNotMatch(res.body, /should not be seen/);
      } finally {
        failing.close();
      }
    });
  });

  describe("on node:http2's compatibility API (express-session #888)", () => {
    const store = new JsonStore();
    const sessions = session({ secret: SECRET, store, resave: false, saveUninitialized: false });
    const server = createHttp2Server(async (req, res) => {
      await sessions(req, res);
      const data = (req as unknown as { session: Record<string, number> }).session;
      data.views = (data.views ?? 0) + 1;
      res.setHeader("content-type", "text/plain");
      res.end(`views: ${data.views}`);
    });
    let port = 0;
    before(async () => {
      port = await listen(server);
    });
    after(() => server.close());

    function get2(cookie?: string): Promise<{ body: string; setCookie: string[] }> {
      return new Promise((resolve, reject) => {
        const client = connect(`http://127.0.0.1:${port}`);
        client.on("error", reject);
        const stream = client.request({ ":path": "/", ...(cookie ? { cookie } : {}) });
        let setCookie: string[] = [];
        let body = "";
        stream.on("response", (headers) => {
          const value = headers["set-cookie"];
          setCookie = value === undefined ? [] : Array.isArray(value) ? value : [value];
        });
        stream.setEncoding("utf8");
        stream.on("data", (chunk: string) => {
          body += chunk;
        });
        stream.on("end", () => {
          client.close();
          resolve({ body, setCookie });
        });
        stream.end();
      });
    }

    it("sets the cookie and keeps the session", async () => {
      const first = await get2();
      assert.equal(first.body, "views: 1");
      assert.equal(first.setCookie.length, 1);
      const cookie = (first.setCookie[0] ?? "").split(";")[0];
      const second = await get2(cookie);
      assert.equal(second.body, "views: 2");
    });
  });
});
