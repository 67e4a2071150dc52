/**
 * How the CLI writes ids, numbers, times and text from the store. Everything that reaches a
 * terminal from a record goes through {@link safeText}: a user agent is whatever a browser sent,
 * and an escape sequence in it must not drive the operator's terminal.
 */

/** How many characters of an id the CLI shows unless `--full-ids`: 48 bits, unique in practice. */
export const SHORT_ID_LENGTH = 8;

const numbers = new Intl.NumberFormat("en-US");

/** `100000` → `"100,000"`. */
export function formatCount(value: number): string {
  return numbers.format(value);
}

/** The id as shown: whole with `--full-ids`, else its first characters. */
export function displayId(id: string, fullIds: boolean, marker = "…"): string {
  if (fullIds || id.length <= SHORT_ID_LENGTH) return id;
  return id.slice(0, SHORT_ID_LENGTH) + marker;
}

// C0 and C1 controls and DEL (terminal escapes: the Unicode category Cc is exactly these), and
// the bidirectional overrides that can make text read differently from what it is
// (CVE-2021-42574).
const UNSAFE = /[\p{Cc}\u202a-\u202e\u2066-\u2069]/gu;

/** Text from a record made safe for a terminal: control characters are shown escaped. */
export function safeText(text: string): string {
  return text.replace(UNSAFE, (char) => `\\u${char.charCodeAt(0).toString(16).padStart(4, "0")}`);
}

/**
 * JSON for the CLI's output. `JSON.stringify` escapes C0 controls but leaves C1 controls and
 * bidirectional overrides raw; they are escaped too, and the result is still valid JSON.
 */
export function toJson(value: unknown, indent?: number): string {
  return JSON.stringify(value, null, indent).replace(
    /[\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g,
    (char) => `\\u${char.charCodeAt(0).toString(16).padStart(4, "0")}`,
  );
}

/** A time as an ISO string for JSON, or `null`. */
export function isoTime(ms: number | undefined): string | null {
  return ms === undefined ? null : new Date(ms).toISOString();
}

/** `"2025-11-22 21:51:03 UTC"`: absolute, unambiguous, sortable. */
export function absoluteTime(ms: number): string {
  return `${new Date(ms).toISOString().slice(0, 19).replace("T", " ")} UTC`;
}

const UNITS: readonly [limitMs: number, sizeMs: number, unit: string][] = [
  [60_000, 1000, "s"],
  [3_600_000, 60_000, "min"],
  [86_400_000, 3_600_000, "h"],
  [Number.POSITIVE_INFINITY, 86_400_000, "d"],
];

/** A length of time in its largest sensible unit: `90_000` → `"1 min"`, `5_400_000` → `"1 h"`. */
export function formatDuration(ms: number): string {
  const size = Math.abs(ms);
  for (const [limit, unit, name] of UNITS) {
    if (size < limit) return `${Math.floor(size / unit)} ${name}`;
  }
  return `${Math.floor(size / 86_400_000)} d`;
}

/** A time relative to `nowMs`: `"5 min ago"`, `"in 2 h"`, `"now"`. */
export function relativeTime(ms: number, nowMs: number): string {
  const delta = ms - nowMs;
  if (Math.abs(delta) < 1000) return "now";
  return delta < 0 ? `${formatDuration(delta)} ago` : `in ${formatDuration(delta)}`;
}

const DURATION = /^(\d+(?:\.\d+)?)\s*(ms|s|m|min|h|d)?$/;
const DURATION_MS: Readonly<Record<string, number>> = {
  ms: 1,
  s: 1000,
  m: 60_000,
  min: 60_000,
  h: 3_600_000,
  d: 86_400_000,
};

/** `"90s"`, `"30m"`, `"2h"`, `"1d"`, or a number of ms; `undefined` when it is none of these. */
export function parseDuration(text: string): number | undefined {
  const match = DURATION.exec(text.trim());
  if (match === null) return undefined;
  const value = Number(match[1]) * (DURATION_MS[match[2] ?? "ms"] ?? 1);
  return Number.isFinite(value) ? value : undefined;
}
