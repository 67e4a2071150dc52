// The attributes that keep the session cookie safe come from the app's options, never from the
// store. Whoever can write the store (a shared Redis, a leaked database login) could otherwise
// rewrite a record's `cookie` part so that the browser gets the session cookie readable by
// scripts (no HttpOnly), sent cross-site (SameSite=None), scoped to another domain or path.
//
// What is asserted: HttpOnly, SameSite, Domain and Path of the Set-Cookie follow the options.
// What is not: the expiry. The engine still takes the cookie's lifetime from the record's
// `originalMaxAge`, as express-session does, so a planted ten-year lifetime still reaches the
// browser; authenticating the whole record is what would stop that (issue 12 item 4).
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import express from "express";
import expressSession from "express-session";
import request from "supertest";
import { session } from "../../src/express/index.js";
import type { SessionRecord } from "../../src/index.js";
import { MemoryStore } from "../../src/stores/memory.js";
import { attributes, ID, SECRET, SIGNED, shouldSetCookie } from "../helpers/http.js";

type AnyStore = NonNullable<Parameters<typeof session>[0]["store"]>;

const TEN_YEARS_MS = 10 * 365 * 24 * 3_600_000;

/** A record as someone with write access to the store would plant it. */
function plantedRecord(): SessionRecord {
  return {
    cookie: {
      originalMaxAge: TEN_YEARS_MS,
      expires: new Date(Date.now() + TEN_YEARS_MS).toISOString(),
      httpOnly: false,
      sameSite: "none",
      secure: false,
      domain: "evil.example",
      path: "/x",
    },
    views: 1,
    __tessera: { createdAt: Date.now() },
  } as SessionRecord;
}

function site(store: AnyStore) {
  const app = express();
  app.use(
    session({
      secret: SECRET,
      store,
      resave: false,
      saveUninitialized: false,
      // Rolling, so the cookie of this existing session is sent on every response.
      rolling: true,
      cookie: { maxAge: 3_600_000, sameSite: "lax" },
    }),
  );
  app.get("/", (req, res) => {
    res.send(String(req.session.views ?? "none"));
  });
  return app;
}

declare module "../../src/core/session.js" {
  interface SessionData {
    views: number;
  }
}

/** Asserts the Set-Cookie carries the options' attributes, none of the record's. */
async function shouldFollowTheOptions(store: AnyStore): Promise<void> {
  const res = await request(site(store))
    .get("/")
    .set("Cookie", `connect.sid=${encodeURIComponent(SIGNED)}`)
    .expect(200, "1");
  const line = shouldSetCookie(res);
  const attrs = attributes(line);
  assert.equal(attrs.httponly, true, `HttpOnly, from the options: ${line}`);
  assert.equal(attrs.samesite, "Lax", `SameSite=Lax, from the options: ${line}`);
  assert.equal(attrs.domain, undefined, `no Domain, as the options give none: ${line}`);
  assert.equal(attrs.path, "/", `Path=/, from the options: ${line}`);
  assert.equal(attrs.secure, undefined);
}

describe("cookie attributes of a stored session come from the options, not the store", () => {
  it("on Tessera's MemoryStore", async () => {
    const store = new MemoryStore();
    await store.set(ID, plantedRecord(), 3_600_000);
    await shouldFollowTheOptions(store);
  });

  it("on a store written for express-session (its MemoryStore)", async () => {
    const store = new expressSession.MemoryStore();
    await new Promise<void>((resolve, reject) => {
      store.set(ID, plantedRecord() as never, (error) => (error ? reject(error) : resolve()));
    });
    await shouldFollowTheOptions(store as unknown as AnyStore);
  });
});
