// Tessera's own API, as an application typed for it uses it. Lines marked @ts-expect-error must
// fail to compile; the file as a whole must compile. SessionData's keys are declared in
// express-session-app.ts.

import express from "express";
import type { SessionPatch, SessionRecord, Store } from "tessera";
import { isTesseraError, listUserSessions } from "tessera";
import defaultSession, { session } from "tessera/express";
import { MemoryStore } from "tessera/memory";
import { session as nodeSession } from "tessera/node";
import { TESSERA_STORE } from "tessera/store";

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

// A third-party store written for Tessera's contract.
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
