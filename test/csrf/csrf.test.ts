import assert from "node:assert/strict";
import type { AddressInfo } from "node:net";
import { describe, it } from "node:test";
import request from "supertest";
import { isTesseraError } from "../../src/core/errors.js";
import { type CsrfOptions, csrf } from "../../src/csrf/index.js";
import { jsonErrors, makeApp, sessionUnderTest } from "./app.js";

const sessionMiddleware = sessionUnderTest();

/** An app with csrf() mounted: GET /form hands out a token, every other route answers "ok". */
function csrfApp(options?: CsrfOptions, configure?: (app: ReturnType<typeof makeApp>) => void) {
  const app = makeApp(sessionMiddleware);
  configure?.(app);
  app.use(csrf(options));
  app.get("/form", (req, res) => {
    res.json({ token: req.csrfToken() });
  });
  app.get("/plain", (_req, res) => {
    res.send("plain");
  });
  app.all("/submit", (_req, res) => {
    res.send("ok");
  });
  app.use(jsonErrors);
  return app;
}

/** The secret a masked token carries: the second half XORed with the first. */
function unmask(token: string): string {
  const bytes = Buffer.from(token, "base64url");
  assert.equal(bytes.length, 64, "a token is 64 bytes: a pad and the masked secret");
  const secret = Buffer.alloc(32);
  for (let i = 0; i < 32; i++) secret[i] = (bytes[i] ?? 0) ^ (bytes[32 + i] ?? 0);
  return secret.toString("base64url");
}

async function getToken(agent: request.Agent): Promise<string> {
  const res = await agent.get("/form").expect(200);
  const { token } = res.body as { token: string };
  assert.match(token, /^[A-Za-z0-9_-]{86}$/);
  return token;
}

function shouldRefuse(res: request.Response, reason: RegExp): void {
  assert.equal(res.status, 403, `expected 403, got ${res.status}: ${res.text}`);
  const body = res.body as { code: string; message: string };
  assert.equal(body.code, "ERR_CSRF_INVALID");
  assert.match(body.message, /^tessera: CSRF check failed/);
  assert.match(body.message, reason);
}

