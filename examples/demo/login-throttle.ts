import { randomUUID } from "node:crypto";
import { isIPv6 } from "node:net";
import type Database from "better-sqlite3";

/*
 * Login throttling: how many wrong passwords the demo lets anyone try, and for how long it then
 * refuses to check more. ASVS 4.0.3 V2.2.1 asks for at most 100 failed attempts per hour on one
 * account, without letting an attacker lock the real user out. Three limits meet both:
 *
 * 1. One account from one client (its IP address, or its /64 for IPv6, since one machine holds
 *    a whole /64): the first 4 failures in a row cost nothing; the 5th locks the pair for
 *    1 minute, and each further failure doubles the wait, up to 15 minutes. A success clears
 *    the pair. A user who mistypes waits a minute; a guesser gets about a dozen tries an hour.
 * 2. One client, across all accounts: 50 failures in the last hour. This stops one address
 *    trying one common password on many accounts, which limit 1 alone would allow.
 * 3. One account, from all clients that have never signed in to it: 100 failures in the last
 *    hour (ASVS's ceiling). This stops many addresses sharing the work on one account.
 *
 * Limits 1 and 2 lock out only the client that failed: the real user on another network is not
 * concerned. Limit 3 would let an attacker with a few addresses keep an account locked for
 * everyone, forever, at 100 guesses an hour. So it, and limit 2, do not apply to a browser that
 * has signed in to the account before: a successful login leaves a signed "device cookie" (see
 * device-cookie.ts, after OWASP's "Slow Down Online Guessing Attacks with Device Cookies"), and
 * a browser that presents a valid one for the account is throttled on its own (limit 1, keyed by
 * the device instead of the address), never by other clients' failures. Only a first sign-in
 * from a new browser while the account is under attack has to wait, at most an hour after the
 * attack stops. A known browser's own failures do not count towards limit 3: each adds at most
 * about a dozen an hour, and only a browser that once had the password holds a device cookie.
 *
 * Failures are counted before the password is checked (an attempt is a failure until it
 * succeeds), so a burst of parallel requests cannot all slip in before the first one fails, and
 * a locked attempt answers at once without checking the password: the right password is refused
 * too, and costs no scrypt work. A locked attempt is not itself counted, so the lock of a
 * client that keeps knocking does not grow. Unknown usernames are counted like real ones: the
 * answers do not tell which accounts exist.
 *
 * The state is a table in the demo's own SQLite database, beside the accounts it protects: it
 * survives a restart, and demo processes sharing a data folder share it. An app running on
 * several hosts would keep it where all of them see it, as its sessions are: Redis (a sorted
 * set per key, `ZADD` and `ZREMRANGEBYSCORE` in one script) or a PostgreSQL table.
 */

/** The limits of {@link LoginThrottle}; the comment at the top of this file explains them. */
export interface LoginThrottleOptions {
  /** Failures in a row, for one account from one client, at which that pair is locked. @default 5 */
  failuresBeforeLock?: number;
  /** The first lock; each further failure doubles it. @default 60_000 */
  firstLockMs?: number;
  /** The longest lock of one account from one client. @default 900_000 (15 minutes) */
  maxLockMs?: number;
  /** Failures of one client, across all accounts, per window. @default 50 */
  clientLimit?: number;
  /** Failures on one account from clients that never signed in to it, per window. @default 100 */
  accountLimit?: number;
  /** How long a failure counts. @default 3_600_000 (an hour) */
  windowMs?: number;
  /** The clock, in ms since the epoch. @default Date.now */
  now?: () => number;
}

/** One login attempt, as the throttle sees it. */
export interface LoginAttempt {
  /** The username as typed. */
  username: string;
  /** The client's address (`req.ip`). */
  ip: string | undefined;
  /** The id of the browser's device cookie, when it is valid for this username. */
  device: string | undefined;
}

