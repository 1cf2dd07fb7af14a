/**
 * Command line of `ctevents`: commands, options, validation. Parsing never throws anything
 * but UsageError, whose message is the one line printed (exit code 2).
 *
 * Every option names the commands it applies to (OPTIONS below); given to any other
 * command it is refused, so no option is ever accepted and ignored. conntrack(8)'s option
 * letters are aliases (`-s -d -p -m -u -t -w -e -f -o -l -z -n -g -j -r -q`), and a value
 * may start with '-' (`--count -1` is then refused by the number check, in our words).
 * The help texts are in help.ts.
 */

import { statSync } from 'node:fs';

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

export class UsageError extends Error {
  override readonly name = 'UsageError';
}

export type Command = 'watch' | 'dump' | 'stats' | 'read' | 'get' | 'create' | 'update' | 'help' | 'completion';
export type Format = 'text' | 'json' | 'conntrack' | 'xml';
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
  replySport?: string;
  replyDport?: string;
  icmpType?: string;
  icmpCode?: string;
  icmpId?: string;
  zone?: string;
  origZone?: string;
  replyZone?: string;
  mark?: string;
  status?: string;
  state?: string;
  srcNat?: string;
  dstNat?: string;
  anyNat?: string;
  label?: string;
}

/** `-o` flags: conntrack's output options, passed to the conntrack formatter. */
export interface OutputFlags {
  extended?: boolean;
  id?: boolean;
  timestamp?: boolean;
  ktimestamp?: boolean;
  labels?: boolean;
}

export interface Options {
  command: Command;
  /** read: the file; help: the command asked about; completion: the shell. */
  file?: string;
  topic?: string;
  events: EventName[];
  /** True when --events was given (otherwise the default depends on --state). */
  eventsGiven: boolean;
  count?: number;
  duration?: number;
  format: Format;
  output: OutputFlags;
  follow: boolean;
  dying: boolean;
  unconfirmed: boolean;
  expect: boolean;
  zero: boolean;
  netns?: string;
  bufferSize?: number;
  /** --backlog-size: the receive thread's buffer for events, bytes. */
  backlogSize?: number;
  write?: string;
  /** --force: --write may replace an existing file. */
  force: boolean;
  /** create/update: -t SECONDS */
  timeout?: number;
  filters: FilterOptions;
  help: boolean;
  version: boolean;
}

export const COMMANDS: readonly Command[] = ['watch', 'dump', 'stats', 'read', 'get', 'create', 'update', 'help', 'completion'];
export const FORMATS: readonly Format[] = ['text', 'json', 'conntrack', 'xml'];
const EVENTS: readonly EventName[] = ['new', 'update', 'destroy'];

type Cmds = readonly Command[];
const LIVE_OUT: Cmds = ['watch', 'dump', 'stats', 'get', 'create', 'update'];
const STREAM: Cmds = ['watch', 'dump', 'read'];
const TUPLE: Cmds = ['watch', 'dump', 'read', 'get', 'create', 'update'];
const FILTER_ONLY: Cmds = ['watch', 'dump', 'read'];
const SETTABLE: Cmds = ['watch', 'dump', 'read', 'create', 'update'];

export interface OptionDef {
  /** Long name without the dashes; the key in `values`. */
  name: string;
  value: boolean;
  short?: string;
  /** Long aliases (conntrack's names). */
  aliases?: readonly string[];
  commands: Cmds;
  /** Filter key for the FilterOptions. */
  filter?: keyof FilterOptions;
  /** The value may be left out (conntrack's `--src-nat [ip]`): taken only when attached or when the next word is an address. */
  optional?: boolean;
}

