// The demo in a real browser (issue 5): Chromium driven by playwright-core against the demo
// started as its own process, exactly as `npm start` runs it. A screenshot of every page goes to
// test-artifacts/demo/.
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { type Browser, type BrowserContext, chromium, type Page } from "playwright-core";
import {
  CHROMIUM,
  type DemoProcess,
  killDemo,
  makeDataDir,
  needChromium,
  removeDataDir,
  startDemo,
} from "./demo-process.js";

const ARTIFACTS = fileURLToPath(new URL("../../test-artifacts/demo/", import.meta.url));
const COOKIE = "tessera.sid";
const DEMO = { username: "demo", password: "demo-password" };
const ACTION_TIMEOUT_MS = 10_000;

const hasChromium = needChromium();

describe("demo in a browser", { skip: !hasChromium }, () => {
  let browser: Browser;
  const dataDirs: string[] = [];
  const demos: DemoProcess[] = [];

  before(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    // Playwright gives each launch a fresh, temporary --user-data-dir of its own (it refuses one
    // passed in args), so no profile state carries over between runs.
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
      ],
    });
  });

  after(async () => {
    for (const demo of demos) killDemo(demo);
    await browser?.close();
    for (const dir of dataDirs) removeDataDir(dir);
  });

  async function launchDemo(dataDir?: string): Promise<DemoProcess> {
    const dir = dataDir ?? makeDataDir();
    if (!dataDirs.includes(dir)) dataDirs.push(dir);
    const demo = await startDemo(dir);
    demos.push(demo);
    return demo;
  }

  async function stopDemo(demo: DemoProcess): Promise<void> {
    const code = await demo.stop();
    assert.equal(code, 0, `the demo should exit 0 on SIGTERM:\n${demo.output()}`);
  }

  async function newContext(): Promise<BrowserContext> {
    const context = await browser.newContext({ viewport: { width: 1000, height: 720 } });
    context.setDefaultTimeout(ACTION_TIMEOUT_MS);
    return context;
  }

  async function shot(page: Page, name: string): Promise<void> {
    await page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });
  }

  async function logIn(page: Page, base: string, user = DEMO): Promise<void> {
    await page.goto(`${base}/login`);
    await page.fill('input[name="username"]', user.username);
    await page.fill('input[name="password"]', user.password);
    await Promise.all([page.waitForURL(`${base}/`), page.click('button:has-text("Log in")')]);
  }

  async function visits(page: Page): Promise<number> {
    return Number(await page.textContent('[data-testid="visits"]'));
  }

  async function sessionCookie(context: BrowserContext) {
    return (await context.cookies()).find((cookie) => cookie.name === COOKIE);
  }

  test("sign up, log in, the counter grows; after a server restart still logged in, cart intact", async () => {
    const dataDir = makeDataDir();
    let demo = await launchDemo(dataDir);
    const context = await newContext();
    const page = await context.newPage();
    const user = { username: "ada", password: "analytical-engine" };

    await page.goto(`${demo.url}/`);
    assert.match((await page.textContent("h1")) ?? "", /Hello, guest!/);
    await shot(page, "home-guest");

    await page.goto(`${demo.url}/signup`);
    await shot(page, "signup");
    await page.fill('input[name="username"]', user.username);
    await page.fill('input[name="password"]', user.password);
    await Promise.all([
      page.waitForURL(`${demo.url}/`),
      page.click('button:has-text("Create account")'),
    ]);
    assert.equal(await page.textContent('[data-testid="greeting-name"]'), "ada");
    assert.match((await page.textContent(".flash.success")) ?? "", /Welcome, ada!/);

    // Log out, then ask for the profile: sent to the login page, and back to the profile after.
    await Promise.all([
      page.waitForResponse((response) => response.url().endsWith("/logout")),
      page.click('button:has-text("Log out")'),
    ]);
    await page.waitForSelector('.flash.success:has-text("You are logged out")');
    assert.equal(new URL(page.url()).pathname, "/");
    await page.goto(`${demo.url}/profile`);
    assert.equal(new URL(page.url()).pathname, "/login");
    assert.equal(new URL(page.url()).searchParams.get("next"), "/profile");
    assert.match(
      (await page.textContent('[data-testid="demo-credentials"]')) ?? "",
      /demo-password/,
    );
    await shot(page, "login");
    await page.fill('input[name="username"]', user.username);
    await page.fill('input[name="password"]', "not-the-password");
    await page.click('button:has-text("Log in")');
    assert.match((await page.textContent(".flash.error")) ?? "", /Wrong username or password/);
    await page.fill('input[name="password"]', user.password);
    await Promise.all([
      page.waitForURL(`${demo.url}/profile`),
      page.click('button:has-text("Log in")'),
    ]);
    assert.equal(await page.textContent('[data-testid="profile-username"]'), "ada");
    assert.match((await page.textContent(".flash.success")) ?? "", /Welcome back, ada/);
    await shot(page, "profile");

    await page.goto(`${demo.url}/`);
    const loginTime = Date.parse(
      (await page.getAttribute('[data-testid="login-time"]', "datetime")) ?? "",
    );
    assert.ok(Math.abs(Date.now() - loginTime) < 60_000, "the home page shows when you signed in");
    const first = await visits(page);
    await page.reload();
    assert.equal(await visits(page), first + 1);
    await page.reload();
    assert.equal(await visits(page), first + 2);
    await shot(page, "home");

    await page.goto(`${demo.url}/cart`);
    await page.click('button[aria-label="Add Green tea"]');
    assert.match((await page.textContent(".flash.success")) ?? "", /Added Green tea/);
    await page.click('button[aria-label="Add Green tea"]');
    await page.click('button[aria-label="Add Stoneware mug"]');
    await page.click('button[aria-label="Add Oat biscuits"]');
    await page.click('button[aria-label="Remove Oat biscuits"]');
    assert.match((await page.textContent(".flash.success")) ?? "", /Removed Oat biscuits/);
    const cartBefore = await page.textContent('[data-testid="cart"]');
    assert.match(cartBefore ?? "", /2 ×\s*Green tea/);
    assert.match(cartBefore ?? "", /1 ×\s*Stoneware mug/);
    assert.doesNotMatch(cartBefore ?? "", /Oat biscuits/);
    assert.equal(await page.textContent('[data-testid="cart-total"]'), "€25.00");
    await shot(page, "cart");

    await page.goto(`${demo.url}/guestbook`);
    await page.fill('input[name="name"]', "Ada");
    await page.fill('textarea[name="message"]', "Lovely tea.");
    await page.click('button:has-text("Sign")');
    assert.match((await page.textContent(".flash.success")) ?? "", /Thanks for signing, Ada!/);
    assert.equal(await page.textContent('[data-testid="guest-greeting"]'), "Welcome back, Ada!");
    await shot(page, "guestbook");

    // Restart: a new process on the same data folder (and a new port; cookies ignore ports).
    const cookieBefore = await sessionCookie(context);
    await stopDemo(demo);
    demo = await launchDemo(dataDir);
    await page.goto(`${demo.url}/`);
    assert.equal(await page.textContent('[data-testid="greeting-name"]'), "ada");
    assert.equal(await visits(page), first + 3);
    await page.goto(`${demo.url}/cart`);
    assert.equal(await page.textContent('[data-testid="cart"]'), cartBefore);
    assert.equal((await sessionCookie(context))?.value, cookieBefore?.value);

    // The same page on a phone-sized screen, for the README.
    await page.setViewportSize({ width: 390, height: 780 });
    await page.goto(`${demo.url}/cart`);
    await shot(page, "cart-phone");

    await context.close();
    await stopDemo(demo);
  });

  test("two browsers signed in as one user: one revokes the other, which is sent to log in", async () => {
    const demo = await launchDemo();
    const laptop = await newContext();
    const phone = await newContext();
    const a = await laptop.newPage();
    const b = await phone.newPage();
    await logIn(a, demo.url);
    await logIn(b, demo.url);

    await a.goto(`${demo.url}/sessions`);
    assert.equal(await a.locator('[data-testid="session"]').count(), 2);
    assert.equal(await a.locator('[data-testid="session"].current').count(), 1);
    await shot(a, "sessions");
    await a.click('[data-testid="session"]:not(.current) button:has-text("Revoke")');
    assert.match((await a.textContent(".flash.success")) ?? "", /Session revoked/);
    assert.equal(await a.locator('[data-testid="session"]').count(), 1);

    await b.goto(`${demo.url}/sessions`);
    assert.equal(new URL(b.url()).pathname, "/login");
    assert.equal(new URL(b.url()).searchParams.get("next"), "/sessions");

    // "Log out everywhere else" does the same for every other browser at once.
    await logIn(b, demo.url);
    await a.goto(`${demo.url}/sessions`);
    assert.equal(await a.locator('[data-testid="session"]').count(), 2);
    await a.click('button:has-text("Log out everywhere else")');
    assert.match((await a.textContent(".flash.success")) ?? "", /Logged out 1 other session/);
    await b.goto(`${demo.url}/profile`);
    assert.equal(new URL(b.url()).pathname, "/login");
    await a.goto(`${demo.url}/profile`);
    assert.equal(new URL(a.url()).pathname, "/profile");

    await laptop.close();
    await phone.close();
    await stopDemo(demo);
  });

  test("a form posted without a CSRF token is refused; log out ends the session", async () => {
    const demo = await launchDemo();
    const context = await newContext();
    const page = await context.newPage();
    await logIn(page, demo.url);

    // Strip the token from the log-out form: the POST gets the 403 page and changes nothing.
    await page.evaluate(
      "document.querySelector('form[action=\"/logout\"] input[name=_csrf]').remove()",
    );
    const refused = await Promise.all([
      page.waitForResponse((response) => response.url().endsWith("/logout")),
      page.click('button:has-text("Log out")'),
    ]);
    assert.equal(refused[0].status(), 403);
    assert.equal(await page.textContent('[data-testid="status"]'), "403");
    await shot(page, "forbidden");
    await page.goto(`${demo.url}/profile`);
    assert.equal(new URL(page.url()).pathname, "/profile", "still logged in after the 403");

    // A token that is not this session's is refused too.
    await page.evaluate(
      "document.querySelector('form[action=\"/logout\"] input[name=_csrf]').value = 'A'.repeat(86)",
    );
    await page.click('button:has-text("Log out")');
    assert.equal(await page.textContent('[data-testid="status"]'), "403");

    const signedIn = await sessionCookie(context);
    assert.ok(signedIn);
    await page.goto(`${demo.url}/profile`);
    // Something a page script kept in the origin's storage while signed in.
    await page.evaluate("localStorage.setItem('draft', 'a message half written')");
    await Promise.all([
      page.waitForResponse((response) => response.url().endsWith("/logout")),
      page.click('button:has-text("Log out")'),
    ]);
    await page.waitForSelector('.flash.success:has-text("You are logged out")');
    assert.equal(
      await page.evaluate("localStorage.getItem('draft')"),
      null,
      "Clear-Site-Data emptied the origin's storage",
    );
    assert.equal(new URL(page.url()).pathname, "/");
    assert.match((await page.textContent("h1")) ?? "", /Hello, guest!/);
    assert.notEqual((await sessionCookie(context))?.value, signedIn.value);

    // The old cookie is dead on the server, not just forgotten by this browser.
    const replay = await newContext();
    await replay.addCookies([{ ...signedIn }]);
    const replayPage = await replay.newPage();
    await replayPage.goto(`${demo.url}/profile`);
    assert.equal(new URL(replayPage.url()).pathname, "/login");

    await page.goto(`${demo.url}/no-such-page`);
    await shot(page, "not-found");

    await replay.close();
    await context.close();
    await stopDemo(demo);
  });

  test("five wrong passwords: the login page says when to try again, and refuses even the right one", async () => {
    const demo = await launchDemo();
    const context = await newContext();
    const page = await context.newPage();
    await page.goto(`${demo.url}/login`);
    const submit = async (password: string) => {
      await page.fill('input[name="username"]', DEMO.username);
      await page.fill('input[name="password"]', password);
      // Marks this document, so the next step waits for the page the POST brings.
      await page.evaluate("document.body.dataset.answered = 'no'");
      const [response] = await Promise.all([
        page.waitForResponse(
          (candidate) =>
            candidate.url().endsWith("/login") && candidate.request().method() === "POST",
        ),
        page.click('button:has-text("Log in")'),
      ]);
      await page.waitForSelector("body:not([data-answered])");
      return response;
    };
    for (let i = 1; i < 5; i++) assert.equal((await submit(`wrong-${i}`)).status(), 401);
    const fifth = await submit("wrong-5");
    assert.equal(fifth.status(), 429);
    assert.equal(fifth.headers()["retry-after"], "60");
    assert.match(
      (await page.textContent('[data-testid="login-wait"]')) ?? "",
      /Too many failed attempts\. Try again in 1 minute\./,
    );
    await shot(page, "login-throttled");

    const right = await submit(DEMO.password);
    assert.equal(right.status(), 429);
    assert.match(
      (await page.textContent('[data-testid="login-wait"]')) ?? "",
      /not even the right one/,
    );
    assert.equal(new URL(page.url()).pathname, "/login");
    await page.goto(`${demo.url}/profile`);
    assert.equal(new URL(page.url()).pathname, "/login", "not signed in");

    await context.close();
    await stopDemo(demo);
  });

  test("the session cookie as the browser sees it: httpOnly, SameSite=Lax, hidden from scripts", async () => {
    const demo = await launchDemo();
    const context = await newContext();
    const page = await context.newPage();
    await logIn(page, demo.url);

    const cookie = await sessionCookie(context);
    assert.ok(cookie, "the browser holds the session cookie");
    assert.equal(cookie.httpOnly, true);
    assert.equal(cookie.sameSite, "Lax");
    assert.equal(cookie.path, "/");
    assert.equal(cookie.secure, false, "plain http on localhost: no Secure flag");
    assert.ok(cookie.expires > Date.now() / 1000, "a persistent cookie (maxAge is set)");
    const visible = await page.evaluate("document.cookie");
    assert.equal(typeof visible, "string");
    assert.ok(!(visible as string).includes(COOKIE), `document.cookie shows ${String(visible)}`);
    assert.ok(!(visible as string).includes(cookie.value));

    await context.close();
    await stopDemo(demo);
  });
});
