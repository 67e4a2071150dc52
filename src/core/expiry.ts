import type { SessionMeta } from "../store/types.js";
import type { NormalizedOptions } from "./options.js";
import { kState, type Session } from "./session.js";

type Timeouts = Pick<NormalizedOptions, "absoluteTimeoutMs" | "idleTimeoutMs" | "sessionTtlMs">;

/**
 * A timeout kept in the record, when it is one: the record comes from the store, and a value
 * that is not a duration (NaN, negative, a string) must not switch a timeout off.
 */
function lifetimeMs(value: unknown): number | undefined {
  return typeof value === "number" && Number.isFinite(value) && value >= 0 ? value : undefined;
}

/** The session's idle timeout: its own (`setLifetime()`), else the option's. 0: none. */
export function idleTimeoutOf(options: Timeouts, meta: SessionMeta): number {
  return lifetimeMs(meta.idleTimeoutMs) ?? options.idleTimeoutMs;
}

/** The session's absolute timeout: its own (`setLifetime()`), else the option's. 0: none. */
export function absoluteTimeoutOf(options: Timeouts, meta: SessionMeta): number {
  return lifetimeMs(meta.absoluteTimeoutMs) ?? options.absoluteTimeoutMs;
}

/** The session has lived longer than its absolute timeout. */
export function pastAbsoluteTimeout(options: Timeouts, session: Session, now: number): boolean {
  const meta = session[kState].meta;
  const absoluteTimeoutMs = absoluteTimeoutOf(options, meta);
  return absoluteTimeoutMs > 0 && meta.createdAt + absoluteTimeoutMs <= now;
}

/**
 * How long the store should keep the session from `now`, or 0 when it has already expired.
 * A request that is not activity (`notActivity()`) leaves the idle deadline where the last
 * activity put it: the store keeps the session only for what remains of it.
 */
export function ttlOf(options: Timeouts, session: Session, now: number): number {
  const state = session[kState];
  const meta = state.meta;
  const expires = session.cookie.expires;
  const at = expires instanceof Date ? expires.getTime() : Number.NaN;
  // No expiry, or one no cookie can carry (an invalid Date: the cookie fails on its own, as in
  // express-session): the store keeps the session for `sessionTtlMs`.
  let ttl = Number.isNaN(at) ? options.sessionTtlMs : at - now;
  const idleTimeoutMs = idleTimeoutOf(options, meta);
  if (idleTimeoutMs > 0) {
    const idle = state.notActivity
      ? (meta.seenAt ?? meta.createdAt) + idleTimeoutMs - now
      : idleTimeoutMs;
    ttl = Math.min(ttl, idle);
  }
  const absoluteTimeoutMs = absoluteTimeoutOf(options, meta);
  if (absoluteTimeoutMs > 0) ttl = Math.min(ttl, meta.createdAt + absoluteTimeoutMs - now);
  return Math.max(ttl, 0);
}

/**
 * Why a stored session must not be used any more, or `undefined` while it is alive.
 *
 * The cookie's stored expiry is not checked: the store's own expiry is the authority, as under
 * express-session. Stores written for it (connect-redis, connect-pg-simple, ...) move only
 * their own expiry on `touch`, so a stored `cookie.expires` can be long past for a session in
 * use with `rolling`. A Tessera store (`native`) keeps the idle timeout as the TTL of every
 * write and touch; a store written for express-session ignores that TTL, so there the last-seen
 * time in the record decides, and touches of such a store rewrite the record.
 */
export function expiredBecause(
  options: Timeouts,
  native: boolean,
  meta: SessionMeta | undefined,
  now: number,
): "absolute" | "idle" | undefined {
  if (meta === undefined || typeof meta !== "object") return undefined;
  const absoluteTimeoutMs = absoluteTimeoutOf(options, meta);
  if (absoluteTimeoutMs > 0 && meta.createdAt + absoluteTimeoutMs <= now) return "absolute";
  const idleTimeoutMs = idleTimeoutOf(options, meta);
  if (idleTimeoutMs > 0 && !native) {
    const seen = typeof meta.seenAt === "number" ? meta.seenAt : meta.createdAt;
    if (seen + idleTimeoutMs <= now) return "idle";
  }
  return undefined;
}
