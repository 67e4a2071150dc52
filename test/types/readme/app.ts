// The README's quick start, in a project of its own: `declare module "tessera"` in a file that
// imports only tessera/express. (TypeScript merges the declarations of one program through one
// module: a program declares its keys through "tessera" or through "tessera/express", not both.)
import express from "express";
import type { SessionData as RootSessionData } from "tessera";
import session, { type SessionData } from "tessera/express";

declare module "tessera" {
  interface SessionData {
    views: number;
    cart: string[];
  }
}

const app = express();
app.use(session({ secret: "keyboard cat", resave: false, saveUninitialized: false }));
app.get("/", (req, res) => {
  req.session.views = (req.session.views ?? 0) + 1;
  req.session.cart = [...(req.session.cart ?? []), "book"];
  // @ts-expect-error: views is declared as a number
  req.session.views = "many";
  res.send(`views: ${req.session.views}`);
});

const data: SessionData = { cookie: new session.Cookie(), views: 1, cart: [] };
const same: RootSessionData = data;
const viaNamespace: session.SessionData = same;
// @ts-expect-error: cart is required
const missing: SessionData = { cookie: new session.Cookie(), views: 1 };
void [viaNamespace, missing];
