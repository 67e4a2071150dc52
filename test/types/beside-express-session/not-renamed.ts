// An application that kept `declare module "express-session"` after the swap, with
// @types/express-session still installed: its keys still type-check on `req.session`.
import "express-session";
import express from "express";

declare module "express-session" {
  interface SessionData {
    theme: "light" | "dark";
  }
}

express().get("/theme", (req, res) => {
  req.session.theme = "dark";
  // @ts-expect-error: theme is "light" or "dark"
  req.session.theme = "blue";
  res.end();
});
