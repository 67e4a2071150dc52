// One browser for the journey suite: `fetch` over real HTTP, with a cookie jar that keeps what
// a browser keeps (a cookie is replaced by name, dropped when it is sent expired), and named
// assertions about the session cookie.
import assert from "node:assert/strict";

/** The session cookie's name: express-session's default, which the suite never changes. */
export const COOKIE = "connect.sid";

/** Long enough for any one request on a busy machine, short enough that a hang fails the test. */
const REQUEST_TIMEOUT_MS = 5000;

/** What a response held, as the tests need it. */
export interface Reply {
  status: number;
  text: string;
  /** The body parsed as JSON, or `undefined` when it is not JSON. */
  body: unknown;
  /** Every Set-Cookie line of the response. */
  setCookies: string[];
}

export class Visitor {
  #origin: string;
  /** Cookie name → value as the server sent it (still URL-encoded). */
  readonly #jar = new Map<string, string>();

  constructor(origin: string) {
    this.#origin = origin;
  }

  /** The origin the browser talks to: "http://127.0.0.1:PORT". */
  get origin(): string {
    return this.#origin;
  }

  /**
   * Points the browser at another server on the same host, keeping its cookies, as a browser
   * keeps them across ports (and across a restart of the app).
   */
  moveTo(origin: string): void {
    this.#origin = origin;
  }

  /** The session cookie's value as the browser holds it (URL-encoded), if it holds one. */
  get sessionCookie(): string | undefined {
    return this.#jar.get(COOKIE);
  }

  /** Makes the browser hold `value` (unencoded, such as `s:<id>.<sig>`) as its session cookie. */
  holdSessionCookie(value: string): void {
    this.#jar.set(COOKIE, encodeURIComponent(value));
  }

  get(path: string, headers: Record<string, string> = {}): Promise<Reply> {
    return this.#send("GET", path, headers);
  }

  post(path: string, headers: Record<string, string> = {}): Promise<Reply> {
    return this.#send("POST", path, headers);
  }

  async #send(method: string, path: string, headers: Record<string, string>): Promise<Reply> {
    const cookie = [...this.#jar].map(([name, value]) => `${name}=${value}`).join("; ");
    const response = await fetch(new URL(path, this.#origin), {
      method,
      // A connection per request: no pooled socket outlives its server, and no keep-alive timer
      // races a test that moves the clock.
      headers: { connection: "close", ...(cookie === "" ? {} : { cookie }), ...headers },
      redirect: "manual",
      signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
    });
    const text = await response.text();
    const setCookies = response.headers.getSetCookie();
    for (const line of setCookies) this.#keep(line);
    let body: unknown;
    if (response.headers.get("content-type")?.includes("json")) body = JSON.parse(text);
    return { status: response.status, text, body, setCookies };
  }

  #keep(line: string): void {
    const pair = line.split(";")[0] ?? "";
    const equals = pair.indexOf("=");
    if (equals <= 0) return;
    const name = pair.slice(0, equals).trim();
    const { expires, "max-age": maxAge } = attributesOf(line);
    const expired =
      (typeof maxAge === "string" && Number(maxAge) <= 0) ||
      (typeof expires === "string" && Date.parse(expires) <= Date.now());
    if (expired) this.#jar.delete(name);
    else this.#jar.set(name, pair.slice(equals + 1).trim());
  }
}

/** The attributes of a Set-Cookie line, by lower-cased name; `true` for a flag. */
export function attributesOf(line: string): Record<string, string | true> {
  const out: Record<string, string | true> = {};
  for (const part of line.split(";").slice(1)) {
    const [key = "", ...rest] = part.trim().split("=");
    out[key.toLowerCase()] = rest.length > 0 ? rest.join("=") : true;
  }
  return out;
}

/** The response's Set-Cookie line for the session cookie, or `undefined`. */
export function sessionCookieLine(reply: Reply): string | undefined {
  return reply.setCookies.find((line) => line.startsWith(`${COOKIE}=`));
}

export function shouldSetSessionCookie(reply: Reply): string {
  const line = sessionCookieLine(reply);
  assert.ok(line, `expected a Set-Cookie for ${COOKIE}, got ${JSON.stringify(reply.setCookies)}`);
  return line;
}

export function shouldNotSetSessionCookie(reply: Reply): void {
  assert.equal(sessionCookieLine(reply), undefined, `expected no Set-Cookie for ${COOKIE}`);
}

/** The decoded value of the session cookie the response set: `s:<id>.<signature>`. */
export function signedValueOf(reply: Reply): string {
  const pair = shouldSetSessionCookie(reply).split(";")[0] as string;
  return decodeURIComponent(pair.slice(COOKIE.length + 1));
}

/** The session id the response's cookie carries. */
export function sessionIdOf(reply: Reply): string {
  const value = signedValueOf(reply);
  assert.ok(value.startsWith("s:"), `expected a signed cookie, got ${value}`);
  return value.slice(2, value.lastIndexOf("."));
}

/** The response clears the session cookie (an empty value that has already expired). */
export function shouldClearSessionCookie(reply: Reply): void {
  const line = shouldSetSessionCookie(reply);
  assert.ok(line.startsWith(`${COOKIE}=;`), `expected an empty cookie, got ${line}`);
  const expires = attributesOf(line).expires;
  assert.ok(
    typeof expires === "string" && Date.parse(expires) <= Date.now(),
    `expected an expiry in the past, got ${line}`,
  );
}