describe("csrf()", () => {
  describe("token", () => {
    it("is handed out by req.csrfToken() on GET, 86 base64url characters", async () => {
      const agent = request.agent(csrfApp());
      const token = await getToken(agent);
      assert.equal(unmask(token).length, 43);
    });

    it("is accepted from the _csrf form field", async () => {
      const agent = request.agent(csrfApp());
      const token = await getToken(agent);
      await agent.post("/submit").type("form").send({ _csrf: token, name: "a" }).expect(200, "ok");
    });

    it("is accepted from the x-csrf-token header, on every unsafe method", async () => {
      const agent = request.agent(csrfApp());
      const token = await getToken(agent);
      for (const method of ["post", "put", "patch", "delete"] as const) {
        await agent[method]("/submit").set("X-CSRF-Token", token).send({ a: 1 }).expect(200, "ok");
      }
    });

    it("keeps one secret for the whole session, masked differently in each response", async () => {
      const agent = request.agent(csrfApp());
      const first = await getToken(agent);
      const second = await getToken(agent);
      assert.notEqual(first, second, "each response carries a freshly masked token");
      assert.equal(unmask(first), unmask(second));
      await agent.post("/submit").set("x-csrf-token", first).expect(200);
      await agent.post("/submit").set("x-csrf-token", second).expect(200);
      await agent.post("/submit").set("x-csrf-token", first).expect(200);
      assert.equal(unmask(await getToken(agent)), unmask(first));
    });

    it("is different for another session", async () => {
      const app = csrfApp();
      const a = await getToken(request.agent(app));
      const b = await getToken(request.agent(app));
      assert.notEqual(unmask(a), unmask(b));
    });

    it("is masked once per request, however many forms ask for it", async () => {
      const app = makeApp(sessionMiddleware);
      app.use(csrf());
      app.get("/two", (req, res) => {
        res.json([req.csrfToken(), req.csrfToken()]);
      });
      const res = await request(app).get("/two").expect(200);
      const [a, b] = res.body as string[];
      assert.equal(a, b);
    });
    it("follows req.session.regenerate() on login: the new session gets a new secret", async () => {
      const app = makeApp(sessionMiddleware);
      app.use(csrf());
      app.get("/form", (req, res) => {
        res.json({ token: req.csrfToken() });
      });
      app.post("/login", (req, res, next) => {
        const before = req.csrfToken();
        req.session.regenerate((error) => {
          if (error) return next(error);
          res.json({ before, after: req.csrfToken() });
        });
      });
      app.post("/submit", (_req, res) => {
        res.send("ok");
      });
      app.use(jsonErrors);
      const agent = request.agent(app);
      const planted = await getToken(agent);
      const res = await agent.post("/login").set("x-csrf-token", planted).expect(200);
      const { before, after } = res.body as { before: string; after: string };
      assert.equal(unmask(before), unmask(planted));
      assert.notEqual(unmask(after), unmask(planted), "a new session, a new secret");
      await agent.post("/submit").set("x-csrf-token", after).expect(200);
      shouldRefuse(await agent.post("/submit").set("x-csrf-token", planted), /token is wrong/);
    });
  });

  describe("refuses", () => {
    it("a request without a token", async () => {
      const agent = request.agent(csrfApp());
      await getToken(agent);
      shouldRefuse(
        await agent.post("/submit").type("form").send({ name: "a" }),
        /no CSRF token\. Send the csrfToken\(\) value in the "x-csrf-token" header, or in the "_csrf" form field with the body parsed before csrf\(\) runs/,
      );
    });

    it("a wrong token, without echoing it", async () => {
      const agent = request.agent(csrfApp());
      const token = await getToken(agent);
      const wrong = Buffer.alloc(64, 7).toString("base64url");
      const res = await agent.post("/submit").set("x-csrf-token", wrong);
      shouldRefuse(res, /token is wrong/);
      const { message } = res.body as { message: string };
      assert.ok(!message.includes(wrong) && !message.includes(token));
      assert.ok(!message.includes(unmask(token)), "the session's secret is not in the message");
    });

    it("another session's token", async () => {
      const app = csrfApp();
      const mine = request.agent(app);
      await getToken(mine);
      const theirs = await getToken(request.agent(app));
      shouldRefuse(await mine.post("/submit").set("x-csrf-token", theirs), /token is wrong/);
    });

    it("a token of the wrong length, or with characters outside base64url", async () => {
      const agent = request.agent(csrfApp());
      const token = await getToken(agent);
      for (const bad of [
        token.slice(0, -1),
        `${token}A`,
        token.slice(0, 43),
        `${token.slice(0, -1)}=`,
      ]) {
        shouldRefuse(await agent.post("/submit").set("x-csrf-token", bad), /token is wrong/);
      }
    });

    it("a token when the session has none (the form came from an expired session)", async () => {
      const token = await getToken(request.agent(csrfApp()));
      const fresh = request.agent(csrfApp());
      shouldRefuse(
        await fresh.post("/submit").set("x-csrf-token", token),
        /session has no CSRF token/,
      );
    });

    it("a valid token sent from a cross-site Origin", async () => {
      const agent = request.agent(csrfApp());
      const token = await getToken(agent);
      const res = await agent
        .post("/submit")
        .set("Origin", "https://evil.example")
        .set("x-csrf-token", token);
      shouldRefuse(res, /Origin is not this site's origin/);
      shouldRefuse(
        await agent.post("/submit").set("Origin", "null").set("x-csrf-token", token),
        /Origin/,
      );
    });

    it("a valid token sent with Sec-Fetch-Site: cross-site or same-site", async () => {
      const agent = request.agent(csrfApp());
      const token = await getToken(agent);
      for (const site of ["cross-site", "same-site"]) {
        const res = await agent
          .post("/submit")
          .set("Sec-Fetch-Site", site)
          .set("x-csrf-token", token);
        shouldRefuse(res, new RegExp(`another site \\(Sec-Fetch-Site: ${site}\\)`));
      }
    });

    it("a token in the query string", async () => {
      const agent = request.agent(csrfApp());
      const token = await getToken(agent);
      shouldRefuse(await agent.post(`/submit?_csrf=${token}`), /no CSRF token/);
    });
  });

  describe("Origin", () => {
    it("accepts the request's own origin, and Sec-Fetch-Site same-origin or none", async () => {
      const app = csrfApp();
      const server = app.listen(0, "127.0.0.1");
      try {
        await new Promise((resolve) => server.once("listening", resolve));
        const { port } = server.address() as AddressInfo;
        const agent = request.agent(server);
        const token = await getToken(agent);
        await agent
          .post("/submit")
          .set("Origin", `http://127.0.0.1:${port}`)
          .set("Sec-Fetch-Site", "same-origin")
          .set("x-csrf-token", token)
          .expect(200);
        await agent
          .post("/submit")
          .set("Sec-Fetch-Site", "none")
          .set("x-csrf-token", token)
          .expect(200);
        // Another port is another origin.
        shouldRefuse(
          await agent
            .post("/submit")
            .set("Origin", `http://127.0.0.1:${port + 1}`)
            .set("x-csrf-token", token),
          /Origin/,
        );
      } finally {
        await new Promise((resolve) => server.close(resolve));
      }
    });

    it("follows req.protocol and req.host behind a trusted proxy", async () => {
      const app = csrfApp({}, (a) => a.set("trust proxy", "loopback"));
      const agent = request.agent(app);
      const token = await getToken(agent);
      const viaProxy = (origin: string) =>
        agent
          .post("/submit")
          .set("X-Forwarded-Proto", "https")
          .set("X-Forwarded-Host", "App.Example.com:443")
          .set("Origin", origin)
          .set("x-csrf-token", token);
      await viaProxy("https://app.example.com").expect(200);
      shouldRefuse(
        await viaProxy("http://app.example.com"),
        /make the framework trust the proxy \(Express's 'trust proxy'/,
      );
    });

    it("accepts an origin listed in allowedOrigins, even cross-site", async () => {
      const agent = request.agent(csrfApp({ allowedOrigins: ["https://admin.example.com"] }));
      const token = await getToken(agent);
      await agent
        .post("/submit")
        .set("Origin", "https://admin.example.com")
        .set("Sec-Fetch-Site", "cross-site")
        .set("x-csrf-token", token)
        .expect(200);
      // Listing an origin does not waive the token.
      shouldRefuse(
        await agent.post("/submit").set("Origin", "https://admin.example.com"),
        /no CSRF token/,
      );
      shouldRefuse(
        await agent
          .post("/submit")
          .set("Origin", "https://admin.example.com:8443")
          .set("x-csrf-token", token),
        /Origin/,
      );
    });
  });

  describe("safe methods", () => {
    it("are never checked: no token and a cross-site origin pass on GET, HEAD and OPTIONS", async () => {
      const agent = request.agent(csrfApp());
      for (const method of ["get", "head", "options"] as const) {
        const res = await agent[method]("/submit")
          .set("Origin", "https://evil.example")
          .set("Sec-Fetch-Site", "cross-site");
        assert.equal(res.status, 200, `${method} was checked`);
      }
    });

    it("write no session unless req.csrfToken() is called", async () => {
      const app = csrfApp();
      const untouched = await request(app).get("/plain").expect(200);
      assert.equal(untouched.headers["set-cookie"], undefined);
      const asked = await request(app).get("/form").expect(200);
      assert.ok(asked.headers["set-cookie"], "asking for a token starts the session");
    });
  });

  describe("option › rotate", () => {
    it("makes each token work once, and hands out a new secret after a success", async () => {
      const agent = request.agent(csrfApp({ rotate: true }));
      const token = await getToken(agent);
      await agent.post("/submit").set("x-csrf-token", token).expect(200);
      shouldRefuse(await agent.post("/submit").set("x-csrf-token", token), /token is wrong/);
      const next = await getToken(agent);
      assert.notEqual(unmask(next), unmask(token));
      await agent.post("/submit").set("x-csrf-token", next).expect(200);
    });
  });

  describe("options › fieldName, headerName, sessionKey", () => {
    it("read the token where they say and keep the secret under sessionKey", async () => {
      const app = makeApp(sessionMiddleware);
      app.use(
        csrf({ fieldName: "authenticity_token", headerName: "X-XSRF-Token", sessionKey: "xsrf" }),
      );
      app.get("/form", (req, res) => {
        const token = req.csrfToken();
        res.json({ token, stored: (req.session as unknown as Record<string, unknown>).xsrf });
      });
      app.post("/submit", (_req, res) => {
        res.send("ok");
      });
      app.use(jsonErrors);
      const agent = request.agent(app);
      const res = await agent.get("/form").expect(200);
      const { token, stored } = res.body as { token: string; stored: string };
      assert.equal(stored, unmask(token));
      await agent.post("/submit").type("form").send({ authenticity_token: token }).expect(200);
      await agent.post("/submit").set("x-xsrf-token", token).expect(200);
      shouldRefuse(await agent.post("/submit").set("x-csrf-token", token), /"x-xsrf-token" header/);
      shouldRefuse(
        await agent.post("/submit").type("form").send({ _csrf: token }),
        /no CSRF token/,
      );
    });
  });

  describe("misconfiguration", () => {
    it("throws ERR_OPTION at construction for wrong options", () => {
      const wrong: unknown[] = [
        { fieldname: "_csrf" },
        { fieldName: "" },
        { headerName: "x csrf" },
        { sessionKey: "cookie" },
        { rotate: "yes" },
        { allowedOrigins: "https://a.example" },
        { allowedOrigins: ["https://a.example/path"] },
        { allowedOrigins: ["https://a.example/"] },
        { allowedOrigins: ["a.example"] },
        { allowedOrigins: ["ftp://a.example"] },
        null,
      ];
      for (const options of wrong) {
        assert.throws(
          () => csrf(options as CsrfOptions),
          (error) =>
            isTesseraError(error, "ERR_OPTION") && error.message.startsWith("tessera: csrf()"),
          JSON.stringify(options),
        );
      }
    });

    it("fails every request with ERR_OPTION when mounted without a session", async () => {
      const app = makeApp();
      app.use(csrf());
      app.get("/", (_req, res) => {
        res.send("reached");
      });
      app.use(jsonErrors);
      const res = await request(app).get("/").expect(500);
      assert.equal((res.body as { code: string }).code, "ERR_OPTION");
      assert.match(
        (res.body as { message: string }).message,
        /no session on the request: session\(\) must run before csrf\(\)/,
      );
    });
  });
});
