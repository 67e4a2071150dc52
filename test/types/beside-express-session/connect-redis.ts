// @types/express-session loaded beside Tessera, as connect-redis's types load it. Both declare
// `req.session`; nothing clashes, even with skipLibCheck off, and Tessera's members stay on it.
import { RedisStore } from "connect-redis";
import express from "express";
import { createClient } from "redis";
import { session } from "tessera/express";

const client = createClient();
const app = express();
app.use(
  session({
    secret: "keyboard cat",
    store: new RedisStore({ client, prefix: "app:" }),
    resave: false,
    saveUninitialized: false,
  }),
);

app.post("/login", async (req, res) => {
  await req.session.regenerate();
  req.session.setUser("1");
  req.session.user = { id: "1", name: "Ada" };
  const views: number | undefined = req.session.views;
  res.json({ views, user: req.session.getUser() });
});
