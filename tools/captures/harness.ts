/**
 * Recording harness: throwaway network namespaces, nftables rules, sysctls, child processes,
 * the recording socket(s) and the oracle outputs of one capture scenario.
 *
 * Recording method: this machine has no nlmon driver, so nothing can sniff netlink. Instead
 * every datagram our NetlinkSocket receives, and every request it sends, is written to a
 * LINKTYPE_NETLINK pcap with PcapWriter, in the order they happen, with the nlmon cooked
 * header (pkttype 4, hatype 824, protocol 12). Kernel→user and user→kernel datagrams are told
 * apart by NLM_F_REQUEST (the kernel never sets it).
 *
 * Everything created here is registered in a cleanup list that runs in reverse order at the
 * end of the scenario, also after a failure or a signal. Namespaces are made and removed by
 * the shared harness (tools/netns.ts), without its ruleset: each scenario loads its own.
 */
import { execFileSync, spawn, type ChildProcess, type ExecFileSyncOptions, type StdioOptions } from 'node:child_process';
import { writeFileSync, existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { NetlinkSocket, type NetlinkSocketOptions } from '../../src/socket/netlink-socket.js';
import { openPcapFile, type PcapFile } from '../../src/pcap/index.js';
import { decodeDatagram, encodeMessage, messageTypeName } from '../../src/ctnetlink/message.js';
import type { Message } from '../../src/ctnetlink/model.js';
import { createNetns, type Netns as SharedNetns } from '../netns.js';
import { reduceTshark, tsharkJsonArgs } from './tshark.js';

export const NLM_F_ACK = 0x4;
export const NLM_F_DUMP = 0x300;
export const NS_PREFIX = 'ctcap-';
const ENV = { ...process.env, TZ: 'UTC', LC_ALL: 'C' };

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

type RunOptions = Omit<ExecFileSyncOptions, 'encoding'>;
interface ExecError { status?: number | null; signal?: string | null; stdout?: unknown; stderr?: unknown }

/** Runs a command, returns stdout; throws with stderr on failure. */
export function run(cmd: string, args: string[], opts: RunOptions = {}): string {
  try {
    return execFileSync(cmd, args, { env: ENV, stdio: ['pipe', 'pipe', 'pipe'], ...opts, encoding: 'utf8' });
  } catch (e) {
    const err = e as ExecError;
    const stderr = err.stderr ? String(err.stderr).trim() : '';
    throw new Error(`${cmd} ${args.join(' ')} failed (${err.status ?? err.signal}): ${stderr}`);
  }
}

/** Like run() but returns { status, stdout, stderr } instead of throwing. */
export function runStatus(cmd: string, args: string[], opts: RunOptions = {}): { status: number; stdout: string; stderr: string } {
  try {
    const stdout = execFileSync(cmd, args, { env: ENV, stdio: ['pipe', 'pipe', 'pipe'], ...opts, encoding: 'utf8' });
    return { status: 0, stdout, stderr: '' };
  } catch (e) {
    const err = e as ExecError;
    return { status: err.status ?? -1, stdout: String(err.stdout ?? ''), stderr: String(err.stderr ?? '') };
  }
}

/** Deletes namespaces with our prefix left behind by a recorder process that no longer runs. */
export function removeStaleNamespaces() {
  let names: string[] = [];
  try {
    names = readdirSync('/var/run/netns');
  } catch {
    return;
  }
  for (const name of names) {
    const m = /^ctcap-.*-(\d+)$/.exec(name);
    if (!m) continue;
    const pid = Number(m[1]);
    let alive = true;
    try {
      process.kill(pid, 0);
    } catch {
      alive = false;
    }
    if (!alive || pid === process.pid) runStatus('ip', ['netns', 'del', name]);
  }
}

/** A list of undo actions run in reverse order; each runs once even if another fails. */
export class Cleanup {
  #actions: { what: string; fn: () => unknown }[] = [];
  add(what: string, fn: () => unknown): void {
    this.#actions.push({ what, fn });
  }
  async runAll(): Promise<string[]> {
    const errors: string[] = [];
    while (this.#actions.length > 0) {
      const { what, fn } = this.#actions.pop()!;
      try {
        await fn();
      } catch (err) {
        errors.push(`${what}: ${(err as Error).message}`);
      }
    }
    return errors;
  }
}

/** A child started in a namespace: its exit, and what it wrote on stderr so far. */
export type Child = ChildProcess & {
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  stderrText(): string;
};

/**
 * A throwaway network namespace with loopback up (made by tools/netns.ts, no ruleset: the
 * scenario loads its own), removed at cleanup.
 */
export class Netns {
  readonly name: string;
  /** Sysctls this scenario set in the namespace (recorded in the manifest). */
  readonly sysctlsSet: Record<string, string | number> = {};
  private readonly cleanup: Cleanup;
  private readonly ns: SharedNetns;
  constructor(cleanup: Cleanup, short: string) {
    this.cleanup = cleanup;
    this.ns = createNetns({ name: `${NS_PREFIX}${short}-${process.pid}`, ruleset: null });
    this.name = this.ns.name;
    cleanup.add(`ip netns del ${this.name}`, () => this.ns.remove());
  }
  exec(cmd: string, args: string[], opts?: RunOptions): string {
    return run('ip', ['netns', 'exec', this.name, cmd, ...args], opts);
  }
  execStatus(cmd: string, args: string[], opts?: RunOptions): { status: number; stdout: string; stderr: string } {
    return runStatus('ip', ['netns', 'exec', this.name, cmd, ...args], opts);
  }
  /** Loads an nftables ruleset (nft -f -). */
  nft(ruleset: string): void {
    this.exec('nft', ['-f', '-'], { input: ruleset });
  }
  sysctl(settings: Record<string, string | number>): void {
    Object.assign(this.sysctlsSet, settings);
    const args = ['-q', '-w'];
    for (const [k, v] of Object.entries(settings)) args.push(`${k}=${v}`);
    this.exec('sysctl', args);
  }
  readSysctl(key: string): string {
    return this.exec('sysctl', ['-n', key]).trim();
  }
  /** Starts a long-running child inside the namespace; killed at cleanup if still running. */
  spawn(cmd: string, args: string[], opts: { stdio?: StdioOptions } = {}): Child {
    const child = spawn('ip', ['netns', 'exec', this.name, cmd, ...args], {
      env: ENV,
      stdio: opts.stdio ?? ['pipe', 'pipe', 'pipe'],
    }) as Child;
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('close', (code, signal) => resolve({ code, signal })));
    child.exited = exited;
    let err = '';
    child.stderr?.on('data', (d) => (err += d));
    child.stderrText = () => err;
    this.cleanup.add(`kill ${cmd} (pid ${child.pid})`, async () => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGKILL');
        await exited;
      }
    });
    return child;
  }
  /** Runs the traffic helper to completion. */
  traffic(...args: (string | number)[]): string {
    return this.exec(process.execPath, [join(import.meta.dirname, 'traffic.js'), ...args.map(String)], { timeout: 30_000 });
  }
  spawnTraffic(...args: (string | number)[]): Child {
    return this.spawn(process.execPath, [join(import.meta.dirname, 'traffic.js'), ...args.map(String)]);
  }
}

