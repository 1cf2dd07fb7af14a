/**
 * What every ctevents run shares: the chosen formatter, the filter, the output, counters
 * for the summary line, the live rate line on a terminal, and the reasons to stop
 * (--count, --duration, signals, a closed pipe).
 */
import type { Message } from '../ctnetlink/model.js';
import type { FormatContext } from '../format/index.js';
import type { Format, Options } from './args.js';
import { compileFilter, type CompiledFilter } from './filter.js';
import { LineWriter, type OutStream } from './output.js';
import { formatterFor, loadFormat, netlinkTable, overrunLine, xmlFrame, type LineFormatter } from './formats.js';
import { netnsFileReader } from './host.js';
import { createPortidResolver, type PortidResolver } from './progname.js';

export interface Io {
  stdout: OutStream;
  stderr: OutStream;
  stdin: NodeJS.ReadableStream;
  /** Signals that stop a live run (tests inject an AbortController instead). */
  signals?: boolean;
}

/** An output that takes everything and keeps nothing. */
const DISCARD: OutStream = { write: () => true, once: () => undefined, on: () => undefined, removeListener: () => undefined };

/** Load the run's formatter modules (formats.ts loadFormat) and build its session. */
export async function createSession(opts: Options, io: Io): Promise<Session> {
  await loadFormat(opts.format, opts.output);
  return new Session(opts, io);
}

export class Session {
  readonly opts: Options;
  readonly io: Io;
  readonly out: LineWriter;
  readonly filter: CompiledFilter;
  readonly format: LineFormatter;
  readonly formatName: Format;
  readonly stop = new AbortController();
  /** Program names behind events' port ids (conntrack format, live runs). */
  readonly portids: PortidResolver | undefined;
  /** The --write recorder of raw datagrams, once open. */
  recorder: ((d: Uint8Array, ts: bigint) => void) | undefined;
  readonly started = process.hrtime.bigint();
  lost = 0;
  overruns = 0;
  lostUnknown = false;
  private rateTimer: NodeJS.Timeout | undefined;
  private durationTimer: NodeJS.Timeout | undefined;
  private lastCount = 0;
  private readonly cleanups: (() => void)[] = [];

  constructor(opts: Options, io: Io) {
    this.opts = opts;
    this.io = io;
    this.filter = compileFilter(opts.filters);
    this.formatName = opts.format;
    const live = opts.command !== 'read';
    // conntrack -E names the requester of an event; we look it up as the datagram arrives.
    if (live && (opts.format === 'conntrack' || opts.format === 'xml')) this.portids = createPortidResolver(netlinkTable(opts.netns, netnsFileReader));
    const progname = this.portids?.name;
    this.format = formatterFor(opts.format, {
      live,
      output: opts.output,
      ...(progname ? { progname } : {}),
    });
    // `--write -`: stdout carries the capture, the lines go nowhere.
    this.out = new LineWriter(opts.write === '-' ? DISCARD : io.stdout, () => this.stop.abort('pipe closed'));
  }

  /** Lines by kind that went out (see LineWriter.written): what the summary reports. */
  get counts(): { new: number; update: number; destroy: number; entries: number; expect: number; messages: number } {
    const w = this.out.written;
    return { new: w.new ?? 0, update: w.update ?? 0, destroy: w.destroy ?? 0, entries: w.entries ?? 0, expect: w.expect ?? 0, messages: this.messages };
  }

  get events(): number {
    const c = this.counts;
    return c.new + c.update + c.destroy;
  }

  /** Decoded messages (read). */
  messages = 0;
  /** Records printed so far, for --count (events, entries, expectations, read's messages). */
  printed = 0;

  /** Arm --duration, signals and (on a terminal) the live rate line. */
  startLive(): void {
    if (this.opts.duration !== undefined) {
      // setTimeout holds at most 2^31-1 ms (24.8 days): longer runs re-arm until the end.
      const end = Date.now() + this.opts.duration * 1000;
      const arm = (): void => {
        const left = end - Date.now();
        if (left <= 0) this.stop.abort('duration');
        else this.durationTimer = setTimeout(arm, Math.min(left, 0x7fffffff));
      };
      arm();
    }
    if (this.io.signals) {
      const onSignal = () => this.stop.abort('signal');
      process.once('SIGINT', onSignal);
      process.once('SIGTERM', onSignal);
      this.cleanups.push(() => {
        process.removeListener('SIGINT', onSignal);
        process.removeListener('SIGTERM', onSignal);
      });
    }
    // The rate line lives on stderr, without a newline, only on a terminal. When stdout is
    // a terminal too (the same screen), it is erased before every chunk of output and
    // drawn again after it, so output lines never start on stale rate text.
    if (this.io.stderr.isTTY) {
      if (this.io.stdout.isTTY) {
        this.out.around = {
          before: () => {
            if (this.rateText !== '') this.io.stderr.write('\r\x1b[K');
          },
          after: () => {
            if (this.rateText !== '') this.io.stderr.write(this.rateText);
          },
        };
      }
      this.rateTimer = setInterval(() => {
        const n = this.events;
        const rate = n - this.lastCount;
        this.lastCount = n;
        this.rateText = `${rate} events/s, ${n} total, ${this.lost} lost`;
        this.io.stderr.write(`\r\x1b[K${this.rateText}`);
      }, 1000);
      this.rateTimer.unref();
    }
  }

