/**
 * `ctevents delete` and `ctevents flush`: remove what a filter matches, fast.
 *
 *   ctevents delete FILTERS [--idle-over S] [--remaining-under S] [--dry-run] [--format json]
 *   ctevents flush [FILTERS ...] [--yes]
 *
 * Filters are dump's (src/cli/filter.ts) plus time bounds. When the kernel can evaluate
 * the whole filter (family, mark/mask, status, zone, exact addresses, protocol and TCP/UDP
 * ports: CTA_FILTER in a flush, Linux 6.12+), one kernel-side filtered flush does it;
 * otherwise a dump (pre-filtered by the kernel) feeds pipelined batched deletes
 * (src/client/evict.ts). `--dry-run` deletes nothing and prints how many entries match,
 * grouped by protocol, state and ASSURED. A summary goes to stderr (or one JSON object to
 * stdout with --format json).
 *
 * `delete` without a filter is refused. `flush` without a filter empties the table: on a
 * terminal it asks first (`--yes` skips the question); when stdin is not a terminal it
 * needs `--yes`.
 */
import { parseArgs } from 'node:util';
import { ConntrackClient } from '../client/client.js';
import type { DeleteFilter, DeleteWhereResult } from '../client/evict.js';
import { IPS_ASSURED } from '../ctnetlink/constants.js';
import type { Conntrack } from '../ctnetlink/model.js';
import { tcpStateName } from '../ctnetlink/status.js';
import { parseCommandLine, UsageError, type FilterOptions, type Options } from './args.js';
import { compileFilter, PROTO_NUMBERS } from './filter.js';
import type { Io } from './session.js';

export const DELETE_HELP = `Usage: ctevents delete FILTERS [options]
       ctevents flush [FILTERS] [options]

Delete the conntrack entries a filter matches (the same filters as dump), as fast as the
kernel allows: a kernel-side filtered flush when the kernel can evaluate the whole filter,
otherwise a dump with pipelined, batched deletes. flush without a filter empties the table.

Options:
  --idle-over SECONDS        only entries idle longer (idle = state timeout - remaining)
  --idle-under SECONDS       only entries idle less
  --remaining-under SECONDS  only entries whose timer has less left
  --remaining-over SECONDS   only entries whose timer has more left
  --dry-run                  delete nothing; count what matches, by protocol/state/ASSURED
  --yes, -y                  flush without a filter without asking
  --method auto|flush|dump   force the kernel-side flush or the dump path (default auto)
  --format text|json         summary as text on stderr (default) or one JSON object on stdout
  --netns NS                 network namespace
  Filters: --family --proto --src --dst --reply-src --reply-dst --sport --dport --zone
           --mark VALUE[/MASK] --status LIST --state LIST (see ctevents --help)
`;

export interface DeleteOptions {
  base: Options;
  command: 'delete' | 'flush';
  dryRun: boolean;
  yes: boolean;
  method: 'auto' | 'flush' | 'dump';
  idleOver?: number;
  idleUnder?: number;
  remainingUnder?: number;
  remainingOver?: number;
  help: boolean;
}

function seconds(name: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  if (!/^\d+(\.\d+)?$/.test(v) || !Number.isFinite(Number(v)) || Number(v) > 10 ** 9) {
    throw new UsageError(`--${name} needs a number of seconds, not ${JSON.stringify(v)}`);
  }
  return Number(v);
}

