// The text report: the results table, memory per session and the target verdicts, as printed at
// the end of a run and pasted into bench/README.md (it is Markdown).
import type { BenchResults, HttpCell, RatioSummary } from "./results.js";

function int(value: number): string {
  return Math.round(value).toLocaleString("en-US");
}

/** The first line of an error, short enough for a table cell. */
export function brief(message: string): string {
  const line = message.split("\n")[0] ?? "";
  return line.length > 140 ? `${line.slice(0, 139)}…` : line;
}

function percent(value: number): string {
  return `${(value * 100).toFixed(0)} %`;
}

export function ratioText(ratio: RatioSummary | undefined): string {
  if (!ratio) return "";
  if (ratio.min === ratio.max) return `${ratio.median.toFixed(2)}x`;
  return `${ratio.median.toFixed(2)}x (${ratio.min.toFixed(2)}–${ratio.max.toFixed(2)})`;
}

function table(head: string[], rows: string[][], alignRight: boolean[]): string {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: string[]) =>
    `| ${cells
      .map((cell, i) =>
        alignRight[i] ? cell.padStart(widths[i] ?? 0) : cell.padEnd(widths[i] ?? 0),
      )
      .join(" | ")} |`;
  const rule = `|${widths.map((w, i) => (alignRight[i] ? `${"-".repeat(w + 1)}:` : `${"-".repeat(w + 2)}`)).join("|")}|`;
  return [line(head), rule, ...rows.map(line)].join("\n");
}

function httpRow(results: BenchResults, cell: HttpCell): string[] {
  const label = results.contenders.find((c) => c.name === cell.contender)?.label ?? cell.contender;
  if (!cell.summary) return [`/${cell.route}`, label, "failed", "", "", "", "", "", "", ""];
  const s = cell.summary;
  const short = (r: RatioSummary | undefined) => (r ? `${r.median.toFixed(2)}x` : "");
  return [
    `/${cell.route}`,
    label,
    int(s.reqPerSec),
    percent(s.reqPerSecSpread.relative),
    String(s.latencyP99Ms),
    ratioText(s.vsPeer),
    ratioText(s.vsBare),
    s.cpuUsPerRequest === undefined ? "" : s.cpuUsPerRequest.toFixed(0),
    short(s.cpuVsPeer),
    short(s.cpuVsBare),
  ];
}

/** The results as Markdown: HTTP table, memory table, targets, failures. */
export function renderReport(results: BenchResults): string {
  const out: string[] = [];
  const m = results.machine;
  const s = results.settings;
  out.push(
    `${m.cpuModel}, ${m.cores} cores, Node ${m.nodeVersion}, ${results.date.slice(0, 16).replace("T", " ")} UTC; ` +
      `${s.rounds} rounds of ${s.durationS} s per contender and route, ${s.connections} connections; ` +
      `load average ${m.loadAverageBefore.toFixed(2)} before, ${m.loadAverageAfter.toFixed(2)} after.`,
  );
  out.push("");
  out.push(
    table(
      [
        "route",
        "contender",
        "req/s",
        "spread",
        "p99 ms",
        "vs express-session",
        "vs bare Express",
        "CPU µs/req",
        "by CPU: vs e-s",
        "vs bare",
      ],
      results.http.map((cell) => httpRow(results, cell)),
      [false, false, true, true, true, true, true, true, true, true],
    ),
  );
  const failed = results.http.filter((c) => c.error);
  for (const cell of failed)
    out.push(`\n${cell.contender} on /${cell.route} failed: ${brief(cell.error ?? "")}`);
  if (results.memory) {
    const mem = results.memory;
    out.push("");
    out.push(
      table(
        ["store", "session", "JSON bytes", "heap bytes/session", "vs express-session"],
        mem.cells.map((cell) => {
          const ratio =
            cell.library === "tessera"
              ? mem.ratios.find((r) => r.profile === cell.profile)?.ratio
              : undefined;
          return [
            cell.library === "tessera" ? "Tessera MemoryStore" : "express-session MemoryStore",
            cell.profile === "small" ? "small" : "with user profile",
            String(cell.recordJsonBytes),
            int(cell.bytesPerSession),
            ratio === undefined ? "" : `${ratio.toFixed(2)}x`,
          ];
        }),
        [false, false, true, true, true],
      ),
    );
    if (mem.bounded) {
      const b = mem.bounded;
      out.push(
        `\nBounded: Tessera's MemoryStore with max ${int(b.max)} kept ${int(b.kept)} of ${int(b.inserted)} sessions, heap +${(b.heapDeltaBytes / 1e6).toFixed(1)} MB: ${b.bounded ? "bounded" : "NOT bounded"}.`,
      );
    }
    if (mem.skipped) out.push(`\nTessera's memory was not measured: ${mem.skipped}.`);
  }
  out.push("");
  out.push(
    table(
      ["target", "needs", "measured", "by CPU", "verdict"],
      results.targets.map((t) => [
        t.description,
        `${t.comparison === "at least" ? "≥" : "≤"} ${t.threshold.toFixed(2)}x`,
        t.value === undefined
          ? ""
          : t.range && t.range[0] !== t.range[1]
            ? `${t.value.toFixed(2)}x (${t.range[0].toFixed(2)}–${t.range[1].toFixed(2)})`
            : `${t.value.toFixed(2)}x`,
        t.byCpu === undefined ? "" : `${t.byCpu.toFixed(2)}x`,
        t.note ? `${t.verdict}: ${brief(t.note)}` : t.verdict,
      ]),
      [false, false, true, true, false],
    ),
  );
  if (results.skipped.length > 0) {
    out.push("");
    for (const skip of results.skipped) out.push(`Not run: ${skip.name} (${skip.reason}).`);
  }
  return out.join("\n");
}
