// The demo's login throttling (examples/demo/login-throttle.ts), over HTTP in process, with a
// clock the tests move and limits small enough to reach: a lock after 3 failures of one account
// from one client (1 minute, doubling up to 4), 10 failures per client and 12 per account an
// hour.
// The demo trusts the loopback proxy, so X-Forwarded-For picks each request's client address.
import assert from "node:assert/strict";
import { afterEach, describe, test } from "node:test";
import request, { type Response } from "supertest";
import { COOKIE_NAME, createDemo, DEMO_USER, type Demo } from "../../examples/demo/app.js";
import { DEVICE_COOKIE } from "../../examples/demo/device-cookie.js";
import { clientKey } from "../../examples/demo/login-throttle.js";
import { setCookie } from "../helpers/http.js";
import { makeDataDir, removeDataDir } from "./demo-process.js";
import { postLogin, tokenOf } from "./forms.js";

const SECRET = "a demo secret that is long enough for production use";
const MINUTE_MS = 60_000;
const HOUR_MS = 60 * MINUTE_MS;
const ATTACKER = "203.0.113.7";
const USER_IP = "198.51.100.20";
const WRONG = "not-the-password";

let clockMs = 0;
let open: { demo: Demo; dataDir: string } | undefined;

async function startDemo(): Promise<Demo> {
  const dataDir = makeDataDir();
  clockMs = Date.parse("2030-01-01T00:00:00Z");
  const demo = await createDemo({
    dataDir,
    secret: SECRET,
    trustProxy: "loopback",
    loginThrottle: {
      failuresBeforeLock: 3,
      firstLockMs: MINUTE_MS,
      maxLockMs: 4 * MINUTE_MS,
      clientLimit: 10,
      accountLimit: 12,
      windowMs: HOUR_MS,
      now: () => clockMs,
    },
  });
  open = { demo, dataDir };
  return demo;
}

afterEach(async () => {
  if (open === undefined) return;
  await open.demo.close();
  removeDataDir(open.dataDir);
  open = undefined;
});

function attempt(demo: Demo, password: string, ip: string, username: string = DEMO_USER.username) {
  return postLogin(request.agent(demo.app), username, password, ip);
}

/** A 401: the password was checked, found wrong, and nothing is locked yet. */
function shouldBeWrong(res: Response): void {
  assert.equal(res.status, 401, res.text.slice(0, 300));
  assert.match(res.text, /Wrong username or password/);
  assert.equal(res.headers["retry-after"], undefined);
  assert.doesNotMatch(res.text, /Too many failed attempts/);
}

/** A 429 with `Retry-After: seconds`, and the login page saying when to come back. */
function shouldWait(res: Response, seconds: number, wait: RegExp): void {
  assert.equal(res.status, 429, res.text.slice(0, 300));
  assert.equal(res.headers["retry-after"], String(seconds));
  const at = new Date(clockMs + seconds * 1000).toISOString();
  assert.match(
    res.text,
    new RegExp(
      `data-testid="login-wait">Too many failed attempts. Try again in <time datetime="${at}">${wait.source}</time>`,
    ),
  );
  assert.equal(setCookie(res, COOKIE_NAME), undefined, "no session cookie");
  assert.equal(setCookie(res, DEVICE_COOKIE), undefined, "no device cookie");
}

/** A 303 to the home page with a session cookie: signed in. */
function shouldSignIn(res: Response): void {
  assert.equal(res.status, 303, res.text.slice(0, 300));
  assert.equal(res.headers.location, "/");
  assert.ok(setCookie(res, COOKIE_NAME), "a session cookie");
}