/** Resolves when `child` printed a line containing `text` on stdout. */
export function waitForLine(child: Child, text: string, timeoutMs = 10_000): Promise<void> {
  return new Promise((resolve, reject) => {
    let buf = '';
    const timer = setTimeout(() => reject(new Error(`timed out waiting for "${text}"`)), timeoutMs);
    const onData = (d: Buffer | string) => {
      buf += d;
      if (buf.includes(text)) {
        clearTimeout(timer);
        child.stdout!.off('data', onData);
        resolve();
      }
    };
    child.stdout!.on('data', onData);
    child.on('close', () => {
      clearTimeout(timer);
      reject(new Error(`child exited before printing "${text}": ${child.stderrText?.()}`));
    });
  });
}

function bigintJson(_k: string, v: unknown): unknown {
  if (typeof v === 'bigint') return v.toString();
  if (v instanceof Uint8Array) return Buffer.from(v).toString('hex');
  return v;
}

/**
 * One scenario's recording: a pcap of every datagram sent or received by its channels,
 * the decoded messages (to wait for events and replies), and notes for the manifest.
 */
/** A decoded message of the recording: its pcap record, index in the datagram, and socket. */
export interface RecordedMessage {
  record: number;
  index: number;
  msg: Message;
  socket: string;
}

export class Recorder {
  static async create(dir: string, name: string): Promise<Recorder> {
    return new Recorder(dir, name, await openPcapFile(join(dir, `${name}.pcap`)));
  }
  readonly dir: string;
  readonly name: string;
  readonly file: PcapFile;
  seq = 0;
  /** Every message decoded so far. */
  readonly messages: RecordedMessage[] = [];
  /** Requests we sent. */
  readonly requests: { record: number; seq: number; what: string; type: string; flags: number }[] = [];
  readonly overruns: { afterRecords: number; socket: string }[] = [];
  readonly truncated: number[] = [];
  readonly decodeErrors: { record: number; error: string }[] = [];
  readonly channels: Channel[] = [];
  readonly waiters = new Set<{ check(): void }>();
  private constructor(dir: string, name: string, file: PcapFile) {
    this.dir = dir;
    this.name = name;
    this.file = file;
  }
  get records(): number {
    return this.file.writer.records;
  }
  /** Opens a NetlinkSocket in `opts.netns` whose traffic goes to this recording. */
  open(label: string, opts: NetlinkSocketOptions): Channel {
    const ch = new Channel(this, label, NetlinkSocket.open(opts));
    this.channels.push(ch);
    return ch;
  }
  write(data: Uint8Array, socketLabel: string): number {
    const record = this.records;
    this.file.writer.writeDatagram(data);
    let msgs: Message[] = [];
    try {
      msgs = decodeDatagram(data);
    } catch (err) {
      this.decodeErrors.push({ record, error: (err as Error).message });
    }
    msgs.forEach((msg, index) => this.messages.push({ record, index, msg, socket: socketLabel }));
    for (const w of [...this.waiters]) w.check();
    return record;
  }
  /** Waits until `pred(msg)` matched `count` messages received after `since` (a message index). */
  waitFor(
    what: string,
    pred: (msg: Message, m: RecordedMessage) => boolean,
    { timeoutMs = 10_000, count = 1, since = 0 }: { timeoutMs?: number; count?: number; since?: number } = {},
  ): Promise<RecordedMessage[]> {
    return new Promise((resolve, reject) => {
      const w = {
        check: () => {
          const hits = this.messages.slice(since).filter((m) => pred(m.msg, m));
          if (hits.length >= count) {
            clearTimeout(timer);
            this.waiters.delete(w);
            resolve(hits);
          }
        },
      };
      const timer = setTimeout(() => {
        this.waiters.delete(w);
        reject(new Error(`${this.name}: timed out after ${timeoutMs} ms waiting for ${what}`));
      }, timeoutMs);
      this.waiters.add(w);
      w.check();
    });
  }
  /** True once `pred` matched a message (non-blocking). */
  has(pred: (msg: Message, m: RecordedMessage) => boolean, since = 0): boolean {
    return this.messages.slice(since).some((m) => pred(m.msg, m));
  }
  async close(): Promise<void> {
    for (const ch of this.channels) ch.close();
    await this.file.close();
  }
}

