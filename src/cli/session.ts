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
import { formatterFor, overrunLine, type LineFormatter } from './formats.js';
import { netnsFileReader } from './host.js';

export interface Io {
  stdout: OutStream;
  stderr: OutStream;
  stdin: NodeJS.ReadableStream;
  /** Signals that stop a live run (tests inject an AbortController instead). */
  signals?: boolean;
}

export class Session {
  readonly opts: Options;
  readonly io: Io;
  readonly out: LineWriter;
  readonly filter: CompiledFilter;
  readonly format: LineFormatter;
  readonly formatName: Format;
  readonly stop = new AbortController();
  readonly started = process.hrtime.bigint();
  counts = { new: 0, update: 0, destroy: 0, entries: 0, messages: 0 };
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
    this.format = formatterFor(opts.format, {
      live: opts.command !== 'read',
      ...(opts.netns !== undefined ? { netns: opts.netns, readNetnsFile: netnsFileReader } : {}),
    });
    this.out = new LineWriter(io.stdout, () => this.stop.abort('pipe closed'));
  }

  get events(): number {
    return this.counts.new + this.counts.update + this.counts.destroy;
  }

  /** Arm --duration, signals and (on a terminal) the live rate line. */
  startLive(): void {
    if (this.opts.duration !== undefined) {
      this.durationTimer = setTimeout(() => this.stop.abort('duration'), this.opts.duration * 1000);
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
    if (this.io.stderr.isTTY) {
      this.rateTimer = setInterval(() => {
        const n = this.events;
        const rate = n - this.lastCount;
        this.lastCount = n;
        this.io.stderr.write(`\r\x1b[K${rate} events/s, ${n} total, ${this.lost} lost`);
      }, 1000);
      this.rateTimer.unref();
    }
  }

  /** Count a printed event; true when --count is reached. */
  countEvent(type: 'new' | 'update' | 'destroy'): boolean {
    this.counts[type]++;
    if (this.opts.count !== undefined && this.events >= this.opts.count) {
      this.stop.abort('count');
      return true;
    }
    return false;
  }

  /** The context of the last print, reused while the time stays the same (a dump's lines). */
  private ctx: FormatContext = {};

  print(m: Message, timestampNs?: bigint): void {
    let ctx = this.ctx;
    if (ctx.timestampNs !== timestampNs) this.ctx = ctx = timestampNs === undefined ? {} : { timestampNs };
    const line = this.format(m, ctx);
    if (line !== undefined) this.out.line(line);
  }

  overrun(lost: number | undefined, timestampNs: bigint): void {
    this.overruns++;
    if (lost === undefined) this.lostUnknown = true;
    else this.lost += lost;
    const line = overrunLine(this.formatName, lost, timestampNs);
    if (line.stdout !== undefined) this.out.line(line.stdout);
    if (line.stderr !== undefined) this.io.stderr.write(line.stderr + '\n');
  }

  private seconds(): number {
    return Number(process.hrtime.bigint() - this.started) / 1e9;
  }

  /** The one-line summary on stderr. */
  summary(what: 'events' | 'entries' | 'messages'): void {
    clearInterval(this.rateTimer);
    clearTimeout(this.durationTimer);
    for (const c of this.cleanups) c();
    const s = this.seconds();
    const tty = this.io.stderr.isTTY ? '\r\x1b[K' : '';
    let text: string;
    if (what === 'events') {
      const c = this.counts;
      const lost = this.lostUnknown ? `${this.lost}+ lost (${this.overruns} overruns)` : `${this.lost} lost`;
      const entries = c.entries > 0 ? `${c.entries} entries, then ` : '';
      text = `${entries}${this.events} events (new ${c.new}, update ${c.update}, destroy ${c.destroy}), ${lost}, ${s.toFixed(2)} s, ${Math.round(this.events / Math.max(s, 1e-9))} events/s`;
    } else if (what === 'entries') {
      text = `${this.counts.entries} entries in ${s.toFixed(2)} s`;
    } else {
      text = `${this.counts.messages} messages (${this.events} events, ${this.counts.entries} entries), ${this.lost} lost`;
    }
    this.io.stderr.write(`${tty}ctevents: ${text}\n`);
  }
}
