// SessionData is one interface whichever door names it: the keys declared through
// "tessera/express" (express-session-app.ts) are on the root door's SessionData too, and on
// `req.session`.
import express from "express";
import type { SessionData as RootSessionData } from "tessera";
import type session from "tessera/express";
import type { SessionData as ExpressSessionData } from "tessera/express";

// `cookie` is on SessionData, as in @types/express-session.
const cookie = {} as RootSessionData["cookie"];
const full: RootSessionData = { cookie, views: 1, user: { id: "1", name: "Ada" } };
const same: ExpressSessionData = full;
const back: RootSessionData = same;
const viaNamespace: session.SessionData = back;
// @ts-expect-error: views is required on the root door's SessionData
const missingViews: RootSessionData = { cookie, user: { id: "1", name: "Ada" } };
void [viaNamespace, missingViews];

express().get("/views", (req, res) => {
  const views: number | undefined = req.session.views;
  res.json({ views });
});
