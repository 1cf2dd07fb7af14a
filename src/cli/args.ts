/**
 * Command line of `ctevents`: commands, options, validation and the help text.
 * Parsing never throws anything but UsageError, whose message is the one line printed.
 */
import { parseArgs } from 'node:util';

export class UsageError extends Error {
  override readonly name = 'UsageError';
}

export type Command = 'watch' | 'dump' | 'stats' | 'read';
export type Format = 'text' | 'json' | 'conntrack';
export type EventName = 'new' | 'update' | 'destroy';

export interface FilterOptions {
  family?: string;
  proto?: string;
  src?: string;
  dst?: string;
  replySrc?: string;
  replyDst?: string;
  sport?: string;
  dport?: string;
  zone?: string;
  mark?: string;
  status?: string;
  state?: string;
}

export interface Options {
  command: Command;
  file?: string;
  events: EventName[];
  count?: number;
  duration?: number;
  format: Format;
  follow: boolean;
  netns?: string;
  bufferSize?: number;
  write?: string;
  filters: FilterOptions;
  help: boolean;
  version: boolean;
}

export const HELP = `Usage: ctevents [command] [options]

Linux connection tracking over netlink: live events, dumps, statistics, and offline
decoding of captures.

Commands:
  watch               stream conntrack events until interrupted (the default)
  dump                print the current table and exit
  stats               entries, maximum, hash buckets, fill and the per-CPU counters
  read FILE|-         decode a pcap or pcapng capture (no privilege needed)
  delete FILTERS      delete what the filters match (--dry-run, --idle-over; see delete --help)
  flush [FILTERS]     flush the table, or what the filters match (asks unless --yes)
  guard               keep the table from filling: evict by policy (see guard --help)

Options:
  --events LIST       events to watch: new,update,destroy (default: new,destroy)
  --count N           stop after N events (watch, dump --follow, read)
  --duration SECONDS  stop after SECONDS (watch, dump --follow)
  --follow            dump: keep streaming events after the table, without a gap
  --format FORMAT     text (default), json (one object per line), or conntrack
                      (the same lines as conntrack -E / conntrack -L)
  --netns NS          network namespace: a name under /var/run/netns, a path, or a pid
  --buffer-size BYTES receive buffer for events (default 64 MiB)
  --write FILE.pcap   record the raw netlink datagrams to a pcap file (Wireshark: Netlink)
  -h, --help          show this help
  --version           show the version

Filters (original direction unless named reply; the kernel filters dumps where it can):
  --family ipv4|ipv6          --proto NAME|NUMBER       --zone N
  --src ADDR[/LEN]            --dst ADDR[/LEN]          --mark VALUE[/MASK]
  --reply-src ADDR[/LEN]      --reply-dst ADDR[/LEN]    --status LIST (ASSURED,SEEN_REPLY,...)
  --sport PORT                --dport PORT              --state LIST (TCP: ESTABLISHED,...)

On exit (Ctrl-C, --count, --duration, a closed pipe) a summary line goes to stderr.
`;

const COMMANDS: readonly Command[] = ['watch', 'dump', 'stats', 'read'];
const FORMATS: readonly Format[] = ['text', 'json', 'conntrack'];
const EVENTS: readonly EventName[] = ['new', 'update', 'destroy'];

function positiveInt(name: string, v: string | undefined, allowZero = false): number | undefined {
  if (v === undefined) return undefined;
  if (!/^\d+$/.test(v) || (!allowZero && Number(v) === 0) || !Number.isSafeInteger(Number(v))) {
    throw new UsageError(`--${name} needs a positive whole number, not ${JSON.stringify(v)}`);
  }
  return Number(v);
}

function positiveNumber(name: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!/^\d+(\.\d+)?$/.test(v) || !(n > 0)) throw new UsageError(`--${name} needs a positive number of seconds, not ${JSON.stringify(v)}`);
  return n;
}

