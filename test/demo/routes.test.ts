// The demo's routes over HTTP, in process: what the browser suite does not show, such as the
// store left untouched by a wrong password, the redirect target checks, and the Redis and
// PostgreSQL store switches.
import assert from "node:assert/strict";
import { chmodSync, existsSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import pg from "pg";
import { createClient } from "redis";
import request, { type Agent, type Response } from "supertest";
import {
  COOKIE_NAME,
  createDemo,
  DEMO_USER,
  type Demo,
  IDLE_TIMEOUT_MS,
  RECENT_LOGIN_MS,
  REMEMBER_ME_MS,
} from "../../examples/demo/app.js";
import { loadConfig, resolveSecret } from "../../examples/demo/config.js";
import { deviceName } from "../../examples/demo/devices.js";
import { attributes, setCookie } from "../helpers/http.js";
import { DATABASE_URL, needServer, REDIS_URL, uniqueName } from "../helpers/services.js";
import { makeDataDir, removeDataDir } from "./demo-process.js";
import { postLogin, tokenOf } from "./forms.js";

const SECRET = "a demo secret that is long enough for production use";

/** The session id inside a `tessera.sid` Set-Cookie line. */
function idOf(res: Response): string {
  const line = setCookie(res, COOKIE_NAME);
  assert.ok(line, "expected a session cookie");
  const value = decodeURIComponent((line.split(";")[0] as string).slice(COOKIE_NAME.length + 1));
  return value.slice(2, value.lastIndexOf("."));
}

function logIn(agent: Agent, username = DEMO_USER.username, password = DEMO_USER.password) {
  return postLogin(agent, username, password);
}

describe("demo routes (SQLite)", () => {
  let demo: Demo;
  let dataDir: string;

  before(async () => {
    dataDir = makeDataDir();
    demo = await createDemo({ dataDir, secret: SECRET });
  });

  after(async () => {
    await demo.close();
    removeDataDir(dataDir);
  });

  test("log in › a wrong password shows a message and changes nothing", async () => {
    const agent = request.agent(demo.app);
    const form = await agent.get("/login").expect(200);
    assert.match(form.text, /demo-password/, "the demo user is shown on the login page");
    const id = idOf(form);
    const before = await demo.store.get(id);
    assert.ok(before, "the login form's session holds its CSRF secret");

    const wrong = await agent
      .post("/login")
      .type("form")
      .send({ username: "demo", password: "nope", _csrf: tokenOf(form) })
      .expect(401);
    assert.match(wrong.text, /Wrong username or password/);
    assert.equal(setCookie(wrong, COOKIE_NAME), undefined, "no new cookie");
    assert.deepEqual(await demo.store.get(id), before, "the stored session is untouched");
    await agent.get("/profile").expect(303).expect("Location", "/login?next=%2Fprofile");

    const unknown = await agent
      .post("/login")
      .type("form")
      .send({ username: "nobody", password: "nope", _csrf: tokenOf(form) })
      .expect(401);
    assert.match(unknown.text, /Wrong username or password/, "same message for unknown users");
  });

  test("log in › success regenerates the session and returns to the page that asked", async () => {
    const agent = request.agent(demo.app);
    await agent.get("/profile").expect(303).expect("Location", "/login?next=%2Fprofile");
    const form = await agent.get("/login?next=%2Fprofile").expect(200);
    const before = idOf(form);
    const res = await agent
      .post("/login")
      .type("form")
      .send({ ...DEMO_USER, next: "/profile", _csrf: tokenOf(form) })
      .expect(303)
      .expect("Location", "/profile");
    const after = idOf(res);
    assert.notEqual(after, before, "a new session id after login");
    assert.equal(await demo.store.get(before), undefined, "the old session is gone");
    assert.equal((await demo.store.get(after))?.__tessera?.user, "1", "tied to the user");
    const profile = await agent.get("/profile").expect(200);
    assert.match(profile.text, /Welcome back, demo/);
  });

  test("log in › remember me outlives the idle timeout, with a cookie as long as the session", async (t) => {
    t.mock.timers.enable({ apis: ["Date"], now: Date.now() });
    const login = async (remember: boolean) => {
      const agent = request.agent(demo.app);
      const form = await agent.get("/login").expect(200);
      assert.match(form.text, /name="remember" type="checkbox"/, "the form has the checkbox");
      const res = await agent
        .post("/login")
        .type("form")
        .send({ ...DEMO_USER, ...(remember ? { remember: "on" } : {}), _csrf: tokenOf(form) })
        .expect(303);
      const expires = attributes(setCookie(res, COOKIE_NAME) as string).expires as string;
      return { agent, id: idOf(res), expiresInMs: Date.parse(expires) - Date.now() };
    };
    const remembered = await login(true);
    const forgotten = await login(false);
    assert.ok(remembered.expiresInMs > REMEMBER_ME_MS - 1000, "a 30-day cookie");
    assert.ok(forgotten.expiresInMs < REMEMBER_ME_MS - 1000, "the usual cookie is shorter");
    const meta = (await demo.store.get(remembered.id))?.__tessera;
    assert.equal(meta?.idleTimeoutMs, 0, "no idle timeout for a remembered login");
    assert.equal(meta?.absoluteTimeoutMs, REMEMBER_ME_MS);
    assert.equal((await demo.store.get(forgotten.id))?.__tessera?.idleTimeoutMs, undefined);

    t.mock.timers.tick(IDLE_TIMEOUT_MS + 60_000);
    await forgotten.agent.get("/profile").expect(303).expect("Location", "/login?next=%2Fprofile");
    const profile = await remembered.agent.get("/profile").expect(200);
    assert.match(profile.text, /demo/);
  });

  test("log in › the return address must be a path on this site", async () => {
    for (const next of ["//evil.example/", "/\\evil.example", "https://evil.example/", "x"]) {
      const agent = request.agent(demo.app);
      const form = await agent.get("/login").expect(200);
      await agent
        .post("/login")
        .type("form")
        .send({ ...DEMO_USER, next, _csrf: tokenOf(form) })
        .expect(303)
        .expect("Location", "/");
    }
  });

  test("sign up › checks the input and refuses a taken name in any letter case", async () => {
    const agent = request.agent(demo.app);
    const form = await agent.get("/signup").expect(200);
    const send = (username: string, password: string) =>
      agent
        .post("/signup")
        .type("form")
        .send({ username, password, _csrf: tokenOf(form) });
    assert.match((await send("ab", "long enough").expect(400)).text, /3 to 32/);
    assert.match((await send("grace", "short").expect(400)).text, /at least 8/);
    assert.match((await send("DEMO", "long enough").expect(409)).text, /taken/);
    await send("grace", "long enough").expect(303).expect("Location", "/");
    const home = await agent.get("/").expect(200);
    assert.match(home.text, /Hello, <span data-testid="greeting-name">grace<\/span>/);
  });

  test("log out › a POST that destroys the session, replaces the cookie and says so", async () => {
    const agent = request.agent(demo.app);
    const login = await logIn(agent);
    const id = idOf(login);
    const page = await agent.get("/profile").expect(200);
    const res = await agent
      .post("/logout")
      .type("form")
      .send({ _csrf: tokenOf(page) })
      .expect(303)
      .expect("Location", "/")
      .expect("Clear-Site-Data", '"cache", "storage"');
    assert.equal(await demo.store.get(id), undefined, "the signed-in session is gone");
    const fresh = idOf(res);
    assert.notEqual(fresh, id);
    const record = await demo.store.get(fresh);
    assert.ok(record, "the new session holds the flash");
    assert.equal((record as Record<string, unknown>).user, undefined, "and no user");
    const home = await agent.get("/").expect(200);
    assert.match(home.text, /class="flash success"[^>]*>You are logged out/);
    assert.match(home.text, /Hello, guest!/);
    await agent.get("/logout").expect(404);
    const cart = await agent.get("/cart").expect(200);
    const again = await agent
      .post("/logout")
      .type("form")
      .send({ _csrf: tokenOf(cart) })
      .expect(303);
    assert.equal(again.headers["clear-site-data"], undefined, "nothing to clear when signed out");
  });

  test("log out › from the sessions page, logging out this browser clears site data too", async () => {
    const agent = request.agent(demo.app);
    await logIn(agent);
    const page = await agent.get("/sessions").expect(200);
    const handle = /class="card session current"[\s\S]*?name="handle" value="([^"]+)"/.exec(
      page.text,
    );
    assert.ok(handle, "the current session's form");
    await agent
      .post("/sessions/revoke")
      .type("form")
      .send({ handle: handle[1], _csrf: tokenOf(page) })
      .expect(303)
      .expect("Location", "/login")
      .expect("Clear-Site-Data", '"cache", "storage"');
    await agent.get("/profile").expect(303);
  });

  test("pages › signed-in pages are never cached, nor any other page with a session", async () => {
    const agent = request.agent(demo.app);
    await agent.get("/").expect(200).expect("Cache-Control", "no-store");
    await logIn(agent);
    for (const path of ["/", "/profile", "/sessions", "/cart", "/guestbook", "/nope"]) {
      const res = await agent.get(path);
      assert.equal(res.headers["cache-control"], "no-store", `Cache-Control of ${path}`);
    }
    const css = await agent.get("/static/style.css").expect(200);
    assert.equal(css.headers["cache-control"], "public, max-age=3600", "static files still cache");
  });

  test("CSRF › a POST without a valid token, or from another site, gets the 403 page", async () => {
    const agent = request.agent(demo.app);
    const form = await agent.get("/cart").expect(200);
    const missing = await agent.post("/cart/add").type("form").send({ product: "tea" }).expect(403);
    assert.match(missing.text, /This form could not be accepted/);
    await agent
      .post("/cart/add")
      .type("form")
      .set("Origin", "https://evil.example")
      .send({ product: "tea", _csrf: tokenOf(form) })
      .expect(403);
    const cart = await agent.get("/cart").expect(200);
    assert.match(cart.text, /Your cart is empty/);
  });

  test("cart › unknown products are refused and the cart is capped", async () => {
    const agent = request.agent(demo.app);
    const form = await agent.get("/cart").expect(200);
    const add = (product: string) =>
      agent
        .post("/cart/add")
        .type("form")
        .send({ product, _csrf: tokenOf(form) })
        .expect(303);
    await add("caviar");
    assert.match((await agent.get("/cart")).text, /That product is not in the shop/);
    for (let i = 0; i < 25; i++) await add("honey");
    const cart = await agent.get("/cart").expect(200);
    assert.match(cart.text, /20 ×<\/span> Wildflower honey/);
  });

  test("guestbook › signing remembers the name, and returning visitors are greeted", async () => {
    const agent = request.agent(demo.app);
    const form = await agent.get("/guestbook").expect(200);
    await agent
      .post("/guestbook")
      .type("form")
      .send({ name: "", _csrf: tokenOf(form) })
      .expect(400);
    await agent
      .post("/guestbook")
      .type("form")
      .send({ name: "Lin <script>", message: "hi", _csrf: tokenOf(form) })
      .expect(303);
    const page = await agent.get("/guestbook").expect(200);
    assert.match(page.text, /Welcome back, Lin &lt;script&gt;!/, "greeted, and escaped");
    assert.doesNotMatch(page.text, /<script>/);
    assert.match((await agent.get("/").expect(200)).text, /Hello, Lin &lt;script&gt;!/);
    const stranger = await request(demo.app).get("/guestbook").expect(200);
    assert.match(stranger.text, /Lin &lt;script&gt;/, "the entry is public");
    assert.doesNotMatch(stranger.text, /Welcome back/);
  });

  test("sessions › login required; a handle that is not yours revokes nothing", async () => {
    await request(demo.app)
      .get("/sessions")
      .expect(303)
      .expect("Location", "/login?next=%2Fsessions");
    const agent = request.agent(demo.app);
    await logIn(agent);
    const page = await agent.get("/sessions").expect(200);
    await agent
      .post("/sessions/revoke")
      .type("form")
      .send({ handle: "not-a-handle", _csrf: tokenOf(page) })
      .expect(303);
    assert.match((await agent.get("/sessions").expect(200)).text, /No such session/);
  });

  test("pages › 404 and 413 pages; static files need no session", async () => {
    const missing = await request(demo.app).get("/nope").expect(404);
    assert.match(missing.text, /Page not found/);
    const css = await request(demo.app).get("/static/style.css").expect(200);
    assert.equal(setCookie(css, COOKIE_NAME), undefined);
    assert.match(css.headers["content-type"] ?? "", /text\/css/);
    const huge = await request(demo.app)
      .post("/guestbook")
      .type("form")
      .send({ name: "x".repeat(20_000) })
      .expect(413);
    assert.match(huge.text, /Something went wrong/);
  });

  test("change password › works on a recent login; the old password stops working, other sessions end", async () => {
    const phone = request.agent(demo.app);
    const signup = await phone.get("/signup").expect(200);
    await phone
      .post("/signup")
      .type("form")
      .send({ username: "pat", password: "first password", _csrf: tokenOf(signup) })
      .expect(303);
    const laptop = request.agent(demo.app);
    await postLogin(laptop, "pat", "first password").then((res) => assert.equal(res.status, 303));
    await laptop.get("/profile").expect(200);

    const page = await phone.get("/password").expect(200);
    assert.match(page.text, /name="currentPassword"/);
    const change = (currentPassword: string, newPassword: string) =>
      phone
        .post("/password")
        .type("form")
        .send({ currentPassword, newPassword, _csrf: tokenOf(page) });
    assert.match((await change("wrong password", "second password").expect(401)).text, /not right/);
    assert.match((await change("first password", "short").expect(400)).text, /at least 8/);
    await change("first password", "second password").expect(303).expect("Location", "/profile");
    const profile = await phone.get("/profile").expect(200);
    assert.match(profile.text, /Your password was changed and your 1 other session was logged out/);
    await laptop.get("/profile").expect(303).expect("Location", "/login?next=%2Fprofile");

    const old = await postLogin(request.agent(demo.app), "pat", "first password");
    assert.equal(old.status, 401, "the old password no longer works");
    const fresh = await postLogin(request.agent(demo.app), "pat", "second password");
    assert.equal(fresh.status, 303, "the new password works");
  });

  test("change password › a login older than 5 minutes asks for the password again first", async (t) => {
    t.mock.timers.enable({ apis: ["Date"], now: Date.now() });
    await request(demo.app)
      .get("/password")
      .expect(303)
      .expect("Location", "/login?next=%2Fpassword");
    const agent = request.agent(demo.app);
    assert.equal((await logIn(agent)).status, 303);
    const form = await agent.get("/password").expect(200);
    assert.match(form.text, /name="currentPassword"/, "a recent login gets the form at once");

    t.mock.timers.tick(RECENT_LOGIN_MS + 1000);
    const prompt = await agent.get("/password").expect(401);
    assert.match(prompt.text, /data-testid="reauthenticate"/);
    assert.match(prompt.text, /name="next" value="\/password"/);
    assert.doesNotMatch(prompt.text, /name="currentPassword"/);
    const stale = await agent
      .post("/password")
      .type("form")
      .send({
        currentPassword: DEMO_USER.password,
        newPassword: "not changed at all",
        _csrf: tokenOf(form),
      })
      .expect(401);
    assert.match(stale.text, /data-testid="reauthenticate"/, "the change itself is gated too");

    const confirm = (password: string) =>
      agent
        .post("/reauthenticate")
        .type("form")
        .send({ password, next: "/password", _csrf: tokenOf(prompt) });
    assert.match((await confirm("wrong password").expect(401)).text, /not right/);
    await confirm(DEMO_USER.password).expect(303).expect("Location", "/password");
    const again = await agent.get("/password").expect(200);
    assert.match(again.text, /name="currentPassword"/);
    const unchanged = await postLogin(
      request.agent(demo.app),
      DEMO_USER.username,
      DEMO_USER.password,
    );
    assert.equal(unchanged.status, 303, "the refused change left the password as it was");
  });
});

