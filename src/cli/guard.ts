/**
 * `ctevents guard`: run the guard (src/guard/guard.ts) on a namespace, logging every
 * action as one JSON object per line on stdout, a summary line on stderr at exit.
 *
 * Dry run is the default: the guard watches, chooses victims and logs what it would do;
 * `--apply` makes it delete entries and shorten timeouts. (A tool that deletes
 * connections must be asked to; run it dry first, read the log, then add --apply.)
 */
import { parseArgs } from 'node:util';
import { ConntrackClient } from '../client/client.js';
import type { Conntrack } from '../ctnetlink/model.js';
import { Guard, type GuardOptions } from '../guard/guard.js';
import { UsageError, usageFromParseArgs, type FilterOptions } from './args.js';
import { compileFilter } from './filter.js';
import type { Io } from './session.js';

export const GUARD_HELP = `Usage: ctevents guard [options]

Watch the conntrack table; above the high watermark evict entries until it is back under
the low watermark, by this policy: closing TCP states first, then non-assured entries idle
for at least --grace seconds (oldest first), then ASSURED entries by idle time (longest
first), fresh entries last; inside each step, fair over /16, /24 and source addresses
(the ones with most entries give first). Entries matching --protect are never touched.
Under pressure the namespace's timeouts for flood-prone states are shortened and restored
afterwards (also on SIGTERM/SIGINT, and at the next start after a crash, from --state-file).

Dry run by default: nothing is changed until --apply is given.

Options:
  --apply                  delete entries and shorten timeouts (default: dry run, log only)
  --high PERCENT           start evicting at this fill of nf_conntrack_max (default 90)
  --low PERCENT            evict down to this fill (default 75)
  --interval MS            poll the counters this often (default 200)
  --grace SECONDS          entries idle less than this are evicted last (default 5)
  --protect SPEC           never evict entries matching SPEC: comma-separated key=value of
                           the dump filters, e.g. src=10.1.0.0/16,proto=tcp,dport=22
                           (keys: family proto src dst reply-src reply-dst sport dport zone
                           mark status state); repeatable, any match protects
  --no-timeouts            do not shorten timeouts under pressure
  --source table|dump      how the guard sees the table: the live mirror (default; event
                           socket + dump at start, resync after overruns) or a full dump
                           per view (fallback)
  --flush-share PERCENT    a single source holding this share of the maximum or more while
                           the table is over the watermark has its ASSURED entries flushed
                           in the kernel (6.12+, table source, no --protect; default 12.5;
                           0 disables)
  --nice N                 with --apply: run at this nice value, -20 to 19 (default -10: the
                           guard must out-delete an attacker on the same CPUs; as conntrackd's
                           Nice setting); --nice 0 keeps the priority it was started with
  --no-flood-events        under an insert flood (flood mode), find victims by dumps only, not
                           also from NEW events (for comparison; see docs/dos.md)
  --calm SECONDS           pressure ends after this long under the low watermark (default 60)
  --state-file PATH        where changed settings are recorded (default /run/ctevents-guard-NS.json)
  --max N                  watermarks relative to N entries instead of nf_conntrack_max
  --duration SECONDS       stop after this long
  --netns NS               network namespace
`;

const KEYS: Record<string, keyof FilterOptions> = {
  family: 'family', proto: 'proto', src: 'src', dst: 'dst', 'reply-src': 'replySrc', 'reply-dst': 'replyDst',
  sport: 'sport', dport: 'dport', zone: 'zone', mark: 'mark', status: 'status', state: 'state',
};

export function parseProtect(spec: string): (ct: Conntrack) => boolean {
  const f: FilterOptions = {};
  for (const part of spec.split(',')) {
    const [k, ...v] = part.split('=');
    const key = KEYS[(k ?? '').trim()];
    if (!key || v.length === 0) throw new UsageError(`--protect: expected key=value[,key=value...] with keys ${Object.keys(KEYS).join(', ')}, not ${JSON.stringify(part)}`);
    f[key] = key === 'status' || key === 'state' ? v.join('=').replace(/\+/g, ',') : v.join('=');
  }
  return compileFilter(f).match;
}

function num(name: string, v: string | undefined, min: number, max: number): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!/^\d+(\.\d+)?$/.test(v) || n < min || n > max) throw new UsageError(`--${name} needs a number from ${min} to ${max}, not ${JSON.stringify(v)}`);
  return n;
}

