/**
 * The `tessera sessions` commands. Each reads or changes the store through the Store contract
 * only, so every store that has the capability works, and prints a table, or JSON with
 * `--json`. Ids are credentials: shown shortened unless `--full-ids`.
 */
import { requireCapability } from "../store/record.js";
import type { SessionRecord, Store } from "../store/types.js";
import { CliError, EXIT, usageError } from "./errors.js";
import {
  absoluteTime,
  displayId,
  formatCount,
  isoTime,
  relativeTime,
  SHORT_ID_LENGTH,
  safeText,
  toJson,
} from "./format.js";
import { Progress, type ProgressStream, startSpinner } from "./progress.js";
import type { OpenStore } from "./store-url.js";
import { renderPairs, renderTable } from "./table.js";

/** What a command needs besides its arguments. */
export interface CommandContext {
  opened: OpenStore;
  /** Writes one line of the result to stdout. */
  print(line: string): void;
  /** Where progress is drawn (stderr). */
  progressStream: ProgressStream;
  json: boolean;
  fullIds: boolean;
  progress: boolean;
  nowMs: number;
}

/** One session as the CLI shows it: never its data, unless asked. */
interface SessionRow {
  id: string;
  user: string | null;
  createdAt: number | undefined;
  seenAt: number | undefined;
  expiresAt: number | undefined;
  ip: string | null;
  userAgent: string | null;
}

function rowOf(id: string, record: SessionRecord): SessionRow {
  const meta = record.__tessera;
  return {
    id,
    user: meta?.user ?? null,
    createdAt: meta?.createdAt,
    seenAt: meta?.seenAt,
    expiresAt: expiresOf(record),
    ip: meta?.ip ?? null,
    userAgent: meta?.userAgent ?? null,
  };
}

function expiresOf(record: SessionRecord): number | undefined {
  const expires = record.cookie?.expires;
  if (!expires) return undefined;
  const ms = new Date(expires).getTime();
  return Number.isNaN(ms) ? undefined : ms;
}

function rowJson(row: SessionRow, fullIds: boolean) {
  return {
    id: displayId(row.id, fullIds, ""),
    user: row.user,
    createdAt: isoTime(row.createdAt),
    seenAt: isoTime(row.seenAt),
    expiresAt: isoTime(row.expiresAt),
    ip: row.ip,
    userAgent: row.userAgent,
  };
}

const when = (ms: number | undefined, nowMs: number) =>
  ms === undefined ? "-" : relativeTime(ms, nowMs);

/** Newest first; sessions without a creation time (written by express-session) last. */
function byCreatedDesc(a: SessionRow, b: SessionRow): number {
  return (b.createdAt ?? Number.NEGATIVE_INFINITY) - (a.createdAt ?? Number.NEGATIVE_INFINITY);
}

/** Streams every live session with a progress bar on long scans. */
async function* scan(
  context: CommandContext,
): AsyncGenerator<[id: string, record: SessionRecord], void, undefined> {
  const store = context.opened.store;
  requireCapability(store, "entries", "listing sessions");
  // Counting first is one query on SQL stores; on Redis it would be a second full scan.
  const total =
    context.progress && context.opened.cheapLength && typeof store.length === "function"
      ? await store.length()
      : undefined;
  const progress = new Progress(context.progressStream, {
    noun: "sessions",
    total,
    enabled: context.progress,
  });
  try {
    for await (const entry of store.entries()) {
      progress.tick();
      yield entry;
    }
  } finally {
    progress.done();
  }
}

/** `tessera sessions list` */
export async function listSessions(
  context: CommandContext,
  options: { user: string | undefined; limit: number | undefined },
): Promise<void> {
  const store = context.opened.store;
  const rows: SessionRow[] = [];
  if (options.user !== undefined) {
    requireCapability(store, "idsForUser", "listing a user's sessions");
    for (const id of await store.idsForUser(options.user)) {
      const record = await store.get(id);
      if (record !== undefined) rows.push(rowOf(id, record));
    }
  } else {
    for await (const [id, record] of scan(context)) rows.push(rowOf(id, record));
  }
  rows.sort(byCreatedDesc);
  const shown = options.limit === undefined ? rows : rows.slice(0, options.limit);
  if (context.json) {
    context.print(toJson(shown.map((row) => rowJson(row, context.fullIds))));
    return;
  }
  if (shown.length === 0) {
    context.print(
      options.user === undefined ? "No live sessions." : "No live sessions for this user.",
    );
    return;
  }
  const nowMs = context.nowMs;
  const lines = renderTable(
    [
      { header: "ID" },
      { header: "USER" },
      { header: "CREATED" },
      { header: "LAST SEEN" },
      { header: "EXPIRES" },
      { header: "IP" },
      { header: "USER AGENT" },
    ],
    shown.map((row) => [
      displayId(row.id, context.fullIds),
      safeText(row.user ?? "-"),
      when(row.createdAt, nowMs),
      when(row.seenAt, nowMs),
      when(row.expiresAt, nowMs),
      safeText(row.ip ?? "-"),
      safeText(shorten(row.userAgent ?? "-", 40)),
    ]),
  );
  for (const line of lines) context.print(line);
  const more = rows.length - shown.length;
  context.print(
    `${formatCount(rows.length)} session${rows.length === 1 ? "" : "s"}${more > 0 ? ` (${formatCount(more)} not shown)` : ""}.`,
  );
}