describe("demo › login throttling › one account from one client", () => {
  test("the 3rd wrong password in a row answers 429 with Retry-After, and the page says when", async () => {
    const demo = await startDemo();
    shouldBeWrong(await attempt(demo, WRONG, ATTACKER));
    shouldBeWrong(await attempt(demo, WRONG, ATTACKER));
    const third = await attempt(demo, WRONG, ATTACKER);
    shouldWait(third, 60, /1 minute/);
    assert.match(third.text, /Wrong username or password/, "this one was checked, and wrong");
  });

  test("the right password is refused while locked, and accepted once the lock ends", async () => {
    const demo = await startDemo();
    for (let i = 0; i < 3; i++) await attempt(demo, WRONG, ATTACKER);
    const agent = request.agent(demo.app);
    const refused = await postLogin(agent, DEMO_USER.username, DEMO_USER.password, ATTACKER);
    shouldWait(refused, 60, /1 minute/);
    assert.match(refused.text, /no password is checked, not even the right one/);
    assert.doesNotMatch(refused.text, /Wrong username or password/);
    await agent.get("/profile").expect(303);

    clockMs += 59_000;
    shouldWait(await attempt(demo, DEMO_USER.password, ATTACKER), 1, /1 second/);
    clockMs += 1000;
    shouldSignIn(await postLogin(agent, DEMO_USER.username, DEMO_USER.password, ATTACKER));
    await agent.get("/profile").expect(200);
  });

  test("each further failure doubles the lock, up to the cap; a success starts afresh", async () => {
    const demo = await startDemo();
    for (let i = 0; i < 3; i++) await attempt(demo, WRONG, ATTACKER);
    clockMs += MINUTE_MS;
    shouldWait(await attempt(demo, WRONG, ATTACKER), 120, /2 minutes/);
    clockMs += 2 * MINUTE_MS;
    shouldWait(await attempt(demo, WRONG, ATTACKER), 240, /4 minutes/);
    clockMs += 4 * MINUTE_MS;
    shouldWait(await attempt(demo, WRONG, ATTACKER), 240, /4 minutes/);
    // Attempts while locked are not counted: knocking does not make the lock longer.
    clockMs += MINUTE_MS;
    shouldWait(await attempt(demo, WRONG, ATTACKER), 180, /3 minutes/);
    clockMs += 3 * MINUTE_MS;
    shouldSignIn(await attempt(demo, DEMO_USER.password, ATTACKER));
    shouldBeWrong(await attempt(demo, WRONG, ATTACKER));
    shouldBeWrong(await attempt(demo, WRONG, ATTACKER));
  });

  test("a burst of parallel wrong passwords gets no more guesses than the limit", async () => {
    const demo = await startDemo();
    const agent = request.agent(demo.app);
    const form = await agent.get("/login").set("X-Forwarded-For", ATTACKER).expect(200);
    const answers = await Promise.all(
      Array.from({ length: 10 }, () =>
        agent
          .post("/login")
          .set("X-Forwarded-For", ATTACKER)
          .type("form")
          .send({ username: "demo", password: WRONG, _csrf: tokenOf(form) }),
      ),
    );
    // Each attempt counts as a failure from the moment it is let in, so however the ten
    // interleave, exactly three passwords are checked and the other seven are refused unchecked.
    const checked = answers.filter((res) => /Wrong username or password/.test(res.text));
    const refused = answers.filter((res) => /not even the right one/.test(res.text));
    assert.equal(checked.length, 3);
    assert.equal(refused.length, 7);
    for (const res of refused) assert.equal(res.status, 429);
  });

  test("the lock is the pair's: the user on another client, and the attacker's other accounts, get in", async () => {
    const demo = await startDemo();
    const other = request.agent(demo.app);
    const form = await other.get("/signup").expect(200);
    await other
      .post("/signup")
      .type("form")
      .send({ username: "grace", password: "grace-password", _csrf: tokenOf(form) })
      .expect(303);
    for (let i = 0; i < 3; i++) await attempt(demo, WRONG, ATTACKER);
    shouldWait(await attempt(demo, DEMO_USER.password, ATTACKER), 60, /1 minute/);

    shouldSignIn(await attempt(demo, DEMO_USER.password, USER_IP));
    shouldSignIn(await attempt(demo, "grace-password", ATTACKER, "grace"));
  });

  test("one IPv6 /64 is one client", async () => {
    const demo = await startDemo();
    await attempt(demo, WRONG, "2001:db8:1:2::1");
    await attempt(demo, WRONG, "2001:db8:1:2:aaaa::2");
    shouldWait(await attempt(demo, WRONG, "2001:0db8:0001:0002:ffff:ffff:ffff:3"), 60, /1 minute/);
    shouldBeWrong(await attempt(demo, WRONG, "2001:db8:1:3::1"));
    assert.equal(clientKey("::ffff:192.0.2.1"), "192.0.2.1");
    assert.equal(clientKey("2001:db8::1"), "2001:db8:0:0::/64");
    assert.equal(clientKey("fe80::1%eth0"), "fe80:0:0:0::/64");
  });
});

