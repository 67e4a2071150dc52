// Named assertions about what a client sees, and fixture constants, so tests state exact
// header values instead of re-parsing them ad hoc.
import assert from "node:assert/strict";
import type { Response } from "supertest";
import { sign } from "../../src/core/signing.js";

export const SECRET = "keyboard cat, but at least thirty-two characters long";
export const OLD_SECRET = "the secret we used last year, also thirty-two chars";
export const ID = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
/** `ID` signed with `SECRET`, as it travels in a Cookie header. */
export const SIGNED = `s:${sign(ID, SECRET)}`;

/** `ID` signed with `SECRET`, then altered in each way a forged cookie can differ: none verifies. */
export const TAMPERED: readonly [what: string, signed: string][] = ((signed) => [
  ["another secret's signature", sign(ID, "another secret entirely, thirty-two+")],
  ["a truncated signature", signed.slice(0, -1)],
  ["an extended signature", `${signed}A`],
  ["a changed value", `X${signed.slice(1)}`],
  ["a changed signature", `${signed.slice(0, -1)}${signed.endsWith("A") ? "B" : "A"}`],
  ["no dot", ID],
  ["an empty value", `.${signed.split(".")[1]}`],
  ["an empty string", ""],
])(sign(ID, SECRET));

export function setCookies(res: Response): string[] {
  const header = res.headers["set-cookie"] as string[] | string | undefined;
  if (header === undefined) return [];
  return Array.isArray(header) ? header : [header];
}

/** The Set-Cookie line for `name`, or undefined. */
export function setCookie(res: Response, name = "connect.sid"): string | undefined {
  return setCookies(res).find((line) => line.startsWith(`${name}=`));
}

export function shouldSetCookie(res: Response, name = "connect.sid"): string {
  const line = setCookie(res, name);
  assert.ok(line, `expected a Set-Cookie for ${name}, got: ${JSON.stringify(setCookies(res))}`);
  return line;
}

export function shouldNotSetCookie(res: Response, name = "connect.sid"): void {
  assert.equal(setCookie(res, name), undefined, `expected no Set-Cookie for ${name}`);
}

/** The `name=value` pair to send back in a Cookie header. */
export function cookiePair(res: Response, name = "connect.sid"): string {
  return shouldSetCookie(res, name).split(";")[0] as string;
}

/** The session id carried by a Set-Cookie line (unsigned, decoded). */
export function sessionIdOf(res: Response, name = "connect.sid"): string {
  const value = decodeURIComponent(cookiePair(res, name).slice(name.length + 1));
  assert.ok(value.startsWith("s:"), "expected a signed cookie");
  return value.slice(2, value.lastIndexOf("."));
}

/** The attributes of a Set-Cookie line, lower-cased names. */
export function attributes(line: string): Record<string, string | true> {
  const out: Record<string, string | true> = {};
  for (const part of line.split(";").slice(1)) {
    const [key, ...rest] = part.trim().split("=");
    out[(key as string).toLowerCase()] = rest.length > 0 ? rest.join("=") : true;
  }
  return out;
}
