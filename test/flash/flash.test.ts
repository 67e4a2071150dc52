import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import request from "supertest";
import { isTesseraError } from "../../src/core/errors.js";
import { type FlashOptions, flash } from "../../src/flash/index.js";
import { jsonErrors, makeApp, sessionUnderTest } from "../csrf/app.js";

const sessionMiddleware = sessionUnderTest();

/**
 * Routes over real HTTP: /add queues what the query says and answers the count, /read answers
 * `req.flash(type)`, /all answers `req.flash()`, /session shows what the session holds.
 */
function flashApp(options?: FlashOptions) {
  const app = makeApp(sessionMiddleware);
  app.use(flash(options));
  app.engine("txt", (path, locals, callback) => {
    // A tiny view engine: the template names the local to print as JSON.
    readFile(path, "utf8").then(
      (name) =>
        callback(null, JSON.stringify((locals as Record<string, unknown>)[name.trim()] ?? null)),
      callback,
    );
  });
  app.set("views", fileURLToPath(new URL("./fixtures", import.meta.url)));
  app.set("view engine", "txt");

  app.post("/add", (req, res) => {
    const { type, message } = req.body as { type: string; message: string | string[] };
    res.json({ count: req.flash(type, message) });
  });
  app.post("/login", (req, res) => {
    req.flash("error", "Wrong password for %s (%d tries left)", "ann@example.com", 2);
    res.redirect("/login");
  });
  app.get("/login", (req, res) => {
    res.json({ error: req.flash("error") });
  });
  app.get("/read/:type", (req, res) => {
    res.json(req.flash(req.params.type));
  });
  app.get("/all", (req, res) => {
    res.json(req.flash());
  });
  app.get("/session", (req, res) => {
    res.json({ flash: (req.session as unknown as Record<string, unknown>).flash ?? "absent" });
  });
  app.get("/page", (_req, res) => {
    res.render("page");
  });
  app.use(jsonErrors);
  return app;
}

async function add(agent: request.Agent, type: string, message: string | string[]) {
  const res = await agent.post("/add").send({ type, message }).expect(200);
  return (res.body as { count: number }).count;
}

describe("flash()", () => {
  describe("req.flash(type, message)", () => {
    it("queues messages and returns how many of that type are queued", async () => {
      const agent = request.agent(flashApp());
      assert.equal(await add(agent, "info", "one"), 1);
      assert.equal(await add(agent, "info", "two"), 2);
      assert.equal(await add(agent, "error", "bad"), 1);
      assert.equal(await add(agent, "info", ["three", "four"]), 4);
      const all = await agent.get("/all").expect(200);
      assert.deepEqual(all.body, { info: ["one", "two", "three", "four"], error: ["bad"] });
    });

    it("formats extra arguments with util.format, as connect-flash does", async () => {
      const agent = request.agent(flashApp());
      await agent.post("/login").expect(302).expect("location", "/login");
      const res = await agent.get("/login").expect(200);
      assert.deepEqual(res.body, { error: ["Wrong password for ann@example.com (2 tries left)"] });
    });

    it("reads when the message is undefined, as connect-flash does, but adds an empty one", async () => {
      const agent = request.agent(flashApp());
      await add(agent, "error", "first");
      const res = await agent.post("/add").send({ type: "error" }).expect(200);
      assert.deepEqual(res.body, { count: ["first"] });
      assert.equal(await add(agent, "error", ""), 1);
      assert.deepEqual((await agent.get("/read/error").expect(200)).body, [""]);
    });

    it("keeps messages under the session key flash, as connect-flash does", async () => {
      const agent = request.agent(flashApp());
      await add(agent, "info", "kept");
      const res = await agent.get("/session").expect(200);
      assert.deepEqual(res.body, { flash: { info: ["kept"] } });
    });
  });

  describe("req.flash(type)", () => {
    it("reads the messages of one type once: the next read is empty", async () => {
      const agent = request.agent(flashApp());
      await add(agent, "info", "hello");
      await add(agent, "error", "oops");
      assert.deepEqual((await agent.get("/read/info").expect(200)).body, ["hello"]);
      assert.deepEqual((await agent.get("/read/info").expect(200)).body, []);
      assert.deepEqual((await agent.get("/read/error").expect(200)).body, ["oops"]);
      assert.deepEqual((await agent.get("/session").expect(200)).body, { flash: "absent" });
    });

    it("survives a redirect and is gone after it is shown", async () => {
      const agent = request.agent(flashApp());
      await agent.post("/login").expect(302);
      assert.equal(((await agent.get("/login")).body as { error: string[] }).error.length, 1);
      assert.deepEqual((await agent.get("/login")).body, { error: [] });
    });

    it("does not read another session's messages", async () => {
      const app = flashApp();
      const mine = request.agent(app);
      await add(mine, "info", "mine");
      const theirs = request.agent(app);
      assert.deepEqual((await theirs.get("/read/info").expect(200)).body, []);
      assert.deepEqual((await mine.get("/read/info").expect(200)).body, ["mine"]);
    });

    it("treats a type named __proto__ as a plain type", async () => {
      const agent = request.agent(flashApp());
      assert.deepEqual((await agent.get("/read/__proto__").expect(200)).body, []);
      assert.equal(await add(agent, "__proto__", "odd"), 1);
      assert.deepEqual((await agent.get("/read/__proto__").expect(200)).body, ["odd"]);
    });
  });

  describe("req.flash()", () => {
    it("reads every type and clears them all", async () => {
      const agent = request.agent(flashApp());
      await add(agent, "info", "a");
      await add(agent, "warning", "b");
      assert.deepEqual((await agent.get("/all").expect(200)).body, { info: ["a"], warning: ["b"] });
      assert.deepEqual((await agent.get("/all").expect(200)).body, {});
    });

    it("writes no session when there is nothing to read", async () => {
      const res = await request(flashApp()).get("/all").expect(200);
      assert.deepEqual(res.body, {});
      assert.equal(res.headers["set-cookie"], undefined, "reading nothing started a session");
    });
  });

  describe("option › locals", () => {
    it("exposes every message to views and clears them when a view renders", async () => {
      const agent = request.agent(flashApp({ locals: "flash" }));
      await add(agent, "info", "rendered");
      const page = await agent.get("/page").expect(200);
      assert.deepEqual(JSON.parse(page.text), { info: ["rendered"] });
      assert.deepEqual(JSON.parse((await agent.get("/page").expect(200)).text), {});
    });

    it("leaves messages queued through a response that renders no view", async () => {
      const agent = request.agent(flashApp({ locals: "flash" }));
      await add(agent, "info", "later");
      await agent.get("/session").expect(200);
      assert.deepEqual(JSON.parse((await agent.get("/page").expect(200)).text), {
        info: ["later"],
      });
    });
  });

  describe("misconfiguration", () => {
    it("fails the request with ERR_OPTION when mounted without a session", async () => {
      const app = makeApp();
      app.use(flash());
      app.get("/", (_req, res) => {
        res.send("reached");
      });
      app.use(jsonErrors);
      const res = await request(app).get("/").expect(500);
      assert.equal((res.body as { code: string }).code, "ERR_OPTION");
      assert.match((res.body as { message: string }).message, /mount session\(\) before flash\(\)/);
    });

    it("throws ERR_OPTION at construction for wrong options", () => {
      for (const options of [{ local: "flash" }, { locals: "" }, { locals: 1 }, null]) {
        assert.throws(
          () => flash(options as FlashOptions),
          (error) => isTesseraError(error, "ERR_OPTION"),
          JSON.stringify(options),
        );
      }
    });
  });
});
