// Filling in the demo's forms over supertest, for the in-process demo suites.
import assert from "node:assert/strict";
import type { Agent, Response } from "supertest";

/** The CSRF token in a page's form. */
export function tokenOf(res: Response): string {
  const match = /name="_csrf" value="([^"]+)"/.exec(res.text);
  assert.ok(match, `no CSRF field in the page:\n${res.text.slice(0, 500)}`);
  return match[1] as string;
}

/**
 * Gets the login form and posts `username` and `password` with its token, every request from
 * `ip` when given (the demo must trust the proxy for X-Forwarded-For to count).
 */
export async function postLogin(
  agent: Agent,
  username: string,
  password: string,
  ip?: string,
): Promise<Response> {
  const from = ip === undefined ? {} : { "X-Forwarded-For": ip };
  const form = await agent.get("/login").set(from).expect(200);
  return agent
    .post("/login")
    .set(from)
    .type("form")
    .send({ username, password, _csrf: tokenOf(form) });
}
