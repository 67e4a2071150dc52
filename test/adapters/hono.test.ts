// tessera/hono: the journey suite over @hono/node-server, then what is Hono's own: the same app
// answering app.fetch() with no server, the context's variables following the session, errors
// reaching app.onError, the typing of `new Hono<SessionEnv>()`, and a door that loads no
// node:http.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { dirname, relative, resolve } from "node:path";
import { describe, it } from "node:test";
import { Hono } from "hono";
import ts from "typescript";
import { TesseraError } from "../../src/core/errors.js";
import {
  type CsrfEnv,
  csrf,
  type HonoSessionOptions,
  type SessionEnv,
  session,
} from "../../src/hono/index.js";
import { listUserSessions } from "../../src/index.js";
import { MemoryStore } from "../../src/stores/memory.js";
import { FailingStore } from "../fixtures/stores.js";
import { SECRET, SIGNED } from "../helpers/http.js";
import { honoApp, makeHonoApp } from "./apps/hono.js";
import { journey } from "./journey.js";

journey("Hono", makeHonoApp);

declare module "../../src/core/session.js" {
  interface SessionData {
    honoVisits: number;
  }
}

const BASE = { secret: SECRET, resave: false, saveUninitialized: false } as const;

/** The session cookie a response sets, as the `name=value` pair a browser sends back. */
function sessionCookieOf(response: Response): string | undefined {
  return response.headers
    .getSetCookie()
    .find((line) => line.startsWith("connect.sid="))
    ?.split(";")[0];
}

function shouldSetSessionCookie(response: Response): string {
  const cookie = sessionCookieOf(response);
  assert.ok(cookie, `no session cookie in ${JSON.stringify(response.headers.getSetCookie())}`);
  return cookie;
}

/** A request to the app, as `app.fetch` takes it, carrying `cookie` when given. */
function request(path: string, init: { method?: string; cookie?: string | undefined } = {}) {
  const headers = new Headers();
  if (init.cookie !== undefined) headers.set("cookie", init.cookie);
  return new Request(`http://localhost${path}`, { method: init.method ?? "GET", headers });
}

describe("Hono › app.fetch without a server", () => {
  it("the journey app counts 1, 2 with its cookie sent back, which is not set again", async () => {
    const store = new MemoryStore({ sweepIntervalMs: 0 });
    const app = honoApp({ ...BASE, store });
    const first = await app.fetch(request("/count"));
    assert.equal(first.status, 200);
    assert.deepEqual(await first.json(), { views: 1 });
    const cookie = shouldSetSessionCookie(first);
    const second = await app.fetch(request("/count", { cookie }));
    assert.deepEqual(await second.json(), { views: 2 });
    assert.equal(sessionCookieOf(second), undefined, "the cookie was sent again");
    assert.equal(await store.length(), 1);
    await store.close();
  });

  it("login and logout: a new id on regenerate(), the cookie cleared on destroy()", async () => {
    const app = honoApp(BASE);
    const anonymous = shouldSetSessionCookie(await app.fetch(request("/count")));
    const login = await app.fetch(
      request("/login?user=alice", { method: "POST", cookie: anonymous }),
    );
    const loggedIn = shouldSetSessionCookie(login);
    assert.notEqual(loggedIn, anonymous);
    const me = await app.fetch(request("/me", { cookie: loggedIn }));
    assert.deepEqual(await me.json(), { views: null, user: "alice", indexed: "alice" });
    const logout = await app.fetch(request("/logout", { method: "POST", cookie: loggedIn }));
    assert.equal(await logout.text(), "bye");
    assert.match(
      logout.headers.getSetCookie().join("\n"),
      /^connect\.sid=; .*Expires=Thu, 01 Jan 1970/m,
    );
  });
});