describe("demo configuration", () => {
  test("the data folder is created mode 0700; both databases and their side files are 0600", async () => {
    const parent = makeDataDir();
    const dataDir = join(parent, "nested", "data");
    try {
      const demo = await createDemo({ dataDir, secret: SECRET });
      try {
        await logIn(request.agent(demo.app)).then((res) => assert.equal(res.status, 303));
        assert.equal(statSync(dataDir).mode & 0o777, 0o700);
        for (const name of ["demo.db", "sessions.db"]) {
          assert.equal(statSync(join(dataDir, name)).mode & 0o777, 0o600, name);
          for (const side of ["-wal", "-shm"]) {
            const path = join(dataDir, `${name}${side}`);
            assert.ok(existsSync(path), `${name}${side} exists while the database is open`);
            assert.equal(statSync(path).mode & 0o777, 0o600, `${name}${side}`);
          }
        }
      } finally {
        await demo.close();
      }

      // Files an older version (or someone) left readable by all are tightened on start.
      for (const name of ["demo.db", "sessions.db", "demo.db-wal"]) {
        const path = join(dataDir, name);
        if (!existsSync(path)) writeFileSync(path, "");
        chmodSync(path, 0o644);
      }
      const again = await createDemo({ dataDir, secret: SECRET });
      try {
        for (const name of ["demo.db", "sessions.db", "demo.db-wal"]) {
          assert.equal(statSync(join(dataDir, name)).mode & 0o777, 0o600, name);
        }
      } finally {
        await again.close();
      }
    } finally {
      removeDataDir(parent);
    }
  });

  test("without SESSION_SECRET a secret is generated once, kept with mode 0600, and announced", () => {
    const dataDir = makeDataDir();
    try {
      const warnings: string[] = [];
      const first = resolveSecret(dataDir, undefined, (message) => warnings.push(message));
      const second = resolveSecret(dataDir, "", (message) => warnings.push(message));
      assert.equal(second, first);
      assert.equal(typeof first, "string");
      assert.ok((first as string).length >= 43);
      assert.equal(statSync(join(dataDir, "session-secret")).mode & 0o777, 0o600);
      assert.equal(warnings.length, 2);
      assert.match(warnings[0] as string, /SESSION_SECRET is not set/);
      assert.ok(!(warnings[0] as string).includes(first as string), "the secret is not printed");
    } finally {
      removeDataDir(dataDir);
    }
  });

  test("SESSION_SECRET wins, a comma-separated list rotates, and PORT is checked", () => {
    const dataDir = makeDataDir();
    try {
      const config = loadConfig({
        DATA_DIR: dataDir,
        SESSION_SECRET: "new-one, old-one",
        PORT: "0",
      });
      assert.deepEqual(config.secret, ["new-one", "old-one"]);
      assert.equal(config.port, 0);
      assert.equal(config.host, "127.0.0.1");
      assert.throws(() => loadConfig({ DATA_DIR: dataDir, SESSION_SECRET: "s", PORT: "http" }), {
        message: /PORT must be a whole number/,
      });
    } finally {
      removeDataDir(dataDir);
    }
  });

  test("device names on the sessions page", () => {
    assert.equal(
      deviceName("Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"),
      "Firefox on Linux",
    );
    assert.equal(
      deviceName(
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1",
      ),
      "Safari on iOS",
    );
    assert.equal(deviceName(undefined), "Unknown device");
  });
});

