// An application typed for express-session (its @types package), after the one-line swap:
// "express-session" became "tessera/express", in the import and in `declare module`. Nothing
// else changed; the file must compile as it did.
import express from "express";
import session from "tessera/express";

declare module "tessera/express" {
  interface SessionData {
    views: number;
    user: { id: string; name: string };
    returnTo?: string;
  }
}

const app = express();

const options: session.SessionOptions = {
  secret: "keyboard cat",
  cookie: { secure: "auto" },
};
const perRequest: session.SessionOptions = {
  secret: "keyboard cat",
  cookie: (req: express.Request) => ({ secure: req.secure }),
};
app.use(session(perRequest));
app.use(session(options));
const handler: express.RequestHandler = session(options);
express.Router().use(handler);
app.use(
  session({
    secret: ["keyboard cat", "old keyboard cat"],
    name: "connect.sid",
    store: new session.MemoryStore(),
    cookie: { path: "/", httpOnly: true, secure: false, maxAge: null, sameSite: "lax" },
    // Functions of Express's request, as code typed for express-session writes them.
    genid: (req: express.Request) => `${req.ip}-id`,
    rolling: false,
    resave: true,
    proxy: true,
    saveUninitialized: true,
    unset: "keep",
  }),
);

app.get("/", (req, res, next) => {
  if (req.session.views) {
    req.session.views++;
    const maxAge: number | null | undefined = req.session.cookie.maxAge;
    res.send(`views: ${req.session.views}, expires in ${(maxAge ?? 0) / 1000}s`);
    return;
  }
  req.session.views = 1;
  // @ts-expect-error: views is declared as a number
  req.session.views = "one";
  const id: string = req.session.id;
  const sameId: string = req.sessionID;
  req.session.cookie.expires = new Date(Date.now() + 60_000);
  req.session.cookie.maxAge = 60_000;
  req.session.touch();
  req.session.resetMaxAge();
  req.session.reload((error) => {
    if (error) return next(error);
    res.send(id === sameId ? "welcome" : "?");
  });
});

app.post("/login", (req, res, next) => {
  req.session.regenerate((error) => {
    if (error) return next(error);
    req.session.user = { id: "1", name: "Ada" };
    req.session.save((error) => {
      if (error) return next(error);
      res.redirect(req.session.returnTo ?? "/");
    });
  });
});

app.post("/logout", (req, res, next) => {
  req.session.destroy((error) => {
    if (error) return next(error);
    res.redirect("/");
  });
});

// A store written against express-session's abstract Store, as custom stores are.
class MapStore extends session.Store {
  readonly sessions = new Map<string, session.SessionData>();

  get(sid: string, callback: (err: unknown, session?: session.SessionData | null) => void): void {
    callback(null, this.sessions.get(sid) ?? null);
  }

  set(sid: string, data: session.SessionData, callback?: (err?: unknown) => void): void {
    // Custom stores read the cookie's expiry from the session they are given.
    const expires: Date | null | false | undefined = data.cookie.expires;
    void expires;
    this.sessions.set(sid, data);
    callback?.();
  }

  destroy(sid: string, callback?: (err?: unknown) => void): void {
    this.sessions.delete(sid);
    callback?.();
  }
}
const store: session.Store = new MapStore();
app.use(session({ secret: "keyboard cat", store: new MapStore(), resave: false }));
const memory: session.MemoryStore = new session.MemoryStore();
const cookie: session.Cookie = new session.Cookie();
const cookieOptions: session.CookieOptions = { maxAge: 1000 };
const data: Partial<session.SessionData> = { views: 2 };
void [store, memory, cookie, cookieOptions, data];