/** Every option, the commands it applies to, and conntrack's spelling of it. */
export const OPTIONS: readonly OptionDef[] = [
  { name: 'events', value: true, short: 'e', aliases: ['event-mask'], commands: STREAM },
  { name: 'count', value: true, commands: STREAM },
  { name: 'duration', value: true, commands: ['watch', 'dump'] },
  { name: 'follow', value: false, commands: ['dump'] },
  { name: 'format', value: true, commands: ['watch', 'dump', 'stats', 'read', 'get'] },
  { name: 'output', value: true, short: 'o', commands: ['watch', 'dump', 'read', 'get'] },
  { name: 'netns', value: true, commands: LIVE_OUT },
  { name: 'buffer-size', value: true, short: 'b', commands: ['watch', 'dump'] },
  { name: 'backlog-size', value: true, commands: ['watch', 'dump'] },
  { name: 'write', value: true, commands: LIVE_OUT },
  { name: 'force', value: false, commands: LIVE_OUT },
  { name: 'dying', value: false, commands: ['dump'] },
  { name: 'unconfirmed', value: false, commands: ['dump'] },
  { name: 'expect', value: false, commands: ['dump', 'watch', 'stats'] },
  { name: 'zero', value: false, short: 'z', commands: ['dump', 'get'] },
  { name: 'timeout', value: true, short: 't', commands: ['create', 'update'] },
  { name: 'family', value: true, short: 'f', commands: TUPLE, filter: 'family' },
  { name: 'proto', value: true, short: 'p', aliases: ['protonum'], commands: TUPLE, filter: 'proto' },
  { name: 'src', value: true, short: 's', aliases: ['orig-src'], commands: TUPLE, filter: 'src' },
  { name: 'dst', value: true, short: 'd', aliases: ['orig-dst'], commands: TUPLE, filter: 'dst' },
  { name: 'reply-src', value: true, short: 'r', commands: TUPLE, filter: 'replySrc' },
  { name: 'reply-dst', value: true, short: 'q', commands: TUPLE, filter: 'replyDst' },
  { name: 'sport', value: true, aliases: ['orig-port-src'], commands: TUPLE, filter: 'sport' },
  { name: 'dport', value: true, aliases: ['orig-port-dst'], commands: TUPLE, filter: 'dport' },
  { name: 'reply-port-src', value: true, commands: TUPLE, filter: 'replySport' },
  { name: 'reply-port-dst', value: true, commands: TUPLE, filter: 'replyDport' },
  { name: 'icmp-type', value: true, commands: TUPLE, filter: 'icmpType' },
  { name: 'icmp-code', value: true, commands: TUPLE, filter: 'icmpCode' },
  { name: 'icmp-id', value: true, commands: TUPLE, filter: 'icmpId' },
  { name: 'zone', value: true, short: 'w', commands: TUPLE, filter: 'zone' },
  { name: 'orig-zone', value: true, commands: TUPLE, filter: 'origZone' },
  { name: 'reply-zone', value: true, commands: TUPLE, filter: 'replyZone' },
  { name: 'mark', value: true, short: 'm', commands: SETTABLE, filter: 'mark' },
  { name: 'status', value: true, short: 'u', commands: SETTABLE, filter: 'status' },
  { name: 'state', value: true, commands: SETTABLE, filter: 'state' },
  { name: 'label', value: true, short: 'l', commands: SETTABLE, filter: 'label' },
  { name: 'src-nat', value: true, optional: true, short: 'n', commands: FILTER_ONLY, filter: 'srcNat' },
  { name: 'dst-nat', value: true, optional: true, short: 'g', commands: FILTER_ONLY, filter: 'dstNat' },
  { name: 'any-nat', value: true, optional: true, short: 'j', commands: FILTER_ONLY, filter: 'anyNat' },
  { name: 'help', value: false, short: 'h', commands: COMMANDS },
  { name: 'version', value: false, short: 'V', commands: COMMANDS },
];

const BY_NAME = new Map<string, OptionDef>();
for (const o of OPTIONS) {
  BY_NAME.set(`--${o.name}`, o);
  for (const a of o.aliases ?? []) BY_NAME.set(`--${a}`, o);
  if (o.short) BY_NAME.set(`-${o.short}`, o);
}