export async function runGuard(argv: readonly string[], io: Io): Promise<number> {
  let opts: GuardOptions;
  let netns: string | undefined;
  let duration: number | undefined;
  try {
    const { values: v, positionals } = parseArgs({
      args: argv.slice(1) as string[],
      strict: true,
      allowPositionals: true,
      options: {
        apply: { type: 'boolean' },
        'dry-run': { type: 'boolean' },
        high: { type: 'string' },
        low: { type: 'string' },
        interval: { type: 'string' },
        grace: { type: 'string' },
        protect: { type: 'string', multiple: true },
        'no-timeouts': { type: 'boolean' },
        source: { type: 'string' },
        'flush-share': { type: 'string' },
        calm: { type: 'string' },
        nice: { type: 'string' },
        'no-flood-events': { type: 'boolean' },
        'state-file': { type: 'string' },
        duration: { type: 'string' },
        max: { type: 'string' },
        netns: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    });
    if (v.help) {
      io.stdout.write(GUARD_HELP);
      return 0;
    }
    if (positionals.length > 0) throw new UsageError(`guard: unexpected argument ${JSON.stringify(positionals[0])}`);
    if (v.apply && v['dry-run']) throw new UsageError('--apply and --dry-run exclude each other');
    opts = { apply: v.apply ?? false, shortenTimeouts: !v['no-timeouts'] };
    const high = num('high', v.high, 1, 100);
    const low = num('low', v.low, 1, 99);
    if (high !== undefined) opts.high = high / 100;
    if (low !== undefined) opts.low = low / 100;
    if ((opts.low ?? 0.75) >= (opts.high ?? 0.9)) throw new UsageError('--low must be below --high');
    const interval = num('interval', v.interval, 10, 60_000);
    if (interval !== undefined) opts.intervalMs = interval;
    const grace = num('grace', v.grace, 0, 86_400);
    if (grace !== undefined) opts.policy = { graceSeconds: grace };
    if (v.source !== undefined) {
      if (v.source !== 'table' && v.source !== 'dump') throw new UsageError(`--source: table or dump, not ${JSON.stringify(v.source)}`);
      opts.source = v.source;
    }
    const flushShare = num('flush-share', v['flush-share'], 0, 100);
    if (flushShare !== undefined) opts.flushShare = flushShare / 100;
    if (v.nice !== undefined) {
      const n = Number(v.nice);
      if (!/^-?\d+$/.test(v.nice) || n < -20 || n > 19) throw new UsageError(`--nice needs an integer from -20 to 19, not ${JSON.stringify(v.nice)}`);
      if (n !== 0) opts.nice = n;
    } else if (opts.apply) opts.nice = -10;
    if (v['no-flood-events']) opts.floodEvents = false;
    const calm = num('calm', v.calm, 0, 86_400);
    if (calm !== undefined) opts.calmSeconds = calm;
    duration = num('duration', v.duration, 0.001, 2_000_000);
    const max = num('max', v.max, 1, 2 ** 31);
    if (max !== undefined) opts.maxEntries = Math.floor(max);
    if (v['state-file'] !== undefined) opts.stateFile = v['state-file'];
    if (v.protect) {
      const tests = v.protect.map(parseProtect);
      opts.protect = (ct) => tests.some((t) => t(ct));
    }
    if (v.netns !== undefined) {
      if (v.netns === '') throw new UsageError('--netns needs a name, a path or a pid');
      netns = v.netns;
    }
  } catch (e) {
    io.stderr.write(`ctevents: ${usageFromParseArgs(e, 'guard').message}\n`);
    return 2;
  }
  const client = await ConntrackClient.open(netns !== undefined ? { netns } : {});
  const stop = new AbortController();
  opts.log = (r) => io.stdout.write(JSON.stringify(r) + '\n');
  const guard = new Guard(client, opts);
  const onSignal = () => stop.abort();
  const onCrash = (err: unknown) => {
    io.stderr.write(`ctevents: guard crashed: ${(err as Error)?.stack ?? String(err)}\n`);
    try {
      guard.restore();
    } finally {
      process.exit(1);
    }
  };
  let timer: NodeJS.Timeout | undefined;
  if (io.signals) {
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
    process.on('uncaughtException', onCrash);
  }
  if (duration !== undefined) timer = setTimeout(onSignal, duration * 1000);
  try {
    const s = await guard.run(stop.signal);
    io.stderr.write(
      `ctevents: guard ${opts.apply ? '' : '(dry run) '}${s.seconds.toFixed(1)} s: ${s.episodes} pressure episodes, ${s.evictions} entries evicted${s.flushed ? ` (${s.flushed} by kernel-side flush)` : ''} ` +
        `(closing ${s.bySteps.closing}, unassured ${s.bySteps.unassured}, assured ${s.bySteps.assured}, fresh ${s.bySteps.fresh}), ` +
        `${s.missing} already gone, ${s.refused} refused, peak ${s.maxCount} entries${s.restored ? ', timeouts restored' : ''}\n`,
    );
    return s.refused > 0 ? 1 : 0;
  } finally {
    clearTimeout(timer);
    if (io.signals) {
      process.removeListener('SIGINT', onSignal);
      process.removeListener('SIGTERM', onSignal);
      process.removeListener('uncaughtException', onCrash);
    }
    await client.close();
  }
}