/** One socket of a recording. */
interface PendingRequest {
  since: number;
  dump: boolean;
  ack: boolean;
  resolve(v: Message[]): void;
  reject(e: Error): void;
}

export class Channel {
  readonly rec: Recorder;
  readonly label: string;
  readonly sock: NetlinkSocket;
  private readonly pending = new Map<number, PendingRequest>();
  constructor(rec: Recorder, label: string, sock: NetlinkSocket) {
    this.rec = rec;
    this.label = label;
    this.sock = sock;
    sock.onReceive(
      (items) => {
        for (const it of items) {
          if ('overrun' in it) {
            rec.overruns.push({ afterRecords: rec.records, socket: label });
            continue;
          }
          const record = rec.write(it.data, label);
          if (it.truncated) rec.truncated.push(record);
        }
        this.#settle();
      },
      (err) => {
        for (const p of this.pending.values()) p.reject(err);
        this.pending.clear();
      },
    );
  }
  get portid(): number {
    return this.sock.portid;
  }
  /**
   * Sends `msg` (a request model) with the next seq and our portid, NLM_F_ACK on non-dumps.
   * Resolves with every message answering it once the answer is complete: NLMSG_DONE for a
   * dump, the ACK/error for the rest. Rejects after `timeoutMs`.
   */
  request(msg: Message, what: string, { ack, timeoutMs = 5000 }: { ack?: boolean; timeoutMs?: number } = {}): Promise<Message[]> {
    const seq = ++this.rec.seq;
    const dump = (msg.header.flags & NLM_F_DUMP) === NLM_F_DUMP;
    msg.header.seq = seq;
    msg.header.pid = this.sock.portid;
    if (ack ?? !dump) msg.header.flags |= NLM_F_ACK;
    const data = encodeMessage(msg);
    const record = this.rec.write(data, this.label);
    this.rec.requests.push({ record, seq, what, type: messageTypeName(msg.header.type), flags: msg.header.flags });
    const since = this.rec.messages.length;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(seq);
        reject(new Error(`${this.rec.name}: no complete answer to seq ${seq} (${what})`));
      }, timeoutMs);
      this.pending.set(seq, {
        since,
        dump,
        ack: ack ?? !dump,
        resolve: (v: Message[]) => {
          clearTimeout(timer);
          resolve(v);
        },
        reject: (e: Error) => {
          clearTimeout(timer);
          reject(e);
        },
      });
      this.sock.send(data);
    });
  }
  #settle(): void {
    for (const [seq, p] of this.pending) {
      const answers = this.rec.messages
        .slice(p.since)
        .filter((m) => m.socket === this.label && m.msg.header.seq === seq && !(m.msg.header.flags & 1));
      const done = answers.some((m) =>
        m.msg.kind === 'error' || m.msg.kind === 'done' || (!p.dump && !p.ack),
      );
      if (done) {
        this.pending.delete(seq);
        p.resolve(answers.map((m) => m.msg));
      }
    }
  }
  pause(): void {
    this.sock.pause();
  }
  resume(): void {
    this.sock.resume();
  }
  close(): void {
    this.sock.close();
  }
}