/** Parse `delete ...` / `flush ...` (argv[0] is the command). */
export function parseDeleteCommandLine(argv: readonly string[]): DeleteOptions {
  const command = argv[0] as 'delete' | 'flush';
  const own = {
    'dry-run': { type: 'boolean' },
    yes: { type: 'boolean', short: 'y' },
    method: { type: 'string' },
    'idle-over': { type: 'string' },
    'idle-under': { type: 'string' },
    'remaining-under': { type: 'string' },
    'remaining-over': { type: 'string' },
  } as const;
  // Take our options out; the rest goes through the common parser as a dump would.
  const rest: string[] = [];
  const mine: string[] = [];
  const rest0 = argv.slice(1);
  for (let i = 0; i < rest0.length; i++) {
    const a = rest0[i]!;
    const name = a.startsWith('--') ? a.slice(2).split('=')[0]! : a === '-y' ? 'yes' : '';
    if (name in own) {
      mine.push(a);
      const spec = own[name as keyof typeof own];
      if (spec.type === 'string' && !a.includes('=')) {
        const v = rest0[++i];
        if (v === undefined) throw new UsageError(`--${name} needs a value`);
        mine.push(v);
      }
    } else rest.push(a);
  }
  let parsed;
  try {
    parsed = parseArgs({ args: mine, options: own, strict: true, allowPositionals: false });
  } catch (e) {
    throw new UsageError(`${(e as Error).message} (see ctevents ${command} --help)`);
  }
  const base = parseCommandLine(['dump', ...rest]);
  const v = parsed.values;
  const opts: DeleteOptions = {
    base: { ...base, command: 'dump' },
    command,
    dryRun: v['dry-run'] ?? false,
    yes: v.yes ?? false,
    method: 'auto',
    help: base.help,
  };
  if (base.help) return opts;
  for (const o of ['follow', 'count', 'duration', 'write', 'bufferSize'] as const) {
    const given = o === 'follow' ? base.follow : base[o] !== undefined;
    if (given) throw new UsageError(`--${o === 'bufferSize' ? 'buffer-size' : o} does not apply to ${command}`);
  }
  if (rest.some((a) => a === '--events' || a.startsWith('--events='))) throw new UsageError(`--events does not apply to ${command}`);
  if (base.format === 'conntrack') throw new UsageError(`--format for ${command}: text or json`);
  if (v.method !== undefined) {
    if (!['auto', 'flush', 'dump'].includes(v.method)) throw new UsageError(`--method must be auto, flush or dump, not ${JSON.stringify(v.method)}`);
    opts.method = v.method as DeleteOptions['method'];
  }
  const io = seconds('idle-over', v['idle-over']);
  if (io !== undefined) opts.idleOver = io;
  const iu = seconds('idle-under', v['idle-under']);
  if (iu !== undefined) opts.idleUnder = iu;
  const ru = seconds('remaining-under', v['remaining-under']);
  if (ru !== undefined) opts.remainingUnder = ru;
  const ro = seconds('remaining-over', v['remaining-over']);
  if (ro !== undefined) opts.remainingOver = ro;
  return opts;
}

function fullPrefix(v: string | undefined): boolean {
  if (v === undefined) return true;
  const [addr, len] = v.split('/');
  if (len === undefined) return true;
  return Number(len) === (addr!.includes(':') ? 128 : 32);
}

/**
 * True when compileFilter's kernel part says exactly what its tool-side test says, so a
 * kernel-side flush deletes nothing more than the filter: no TCP states, no CIDR
 * prefixes, protocol and ports only where CTA_FILTER carries them (a family known, ports
 * only for TCP/UDP).
 */
export function kernelExact(f: FilterOptions): boolean {
  if (f.state !== undefined) return false;
  for (const a of [f.src, f.dst, f.replySrc, f.replyDst]) if (!fullPrefix(a)) return false;
  const familyKnown = f.family !== undefined || [f.src, f.dst, f.replySrc, f.replyDst].some((a) => a !== undefined);
  if (f.proto !== undefined && !familyKnown) return false;
  if (f.sport !== undefined || f.dport !== undefined) {
    if (f.proto === undefined || !familyKnown) return false;
    const p = PROTO_NUMBERS[f.proto.toLowerCase()] ?? Number(f.proto);
    if (p !== 6 && p !== 17) return false;
  }
  return true;
}

/** Group key of an entry for --dry-run: "tcp ESTABLISHED ASSURED". */
export function groupOf(ct: Conntrack): string {
  const p = ct.orig?.proto;
  const name = Object.entries(PROTO_NUMBERS).find(([, n]) => n === p)?.[0] ?? String(p ?? '?');
  const state = ct.protoinfo?.tcp?.state !== undefined ? ` ${tcpStateName(ct.protoinfo.tcp.state)}` : '';
  return `${name}${state} ${(ct.status ?? 0) & IPS_ASSURED ? 'ASSURED' : 'not-assured'}`;
}

async function confirm(io: Io, question: string): Promise<boolean> {
  io.stderr.write(question);
  return new Promise((res) => {
    let buf = '';
    const onData = (d: Buffer | string) => {
      buf += d.toString();
      if (buf.includes('\n')) done(/^\s*y(es)?\s*$/i.test(buf.split('\n')[0]!));
    };
    const done = (ok: boolean) => {
      io.stdin.removeListener('data', onData);
      io.stdin.removeListener('end', onEnd);
      (io.stdin as NodeJS.ReadStream).pause?.();
      res(ok);
    };
    const onEnd = () => done(false);
    io.stdin.on('data', onData);
    io.stdin.on('end', onEnd);
    (io.stdin as NodeJS.ReadStream).resume?.();
  });
}

function summaryText(command: string, r: DeleteWhereResult): string {
  const s = r.seconds;
  if (r.dryRun) return `${command} --dry-run: ${r.matched} entries match (nothing deleted), ${s.toFixed(2)} s`;
  if (r.method === 'flush') return `${command}: ${r.deleted} entries deleted by a kernel-side filtered flush (count from the table size before/after), ${s.toFixed(2)} s`;
  const errs = Object.entries(r.errors).filter(([k]) => k !== 'ENOENT').map(([k, n]) => `${k} ${n}`).join(', ');
  return `${command}: ${r.deleted} of ${r.matched} matching entries deleted (${r.missing} already gone${errs ? `, refused: ${errs}` : ''}${r.repliesLost ? ', some replies lost: counts are lower bounds' : ''}), dump + batched deletes, ${s.toFixed(2)} s, ${Math.round(r.deleted / Math.max(s, 1e-9))} entries/s`;
}

