/**
 * `ctevents top`: what fills the conntrack table, live. Opens a client (in --netns), a
 * ConntrackTable mirror and a PressureSampler, and every --interval seconds either redraws
 * the full-screen view (stdout is a terminal and no --format) or prints one snapshot
 * (--format json, the default when stdout is not a terminal; --format text).
 * Schema: top-snapshot.ts.
 */
import { setTimeout as delay } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { ConntrackClient } from '../client/client.js';
import { PressureSampler } from '../pressure/sampler.js';
import { ConntrackTable } from '../table/table.js';
import { GROUPINGS, type Grouping } from '../table/aggregates.js';
import { UsageError, usageFromParseArgs } from './args.js';
import { LineWriter } from './output.js';
import type { Io } from './session.js';
import { TopRates, buildSnapshot, textLines } from './top-snapshot.js';
import { TopView, VIEW_GROUPINGS, type TtyIn, type TtyOut } from './top-view.js';

export const TOP_HELP = `Usage: ctevents top [options]

What fills the conntrack table: count, max, fill and fill rate, per-second kernel
counters, a diagnosis, sizing advice, and the top holders of entries by source, source
prefix, destination, destination port, protocol, TCP state and assured.

Options:
  --interval SECONDS  refresh / snapshot interval (default 1)
  --count N           stop after N snapshots
  --format FORMAT     json (one snapshot per line; the default when stdout is not a
                      terminal) or text (plain lines); on a terminal without --format:
                      the full-screen view
  --limit N           entries per top list (default 10)
  --group NAME        first grouping in the view (source, sourcePrefix, destination,
                      dport, proto, state, assured)
  --prefix4 LEN, --prefix6 LEN   source prefix lengths (default 24 and 64)
  --netns NS          network namespace: a name under /var/run/netns, a path, or a pid
  --buffer-size BYTES receive buffer for the mirror's events (default 64 MiB)

Keys in the view: g/Tab next grouping, G previous, 1-7 pick one, s sort by count/rate,
p or space pause, q or Ctrl-C quit.
`;

interface TopOptions {
  interval: number;
  count?: number;
  format?: 'json' | 'text';
  limit: number;
  group: Grouping;
  prefix4: number;
  prefix6: number;
  netns?: string;
  bufferSize?: number;
  help: boolean;
}

function num(name: string, v: string | undefined, min: number, max: number, integer = true): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (v.trim() === '' || !Number.isFinite(n) || n < min || n > max || (integer && !Number.isInteger(n))) {
    throw new UsageError(`--${name}: expected ${integer ? 'an integer' : 'a number'} from ${min} to ${max}, got ${JSON.stringify(v)}`);
  }
  return n;
}

export function parseTopArgs(argv: readonly string[]): TopOptions {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      strict: true,
      allowPositionals: false,
      options: {
        interval: { type: 'string' }, count: { type: 'string' }, format: { type: 'string' }, limit: { type: 'string' },
        group: { type: 'string' }, prefix4: { type: 'string' }, prefix6: { type: 'string' }, netns: { type: 'string' },
        'buffer-size': { type: 'string' }, help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (e) {
    throw usageFromParseArgs(e, 'top');
  }
  const v = parsed.values;
  const format = v.format;
  if (format !== undefined && format !== 'json' && format !== 'text') throw new UsageError(`--format: top prints json or text, not ${JSON.stringify(format)}`);
  const group = (v.group ?? 'source') as Grouping;
  if (!VIEW_GROUPINGS.includes(group)) throw new UsageError(`--group: one of ${VIEW_GROUPINGS.join(', ')}`);
  if (v.netns !== undefined && v.netns === '') throw new UsageError('--netns: empty name');
  const o: TopOptions = {
    interval: num('interval', v.interval, 0.05, 86400, false) ?? 1,
    limit: num('limit', v.limit, 1, 100000) ?? 10,
    group,
    prefix4: num('prefix4', v.prefix4, 0, 32) ?? 24,
    prefix6: num('prefix6', v.prefix6, 0, 128) ?? 64,
    help: v.help ?? false,
  };
  const count = num('count', v.count, 1, Number.MAX_SAFE_INTEGER);
  if (count !== undefined) o.count = count;
  if (format !== undefined) o.format = format;
  if (v.netns !== undefined) o.netns = v.netns;
  const b = num('buffer-size', v['buffer-size'], 4096, 2 ** 31 - 1);
  if (b !== undefined) o.bufferSize = b;
  return o;
}

export async function top(argv: readonly string[], io: Io): Promise<number> {
  const o = parseTopArgs(argv);
  if (o.help) {
    io.stdout.write(TOP_HELP);
    return 0;
  }
  const tty = o.format === undefined && io.stdout.isTTY === true && (io.stdin as TtyIn).isTTY === true;
  const format = o.format ?? 'json';
  const client = await ConntrackClient.open({ ...(o.netns !== undefined ? { netns: o.netns } : {}), ...(o.bufferSize !== undefined ? { receiveBufferSize: o.bufferSize } : {}) });
  let table: ConntrackTable | undefined;
  let view: TopView | undefined;
  const stop = new AbortController();
  const cleanups: (() => void)[] = [];
  try {
    table = await ConntrackTable.open(client, { ...(o.netns !== undefined ? { netns: o.netns } : {}), v4Prefix: o.prefix4, v6Prefix: o.prefix6 });
    const sampler = new PressureSampler(client, { table });
    const rates = new TopRates();
    const out = new LineWriter(io.stdout, () => stop.abort());
    if (tty) {
      view = new TopView(io.stdin as unknown as TtyIn, io.stdout as unknown as TtyOut, () => stop.abort());
      view.grouping = VIEW_GROUPINGS.indexOf(o.group);
      view.start();
    } else if (io.signals) {
      const onSignal = () => stop.abort();
      process.once('SIGINT', onSignal);
      process.once('SIGTERM', onSignal);
      cleanups.push(() => {
        process.removeListener('SIGINT', onSignal);
        process.removeListener('SIGTERM', onSignal);
      });
    }
    table.on('error', () => {
      /* counted; the next resync repairs (shown as "mirror resyncing") */
    });
    await sampler.next(); // the baseline: rates start with the next sample
    rates.lists(table, tty ? VIEW_GROUPINGS : GROUPINGS, 1);
    let printed = 0;
    // timers/promises removes its abort listener when the timer fires (one per interval).
    const sleep = (ms: number) => delay(ms, undefined, { signal: stop.signal }).catch(() => undefined);
    if (view) view.draw();
    while (!stop.signal.aborted) {
      await sleep(o.interval * 1000);
      if (stop.signal.aborted) break;
      const report = await sampler.next();
      if (view) {
        const rows = (io.stdout as unknown as TtyOut).rows ?? 24;
        const snap = buildSnapshot(report, table, rates.lists(table, VIEW_GROUPINGS, Math.max(o.limit, rows), view.sortByRate));
        view.update(snap);
      } else {
        const snap = buildSnapshot(report, table, rates.lists(table, GROUPINGS, o.limit));
        if (format === 'json') out.line(JSON.stringify(snap));
        else for (const l of textLines(snap)) out.line(l);
        await out.flush();
      }
      if (o.count !== undefined && ++printed >= o.count) break;
    }
    await out.flush();
    return 0;
  } finally {
    view?.restore();
    for (const c of cleanups) c();
    table?.close();
    await client.close();
  }
}