/**
 * conntrack-tools oracles of one scenario: `conntrack -E` listeners started before the
 * traffic, `conntrack -L/-G/-S/-C` snapshots taken right after our own requests.
 * XML goes to NAME.conntrack.xml (one <events> or <list> section per command), text to
 * NAME.conntrack.txt ("## command" headers).
 */
interface XmlSection {
  tag: string;
  attrs: Record<string, unknown>;
  body: string;
  summary: string;
  status?: number;
}
interface TextSection {
  command: string;
  attrs?: Record<string, unknown>;
  body: string;
  summary: string;
  status?: number;
}
interface Listener {
  args: string[];
  xml: boolean;
  attrs: Record<string, unknown>;
  child: Child;
  output(): string;
}

export class Oracles {
  readonly ns: Netns;
  readonly xml: XmlSection[] = [];
  readonly txt: TextSection[] = [];
  listeners: Listener[] = [];
  readonly commands: string[] = [];
  constructor(ns: Netns) {
    this.ns = ns;
  }
  /** Starts `conntrack ARGS` as an event listener; its output is kept in order of start. */
  async listen(args: string[], { xml = args.some((a) => a.includes('xml')), attrs = {} }: { xml?: boolean; attrs?: Record<string, unknown> } = {}): Promise<Listener> {
    const child = this.ns.spawn('conntrack', args);
    let out = '';
    child.stdout!.on('data', (d) => (out += d));
    const entry = { args, xml, attrs, child, output: () => out };
    this.listeners.push(entry);
    this.commands.push(`conntrack ${args.join(' ')}`);
    return entry;
  }
  /** Stops every listener (SIGINT, as Ctrl-C would) and files its output. */
  async stopListeners(): Promise<void> {
    for (const l of this.listeners) {
      if (l.child.exitCode === null) l.child.kill('SIGINT');
      await l.child.exited;
      const cmd = `conntrack ${l.args.join(' ')}`;
      if (l.xml) this.xml.push({ tag: 'events', attrs: { command: cmd, ...l.attrs }, body: stripXml(l.output()), summary: l.child.stderrText().trim() });
      else this.txt.push({ command: cmd, body: l.output(), summary: l.child.stderrText().trim() });
    }
    this.listeners = [];
  }
  /** Runs a one-shot conntrack command now and files its output (XML or text). */
  snapshot(args: string[], attrs: Record<string, unknown> = {}): { status: number; stdout: string; stderr: string } {
    const r = this.ns.execStatus('conntrack', args);
    const cmd = `conntrack ${args.join(' ')}`;
    this.commands.push(cmd);
    if (args.some((a) => a.includes('xml'))) {
      this.xml.push({ tag: 'list', attrs: { command: cmd, ...attrs }, body: stripXml(r.stdout), summary: r.stderr.trim(), status: r.status });
    } else {
      this.txt.push({ command: cmd, attrs, body: r.stdout, summary: r.stderr.trim(), status: r.status });
    }
    return r;
  }
  write(dir: string, name: string): string[] {
    const files: string[] = [];
    if (this.xml.length > 0) {
      const parts = ['<?xml version="1.0" encoding="utf-8"?>', `<capture name="${name}">`];
      for (const s of this.xml) {
        const attrs = Object.entries({ ...s.attrs, ...(s.status ? { status: s.status } : {}), summary: s.summary })
          .map(([k, v]) => ` ${k}="${escapeXml(String(v))}"`)
          .join('');
        parts.push(`<${s.tag}${attrs}>`);
        if (s.body) parts.push(s.body);
        parts.push(`</${s.tag}>`);
      }
      parts.push('</capture>', '');
      writeFileSync(join(dir, `${name}.conntrack.xml`), parts.join('\n'));
      files.push(`${name}.conntrack.xml`);
    }
    if (this.txt.length > 0) {
      const parts: string[] = [];
      for (const s of this.txt) {
        const attrs = Object.entries(s.attrs ?? {}).map(([k, v]) => ` ${k}=${v}`).join('');
        parts.push(`## ${s.command}${attrs}`);
        if (s.body.trim()) parts.push(s.body.trimEnd());
        if (s.summary) parts.push(`#> ${s.summary.replace(/\n/g, '\n#> ')}`);
        if (s.status) parts.push(`#> exit status ${s.status}`);
      }
      parts.push('');
      writeFileSync(join(dir, `${name}.conntrack.txt`), parts.join('\n'));
      files.push(`${name}.conntrack.txt`);
    }
    return files;
  }
}