  /** The rate line as last drawn ('' before the first). */
  private rateText = '';

  /** One line on stderr during a run: the rate line is erased first and drawn again after. */
  warn(line: string): void {
    if (this.rateText !== '') this.io.stderr.write('\r\x1b[K');
    this.io.stderr.write(line + '\n');
    if (this.rateText !== '') this.io.stderr.write(this.rateText);
  }

  /**
   * Print a record counted by --count (an event, an entry, an expectation, a decoded
   * message); `kind` tallies it for the summary. True when --count is reached.
   */
  record(m: Message, timestampNs: bigint | undefined, kind: string): boolean {
    if (!this.print(m, timestampNs, kind)) return false;
    if (this.opts.count !== undefined && ++this.printed >= this.opts.count) {
      this.stop.abort('count');
      return true;
    }
    return false;
  }

  /** record() for a line already written (the lean path, cli/lean.ts: json and conntrack formats only). */
  recordLine(line: string, kind: string): boolean {
    if (this.out.closed) return false;
    this.out.line(line, kind);
    if (this.opts.count !== undefined && ++this.printed >= this.opts.count) {
      this.stop.abort('count');
      return true;
    }
    return false;
  }

  /** The context of the last print, reused while the time stays the same (a dump's lines). */
  private ctx: FormatContext = {};

  /** Print a message if the format shows it; true when a line was queued. */
  print(m: Message, timestampNs?: bigint, kind?: string): boolean {
    if (this.out.closed) return false;
    let ctx = this.ctx;
    if (ctx.timestampNs !== timestampNs) this.ctx = ctx = timestampNs === undefined ? {} : { timestampNs };
    const line = this.format(m, ctx);
    if (line === undefined) return false;
    if (this.formatName === 'xml' && this.xmlRoot === undefined) {
      // conntrack -o xml opens the document before the first flow (an empty result prints nothing).
      this.xmlRoot = m.kind === 'expect' ? 'expect' : 'conntrack';
      this.out.line(xmlFrame().header(this.xmlRoot));
    }
    this.out.line(line, kind);
    return true;
  }

  private xmlRoot: 'conntrack' | 'expect' | undefined;

  /** Close the XML document if one was opened. */
  endDocument(): void {
    if (this.xmlRoot !== undefined) this.out.line(xmlFrame().footer(this.xmlRoot));
    this.xmlRoot = undefined;
  }

  overrun(lost: number | undefined, timestampNs: bigint, source?: 'kernel' | 'buffer'): void {
    this.overruns++;
    if (lost === undefined) this.lostUnknown = true;
    else this.lost += lost;
    const line = overrunLine(this.formatName, lost, timestampNs, source);
    if (line.stdout !== undefined) this.out.line(line.stdout);
    if (line.stderr !== undefined) this.warn(line.stderr);
  }

  private seconds(): number {
    return Number(process.hrtime.bigint() - this.started) / 1e9;
  }

  /** Flush the output, let refused writes report back, then print the summary. */
  async finish(what: 'events' | 'entries' | 'messages' | 'expectations', extra?: string): Promise<void> {
    this.endDocument();
    await this.out.flush();
    await new Promise<void>((res) => setImmediate(res));
    this.summary(what, extra);
  }

  /** The one-line summary on stderr; `extra` is appended after a comma. */
  summary(what: 'events' | 'entries' | 'messages' | 'expectations', extra?: string): void {
    clearInterval(this.rateTimer);
    clearTimeout(this.durationTimer);
    for (const c of this.cleanups) c();
    const s = this.seconds();
    const tty = this.rateText !== '' ? '\r\x1b[K' : '';
    let text: string;
    if (what === 'events') {
      const c = this.counts;
      const lost = this.lostUnknown ? `${this.lost}+ lost (${this.overruns} overruns)` : `${this.lost} lost`;
      const entries = c.entries > 0 ? `${c.entries} entries, then ` : '';
      if (this.opts.expect) text = `${c.expect} expectation events, ${lost}, ${s.toFixed(2)} s`;
      else text = `${entries}${this.events} events (new ${c.new}, update ${c.update}, destroy ${c.destroy}), ${lost}, ${s.toFixed(2)} s, ${Math.round(this.events / Math.max(s, 1e-9))} events/s`;
    } else if (what === 'expectations') {
      text = `${this.counts.expect} expectations in ${s.toFixed(2)} s`;
    } else if (what === 'entries') {
      text = `${this.counts.entries} entries in ${s.toFixed(2)} s`;
    } else {
      text = `${this.counts.messages} messages (${this.events} events, ${this.counts.entries} entries), ${this.lost} lost`;
    }
    if (extra !== undefined) text += `, ${extra}`;
    this.io.stderr.write(`${tty}ctevents: ${text}\n`);
  }
}