function shorten(text: string, size: number): string {
  const chars = [...text];
  return chars.length <= size ? text : `${chars.slice(0, size - 1).join("")}…`;
}

/**
 * The full id a command names: the whole id, or (as `list` prints them) its first
 * {@link SHORT_ID_LENGTH} or more characters, with or without the trailing "…". Errors never
 * repeat what was given: it is (part of) a credential.
 */
export async function resolveId(context: CommandContext, given: string): Promise<string> {
  const store = context.opened.store;
  const text = given.replace(/(…|\.\.\.)$/, "");
  if (text === "") throw usageError("the session id is empty.");
  if ((await store.get(text)) !== undefined) return text;
  if (text.length < SHORT_ID_LENGTH || typeof store.ids !== "function") {
    throw new CliError("no live session has this id: it may have expired or been revoked.");
  }
  const matches: string[] = [];
  const progress = new Progress(context.progressStream, {
    noun: "sessions",
    enabled: context.progress,
  });
  try {
    for await (const id of store.ids()) {
      progress.tick();
      if (id.startsWith(text)) {
        matches.push(id);
        if (matches.length > 1) break;
      }
    }
  } finally {
    progress.done();
  }
  if (matches.length > 1) {
    throw new CliError(
      "more than one session starts with this id: give more of it (`--full-ids` shows whole ids).",
      EXIT.usage,
    );
  }
  const [match] = matches;
  if (match === undefined) {
    throw new CliError("no live session has this id: it may have expired or been revoked.");
  }
  return match;
}

/** `tessera sessions show <id>` */
export async function showSession(
  context: CommandContext,
  given: string,
  options: { data: boolean },
): Promise<void> {
  const store = context.opened.store;
  const id = await resolveId(context, given);
  const record = await store.get(id);
  if (record === undefined) {
    throw new CliError("no live session has this id: it may have expired or been revoked.");
  }
  const row = rowOf(id, record);
  const { cookie, __tessera: _meta, ...data } = record;
  const keys = Object.keys(data);
  if (context.json) {
    context.print(
      toJson(
        {
          ...rowJson(row, context.fullIds),
          cookie,
          keys,
          ...(options.data ? { data } : {}),
        },
        2,
      ),
    );
    return;
  }
  const nowMs = context.nowMs;
  const at = (ms: number | undefined) =>
    ms === undefined ? "-" : `${absoluteTime(ms)} (${relativeTime(ms, nowMs)})`;
  const flags = [
    cookie?.httpOnly ? "HttpOnly" : undefined,
    cookie?.secure === true ? "Secure" : cookie?.secure === "auto" ? "Secure=auto" : undefined,
    cookie?.sameSite === undefined || cookie.sameSite === false
      ? undefined
      : `SameSite=${cookie.sameSite === true ? "Strict" : cookie.sameSite}`,
    cookie?.path === undefined ? undefined : `Path=${cookie.path}`,
  ].filter((flag) => flag !== undefined);
  const pairs: [string, string][] = [
    ["ID", displayId(id, context.fullIds)],
    ["User", safeText(row.user ?? "- (not signed in)")],
    ["Created", at(row.createdAt)],
    ["Last seen", at(row.seenAt)],
    ["Expires", row.expiresAt === undefined ? "when the browser closes" : at(row.expiresAt)],
    ["IP", safeText(row.ip ?? "-")],
    ["User agent", safeText(row.userAgent ?? "-")],
    ["Cookie", flags.length === 0 ? "-" : flags.join("; ")],
    ["Data keys", keys.length === 0 ? "-" : safeText(keys.join(", "))],
  ];
  for (const line of renderPairs(pairs)) context.print(line);
  if (options.data) {
    context.print("");
    for (const line of toJson(data, 2).split("\n")) context.print(safeText(line));
  }
}