describe("Hono › the context's variables follow the session", () => {
  it("regenerate() and reload() replace c.get('session'); destroy() leaves it undefined", async () => {
    const store = new MemoryStore({ sweepIntervalMs: 0 });
    const app = new Hono<SessionEnv>();
    app.use(session({ ...BASE, store }));
    app.post("/follow", async (c) => {
      const first = c.get("session");
      await first.regenerate();
      const regenerated = c.get("session");
      regenerated.honoVisits = 1;
      await regenerated.save();
      await regenerated.reload();
      const reloaded = c.get("session");
      const facts = {
        regeneratedIsNew: regenerated !== first,
        idFollows: c.get("sessionID") === regenerated.id,
        reloadedIsNew: reloaded !== regenerated,
        reloadedKeepsData: reloaded.honoVisits === 1,
        varFollows: c.var.session === reloaded,
        store: c.get("sessionStore") === store,
      };
      await reloaded.destroy();
      return c.json({ ...facts, destroyed: c.get("session") === undefined });
    });
    const response = await app.fetch(request("/follow", { method: "POST" }));
    assert.deepEqual(await response.json(), {
      regeneratedIsNew: true,
      idFollows: true,
      reloadedIsNew: true,
      reloadedKeepsData: true,
      varFollows: true,
      store: true,
      destroyed: true,
    });
    assert.equal(await store.length(), 0, "the destroyed session is still stored");
    await store.close();
  });

  it('c.set("session", null) with unset: "destroy" removes the session from the store', async () => {
    const store = new MemoryStore({ sweepIntervalMs: 0 });
    const app = new Hono<SessionEnv>();
    app.use(session({ ...BASE, store, unset: "destroy" }));
    app.get("/visit", (c) => {
      c.get("session").honoVisits = 1;
      return c.text("ok");
    });
    app.get("/forget", (c) => {
      c.set("session", null as never);
      return c.text("ok");
    });
    const cookie = shouldSetSessionCookie(await app.fetch(request("/visit")));
    assert.equal(await store.length(), 1);
    await app.fetch(request("/forget", { cookie }));
    assert.equal(await store.length(), 0);
    await store.close();
  });

  it("listUserSessions(c.var) lists the user's sessions, this one marked current", async () => {
    const store = new MemoryStore({ sweepIntervalMs: 0 });
    const app = new Hono<SessionEnv>();
    app.use(session({ ...BASE, store }));
    app.post("/login", async (c) => {
      c.get("session").setUser("alice");
      await c.get("session").save();
      const sessions = await listUserSessions(c.var);
      return c.json(sessions.map(({ current }) => ({ current })));
    });
    const response = await app.fetch(request("/login", { method: "POST" }));
    assert.deepEqual(await response.json(), [{ current: true }]);
    await store.close();
  });
});