/** Split argv into options (by long name) and positionals. Throws UsageError. */
export function tokenize(argv: readonly string[]): { values: Map<string, string | true>; given: Map<string, string>; positionals: string[] } {
  const values = new Map<string, string | true>();
  const given = new Map<string, string>();
  const positionals: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--') {
      positionals.push(...argv.slice(i + 1));
      break;
    }
    if (!a.startsWith('-') || a === '-') {
      positionals.push(a);
      continue;
    }
    const eq = a.startsWith('--') ? a.indexOf('=') : -1;
    const spelled = eq >= 0 ? a.slice(0, eq) : a;
    const def = BY_NAME.get(spelled);
    if (!def) throw new UsageError(`unknown option ${spelled} (see ctevents --help)`);
    if (values.has(def.name)) throw new UsageError(`${spelled} given twice`);
    let v: string | true = true;
    if (def.value) {
      if (eq >= 0) v = a.slice(eq + 1);
      else if (def.optional) v = i + 1 < argv.length && /^[0-9a-fA-F:.]+(:\d+)?$/.test(argv[i + 1]!) && /[.:]/.test(argv[i + 1]!) ? argv[++i]! : '';
      else if (i + 1 < argv.length) v = argv[++i]!;
      else throw new UsageError(`${spelled} needs a value`);
    } else if (eq >= 0) throw new UsageError(`${spelled} takes no value`);
    values.set(def.name, v);
    given.set(def.name, spelled);
  }
  return { values, given, positionals };
}

/** Largest --duration: a timer chain handles any length; this only keeps the numbers sane (100 years). */
const MAX_DURATION_S = 100 * 365 * 86400;
/** Largest --buffer-size: SO_RCVBUFFORCE takes an int and the kernel doubles it. */
export const MAX_BUFFER = 1024 * 1024 * 1024;
export const MIN_BUFFER = 4096;

function wholeNumber(opt: string, v: string, min: number, max: number): number {
  if (!/^\d+$/.test(v) || Number(v) < min || Number(v) > max) {
    throw new UsageError(`${opt} needs a whole number from ${min} to ${max}, not ${JSON.stringify(v)}`);
  }
  return Number(v);
}

function seconds(opt: string, v: string, max: number): number {
  const n = Number(v);
  if (!/^\d+(\.\d+)?$/.test(v) || !(n > 0) || n > max) throw new UsageError(`${opt} needs a number of seconds above 0 and at most ${max}, not ${JSON.stringify(v)}`);
  return n;
}

