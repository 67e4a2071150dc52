// Renders a results JSON as an SVG bar chart: for each route, each contender's req/s as a ratio
// to bare Express measured in the same rounds. run.ts calls it after every run; to redraw a
// chart from a saved run:  npx tsx bench/chart.ts [bench/results/latest.json]
import { readFileSync, writeFileSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { BARE } from "./contenders.js";
import type { BenchResults } from "./results.js";

const COLORS: Record<string, string> = {
  "express-async": "#9a9a9a",
  "express-session-memory": "#d9915b",
  "express-session-redis": "#b5433f",
  "tessera-memory": "#2f78b7",
  "tessera-sqlite": "#4a9a5c",
  "tessera-redis": "#7a52b3",
  "tessera-postgres": "#2b9a9a",
};

const WIDTH = 960;
const LEFT = 270;
const RIGHT = 150;
const TOP = 84;
const BAR = 16;
const BAR_GAP = 6;
const GROUP_GAP = 18;
const GROUP_HEAD = 24;
const BOTTOM = 64;

function escapeXml(text: string): string {
  return text.replace(/[<>&"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function text(x: number, y: number, content: string, attrs = ""): string {
  return `<text x="${x.toFixed(1)}" y="${y.toFixed(1)}" ${attrs}>${escapeXml(content)}</text>`;
}

/** The chart as an SVG document. */
export function renderChart(results: BenchResults): string {
  const contenders = results.contenders.filter((c) => c.name !== BARE);
  const routes = results.settings.routes;
  const cell = (contender: string, route: string) =>
    results.http.find((c) => c.contender === contender && c.route === route);
  const ratios = results.http.flatMap((c) => (c.summary?.vsBare ? [c.summary.vsBare.max] : []));
  const top = Math.max(1.25, Math.ceil(Math.max(0, ...ratios) * 4 + 0.5) / 4);
  const plotWidth = WIDTH - LEFT - RIGHT;
  const x = (ratio: number) => LEFT + (ratio / top) * plotWidth;
  const groupHeight = GROUP_HEAD + contenders.length * (BAR + BAR_GAP);
  const plotBottom = TOP + routes.length * (groupHeight + GROUP_GAP);
  const height = plotBottom + BOTTOM;

  const parts: string[] = [];
  parts.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" font-family="system-ui, -apple-system, 'Segoe UI', Helvetica, Arial, sans-serif" font-size="13">`,
    `<rect width="100%" height="100%" fill="#ffffff"/>`,
    text(
      24,
      30,
      "Requests per second, relative to bare Express 5 (higher is better)",
      'font-size="18" font-weight="600" fill="#222"',
    ),
    text(
      24,
      52,
      `${results.machine.cpuModel}, ${results.machine.cores} cores, Node ${results.machine.nodeVersion}, ${results.date.slice(0, 10)}. ` +
        `Median of ${results.settings.rounds} interleaved rounds of ${results.settings.durationS} s; whiskers span the lowest and highest round.`,
      'font-size="12" fill="#555"',
    ),
  );
  if (results.machine.loadAverageBefore >= 0.5) {
    parts.push(
      text(
        24,
        68,
        `The machine was shared with other work (load average ${results.machine.loadAverageBefore.toFixed(2)} at the start): expect noise.`,
        'font-size="12" fill="#a33"',
      ),
    );
  }

  const step = top > 2 ? 0.5 : 0.25;
  for (let tick = 0; tick <= top + 1e-9; tick += step) {
    const tx = x(tick);
    const major = Math.abs(tick - 1) < 1e-9;
    parts.push(
      `<line x1="${tx.toFixed(1)}" y1="${TOP - 6}" x2="${tx.toFixed(1)}" y2="${plotBottom}" stroke="${major ? "#333" : "#e3e3e3"}" stroke-width="${major ? 1.5 : 1}"/>`,
      text(
        tx,
        plotBottom + 18,
        `${tick.toFixed(2)}x`,
        'text-anchor="middle" font-size="11" fill="#555"',
      ),
    );
  }
  parts.push(
    text(
      x(1),
      plotBottom + 36,
      "= bare Express",
      'text-anchor="middle" font-size="11" fill="#333"',
    ),
  );

  routes.forEach((route, g) => {
    const groupTop = TOP + g * (groupHeight + GROUP_GAP);
    parts.push(
      text(24, groupTop + 15, `/${route}`, 'font-size="15" font-weight="600" fill="#222"'),
    );
    contenders.forEach((contender, i) => {
      const y = groupTop + GROUP_HEAD + i * (BAR + BAR_GAP);
      const mid = y + BAR / 2 + 4;
      parts.push(text(LEFT - 10, mid, contender.label, 'text-anchor="end" fill="#333"'));
      const ratio = cell(contender.name, route)?.summary?.vsBare;
      if (!ratio) {
        parts.push(text(LEFT + 6, mid, "not measured", 'fill="#999" font-style="italic"'));
        return;
      }
      const color = COLORS[contender.name] ?? "#888";
      parts.push(
        `<rect x="${LEFT}" y="${y}" width="${(x(ratio.median) - LEFT).toFixed(1)}" height="${BAR}" fill="${color}" rx="2"/>`,
        `<line x1="${x(ratio.min).toFixed(1)}" y1="${y + BAR / 2}" x2="${x(ratio.max).toFixed(1)}" y2="${y + BAR / 2}" stroke="#222" stroke-width="1.2"/>`,
        `<line x1="${x(ratio.min).toFixed(1)}" y1="${y + 4}" x2="${x(ratio.min).toFixed(1)}" y2="${y + BAR - 4}" stroke="#222" stroke-width="1.2"/>`,
        `<line x1="${x(ratio.max).toFixed(1)}" y1="${y + 4}" x2="${x(ratio.max).toFixed(1)}" y2="${y + BAR - 4}" stroke="#222" stroke-width="1.2"/>`,
        text(
          Math.max(x(ratio.median), x(ratio.max)) + 8,
          mid,
          `${ratio.median.toFixed(2)}x`,
          'fill="#222" font-weight="600"',
        ),
      );
    });
  });
  parts.push("</svg>");
  return `${parts.join("\n")}\n`;
}

/**
 * Reads a results JSON and writes its chart beside it: `chart.svg` for `latest.json` (the chart
 * the README shows), `<name>.svg` for any other run.
 */
export function renderChartFile(jsonPath: string): string {
  const results = JSON.parse(readFileSync(jsonPath, "utf8")) as BenchResults;
  const name = basename(jsonPath, ".json");
  const svgPath = join(dirname(jsonPath), name === "latest" ? "chart.svg" : `${name}.svg`);
  writeFileSync(svgPath, renderChart(results));
  return svgPath;
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  const jsonPath = resolve(process.argv[2] ?? "bench/results/latest.json");
  console.log(`wrote ${renderChartFile(jsonPath)}`);
}
