import assert from "node:assert/strict";
import { createServer, IncomingMessage, ServerResponse } from "node:http";
import { Socket } from "node:net";
import { describe, it } from "node:test";
import express from "express";
import request from "supertest";
import { prepareForProperties } from "../../src/express/dictionary-mode.js";
import { session } from "../../src/express/index.js";
import { session as nodeSession } from "../../src/node/index.js";
import { MemoryStore } from "../../src/stores/memory.js";
import { SECRET } from "../helpers/http.js";

// Whether V8 puts these objects in dictionary mode is V8's business, and may change: bench/
// property-cost.ts prints it as a canary. These tests check what Tessera controls: which
// property is re-added, with which descriptor, and that nothing the app sees changes.

const OPTIONS = { secret: SECRET, resave: false, saveUninitialized: false } as const;

/** A request and response as Express makes them: circular references, then its prototypes. */
function expressPair(): { req: Record<string, unknown>; res: Record<string, unknown> } {
  const req = new IncomingMessage(new Socket()) as unknown as Record<string, unknown>;
  const res = new ServerResponse(req as unknown as IncomingMessage) as unknown as Record<
    string,
    unknown
  >;
  req.res = res;
  res.req = req;
  Object.setPrototypeOf(req, Object.create(IncomingMessage.prototype));
  Object.setPrototypeOf(res, Object.create(ServerResponse.prototype));
  return { req, res };
}

describe("prepareForProperties()", () => {
  it("re-adds req.res and res.req of Express's objects with their descriptors, keeping every value", () => {
    const { req, res } = expressPair();
    const before = { req: { ...req }, res: { ...res } };
    const keys = { req: Object.keys(req), res: Object.keys(res) };
    prepareForProperties(req, res);
    assert.deepEqual({ ...req }, before.req);
    assert.deepEqual({ ...res }, before.res);
    assert.equal(req.res, res);
    assert.equal(res.req, req);
    // Re-added: the key moved to the end, the rest kept their order.
    assert.deepEqual(Object.keys(req), [...keys.req.filter((key) => key !== "res"), "res"]);
    assert.deepEqual(Object.keys(res), [...keys.res.filter((key) => key !== "req"), "req"]);
    const descriptor = Object.getOwnPropertyDescriptor(req, "res");
    assert.deepEqual(descriptor, {
      value: res,
      writable: true,
      enumerable: true,
      configurable: true,
    });
  });

  it("leaves node's own requests and responses as they are", () => {
    const req = new IncomingMessage(new Socket());
    const res = new ServerResponse(req);
    (req as unknown as Record<string, unknown>).res = res;
    const before = [Object.keys(req), Object.keys(res)];
    prepareForProperties(req, res);
    assert.deepEqual([Object.keys(req), Object.keys(res)], before);
  });

  it("leaves frozen and sealed objects as they are", () => {
    for (const close of [Object.freeze, Object.seal]) {
      const { req, res } = expressPair();
      close(req);
      const keys = Object.keys(req);
      prepareForProperties(req, res);
      assert.deepEqual(Object.keys(req), keys);
      assert.equal(req.res, res);
    }
  });

  it("touches no property that is an accessor, read-only, hidden or absent", () => {
    const cases: PropertyDescriptor[] = [
      Object.getOwnPropertyDescriptor(
        {
          get res() {
            return "x";
          },
        },
        "res",
      ) as PropertyDescriptor,
      { value: "x", writable: false, configurable: true, enumerable: true },
      { value: "x", writable: true, configurable: false, enumerable: true },
      { value: "x", writable: true, configurable: true, enumerable: false },
    ];
    for (const descriptor of cases) {
      const { req, res } = expressPair();
      Object.defineProperty(req, "res", descriptor);
      delete res.req;
      prepareForProperties(req, res);
      assert.deepEqual(Object.getOwnPropertyDescriptor(req, "res"), descriptor);
      assert.equal(Object.hasOwn(res, "req"), false);
    }
  });

  it("is what Tessera's Express middleware does, so the app still sees req.res and res.req", async () => {
    const seen: { last: (string | undefined)[]; circular: boolean[] } = { last: [], circular: [] };
    const app = express();
    app.use((req, res, next) => {
      // What Express set before any middleware: the properties the middleware re-adds.
      seen.last.push(Object.keys(req).at(-1), Object.keys(res).at(-1));
      next();
    });
    app.use(session({ ...OPTIONS, store: new MemoryStore() }));
    app.get("/", (req, res) => {
      seen.circular.push(req.res === res, res.req === req);
      const reqKeys = Object.keys(req);
      const resKeys = Object.keys(res);
      // Moved behind the keys Express had set before the middleware ran.
      seen.last.push(
        reqKeys.indexOf("res") > reqKeys.indexOf("query") ? "res moved" : "res in place",
        resKeys.indexOf("req") > resKeys.indexOf("locals") ? "req moved" : "req in place",
      );
      req.session.views = (req.session.views ?? 0) + 1;
      res.send(String(req.session.views));
    });
    const agent = request.agent(app);
    await agent.get("/").expect(200, "1");
    await agent.get("/").expect(200, "2");
    assert.deepEqual(seen.circular, [true, true, true, true]);
    assert.ok(
      seen.last.includes("res moved") && seen.last.includes("req moved"),
      String(seen.last),
    );
  });

  it("leaves plain node requests and responses as they are under the node handler", async () => {
    // Node itself may keep a response in dictionary mode, so what is checked here is that the
    // handler re-added nothing: a re-added property (res.req) would move to the end of the keys.
    const orders: { before: string[]; after: string[] }[] = [];
    const handle = nodeSession({ ...OPTIONS, store: new MemoryStore() });
    const server = createServer(async (req, res) => {
      const before = [...Object.keys(req), "|", ...Object.keys(res)];
      await handle(req, res);
      const after = [...Object.keys(req), "|", ...Object.keys(res)];
      orders.push({ before, after: after.filter((key) => before.includes(key)) });
      res.end("ok");
    });
    await request(server).get("/").expect(200, "ok");
    const [order] = orders;
    assert.ok(order?.before.includes("req"), "node's response has its req property");
    assert.deepEqual(order?.after, order?.before);
  });
});
