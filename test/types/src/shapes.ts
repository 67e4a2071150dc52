// The ways an application reaches the middleware: default import, named import, namespace
// import; each is callable and carries express-session's names.
import * as star from "tessera/express";
import session, {
  type Cookie,
  type MemoryStore,
  session as named,
  type Session,
  type Store,
} from "tessera/express";

const options: star.SessionOptions = { secret: "keyboard cat", resave: false };
session(options);
named(options);
session.session(options);
star.session(options);
star.default(options);
const classes: [typeof Cookie, typeof MemoryStore, typeof Session, typeof Store] = [
  session.Cookie,
  session.MemoryStore,
  session.Session,
  session.Store,
];
const fromStar: typeof session = star.default;
// @ts-expect-error: not a member of tessera/express
session.notAThing;
// @ts-expect-error: the secret is required
session({ resave: false });
void [classes, fromStar];