/** `tessera sessions revoke <id>` */
export async function revokeSession(context: CommandContext, given: string): Promise<void> {
  const id = await resolveId(context, given);
  await context.opened.store.destroy(id);
  if (context.json) {
    context.print(toJson({ revoked: 1, id: displayId(id, context.fullIds, "") }));
    return;
  }
  context.print(`Revoked session ${displayId(id, context.fullIds)}.`);
}

/** `tessera sessions revoke-user <key>` */
export async function revokeUser(context: CommandContext, user: string): Promise<void> {
  const store: Store = context.opened.store;
  if (user === "") throw usageError("the user key is empty.");
  requireCapability(store, "destroyForUser", "revoking a user's sessions");
  const revoked = await store.destroyForUser(user);
  if (context.json) {
    context.print(toJson({ user, revoked }));
    return;
  }
  context.print(
    `Revoked ${formatCount(revoked)} session${revoked === 1 ? "" : "s"} of user ${safeText(user)}.`,
  );
}

/** `tessera sessions prune` */
export async function pruneSessions(context: CommandContext): Promise<void> {
  const store = context.opened.store;
  if (typeof store.prune !== "function") {
    // Redis deletes a key when its TTL passes: there is never anything to prune.
    if (context.json) context.print(toJson({ pruned: 0, nativeExpiry: true }));
    else context.print("This store expires sessions itself: there is nothing to prune.");
    return;
  }
  const stop = startSpinner(context.progressStream, "pruning expired sessions", {
    enabled: context.progress,
  });
  let pruned: number;
  try {
    pruned = await store.prune();
  } finally {
    stop();
  }
  if (context.json) {
    context.print(toJson({ pruned, nativeExpiry: false }));
    return;
  }
  context.print(`Pruned ${formatCount(pruned)} expired session${pruned === 1 ? "" : "s"}.`);
}

const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;
const TOP_USERS = 5;

/** `tessera sessions stats` */
export async function sessionStats(context: CommandContext): Promise<void> {
  const nowMs = context.nowMs;
  let sessions = 0;
  let anonymous = 0;
  let createdLastDay = 0;
  let seenLastHour = 0;
  let expiringNextHour = 0;
  let oldestCreatedAt: number | undefined;
  const perUser = new Map<string, number>();
  for await (const [, record] of scan(context)) {
    sessions++;
    const row = rowOf("", record);
    if (row.user === null) anonymous++;
    else perUser.set(row.user, (perUser.get(row.user) ?? 0) + 1);
    if (row.createdAt !== undefined) {
      if (nowMs - row.createdAt <= DAY_MS) createdLastDay++;
      if (oldestCreatedAt === undefined || row.createdAt < oldestCreatedAt) {
        oldestCreatedAt = row.createdAt;
      }
    }
    if (row.seenAt !== undefined && nowMs - row.seenAt <= HOUR_MS) seenLastHour++;
    if (row.expiresAt !== undefined && row.expiresAt - nowMs <= HOUR_MS) expiringNextHour++;
  }
  const top = [...perUser]
    .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))
    .slice(0, TOP_USERS);
  const stats = {
    store: context.opened.label,
    sessions,
    signedIn: sessions - anonymous,
    anonymous,
    users: perUser.size,
    createdLastDay,
    seenLastHour,
    expiringNextHour,
    oldestCreatedAt: isoTime(oldestCreatedAt),
    topUsers: top.map(([user, count]) => ({ user, sessions: count })),
  };
  if (context.json) {
    context.print(toJson(stats, 2));
    return;
  }
  const pairs: [string, string][] = [
    ["Store", safeText(stats.store)],
    ["Sessions", formatCount(sessions)],
    ["Signed in", formatCount(stats.signedIn)],
    ["Anonymous", formatCount(anonymous)],
    ["Users", formatCount(stats.users)],
    ["Created in the last 24 h", formatCount(createdLastDay)],
    ["Seen in the last hour", formatCount(seenLastHour)],
    ["Expiring within an hour", formatCount(expiringNextHour)],
    [
      "Oldest",
      oldestCreatedAt === undefined
        ? "-"
        : `${absoluteTime(oldestCreatedAt)} (${relativeTime(oldestCreatedAt, nowMs)})`,
    ],
  ];
  for (const line of renderPairs(pairs)) context.print(line);
  if (top.length > 0) {
    context.print("");
    const lines = renderTable(
      [{ header: "USER" }, { header: "SESSIONS", align: "right" }],
      top.map(([user, count]) => [safeText(user), formatCount(count)]),
    );
    for (const line of lines) context.print(line);
  }
}