export async function runDelete(argv: readonly string[], io: Io): Promise<number> {
  let o: DeleteOptions;
  try {
    o = parseDeleteCommandLine(argv);
    if (o.help) {
      io.stdout.write(DELETE_HELP);
      return 0;
    }
  } catch (e) {
    io.stderr.write(`ctevents: ${(e as Error).message}\n`);
    return 2;
  }
  const f = o.base.filters;
  let compiled;
  try {
    compiled = compileFilter(f);
  } catch (e) {
    io.stderr.write(`ctevents: ${(e as Error).message}\n`);
    return 2;
  }
  const bounds = o.idleOver !== undefined || o.idleUnder !== undefined || o.remainingUnder !== undefined || o.remainingOver !== undefined;
  const unfiltered = compiled.empty && !bounds;
  const netns = o.base.netns;
  if (unfiltered && o.command === 'delete') {
    io.stderr.write('ctevents: delete needs a filter; `ctevents flush` empties the whole table\n');
    return 2;
  }
  const client = await ConntrackClient.open(netns !== undefined ? { netns } : {});
  try {
    if (unfiltered) {
      const before = (await client.stats()).entries ?? 0;
      if (o.dryRun) {
        const r: DeleteWhereResult = { method: 'flush', matched: before, deleted: 0, requested: 0, missing: 0, failed: 0, errors: {}, repliesLost: false, seconds: 0, approximate: true, groups: {}, dryRun: true };
        report(io, o, r);
        return 0;
      }
      if (!o.yes) {
        const tty = (io.stdin as NodeJS.ReadStream).isTTY === true && io.stderr.isTTY === true;
        if (!tty) {
          io.stderr.write('ctevents: flush without a filter empties the whole table; add --yes to do it without a terminal\n');
          return 2;
        }
        const ok = await confirm(io, `Flush the whole conntrack table${netns !== undefined ? ` of netns ${netns}` : ''} (${before} entries)? [y/N] `);
        if (!ok) {
          io.stderr.write('ctevents: flush cancelled\n');
          return 1;
        }
      }
      const t0 = process.hrtime.bigint();
      await client.flush();
      const after = (await client.stats()).entries ?? 0;
      const n = Math.max(0, before - after);
      report(io, o, { method: 'flush', matched: n, deleted: n, requested: 0, missing: 0, failed: 0, errors: {}, repliesLost: false, seconds: Number(process.hrtime.bigint() - t0) / 1e9, approximate: true, groups: {}, dryRun: false });
      return 0;
    }
    const filter: DeleteFilter = {};
    if (!compiled.empty) {
      if (Object.keys(compiled.kernel).length > 0) filter.kernel = compiled.kernel;
      if (!kernelExact(f)) filter.match = compiled.match;
      else if (!filter.kernel) filter.match = compiled.match;
    }
    if (o.idleOver !== undefined) filter.idleOver = o.idleOver;
    if (o.idleUnder !== undefined) filter.idleUnder = o.idleUnder;
    if (o.remainingUnder !== undefined) filter.remainingUnder = o.remainingUnder;
    if (o.remainingOver !== undefined) filter.remainingOver = o.remainingOver;
    const r = await client.deleteWhere(filter, {
      dryRun: o.dryRun,
      method: o.method,
      ...(o.dryRun ? { groupBy: groupOf } : {}),
    });
    report(io, o, r);
    if (r.failed > 0) {
      io.stderr.write(`ctevents: ${r.failed} deletes refused by the kernel: ${r.firstError?.message ?? ''}\n`);
      return 1;
    }
    return 0;
  } finally {
    await client.close();
  }
}

function report(io: Io, o: DeleteOptions, r: DeleteWhereResult): void {
  if (o.base.format === 'json') {
    const { firstError, ...rest } = r;
    io.stdout.write(JSON.stringify({ type: `${o.command}-summary`, ...rest, ...(firstError ? { firstError: firstError.message } : {}) }) + '\n');
    return;
  }
  if (r.dryRun) {
    const groups = Object.entries(r.groups).sort((a, b) => b[1] - a[1]);
    for (const [g, n] of groups) io.stdout.write(`${String(n).padStart(10)}  ${g}\n`);
    io.stdout.write(`${String(r.matched).padStart(10)}  total\n`);
  }
  io.stderr.write(`ctevents: ${summaryText(o.command, r)}\n`);
}
