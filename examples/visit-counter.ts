// The smallest Tessera app: a visit counter kept in the session.
//   npx tsx examples/visit-counter.ts   then open http://127.0.0.1:3000 and reload.
import express from "express";
import { session } from "../src/express/index.js";

const app = express();
app.use(
  session({
    secret: process.env.SESSION_SECRET ?? "a development secret, at least 32 characters long",
    resave: false,
    saveUninitialized: false,
    cookie: { maxAge: 60 * 60 * 1000, sameSite: "lax" },
  }),
);

app.get("/", (req, res) => {
  const visits = ((req.session.visits as number | undefined) ?? 0) + 1;
  req.session.visits = visits;
  res.type("html").send(`<p>You have been here ${visits} time${visits === 1 ? "" : "s"}.</p>`);
});

const port = Number(process.env.PORT ?? 3000);
const server = app.listen(port, "127.0.0.1", () => {
  const address = server.address();
  const actual = typeof address === "object" && address !== null ? address.port : port;
  console.log(`Tessera visit counter listening on http://127.0.0.1:${actual}`);
});