export function parseCommandLine(argv: readonly string[]): Options {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      allowPositionals: true,
      strict: true,
      options: {
        events: { type: 'string' },
        count: { type: 'string' },
        duration: { type: 'string' },
        follow: { type: 'boolean' },
        format: { type: 'string' },
        netns: { type: 'string' },
        'buffer-size': { type: 'string' },
        write: { type: 'string' },
        family: { type: 'string' },
        proto: { type: 'string' },
        src: { type: 'string' },
        dst: { type: 'string' },
        'reply-src': { type: 'string' },
        'reply-dst': { type: 'string' },
        sport: { type: 'string' },
        dport: { type: 'string' },
        zone: { type: 'string' },
        mark: { type: 'string' },
        status: { type: 'string' },
        state: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
        version: { type: 'boolean' },
      },
    });
  } catch (e) {
    const msg = (e as Error).message.replace(/\. To specify a positional argument.*$/s, '');
    throw new UsageError(`${msg} (see ctevents --help)`);
  }
  const v = parsed.values;
  const pos = parsed.positionals;
  let command: Command = 'watch';
  if (pos.length > 0) {
    if (!COMMANDS.includes(pos[0] as Command)) throw new UsageError(`unknown command ${JSON.stringify(pos[0])} (commands: ${COMMANDS.join(', ')})`);
    command = pos[0] as Command;
  }
  const opts: Options = {
    command,
    events: ['new', 'destroy'],
    format: 'text',
    follow: v.follow ?? false,
    filters: {},
    help: v.help ?? false,
    version: v.version ?? false,
  };
  if (opts.help || opts.version) return opts;
  if (command === 'read') {
    if (pos.length !== 2) throw new UsageError('read needs one FILE (or - for standard input)');
    opts.file = pos[1];
  } else if (pos.length > 1) {
    throw new UsageError(`unexpected argument ${JSON.stringify(pos[1])}`);
  }
  if (v.format !== undefined) {
    if (!FORMATS.includes(v.format as Format)) throw new UsageError(`--format must be one of ${FORMATS.join(', ')}, not ${JSON.stringify(v.format)}`);
    opts.format = v.format as Format;
  }
  if (v.events !== undefined) {
    const list = v.events.split(',').map((s) => s.trim().toLowerCase()).filter(Boolean);
    if (list.length === 0) throw new UsageError('--events needs at least one of new, update, destroy');
    for (const e of list) if (!EVENTS.includes(e as EventName)) throw new UsageError(`--events: unknown event ${JSON.stringify(e)} (new, update, destroy)`);
    opts.events = [...new Set(list as EventName[])];
  }
  const count = positiveInt('count', v.count);
  if (count !== undefined) opts.count = count;
  const duration = positiveNumber('duration', v.duration);
  if (duration !== undefined) opts.duration = duration;
  const buf = positiveInt('buffer-size', v['buffer-size']);
  if (buf !== undefined) opts.bufferSize = buf;
  if (v.netns !== undefined) {
    if (v.netns === '') throw new UsageError('--netns needs a name, a path or a pid');
    opts.netns = v.netns;
  }
  if (v.write !== undefined) {
    if (command === 'read') throw new UsageError('--write records live traffic; it does not apply to read');
    if (v.write === '') throw new UsageError('--write needs a file name');
    opts.write = v.write;
  }
  if (opts.follow && command !== 'dump') throw new UsageError('--follow applies to dump only');
  const f = opts.filters;
  const map: [keyof FilterOptions, string | undefined][] = [
    ['family', v.family], ['proto', v.proto], ['src', v.src], ['dst', v.dst], ['replySrc', v['reply-src']],
    ['replyDst', v['reply-dst']], ['sport', v.sport], ['dport', v.dport], ['zone', v.zone], ['mark', v.mark],
    ['status', v.status], ['state', v.state],
  ];
  for (const [k, val] of map) if (val !== undefined) f[k] = val;
  return opts;
}
