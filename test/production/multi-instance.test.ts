// Two demo-app processes behind one store, as behind a load balancer without sticky sessions:
// one browser's requests alternate between them. Run once on a shared Redis and once on a shared
// PostgreSQL database.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import pg from "pg";
import { createClient } from "redis";
import { DATABASE_URL, needServer, REDIS_URL, uniqueName } from "../helpers/services.js";
import { Browser, type RunningDemo, startDemo } from "./demo.js";

const redisUp = await needServer("Redis", REDIS_URL);
const postgresUp = await needServer("PostgreSQL", DATABASE_URL);

/** The demo's keys are `tessera_demo:sess:…`: a database of their own keeps other suites out. */
const REDIS_DATABASE = 9;

/** How many sessions the /sessions page lists: one revoke form per session. */
function sessionsOnPage(text: string): number {
  return (text.match(/name="handle"/g) ?? []).length;
}

function multiInstanceSuite(
  name: string,
  skip: boolean,
  prepare: () => Promise<{ env: Record<string, string>; cleanUp: () => Promise<void> }>,
) {
  describe(`two demo instances sharing one ${name}`, { skip }, () => {
    const dataDir = mkdtempSync(join(tmpdir(), "tessera-multi-"));
    let a: RunningDemo | undefined;
    let b: RunningDemo | undefined;
    let cleanUp: (() => Promise<void>) | undefined;
    const urls = () => [a?.url as string, b?.url as string] as const;

    before(async () => {
      const prepared = await prepare();
      cleanUp = prepared.cleanUp;
      // One after the other: the first creates the demo user in the shared user database.
      a = await startDemo({ ...prepared.env, DATA_DIR: dataDir });
      b = await startDemo({ ...prepared.env, DATA_DIR: dataDir });
    });

    after(async () => {
      await Promise.all([a?.stop(), b?.stop()]);
      await cleanUp?.();
      rmSync(dataDir, { recursive: true, force: true });
    });

    it("a session made on one instance is the same session on the other", async () => {
      const [first, second] = urls();
      const browser = new Browser();
      // The login form (and its CSRF token) comes from one instance, the login goes to the other.
      const login = await browser.logIn(first, second);
      assert.equal(login.status, 303, "logged in");
      const cookie = browser.cookie;
      assert.ok(cookie !== undefined);
      for (const base of [first, second, first, second]) {
        const page = await browser.get(base, "/profile");
        assert.equal(page.status, 200, `signed in on ${base === first ? "A" : "B"}`);
        assert.match(page.text, /demo/);
      }
      assert.equal(browser.cookie, cookie, "no instance issued another session");
    });

    it("logging out on one instance logs out on the other", async () => {
      const [first, second] = urls();
      const browser = new Browser();
      await browser.logIn(first);
      const stolen = browser.cookie as string;
      assert.equal((await browser.get(second, "/profile")).status, 200);

      const logout = await browser.submit(first, "/profile", "/logout", {}, second);
      assert.equal(logout.status, 303);
      // The demo starts a fresh, anonymous session for its "logged out" flash.
      assert.notEqual(browser.cookie, stolen, "the signed-in cookie is replaced");
      // A copy of the old cookie is worth nothing on either instance.
      for (const base of [first, second]) {
        const res = await fetch(`${base}/profile`, {
          headers: { cookie: stolen },
          redirect: "manual",
        });
        assert.equal(res.status, 303, "redirected to the login page");
        assert.match(res.headers.get("location") ?? "", /^\/login/);
      }
    });

    it('"log out everywhere else" reaches the sessions made through the other instance', async () => {
      const [first, second] = urls();
      const laptop = new Browser();
      const phone = new Browser();
      const tablet = new Browser();
      await laptop.logIn(first);
      await phone.logIn(second);
      await tablet.logIn(second);
      // Sessions of earlier tests were logged out or are still there: count relative to now.
      const listed = sessionsOnPage((await laptop.get(second, "/sessions")).text);
      assert.ok(listed >= 3, `the laptop sees the phone's and tablet's sessions (${listed})`);

      const revoke = await laptop.submit(first, "/sessions", "/sessions/revoke-others", {}, second);
      assert.equal(revoke.status, 303);
      for (const [browser, base] of [
        [phone, first],
        [tablet, first],
        [phone, second],
      ] as const) {
        const page = await browser.get(base, "/profile");
        assert.equal(page.status, 303, "signed out");
        assert.match(page.location ?? "", /^\/login/);
      }
      for (const base of [first, second]) {
        assert.equal((await laptop.get(base, "/profile")).status, 200, "the laptop stays in");
      }
      assert.equal(sessionsOnPage((await laptop.get(first, "/sessions")).text), 1);
    });
  });
}

multiInstanceSuite("Redis", !redisUp, async () => {
  const url = `${REDIS_URL.replace(/\/\d*$/, "")}/${REDIS_DATABASE}`;
  return {
    env: { REDIS_URL: url },
    async cleanUp() {
      const client = createClient({ url });
      client.on("error", () => {});
      await client.connect();
      const keys: string[] = [];
      for await (const batch of client.scanIterator({ MATCH: "tessera_demo:*", COUNT: 500 })) {
        keys.push(...batch);
      }
      if (keys.length > 0) await client.del(keys);
      await client.close();
    },
  };
});

multiInstanceSuite("PostgreSQL", !postgresUp, async () => {
  // A database of its own: the demo's table name is fixed, and other suites may run the demo.
  const database = uniqueName("multi").toLowerCase();
  const admin = new pg.Client({ connectionString: DATABASE_URL });
  await admin.connect();
  await admin.query(`CREATE DATABASE "${database}"`);
  await admin.end();
  const url = new URL(DATABASE_URL);
  url.pathname = `/${database}`;
  return {
    env: { DATABASE_URL: url.toString() },
    async cleanUp() {
      const client = new pg.Client({ connectionString: DATABASE_URL });
      await client.connect();
      await client.query(`DROP DATABASE IF EXISTS "${database}" WITH (FORCE)`);
      await client.end();
    },
  };
});