describe("demo › login throttling › one client across accounts", () => {
  test("10 failures an hour lock that client out of every account, and no other client", async () => {
    const demo = await startDemo();
    // One common password tried on many accounts: no pair reaches its lock.
    for (let i = 1; i < 10; i++) shouldBeWrong(await attempt(demo, WRONG, ATTACKER, `user${i}`));
    shouldWait(await attempt(demo, WRONG, ATTACKER, "user10"), 3600, /60 minutes/);
    shouldWait(await attempt(demo, DEMO_USER.password, ATTACKER), 3600, /60 minutes/);
    shouldSignIn(await attempt(demo, DEMO_USER.password, USER_IP));

    // A sliding window: the client is let in again when its oldest failure is an hour old.
    clockMs += HOUR_MS;
    shouldSignIn(await attempt(demo, DEMO_USER.password, ATTACKER));
  });
});

describe("demo › login throttling › one account from many clients", () => {
  test("12 failures an hour lock the account for new clients, never for a browser that signed in before", async () => {
    const demo = await startDemo();
    const laptop = request.agent(demo.app);
    const signedIn = await postLogin(laptop, DEMO_USER.username, DEMO_USER.password, USER_IP);
    shouldSignIn(signedIn);
    const device = setCookie(signedIn, DEVICE_COOKIE);
    assert.ok(device, "a successful login leaves a device cookie");
    assert.match(device, /; Max-Age=7776000;/);
    assert.match(device, /; Path=\/login;/);
    assert.match(device, /; HttpOnly/);
    assert.match(device, /; SameSite=Strict/);
    const page = await laptop.get("/profile").expect(200);
    await laptop
      .post("/logout")
      .type("form")
      .send({ _csrf: tokenOf(page) })
      .expect(303);

    // Six addresses, two guesses each: no pair and no client reaches its own limit.
    for (let i = 1; i <= 12; i++) {
      const res = await attempt(demo, WRONG, `192.0.2.${Math.ceil(i / 2)}`);
      if (i < 12) shouldBeWrong(res);
      else shouldWait(res, 3600, /60 minutes/);
    }
    shouldWait(await attempt(demo, DEMO_USER.password, "192.0.2.99"), 3600, /60 minutes/);
    shouldWait(await attempt(demo, DEMO_USER.password, USER_IP), 3600, /60 minutes/);

    // The laptop holds the device cookie: it is let in, from any address, and its own typos
    // lock only itself.
    shouldSignIn(await postLogin(laptop, DEMO_USER.username, DEMO_USER.password, "192.0.2.1"));
    const relock = await laptop.get("/profile").expect(200);
    await laptop
      .post("/logout")
      .type("form")
      .send({ _csrf: tokenOf(relock) })
      .expect(303);
    shouldBeWrong(await postLogin(laptop, DEMO_USER.username, WRONG, USER_IP));
    shouldSignIn(await postLogin(laptop, DEMO_USER.username, DEMO_USER.password, USER_IP));

    // A device cookie signed for another account, or altered, does not count.
    const grace = request.agent(demo.app);
    const signup = await grace.get("/signup").expect(200);
    const created = await grace
      .post("/signup")
      .type("form")
      .send({ username: "grace", password: "grace-password", _csrf: tokenOf(signup) })
      .expect(303);
    assert.ok(setCookie(created, DEVICE_COOKIE), "sign-up leaves a device cookie too");
    const home = await grace.get("/").expect(200);
    await grace
      .post("/logout")
      .type("form")
      .send({ _csrf: tokenOf(home) })
      .expect(303);
    shouldWait(
      await postLogin(grace, DEMO_USER.username, DEMO_USER.password, USER_IP),
      3600,
      /60 minutes/,
    );
    const form = await request(demo.app).get("/login").expect(200);
    const session = (setCookie(form, COOKIE_NAME) as string).split(";")[0] as string;
    const altered = (device.split(";")[0] as string).replace(/.$/, (c) => (c === "A" ? "B" : "A"));
    const forged = await request(demo.app)
      .post("/login")
      .set("X-Forwarded-For", "192.0.2.100")
      .set("Cookie", `${session}; ${altered}`)
      .type("form")
      .send({ ...DEMO_USER, _csrf: tokenOf(form) });
    shouldWait(forged, 3600, /60 minutes/);

    clockMs += HOUR_MS;
    shouldSignIn(await attempt(demo, DEMO_USER.password, "192.0.2.99"));
  });
});
