/**
 * A/B of the library's two loadings on the same table (issue 14, library start-up): the
 * library dump (build/bench/dump.js, which imports 'ctevents': the library bundle's
 * façade, dist/lib/index.mjs) beside the same script importing tsc's ESM entry
 * (dist/index.js, what 'ctevents' resolved to before the bundle) and `conntrack -L`, in
 * paired rounds (bench/paired.ts: wall and CPU time, per-round ratios). One throwaway
 * namespace flooded with bench/flood.c, removed on every exit path.
 *
 *   node build/bench/dump-lib-ab.js [--flows N] [--runs N]     (N = 0: empty table, start-up only)
 *
 * The ESM variant is build/bench/dump.js with its `from 'ctevents'` replaced by the file
 * URL of dist/index.js, written beside it at run time (build/bench/dump-esm.js).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { pairedCommandLines, pairedRows, pairedRuns } from './paired.js';
import { BENCH_BUILD, createNetns, DIST, flood, tableCount } from './util.js';

const flag = (name: string, fallback: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1]! : fallback;
};
const flows = Number(flag('flows', '250000'));
const runs = Number(flag('runs', '10'));

const bundled = join(BENCH_BUILD, 'dump.js');
const esm = join(BENCH_BUILD, 'dump-esm.js');
const text = readFileSync(bundled, 'utf8');
if (!text.includes("from 'ctevents'")) throw new Error(`${bundled} does not import 'ctevents' (npm run bench builds it)`);
writeFileSync(esm, text.replace("from 'ctevents'", `from ${JSON.stringify(pathToFileURL(join(DIST, 'index.js')).href)}`));

const ns = createNetns('dumplib');
try {
  if (flows > 0) await flood(ns, flows, 0);
  const p = ns.prefix;
  const cmds = [
    { name: 'conntrack -L', argv: [...p, 'conntrack', '-L'] },
    { name: "library ('ctevents': bundle)", argv: [...p, process.execPath, bundled] },
    { name: 'library (dist/index.js: ESM)', argv: [...p, process.execPath, esm] },
  ];
  const res = pairedRuns(cmds, runs, 1);
  const tag = `${tableCount(ns)} entries`;
  const rows = pairedRows(tag, res, [
    ["library ('ctevents': bundle)", 'library (dist/index.js: ESM)'],
    ["library ('ctevents': bundle)", 'conntrack -L'],
    ['library (dist/index.js: ESM)', 'conntrack -L'],
  ]);
  for (const r of rows) process.stdout.write(r.join(' | ') + '\n');
  for (const l of pairedCommandLines(res, runs)) process.stdout.write(l + '\n');
} finally {
  ns.remove();
}