/** BYTES with an optional K, M or G suffix (powers of 1024). */
function bytes(opt: string, v: string, min = MIN_BUFFER, max = MAX_BUFFER): number {
  const m = /^(\d+)([kKmMgG]?)$/.exec(v);
  const mult = m ? ({ '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 } as Record<string, number>)[m[2]!.toLowerCase()]! : 0;
  const n = m ? Number(m[1]) * mult : NaN;
  if (!(n >= min && n <= max)) throw new UsageError(`${opt} needs a size from ${min} bytes to ${max / 1024 ** 3}G (suffix K, M or G allowed), not ${JSON.stringify(v)}`);
  return n;
}

/** --backlog-size bounds: the receive thread works in 256 KiB..1 MiB chunks; 64 GiB is plenty. */
export const MIN_BACKLOG = 262144;
export const MAX_BACKLOG = 64 * 1024 ** 3;

function parseOutput(v: string, opts: Options): void {
  for (const w of v.split(',').map((s) => s.trim().toLowerCase())) {
    if (w === 'xml') opts.format = 'xml';
    else if (w === 'extended' || w === 'id' || w === 'timestamp' || w === 'ktimestamp' || w === 'labels') opts.output[w] = true;
    else throw new UsageError(`-o: unknown output option ${JSON.stringify(w)} (extended, xml, timestamp, ktimestamp, id, labels)`);
  }
}

/** conntrack -e: ALL or a list of NEW, UPDATES (UPDATE), DESTROY, any case. */
function parseEvents(v: string): EventName[] {
  const list = v.split(',').map((s) => s.trim().toLowerCase()).filter(Boolean);
  if (list.length === 0) throw new UsageError('--events needs at least one of new, update, destroy');
  const out: EventName[] = [];
  for (const e of list) {
    if (e === 'all') out.push(...EVENTS);
    else if (e === 'updates') out.push('update');
    else if (EVENTS.includes(e as EventName)) out.push(e as EventName);
    else throw new UsageError(`--events: unknown event ${JSON.stringify(e)} (new, update, destroy, all)`);
  }
  return [...new Set(out)];
}

/** The netns forms the socket layer accepts: a name, an absolute path, or a pid. */
function netnsArg(v: string): string {
  if (v === '' || v.includes('\0') || v === '.' || v === '..' || (!v.startsWith('/') && v.includes('/'))) {
    throw new UsageError(`--netns needs a namespace name, an absolute path or a pid, not ${JSON.stringify(v)}`);
  }
  return v;
}

export function parseCommandLine(argv: readonly string[]): Options {
  const { values: v, given, positionals: pos } = tokenize(argv);
  let command: Command = 'watch';
  if (pos.length > 0) {
    if (!COMMANDS.includes(pos[0] as Command)) throw new UsageError(`unknown command ${JSON.stringify(pos[0])} (commands: ${COMMANDS.join(', ')})`);
    command = pos[0] as Command;
  }
  const opts: Options = {
    command,
    events: ['new', 'destroy'],
    eventsGiven: false,
    format: 'text',
    output: {},
    follow: v.has('follow'),
    force: v.has('force'),
    dying: v.has('dying'),
    unconfirmed: v.has('unconfirmed'),
    expect: v.has('expect'),
    zero: v.has('zero'),
    filters: {},
    help: v.has('help'),
    version: v.has('version'),
  };
  if (opts.version) return opts;
  if (command === 'help' || opts.help) {
    if (command === 'help' && pos.length > 2) throw new UsageError('help takes at most one command');
    const topic = command === 'help' ? pos[1] : pos[0];
    if (topic !== undefined) {
      if (!COMMANDS.includes(topic as Command)) throw new UsageError(`unknown command ${JSON.stringify(topic)} (commands: ${COMMANDS.join(', ')})`);
      opts.topic = topic;
    }
    opts.help = true;
    return opts;
  }
  if (command === 'completion') {
    if (pos.length !== 2 || !['bash', 'zsh'].includes(pos[1]!)) throw new UsageError('completion needs a shell: bash or zsh');
    opts.topic = pos[1];
    if (v.size > 0) throw new UsageError(`${[...given.values()][0]} does not apply to completion`);
    return opts;
  }
  if (command === 'read') {
    if (pos.length !== 2) throw new UsageError('read needs one FILE (or - for standard input)');
    opts.file = pos[1];
  } else if (pos.length > 1) {
    throw new UsageError(`unexpected argument ${JSON.stringify(pos[1])}`);
  }
  // No option is accepted and ignored: refuse what does not apply to this command.
  for (const [name, spelled] of given) {
    const def = BY_NAME.get(`--${name}`)!;
    if (!def.commands.includes(command)) throw new UsageError(`${spelled} does not apply to ${command} (see ctevents help ${command})`);
  }
  const str = (name: string): string | undefined => {
    const x = v.get(name);
    return typeof x === 'string' ? x : undefined;
  };
  const f = str('format');
  if (f !== undefined) {
    if (!FORMATS.includes(f as Format)) throw new UsageError(`--format must be one of ${FORMATS.join(', ')}, not ${JSON.stringify(f)}`);
    opts.format = f as Format;
  }
  const o = str('output');
  if (o !== undefined) parseOutput(o, opts);
  if (o !== undefined && f !== undefined && f !== 'conntrack' && f !== 'xml' && Object.keys(opts.output).length > 0) {
    throw new UsageError(`-o ${o} changes the conntrack format; it does not apply to --format ${f}`);
  }
  if (Object.keys(opts.output).length > 0 && f === undefined && opts.format === 'text') opts.format = 'conntrack';
  const ev = str('events');
  if (ev !== undefined) {
    if (command === 'dump' && !opts.follow) throw new UsageError('--events applies to dump --follow only (a dump prints entries, not events)');
    opts.events = parseEvents(ev);
    opts.eventsGiven = true;
  }
  const count = str('count');
  if (count !== undefined) opts.count = wholeNumber(given.get('count')!, count, 1, Number.MAX_SAFE_INTEGER);
  const duration = str('duration');
  if (duration !== undefined) {
    if (command === 'dump' && !opts.follow) throw new UsageError('--duration applies to dump --follow only');
    opts.duration = seconds(given.get('duration')!, duration, MAX_DURATION_S);
  }
  const buf = str('buffer-size');
  if (buf !== undefined) {
    if (command === 'dump' && !opts.follow) throw new UsageError('--buffer-size applies to dump --follow only (the event socket)');
    opts.bufferSize = bytes(given.get('buffer-size')!, buf);
  }
  const backlog = str('backlog-size');
  if (backlog !== undefined) {
    if (command === 'dump' && !opts.follow) throw new UsageError('--backlog-size applies to dump --follow only (the event socket)');
    opts.backlogSize = bytes(given.get('backlog-size')!, backlog, MIN_BACKLOG, MAX_BACKLOG);
  }
  const timeout = str('timeout');
  if (timeout !== undefined) opts.timeout = wholeNumber(given.get('timeout')!, timeout, 0, 0xffffffff);
  if (command === 'create' && opts.timeout === undefined) throw new UsageError('create needs --timeout (-t) SECONDS');
  const netns = str('netns');
  if (netns !== undefined) opts.netns = netnsArg(netns);
  const write = str('write');
  if (write !== undefined) {
    if (write === '') throw new UsageError('--write needs a file name');
    if (isDirectory(write)) throw new UsageError(`${write}: is a directory`);
    opts.write = write;
  }
  if (opts.force && opts.write === undefined) throw new UsageError('--force applies to --write only');
  const lists = [opts.follow && 'follow', opts.dying && 'dying', opts.unconfirmed && 'unconfirmed', command === 'dump' && opts.expect && 'expect'].filter(Boolean);
  if (lists.length > 1) throw new UsageError(`--${lists.join(' and --')} cannot be combined`);
  if (opts.zero && command === 'dump' && lists.length > 0) throw new UsageError('--zero applies to a plain dump of the table');
  for (const def of OPTIONS) {
    const val = def.filter ? str(def.name) : undefined;
    if (def.filter && val !== undefined) opts.filters[def.filter] = val;
  }
  if (opts.expect) {
    const allowed = new Set(['family', 'proto', 'src', 'dst', 'sport', 'dport', 'zone']);
    for (const [name, spelled] of given) if (BY_NAME.get(`--${name}`)!.filter && !allowed.has(name)) throw new UsageError(`${spelled} does not apply to expectations (--expect filters: --family --proto --src --dst --sport --dport --zone)`);
    if (opts.eventsGiven) throw new UsageError('--events does not apply to --expect (expectation events are new and destroy)');
  }
  if (command === 'stats' && opts.format === 'xml') throw new UsageError('--format xml does not apply to stats (conntrack -S has no XML form)');
  // NEW events are always SYN_SENT for TCP: a --state filter without --events would match
  // nothing until DESTROY, so it watches updates too.
  if (opts.filters.state !== undefined && !opts.eventsGiven && (command === 'watch' || command === 'dump')) opts.events = ['new', 'update', 'destroy'];
  return opts;
}

/**
 * One line in our words for an error thrown by node:util parseArgs (the commands with an
 * option table of their own: top, metrics, guard), never Node's multi-line text.
 */
export function usageFromParseArgs(e: unknown, command: string): UsageError {
  if (e instanceof UsageError) return e;
  const msg = String((e as Error)?.message ?? e);
  let m: RegExpExecArray | null;
  if ((m = /^Unknown option '([^']+)'/.exec(msg))) return new UsageError(`unknown option ${m[1]} (see ctevents help ${command})`);
  if ((m = /^Option '(?:-\w, )?(--[\w-]+)' argument is ambiguous/.exec(msg))) return new UsageError(`${m[1]} needs a value; for one that starts with a dash write ${m[1]}=VALUE`);
  if ((m = /^Option '(?:-\w, )?(--[\w-]+)(?: <value>)?' argument missing/.exec(msg))) return new UsageError(`${m[1]} needs a value`);
  if ((m = /^Option '(?:-\w, )?(--[\w-]+)' does not take an argument/.exec(msg))) return new UsageError(`${m[1]} takes no value`);
  if ((m = /^Unexpected argument '([^']+)'/.exec(msg))) return new UsageError(`${command}: unexpected argument ${m[1]}`);
  return new UsageError(msg.split('\n')[0]!.replace(/\. To specify a positional argument.*$/, ''));
}
