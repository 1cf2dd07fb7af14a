/**
 * Records a pcap of a real 250,000-entry dump (and the JSON / conntrack text of it) for the
 * offline formatter benchmark bench/format.ts: one throwaway namespace, flooded with
 * bench/flood.c, dumped through `ctevents dump --write`, removed on every exit path.
 *
 *   node build/bench/format-capture.js OUT_DIR [--flows N]
 */
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { createNetns, DIST, flood, tableCount } from './util.js';

const out = process.argv[2] ?? '/tmp';
const i = process.argv.indexOf('--flows');
const flows = i > 0 ? Number(process.argv[i + 1]) : 250_000;
const ns = createNetns('fmtcap');
try {
  await flood(ns, flows, 0);
  process.stderr.write(`table: ${tableCount(ns)} entries\n`);
  const cli = join(DIST, 'cli', 'ctevents.cjs');
  execFileSync('ip', ['netns', 'exec', ns.name, process.execPath, cli, 'dump', '--write', join(out, 'dump.pcap'), '--force', '--format', 'json'],
    { stdio: ['ignore', 'ignore', 'inherit'] });
} finally {
  ns.remove();
}
