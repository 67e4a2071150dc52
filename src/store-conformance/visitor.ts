import { randomBytes } from "node:crypto";
import { createServer, type IncomingMessage, request, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { isTesseraError } from "../core/errors.js";
import type { LegacyStore } from "../core/options.js";
import { session } from "../node/session.js";
import type { Store } from "../store/types.js";

/** The session cookie's name: express-session's default, as most apps keep it. */
const COOKIE = "connect.sid";

/** One response as a browser sees it. */
export interface Answer {
  status: number;
  body: string;
  /** The `name=value` of the session cookie the response sets, to send back; if it sets one. */
  cookie: string | undefined;
}

/** An app serving real requests on a loopback port, with a session over the store under test. */
export interface VisitorApp {
  send(method: "GET" | "POST", path: string, cookie?: string): Promise<Answer>;
  close(): Promise<void>;
}

/** The session's data, as the routes read and write it. */
type Data = Record<string, unknown> & {
  regenerate(): Promise<void>;
  destroy(): Promise<void>;
};

/**
 * Starts a `node:http` server whose handler runs `session()` from `tessera/node` with `store`,
 * the way an app hands it its store, then one of four routes: `GET /count` (adds one to
 * `count`), `GET /me` (reads `count` and `member` as JSON, changes nothing), `POST /login`
 * (`regenerate()`, then `member = "alice"`) and `POST /logout` (`destroy()`). A failure answers
 * 500 or 503 with its error code only: ids and data never reach the report.
 */
export async function startVisitorApp(
  store: Store | LegacyStore,
  timeoutMs: number,
): Promise<VisitorApp> {
  const sessions = session({
    // A fresh secret per app, strong enough for NODE_ENV=production.
    secret: randomBytes(32).toString("base64url"),
    store,
    resave: false,
    saveUninitialized: false,
    // A cookie with a maxAge: every write carries a TTL and a cookie.expires to the store.
    cookie: { maxAge: 3_600_000 },
  });

  async function route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    await sessions(req, res);
    const data = (): Data => (req as unknown as { session: Data }).session;
    switch (`${req.method} ${req.url}`) {
      case "GET /count": {
        const count = ((data().count as number | undefined) ?? 0) + 1;
        data().count = count;
        res.end(String(count));
        return;
      }
      case "GET /me":
        res.end(JSON.stringify({ count: data().count ?? null, member: data().member ?? null }));
        return;
      case "POST /login":
        await data().regenerate();
        data().member = "alice";
        res.end("welcome");
        return;
      case "POST /logout":
        await data().destroy();
        res.end("bye");
        return;
      default:
        res.statusCode = 404;
        res.end();
    }
  }

  const server = createServer((req, res) => {
    route(req, res).catch((error: unknown) => {
      if (res.headersSent) {
        res.destroy();
        return;
      }
      res.statusCode = isTesseraError(error) ? error.status : 500;
      res.end(`failed: ${isTesseraError(error) ? error.code : "not a TesseraError"}`);
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const { port } = server.address() as AddressInfo;

  return {
    send(method, path, cookie) {
      return new Promise<Answer>((resolve, reject) => {
        // agent: false: one connection per request, closed after it, so close() waits for none.
        const headers = cookie === undefined ? {} : { cookie };
        const req = request({ host: "127.0.0.1", port, method, path, headers, agent: false });
        req.setTimeout(timeoutMs, () => {
          req.destroy(new Error(`${method} ${path} got no answer within ${timeoutMs} ms`));
        });
        req.once("error", reject);
        req.once("response", (res) => {
          let body = "";
          res.setEncoding("utf8").on("data", (chunk: string) => {
            body += chunk;
          });
          res.once("error", reject);
          res.once("end", () => {
            const line = (res.headers["set-cookie"] ?? []).find((set) =>
              set.startsWith(`${COOKIE}=`),
            );
            const status = res.statusCode ?? 0;
            resolve({ status, body, cookie: line?.slice(0, line.indexOf(";")) });
          });
        });
        req.end();
      });
    },
    close() {
      return new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}

/** The session id a `connect.sid=s%3A<id>.<signature>` pair carries. */
export function sessionIdOf(cookie: string): string {
  const value = decodeURIComponent(cookie.slice(COOKIE.length + 1));
  return value.slice(2, value.lastIndexOf("."));
}
