import type { OutgoingHttpHeaders } from "node:http";

/** What the engine needs of a response to add its cookie. */
interface HeaderTarget {
  getHeader(name: string): unknown;
  setHeader(name: string, value: string | readonly string[]): unknown;
}

/** Adds one Set-Cookie value after those already on the response. */
export function appendSetCookie(res: HeaderTarget, value: string): void {
  const existing = res.getHeader("Set-Cookie");
  if (existing === undefined) res.setHeader("Set-Cookie", value);
  else {
    res.setHeader("Set-Cookie", [
      ...(Array.isArray(existing) ? (existing as unknown[]).map(String) : [String(existing)]),
      value,
    ]);
  }
}

function isSetCookie(name: unknown): boolean {
  return typeof name === "string" && name.toLowerCase() === "set-cookie";
}

/**
 * The arguments for the real `writeHead`, with the session cookie among the headers it sends.
 *
 * node's `writeHead(status, [message,] headers)` replaces a header the response already holds
 * when `headers` names it too: a Set-Cookie in `headers` would wipe the session cookie set on the
 * response. In that case the cookie goes into a copy of `headers`. The app's own object or array
 * is never written to: apps pass one module-level object to every response, and a cookie
 * written into it would reach the next visitor (express-session's on-headers had this bug
 * class, CVE-2025-7339). Otherwise the cookie is set on the response, where `headers` leaves it.
 */
export function writeHeadWithCookie(
  res: HeaderTarget,
  args: readonly unknown[],
  value: string,
): unknown[] {
  const at = typeof args[1] === "string" ? 2 : 1;
  const headers = args[at];
  let replaced: unknown;
  if (Array.isArray(headers)) {
    // The cookies join in one Set-Cookie entry holding a list: when the response already has a
    // header (Express's X-Powered-By), node applies an array entry by entry with setHeader, and
    // a second Set-Cookie entry would replace the first.
    const cookies: unknown[] = [];
    const rest: unknown[] = [];
    if (headers.length > 0 && Array.isArray(headers[0])) {
      // [[name, value], ...]
      for (const pair of headers as unknown[][]) {
        if (isSetCookie(pair[0])) cookies.push(...[pair[1]].flat());
        else rest.push(pair);
      }
      if (cookies.length > 0) replaced = [...rest, ["Set-Cookie", [...cookies, value]]];
    } else {
      // node's raw form: [name, value, name, value, ...]
      for (let index = 0; index < headers.length; index += 2) {
        if (isSetCookie(headers[index])) cookies.push(...[headers[index + 1]].flat());
        else rest.push(headers[index], headers[index + 1]);
      }
      if (cookies.length > 0) replaced = [...rest, "Set-Cookie", [...cookies, value]];
    }
  } else if (typeof headers === "object" && headers !== null) {
    const object = headers as OutgoingHttpHeaders;
    const key = Object.keys(object).find(isSetCookie);
    if (key !== undefined) {
      const given = object[key];
      const copy: OutgoingHttpHeaders = { ...object };
      copy[key] = [
        ...(Array.isArray(given) ? given : given === undefined ? [] : [String(given)]),
        value,
      ];
      replaced = copy;
    }
  }
  if (replaced === undefined) {
    appendSetCookie(res, value);
    return args as unknown[];
  }
  const copy = [...args];
  copy[at] = replaced;
  return copy;
}

/**
 * node's error for a header change after the headers went out (`ERR_HTTP_HEADERS_SENT`), with
 * its words: a response whose `end()` is waiting for the session to be saved must answer a late
 * `setHeader` as a sent response does, as it would under express-session.
 */
export function headersSentError(verb: "set" | "append" | "remove" | "write"): Error {
  const error = new Error(`Cannot ${verb} headers after they are sent to the client`);
  (error as Error & { code: string }).code = "ERR_HTTP_HEADERS_SENT";
  return error;
}
