// Compiled with `tsc --noEmit -p test/types` against the BUILT package (self-reference through
// package.json "exports"), as an application would see it. Lines marked @ts-expect-error must
// fail to compile; the file as a whole must compile.

import { RedisStore as ConnectRedisStore } from "connect-redis";
import express from "express";
import { createClient } from "redis";
import type { SessionPatch, SessionRecord, Store } from "tessera";
import { isTesseraError, listUserSessions, TESSERA_STORE } from "tessera";
import defaultSession, { session } from "tessera/express";
import { MemoryStore } from "tessera/memory";
import { session as nodeSession } from "tessera/node";

declare module "tessera" {
  interface SessionData {
    views: number;
    user: { id: string; name: string };
  }
}

const app = express();
app.use(
  session({ secret: "s", resave: false, saveUninitialized: false, store: new MemoryStore() }),
);
app.use(defaultSession({ secret: ["new", "old"], resave: false, saveUninitialized: false }));

app.get("/", async (req, res) => {
  const views: number | undefined = req.session.views;
  req.session.views = (views ?? 0) + 1;
  req.session.user = { id: "1", name: "Ada" };
  // @ts-expect-error: views is declared as a number
  req.session.views = "many";
  // @ts-expect-error: keys not declared on SessionData are refused
  req.session.undeclared = true;
  const id: string = req.sessionID;
  await req.session.regenerate();
  await req.session.regenerate({ keepData: true });
  req.session.save((error) => {
    if (isTesseraError(error, "ERR_STORE_UNAVAILABLE")) res.status(503);
  });
  req.session.touch().cookie.maxAge = 1000;
  req.session.setUser(id);
  const sessions = await listUserSessions(req);
  res.json(sessions.map((s) => s.handle));
});

// Options misuse does not compile.
// @ts-expect-error: secret is required
session({ resave: false });
// @ts-expect-error: unset is "destroy" or "keep"
session({ secret: "s", unset: "drop" });
// @ts-expect-error: time options are numbers of milliseconds
session({ secret: "s", absoluteTimeoutMs: "1h" });

// A store written for express-session (connect-redis) plugs in as `store`.
const client = createClient();
session({
  secret: "s",
  store: new ConnectRedisStore({ client }),
  resave: false,
  saveUninitialized: false,
});

// So does a third-party store written for Tessera's contract.
class ThirdPartyStore implements Store {
  readonly [TESSERA_STORE] = true;
  async get(_id: string): Promise<SessionRecord | undefined> {
    return undefined;
  }
  async set(_id: string, _record: SessionRecord, _ttlMs: number): Promise<void> {}
  async destroy(_id: string): Promise<void> {}
  async touch(_id: string, _record: SessionRecord, _ttlMs: number): Promise<void> {}
  async patch(_id: string, _patch: SessionPatch, _ttlMs: number): Promise<boolean> {
    return false;
  }
}
session({ secret: "s", store: new ThirdPartyStore(), resave: false, saveUninitialized: false });

// @ts-expect-error: an object that is not a store
session({ secret: "s", store: { get: 1 } });

// node:http handlers get the same options.
const sessions = nodeSession({ secret: "s", resave: false, saveUninitialized: false });
void sessions;
