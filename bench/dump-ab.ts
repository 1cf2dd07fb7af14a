/**
 * A/B of two builds of the CLI on the same table (issue 14): `ctevents dump --format F >
 * /dev/null` from dist/ and from another build's dist directory, beside `conntrack -L`, in
 * paired rounds (bench/paired.ts: wall and CPU time, per-round ratios). One throwaway
 * namespace flooded with bench/flood.c, removed on every exit path.
 *
 *   node build/bench/dump-ab.js BASE_DIST [--flows N] [--format json|conntrack] [--runs N]
 *
 * BASE_DIST: a copy of dist/ made from the other build, kept inside the package directory
 * (e.g. tmp/dist-base, ignored by git) so that it finds the native addon.
 */
import { join } from 'node:path';
import { pairedRows, pairedRuns } from './paired.js';
import { createNetns, DIST, flood, tableCount } from './util.js';

const base = process.argv[2];
if (base === undefined || base.startsWith('--')) {
  process.stderr.write('usage: dump-ab.js BASE_DIST [--flows N] [--format json|conntrack] [--runs N]\n');
  process.exit(2);
}
const flag = (name: string, fallback: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1]! : fallback;
};
const flows = Number(flag('flows', '250000'));
const format = flag('format', 'json');
const runs = Number(flag('runs', '10'));
const ns = createNetns('dumpab');
try {
  await flood(ns, flows, 0);
  const p = ns.prefix;
  const cmds = [
    { name: 'conntrack -L', argv: [...p, 'conntrack', '-L'] },
    { name: 'base', argv: [...p, process.execPath, join(base, 'cli', 'ctevents.js'), 'dump', '--format', format] },
    { name: 'new', argv: [...p, process.execPath, join(DIST, 'cli', 'ctevents.js'), 'dump', '--format', format] },
  ];
  const res = pairedRuns(cmds, runs, 1);
  const tag = `${tableCount(ns)} entries, --format ${format}`;
  for (const r of pairedRows(tag, res, [['new', 'base'], ['new', 'conntrack -L'], ['base', 'conntrack -L']])) process.stdout.write(r.join(' | ') + '\n');
} finally {
  ns.remove();
}