/** Logs in twice as the demo user, then logs out the other session from the first. */
async function revokeOthersScenario(demo: Demo): Promise<void> {
  const laptop = request.agent(demo.app);
  const phone = request.agent(demo.app);
  await logIn(laptop).then((res) => assert.equal(res.status, 303));
  await logIn(phone).then((res) => assert.equal(res.status, 303));
  const page = await laptop.get("/sessions").expect(200);
  assert.equal(page.text.match(/data-testid="session"/g)?.length, 2);
  await laptop
    .post("/sessions/revoke-others")
    .type("form")
    .send({ _csrf: tokenOf(page) })
    .expect(303);
  await phone.get("/profile").expect(303);
  const profile = await laptop.get("/profile").expect(200);
  assert.match(profile.text, new RegExp(`kept in <strong>${demo.storeLabel}</strong>`));
  await laptop
    .post("/logout")
    .type("form")
    .send({ _csrf: tokenOf(profile) })
    .expect(303);
}

describe("demo on Redis", { skip: !(await needServer("Redis", REDIS_URL)) }, () => {
  test("REDIS_URL switches the store; sessions and log out everywhere else work", async () => {
    const dataDir = makeDataDir();
    const namespace = uniqueName("demo");
    const demo = await createDemo({
      dataDir,
      secret: SECRET,
      redisUrl: REDIS_URL,
      storeNamespace: namespace,
    });
    try {
      assert.equal(demo.storeLabel, "Redis");
      await revokeOthersScenario(demo);
    } finally {
      await demo.close();
      removeDataDir(dataDir);
      const client = createClient({ url: REDIS_URL });
      await client.connect();
      const keys = await client.keys(`${namespace}:*`);
      if (keys.length > 0) await client.del(keys);
      await client.close();
    }
  });
});

describe("demo on PostgreSQL", { skip: !(await needServer("PostgreSQL", DATABASE_URL)) }, () => {
  test("DATABASE_URL switches the store; sessions and log out everywhere else work", async () => {
    const dataDir = makeDataDir();
    const namespace = uniqueName("demo");
    const demo = await createDemo({
      dataDir,
      secret: SECRET,
      databaseUrl: DATABASE_URL,
      storeNamespace: namespace,
    });
    try {
      assert.equal(demo.storeLabel, "PostgreSQL");
      await revokeOthersScenario(demo);
    } finally {
      await demo.close();
      removeDataDir(dataDir);
      const client = new pg.Client({ connectionString: DATABASE_URL });
      await client.connect();
      await client.query(`DROP TABLE IF EXISTS "${namespace}_sessions"`);
      await client.end();
    }
  });
});
