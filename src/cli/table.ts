/** A column of a table: its heading, and on which side its cells line up. */
export interface Column {
  header: string;
  /** Numbers line up on the right. @default "left" */
  align?: "left" | "right";
}

/** The width a cell takes on a terminal: one per code point (the CLI's text is never wide). */
function width(text: string): number {
  let count = 0;
  for (const _ of text) count++;
  return count;
}

function pad(text: string, size: number, align: "left" | "right"): string {
  const fill = " ".repeat(Math.max(0, size - width(text)));
  return align === "right" ? fill + text : text + fill;
}

/**
 * Lines of a plain-text table: a header, then one line per row, columns two spaces apart and
 * no trailing spaces, so it reads well in a terminal and greps well in a pipe.
 *
 * @example
 * renderTable([{ header: "USER" }, { header: "SESSIONS", align: "right" }], [["alice", "3"]]);
 * // ["USER   SESSIONS", "alice         3"]
 */
export function renderTable(
  columns: readonly Column[],
  rows: readonly (readonly string[])[],
): string[] {
  const widths = columns.map((column) => width(column.header));
  for (const row of rows) {
    row.forEach((cell, index) => {
      widths[index] = Math.max(widths[index] ?? 0, width(cell));
    });
  }
  const line = (cells: readonly string[]) =>
    columns
      .map((column, index) => pad(cells[index] ?? "", widths[index] ?? 0, column.align ?? "left"))
      .join("  ")
      .trimEnd();
  return [line(columns.map((column) => column.header)), ...rows.map(line)];
}

/**
 * Lines of label/value pairs, labels padded to one width: what `show` and `stats` print.
 *
 * @example
 * renderPairs([["User", "alice"], ["Created", "2 h ago"]]);
 * // ["User     alice", "Created  2 h ago"]
 */
export function renderPairs(pairs: readonly (readonly [label: string, value: string])[]): string[] {
  const size = Math.max(0, ...pairs.map(([label]) => width(label)));
  return pairs.map(([label, value]) => `${pad(label, size, "left")}  ${value}`.trimEnd());
}
