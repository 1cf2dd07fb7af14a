/**
 * start-up (issue 14): the fixed cost of a command on an empty table, paired runs through
 * `ip netns exec` in one fresh namespace: bare `node -e 0` (the floor of any Node tool),
 * `ctevents --version`, `ctevents dump`, `ctevents stats`, `conntrack -L`, `conntrack -S`.
 * Figures: each command's median (min..max) and per-round ratios to `node -e 0` and to
 * conntrack's counterpart. `ctevents` is the bin users run, dist/cli/ctevents.cjs (the
 * bundle, tools/bundle.mjs); `dump (ESM entry)` is the same command through tsc's ESM
 * output, dist/cli/ctevents.js, to show what the bundle saves. Also the number of our
 * modules each command evaluates (the bundle's loader compiles each module with vm.Script
 * on its first require: counted by a probe; for the ESM entry, by strace of openat on dist/).
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { pairedCommandLines, pairedRows, pairedRuns } from './paired.js';
import { DIST, createNetns, shellLine } from './util.js';

type Row = [string, string, string];

/** Modules the bundle compiles (and evaluates) for one command: vm.Script is its only compiler. */
function bundleModulesLoaded(prefix: string[], node: string, bin: string, args: string[]): number | undefined {
  const probe = `const vm = require('node:vm'); let n = 0; const S = vm.Script;
    vm.Script = class extends S { constructor(s, o) { super(s, o); n++; } };
    process.on('exit', () => process.stderr.write('\\nMODULES ' + n + '\\n')); require(${JSON.stringify(bin)});`;
  const r = spawnSync(prefix[0]!, [...prefix.slice(1), node, '-e', probe, 'x', ...args], { encoding: 'utf8', stdio: ['ignore', 'ignore', 'pipe'] });
  const m = /MODULES (\d+)/.exec(r.stderr ?? '');
  return m ? Number(m[1]) : undefined;
}

function modulesLoaded(argv: string[]): number | undefined {
  const r = spawnSync('strace', ['-f', '-qq', '-e', 'trace=openat', '-e', 'signal=none', ...argv], { encoding: 'utf8', stdio: ['ignore', 'ignore', 'pipe'], maxBuffer: 1 << 26 });
  if (r.error) return undefined;
  const seen = new Set<string>();
  for (const m of r.stderr.matchAll(/"([^"]*\/dist\/[^"]*\.js)"/g)) seen.add(m[1]!);
  return seen.size;
}

export async function benchStartup(rounds: number): Promise<{ rows: Row[]; commands: string[]; notes: string[] }> {
  const rows: Row[] = [];
  const commands: string[] = [];
  const notes: string[] = [];
  const ns = createNetns('startup');
  const node = process.execPath;
  const cli = join(DIST, 'cli', 'ctevents.cjs');
  const esm = join(DIST, 'cli', 'ctevents.js');
  try {
    const p = ns.prefix;
    const cmds = [
      { name: 'node -e 0', argv: [...p, node, '-e', '0'] },
      { name: 'ctevents --version', argv: [...p, node, cli, '--version'] },
      { name: 'ctevents dump', argv: [...p, node, cli, 'dump'] },
      { name: 'ctevents stats', argv: [...p, node, cli, 'stats'] },
      { name: 'ctevents dump (ESM entry)', argv: [...p, node, esm, 'dump'] },
      { name: 'conntrack -L', argv: [...p, 'conntrack', '-L'] },
      { name: 'conntrack -S', argv: [...p, 'conntrack', '-S'] },
    ];
    process.stderr.write(`start-up: ${rounds} paired rounds of ${cmds.length} commands\n`);
    const res = pairedRuns(cmds, rounds, 2);
    rows.push(
      ...pairedRows('start-up, empty table', res, [
        ['ctevents dump', 'node -e 0'],
        ['ctevents stats', 'node -e 0'],
        ['ctevents --version', 'node -e 0'],
        ['ctevents dump (ESM entry)', 'node -e 0'],
        ['ctevents dump', 'ctevents dump (ESM entry)'],
        ['ctevents dump', 'conntrack -L'],
        ['ctevents stats', 'conntrack -S'],
      ]),
    );
    commands.push(`ip netns add ${ns.name}; ...`, ...pairedCommandLines(res, rounds, 2));
    for (const c of cmds.slice(1, 4)) {
      const n = bundleModulesLoaded(p, node, cli, c.argv.slice(p.length + 2));
      if (n !== undefined) rows.push(['start-up, empty table', `${c.name}: our modules evaluated`, String(n)]);
    }
    const n = modulesLoaded([node, esm, 'dump']);
    if (n !== undefined) rows.push(['start-up, empty table', 'ctevents dump (ESM entry): our modules loaded', String(n)]);
    commands.push(`node -e "<count vm.Script constructions>; require('${cli}')" x dump   # modules the bundle evaluates`);
    commands.push(`strace -f -qq -e trace=openat ${shellLine([node, esm, 'dump'])}   # count distinct dist/**/*.js opened`);
    notes.push('start-up: target (issue 14) `ctevents dump` within 1.3x of `node -e 0`; the ratios are per round (the same load), min / median / max.');
  } finally {
    ns.remove();
  }
  return { rows, commands, notes };
}
