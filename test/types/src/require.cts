// CommonJS: `require("tessera/express")` is the session function, as require("express-session")
// is, with the types on it as a namespace.
import session = require("tessera/express");
import tessera = require("tessera");

const options: session.SessionOptions = { secret: "keyboard cat", resave: false };
const middleware: session.SessionMiddleware = session(options);
session.session(options);
new session.MemoryStore();
const data: session.SessionData = {
  cookie: new session.Cookie(),
  views: 1,
  user: { id: "1", name: "Ada" },
};
const same: tessera.SessionData = data;
const error = new tessera.TesseraError("ERR_STORE", "tessera: example");
void [middleware, same, error];
