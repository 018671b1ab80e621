// Shared shape of every benchmark: the fleet's way and a raw baseline, side by side in one
// run, reported as rates and their ratio against the target.

export interface Side { label: string; rate: number; unit: string; peakRssMb?: number }

export interface BenchRow {
  name: string;
  fleet: Side;
  baseline: Side;
  /** fleet.rate / baseline.rate */
  ratio: number;
  /** Minimum ratio the issue asks for. */
  target: number;
  notes?: string[];
}

export interface BenchOptions {
  /** Smaller sizes for a quick check (BENCH_QUICK=1); full sizes by default. */
  quick: boolean;
}

export type Bench = (opts: BenchOptions) => Promise<BenchRow[]>;

export function row(name: string, fleet: Side, baseline: Side, target: number, notes?: string[]): BenchRow {
  return { name, fleet, baseline, ratio: fleet.rate / baseline.rate, target, notes };
}

export function fmt(n: number): string {
  return n >= 100 ? Math.round(n).toLocaleString('en-US') : n.toFixed(n >= 10 ? 1 : 2);
}

export function printRows(rows: BenchRow[], out: (l: string) => void = console.log): void {
  const head = ['benchmark', 'fleet', 'baseline', 'ratio', 'target', 'ok', 'peak RSS'];
  const body = rows.map((r) => [
    r.name,
    `${fmt(r.fleet.rate)} ${r.fleet.unit} (${r.fleet.label})`,
    `${fmt(r.baseline.rate)} ${r.baseline.unit} (${r.baseline.label})`,
    r.ratio.toFixed(2),
    `>= ${r.target}`,
    r.ratio >= r.target ? 'yes' : 'NO',
    r.fleet.peakRssMb === undefined ? '-' : `${Math.round(r.fleet.peakRssMb)} MB`,
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
  out(line(head));
  out(`|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`);
  for (const b of body) out(line(b));
  for (const r of rows) for (const n of r.notes ?? []) out(`  ${r.name}: ${n}`);
}
