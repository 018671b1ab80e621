import os from 'node:os';
import { benches } from './index.ts';
import { printRows, type BenchRow } from './lib.ts';

const names = process.argv.slice(2).filter((a) => !a.startsWith('-'));
const unknown = names.filter((n) => !(n in benches));
if (unknown.length) {
  console.error(`unknown benchmark(s): ${unknown.join(', ')}. Available: ${Object.keys(benches).join(', ')}`);
  process.exitCode = 2;
} else {
  const quick = process.env.BENCH_QUICK === '1' || process.argv.includes('--quick');
  const rows: BenchRow[] = [];
  for (const name of names.length ? names : Object.keys(benches)) {
    console.error(`running ${name}${quick ? ' (quick)' : ''}…`);
    const bench = (await benches[name]!()).default;
    const got = await bench({ quick });
    printRows(got);
    rows.push(...got);
  }
  if (rows.length > 1) {
    console.log(`\nAll benchmarks — ${os.cpus().length} × ${os.cpus()[0]?.model.trim()}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, Node ${process.version}`);
    printRows(rows);
  }
}