describe("Hono › the cookie", () => {
  it("is appended to the app's own Set-Cookie headers, which stay", async () => {
    const app = new Hono<SessionEnv>();
    app.use(session(BASE));
    app.get("/", (c) => {
      c.get("session").honoVisits = 1;
      c.header("Set-Cookie", "theme=dark; Path=/", { append: true });
      return c.text("ok");
    });
    const response = await app.fetch(request("/"));
    const lines = response.headers.getSetCookie();
    assert.equal(lines.length, 2, JSON.stringify(lines));
    assert.equal(lines[0], "theme=dark; Path=/");
    shouldSetSessionCookie(response);
  });

  it("is Secure only where the request's URL is https:, or a trusted proxy says so", async () => {
    const options: HonoSessionOptions = { ...BASE, cookie: { secure: true } };
    const app = new Hono<SessionEnv>();
    app.use(session(options));
    app.get("/", (c) => {
      c.get("session").honoVisits = 1;
      return c.text("ok");
    });
    const secure = await app.fetch(new Request("https://example.com/"));
    shouldSetSessionCookie(secure);
    assert.match(secure.headers.get("set-cookie") ?? "", /; Secure/);
    assert.equal(sessionCookieOf(await app.fetch(new Request("http://example.com/"))), undefined);

    const proxied = new Hono<SessionEnv>();
    proxied.use(session({ ...options, proxy: true }));
    proxied.get("/", (c) => {
      c.get("session").honoVisits = 1;
      return c.text("ok");
    });
    const forwarded = new Request("http://example.com/", {
      headers: { "x-forwarded-proto": "https" },
    });
    shouldSetSessionCookie(await proxied.fetch(forwarded));
  });

  it("genid and a cookie function are called with the Hono context", async () => {
    const app = new Hono<SessionEnv>();
    app.use(
      session({
        ...BASE,
        genid: (c) => `id-from-${c.req.header("x-tenant") ?? "nobody"}`,
        cookie: (c) => ({ path: "/", maxAge: c.req.path === "/long" ? 60_000 : 1_000 }),
      }),
    );
    app.get("/long", (c) => {
      c.get("session").honoVisits = 1;
      return c.text(c.get("sessionID"));
    });
    const response = await app.fetch(
      new Request("http://localhost/long", { headers: { "x-tenant": "acme" } }),
    );
    assert.equal(await response.text(), "id-from-acme");
    const expires = /Expires=([^;]+)/.exec(response.headers.get("set-cookie") ?? "")?.[1];
    const lifetimeMs = Date.parse(expires ?? "") - Date.now();
    assert.ok(lifetimeMs > 30_000, `the cookie lives ${lifetimeMs} ms, not the function's minute`);
  });
});

describe("Hono › csrf()", () => {
  it("takes the token from a form's _csrf field, and the handler can still read the form", async () => {
    const app = new Hono<SessionEnv & CsrfEnv>();
    app.use(session(BASE));
    app.use(csrf());
    app.get("/form", (c) => c.text(c.get("csrfToken")()));
    app.post("/form", async (c) => c.json(await c.req.parseBody()));
    app.onError((error, c) => c.json({ code: (error as TesseraError).code ?? null }, 403));
    const form = await app.fetch(request("/form"));
    const cookie = shouldSetSessionCookie(form);
    const token = await form.text();
    const post = (body: URLSearchParams) =>
      app.fetch(
        new Request("http://localhost/form", { method: "POST", headers: { cookie }, body }),
      );
    const accepted = await post(new URLSearchParams({ _csrf: token, name: "ada" }));
    assert.deepEqual(await accepted.json(), { _csrf: token, name: "ada" });
    const refused = await post(new URLSearchParams({ name: "ada" }));
    assert.deepEqual(await refused.json(), { code: "ERR_CSRF_INVALID" });
  });
});

describe("Hono › errors reach app.onError", () => {
  const unavailable = () => new TesseraError("ERR_STORE_UNAVAILABLE", "the test store is down");

  /** An app whose route would answer 201 with headers of its own, and whose onError names no status. */
  function appOn(store: FailingStore) {
    const app = new Hono<SessionEnv>();
    app.use(session({ ...BASE, store }));
    let ran = false;
    app.get("/save", (c) => {
      ran = true;
      c.get("session").honoVisits = 1;
      c.header("X-App", "saved");
      c.header("Set-Cookie", "theme=dark", { append: true });
      c.status(201);
      return c.json({ saved: true });
    });
    app.onError((error, c) => c.json({ code: (error as TesseraError).code }));
    return { app, ran: () => ran };
  }

  it("a store that fails while the session loads: the handler never runs; the status is the error's", async () => {
    const { app, ran } = appOn(new FailingStore(unavailable));
    // A returning visitor: a cookie that verifies, so the store is asked for its session.
    const response = await app.fetch(request("/save", { cookie: `connect.sid=${SIGNED}` }));
    assert.equal(response.status, 503);
    assert.deepEqual(await response.json(), { code: "ERR_STORE_UNAVAILABLE" });
    assert.equal(ran(), false, "the handler ran without a session");
  });

  it("a store that fails while the session is saved replaces the app's response, headers and all", async () => {
    const { app, ran } = appOn(new FailingStore(unavailable));
    const response = await app.fetch(request("/save"));
    assert.equal(ran(), true);
    assert.equal(response.status, 503, "the error's status, as onError named none");
    assert.deepEqual(await response.json(), { code: "ERR_STORE_UNAVAILABLE" });
    assert.equal(response.headers.get("x-app"), null, "the app's header leaked");
    assert.deepEqual(response.headers.getSetCookie(), [], "a cookie leaked");
  });

  it('saveErrorResponse: "app" is refused when session() is called', () => {
    assert.throws(
      () => session({ ...BASE, saveErrorResponse: "app" }),
      (error: unknown) => error instanceof TesseraError && error.code === "ERR_OPTION",
    );
  });
});

