import assert from "node:assert/strict";
import { createServer, IncomingMessage, ServerResponse } from "node:http";
import { Socket } from "node:net";
import { describe, it } from "node:test";
import { setFlagsFromString } from "node:v8";
import express from "express";
import request from "supertest";
import { prepareForProperties } from "../../src/core/shape.js";
import { session } from "../../src/express/index.js";
import { session as nodeSession } from "../../src/node/index.js";
import { MemoryStore } from "../../src/stores/memory.js";
import { SECRET } from "../helpers/http.js";

// V8's own test of an object's representation: false once it keeps its properties in a hash table.
setFlagsFromString("--allow-natives-syntax");
const hasFastProperties = new Function("object", "return %HasFastProperties(object)") as (
  object: object,
) => boolean;

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
  it("moves a request and response with a changed prototype to dictionary mode, keeping every value", () => {
    const { req, res } = expressPair();
    const before = { req: { ...req }, res: { ...res } };
    assert.equal(hasFastProperties(req), true);
    assert.equal(hasFastProperties(res), true);
    prepareForProperties(req, res);
    assert.equal(hasFastProperties(req), false);
    assert.equal(hasFastProperties(res), false);
    assert.deepEqual({ ...req }, before.req);
    assert.deepEqual({ ...res }, before.res);
    assert.equal(req.res, res);
    assert.equal(res.req, req);
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
    const before = [hasFastProperties(req), hasFastProperties(res), Object.keys(res)];
    prepareForProperties(req, res);
    assert.deepEqual([hasFastProperties(req), hasFastProperties(res), Object.keys(res)], before);
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
    const seen: { fast: boolean[]; circular: boolean[] } = { fast: [], circular: [] };
    const app = express();
    app.use(session({ ...OPTIONS, store: new MemoryStore() }));
    app.get("/", (req, res) => {
      seen.fast.push(hasFastProperties(req), hasFastProperties(res));
      seen.circular.push(req.res === res, res.req === req);
      req.session.views = (req.session.views ?? 0) + 1;
      res.send(String(req.session.views));
    });
    const agent = request.agent(app);
    await agent.get("/").expect(200, "1");
    await agent.get("/").expect(200, "2");
    assert.deepEqual(seen.fast, [false, false, false, false]);
    assert.deepEqual(seen.circular, [true, true, true, true]);
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