/** The attempt may go on: check the password, then report how it went. */
export interface Admitted {
  admitted: true;
  /** Hand it back to {@link LoginThrottle.failed} or {@link LoginThrottle.succeeded}. */
  ticket: Ticket;
}

/** The attempt is refused until `retryAtMs`, without checking the password. */
export interface Refused {
  admitted: false;
  retryAtMs: number;
}

/** An attempt let in by {@link LoginThrottle.admit}. */
export interface Ticket {
  readonly id: string;
  readonly backoffKey: string;
  readonly windowKeys: readonly { key: string; limit: number }[];
}

const DEFAULTS: Required<LoginThrottleOptions> = {
  failuresBeforeLock: 5,
  firstLockMs: 60_000,
  maxLockMs: 15 * 60_000,
  clientLimit: 50,
  accountLimit: 100,
  windowMs: 60 * 60_000,
  now: Date.now,
};

/** Usernames are unique whatever their letter case, so their failures count together. */
export function accountKey(username: string): string {
  return username.trim().toLowerCase();
}

/**
 * The client a failure is counted against: the IPv4 address, or the /64 network of an IPv6
 * address (one host is usually given a whole /64, so counting single addresses would give it
 * 2^64 fresh starts).
 */
export function clientKey(ip: string | undefined): string {
  if (ip === undefined || ip === "") return "unknown";
  const mapped = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(ip);
  if (mapped !== null) return mapped[1] as string;
  return isIPv6(ip) ? `${ipv6Prefix64(ip)}::/64` : ip;
}

function ipv6Prefix64(ip: string): string {
  const [head = "", tail] = (ip.split("%")[0] as string).toLowerCase().split("::");
  // An IPv4 tail (`::ffff:1.2.3.4`, `64:ff9b::1.2.3.4`) fills the last two groups.
  const groups = (part: string) =>
    part === ""
      ? []
      : part.split(":").flatMap((group) => (group.includes(".") ? ["0", "0"] : [group]));
  const left = groups(head);
  const right = tail === undefined ? [] : groups(tail);
  const all = [...left, ...Array<string>(8 - left.length - right.length).fill("0"), ...right];
  return all
    .slice(0, 4)
    .map((group) => Number.parseInt(group, 16).toString(16))
    .join(":");
}

/**
 * Counts failed logins in the demo's SQLite database and says when an attempt must wait.
 *
 * @example
 * const throttle = new LoginThrottle(db.sqlite);
 * const attempt = throttle.admit({ username, ip: req.ip, device });
 * if (!attempt.admitted) return tooMany(attempt.retryAtMs);
 * if (await verifyPassword(password, hash)) throttle.succeeded(attempt.ticket);
 * else throttle.failed(attempt.ticket);
 */
export class LoginThrottle {
  readonly #options: Required<LoginThrottleOptions>;
  readonly #admit: (attempt: LoginAttempt) => Admitted | Refused;
  readonly #times: Database.Statement<[string, number], number>;
  readonly #forget: Database.Transaction<(ticket: Ticket) => void>;

