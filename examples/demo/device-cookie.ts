import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import { accountKey } from "./login-throttle.js";

/** The cookie that marks a browser which has signed in to an account (see login-throttle.ts). */
export const DEVICE_COOKIE = "tessera.device";

/** How long a browser stays known without signing in again. */
export const DEVICE_COOKIE_MAX_AGE_MS = 90 * 24 * 60 * 60 * 1000;

const ID_BYTES = 16;
const ID = /^[A-Za-z0-9_-]{22}$/;

/**
 * Issues and checks device cookies: `<random id>.<HMAC-SHA256 of the account and the id>`. The
 * key is derived from the session secret (newest first; older ones are still accepted, as for
 * the session cookie), with its own label, so a device cookie's signature is never a valid
 * session cookie signature or the reverse. The cookie names no account: it only verifies
 * against the username the login form sends, so it tells nothing to whoever reads it.
 *
 * @example
 * const devices = new DeviceCookies(config.secret);
 * res.cookie(DEVICE_COOKIE, devices.issue("demo"), { httpOnly: true, path: "/login" });
 * const device = devices.verify(cookies[DEVICE_COOKIE], "demo"); // the id, or undefined
 */
export class DeviceCookies {
  readonly #keys: readonly Buffer[];

  constructor(secret: string | readonly string[]) {
    const secrets = typeof secret === "string" ? [secret] : secret;
    this.#keys = secrets.map((one) =>
      createHmac("sha256", one).update("tessera demo device cookie").digest(),
    );
  }

  /** A new device cookie value for `username`. */
  issue(username: string): string {
    const id = randomBytes(ID_BYTES).toString("base64url");
    return `${id}.${this.#sign(this.#keys[0] as Buffer, username, id)}`;
  }

  /** The device id in `value` when the demo issued it for `username`; otherwise undefined. */
  verify(value: string | undefined, username: string): string | undefined {
    if (value === undefined) return undefined;
    const dot = value.indexOf(".");
    const id = value.slice(0, dot);
    if (dot === -1 || !ID.test(id)) return undefined;
    const given = Buffer.from(value.slice(dot + 1), "utf8");
    for (const key of this.#keys) {
      const expected = Buffer.from(this.#sign(key, username, id), "utf8");
      if (given.length === expected.length && timingSafeEqual(given, expected)) return id;
    }
    return undefined;
  }

  #sign(key: Buffer, username: string, id: string): string {
    return createHmac("sha256", key)
      .update(`${accountKey(username)}\n${id}`)
      .digest("base64url");
  }
}