function escapeXml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** Keeps the <flow>/<expect> lines of conntrack's XML, dropping its own document wrapper. */
function stripXml(out: string): string {
  return out
    .split('\n')
    .filter((l) => l.trim() && !l.startsWith('<?xml') && l.trim() !== '<conntrack>' && l.trim() !== '</conntrack>')
    .join('\n');
}

/** Runs tshark on a finished pcap and writes the reduced decode as NAME.tshark.json. */
export function writeTshark(dir: string, name: string): { file: string; frames: number; messages: number; version: string } {
  const pcap = join(dir, `${name}.pcap`);
  const r = runStatus('tshark', tsharkJsonArgs(pcap), { maxBuffer: 512 * 1024 * 1024 });
  if (r.status !== 0) throw new Error(`tshark failed on ${pcap}: ${r.stderr}`);
  const reduced = reduceTshark(JSON.parse(r.stdout));
  const lines = reduced.map((f) => JSON.stringify(f));
  writeFileSync(join(dir, `${name}.tshark.json`), `[\n${lines.join(',\n')}\n]\n`);
  const messages = reduced.reduce((n, f) => n + f.messages.length, 0);
  return { file: `${name}.tshark.json`, frames: reduced.length, messages, version: run('tshark', ['--version']).split('\n')[0] };
}

/** The netfilter sysctls that decide what a capture contains, read inside `ns`. */
export function conntrackSysctls(ns: Netns, extra: string[] = []): Record<string, string> {
  const keys = new Set([
    'net.netfilter.nf_conntrack_events',
    'net.netfilter.nf_conntrack_acct',
    'net.netfilter.nf_conntrack_timestamp',
    'net.netfilter.nf_conntrack_max',
    'net.netfilter.nf_conntrack_buckets',
    ...extra,
    ...Object.keys(ns.sysctlsSet),
  ]);
  const out: Record<string, string> = {};
  for (const k of keys) out[k.replace('net.netfilter.', '')] = ns.readSysctl(k);
  return out;
}

export function fileSize(path: string): number {
  return existsSync(path) ? statSync(path).size : 0;
}

export { bigintJson };