  constructor(db: Database.Database, options: LoginThrottleOptions = {}) {
    this.#options = Object.freeze({ ...DEFAULTS, ...definedOnly(options) });
    db.exec(`
      CREATE TABLE IF NOT EXISTS login_failures (
        key TEXT NOT NULL,
        at_ms INTEGER NOT NULL,
        attempt TEXT NOT NULL
      );
      CREATE INDEX IF NOT EXISTS login_failures_key ON login_failures (key, at_ms);
      CREATE INDEX IF NOT EXISTS login_failures_at ON login_failures (at_ms);
      CREATE INDEX IF NOT EXISTS login_failures_attempt ON login_failures (attempt);
    `);
    this.#times = db
      .prepare<[string, number], number>(
        "SELECT at_ms FROM login_failures WHERE key = ? AND at_ms > ? ORDER BY at_ms",
      )
      .pluck();
    const prune = db.prepare("DELETE FROM login_failures WHERE at_ms <= ?");
    const insert = db.prepare("INSERT INTO login_failures (key, at_ms, attempt) VALUES (?, ?, ?)");
    const admit = db.transaction((attempt: LoginAttempt): Admitted | Refused => {
      const nowMs = this.#options.now();
      prune.run(nowMs - this.#options.windowMs);
      const ticket = this.#ticketOf(attempt);
      const retryAtMs = this.#retryAt(ticket, nowMs);
      if (retryAtMs > nowMs) return { admitted: false, retryAtMs };
      for (const key of [ticket.backoffKey, ...ticket.windowKeys.map((window) => window.key)]) {
        insert.run(key, nowMs, ticket.id);
      }
      return { admitted: true, ticket };
    });
    // IMMEDIATE takes the write lock before reading, so two demo processes sharing the file
    // cannot both read "4 failures" and both let a 5th guess through.
    this.#admit = (attempt) => admit.immediate(attempt);
    const byAttempt = db.prepare("DELETE FROM login_failures WHERE attempt = ?");
    const byKey = db.prepare("DELETE FROM login_failures WHERE key = ?");
    this.#forget = db.transaction((ticket: Ticket) => {
      byAttempt.run(ticket.id);
      byKey.run(ticket.backoffKey);
    });
  }

  /** The throttle's clock, in ms since the epoch. */
  now(): number {
    return this.#options.now();
  }

  /** Whether `attempt` may check a password now; if so, it counts as a failure until it succeeds. */
  admit(attempt: LoginAttempt): Admitted | Refused {
    return this.#admit(attempt);
  }

  /** The password was wrong. Returns when the next attempt may come, if this one started a lock. */
  failed(ticket: Ticket): number | undefined {
    const nowMs = this.#options.now();
    const retryAtMs = this.#retryAt(ticket, nowMs);
    return retryAtMs > nowMs ? retryAtMs : undefined;
  }

  /** The password was right: this attempt was no failure, and its account and client start afresh. */
  succeeded(ticket: Ticket): void {
    this.#forget(ticket);
  }

  #ticketOf(attempt: LoginAttempt): Ticket {
    const account = accountKey(attempt.username);
    const id = randomUUID();
    if (attempt.device !== undefined) {
      return {
        id,
        backoffKey: JSON.stringify(["device", account, attempt.device]),
        windowKeys: [],
      };
    }
    const client = clientKey(attempt.ip);
    return {
      id,
      backoffKey: JSON.stringify(["pair", account, client]),
      windowKeys: [
        { key: JSON.stringify(["client", client]), limit: this.#options.clientLimit },
        { key: JSON.stringify(["account", account]), limit: this.#options.accountLimit },
      ],
    };
  }

  /** The latest time any of the ticket's limits lets the next attempt in (0: none is reached). */
  #retryAt(ticket: Ticket, nowMs: number): number {
    const { failuresBeforeLock, firstLockMs, maxLockMs, windowMs } = this.#options;
    const since = nowMs - windowMs;
    const failures = this.#times.all(ticket.backoffKey, since);
    let retryAtMs = 0;
    if (failures.length >= failuresBeforeLock) {
      const doublings = failures.length - failuresBeforeLock;
      const lockMs = Math.min(firstLockMs * 2 ** doublings, maxLockMs);
      retryAtMs = (failures.at(-1) as number) + lockMs;
    }
    for (const { key, limit } of ticket.windowKeys) {
      const times = this.#times.all(key, since);
      // Sliding window: open again when the oldest failure that keeps the count at the limit
      // is an hour old.
      if (times.length >= limit) {
        retryAtMs = Math.max(retryAtMs, (times[times.length - limit] as number) + windowMs);
      }
    }
    return retryAtMs;
  }
}

function definedOnly(options: LoginThrottleOptions): LoginThrottleOptions {
  return Object.fromEntries(Object.entries(options).filter(([, value]) => value !== undefined));
}