describe("Hono › types", () => {
  it("new Hono<SessionEnv>() types c.get('session') with SessionData; tsc checks this file", () => {
    const app = new Hono<SessionEnv>();
    app.get("/", (c) => {
      const visits: number | undefined = c.get("session").honoVisits;
      // @ts-expect-error: honoVisits is declared as a number
      c.get("session").honoVisits = "many";
      const id: string = c.get("sessionID");
      // @ts-expect-error: csrfToken is only there behind csrf(), with CsrfEnv
      c.get("csrfToken");
      return c.json({ visits, id });
    });
    // @ts-expect-error: the secret is required
    const missing: HonoSessionOptions = { resave: false };
    assert.ok(app && missing);
  });
});

/**
 * Every module `tessera/hono` loads at run time, following relative imports from
 * src/hono/index.ts, and the packages and builtins they load. `import type` is left out: it is
 * erased, and loads nothing.
 */
function runtimeGraph(entry: string): { files: string[]; external: Map<string, string[]> } {
  const files = new Set<string>();
  const external = new Map<string, string[]>();
  const visit = (file: string) => {
    if (files.has(file)) return;
    files.add(file);
    const source = ts.createSourceFile(file, readFileSync(file, "utf8"), ts.ScriptTarget.Latest);
    for (const statement of source.statements) {
      let specifier: ts.Expression | undefined;
      if (ts.isImportDeclaration(statement) && !statement.importClause?.isTypeOnly) {
        specifier = statement.moduleSpecifier;
      } else if (ts.isExportDeclaration(statement) && !statement.isTypeOnly) {
        specifier = statement.moduleSpecifier;
      }
      if (specifier === undefined || !ts.isStringLiteral(specifier)) continue;
      const name = specifier.text;
      if (name.startsWith(".")) {
        visit(resolve(dirname(file), name.replace(/\.js$/, ".ts")));
      } else {
        external.set(name, [...(external.get(name) ?? []), relative(".", file)]);
      }
    }
  };
  visit(resolve(entry));
  return { files: [...files].map((file) => relative(".", file)), external };
}

describe("Hono › the door loads no node:http", () => {
  const { files, external } = runtimeGraph("src/hono/index.ts");

  it("no module on its path loads node:http, node:net, express, or Hono itself", () => {
    for (const banned of ["node:http", "node:http2", "node:https", "node:net", "express", "hono"]) {
      assert.equal(
        external.get(banned),
        undefined,
        `${banned} is loaded by ${external.get(banned)}`,
      );
    }
    for (const file of files) {
      assert.match(file, /^src\/(core|store|stores\/memory\.ts|csrf|flash|hono)\b/, file);
    }
  });

  it("loads no node: module, only the cookie package, as docs/adapters/hono.md says", () => {
    // The builtins it uses are looked up at run time (src/core/builtins.ts), with fallbacks
    // where they are missing: hono-without-builtins.test.ts runs the door that way.
    assert.deepEqual(
      [...external.keys()].sort(),
      ["cookie"],
      "a change here must be written in docs/adapters/hono.md",
    );
  });
});
