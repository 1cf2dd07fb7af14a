/**
 * The full-screen view of `ctevents top` on a terminal, drawn with ANSI sequences:
 *
 *   ESC[?1049h / ESC[?1049l   alternate screen on / off
 *   ESC[?25l / ESC[?25h       hide / show the cursor
 *   ESC[H, ESC[K, ESC[J       home, clear to end of line, clear to end of screen
 *   ESC[7m ... ESC[0m         reverse video (the title and column heads)
 *
 * Keys: g / Tab next grouping, G previous, 1-7 a grouping directly, s sort by count or by
 * rate, p or space pause, q or Ctrl-C quit. The terminal is restored on every exit path:
 * q, Ctrl-C (raw mode delivers it as a key; SIGINT is handled too), SIGTERM, SIGHUP,
 * errors, and process exit. Window size changes redraw at once (SIGWINCH via 'resize').
 */
import type { Grouping } from '../table/aggregates.js';
import { headerLines, type TopSnapshot } from './top-snapshot.js';

export const VIEW_GROUPINGS: readonly Grouping[] = ['source', 'sourcePrefix', 'destination', 'dport', 'proto', 'state', 'assured'];

export interface TtyIn {
  isTTY?: boolean;
  setRawMode?(on: boolean): unknown;
  on(ev: 'data', cb: (d: Buffer) => void): unknown;
  removeListener(ev: 'data', cb: (d: Buffer) => void): unknown;
  resume(): unknown;
  pause(): unknown;
}

export interface TtyOut {
  write(s: string): boolean;
  columns?: number;
  rows?: number;
  on(ev: 'resize', cb: () => void): unknown;
  removeListener(ev: 'resize', cb: () => void): unknown;
}

export class TopView {
  grouping = 0;
  sortByRate = false;
  paused = false;
  private last: TopSnapshot | undefined;
  private restored = false;
  private readonly onData = (d: Buffer) => this.key(d.toString('latin1'));
  private readonly onResize = () => this.draw();
  private readonly onExit = () => this.restore();
  private readonly onSignal = () => this.quit();

  constructor(private readonly input: TtyIn, private readonly out: TtyOut, private readonly quit: () => void) {}

  get current(): Grouping {
    return VIEW_GROUPINGS[this.grouping]!;
  }

  start(): void {
    this.out.write('\x1b[?1049h\x1b[?25l\x1b[H\x1b[J');
    this.input.setRawMode?.(true);
    this.input.on('data', this.onData);
    this.input.resume();
    this.out.on('resize', this.onResize);
    process.on('exit', this.onExit);
    process.on('SIGINT', this.onSignal);
    process.on('SIGTERM', this.onSignal);
    process.on('SIGHUP', this.onSignal);
  }

  /** Put the terminal back as it was. Idempotent. */
  restore(): void {
    if (this.restored) return;
    this.restored = true;
    this.input.removeListener('data', this.onData);
    this.out.removeListener('resize', this.onResize);
    process.removeListener('exit', this.onExit);
    process.removeListener('SIGINT', this.onSignal);
    process.removeListener('SIGTERM', this.onSignal);
    process.removeListener('SIGHUP', this.onSignal);
    try {
      this.input.setRawMode?.(false);
    } catch {
      /* the terminal is gone */
    }
    this.input.pause();
    this.out.write('\x1b[0m\x1b[?25h\x1b[?1049l');
  }

  private key(s: string): void {
    for (const ch of s) {
      if (ch === 'q' || ch === '\x03' || ch === '\x04') return this.quit();
      if (ch === 'g' || ch === '\t') this.grouping = (this.grouping + 1) % VIEW_GROUPINGS.length;
      else if (ch === 'G') this.grouping = (this.grouping + VIEW_GROUPINGS.length - 1) % VIEW_GROUPINGS.length;
      else if (ch >= '1' && ch <= String(VIEW_GROUPINGS.length)) this.grouping = Number(ch) - 1;
      else if (ch === 's') this.sortByRate = !this.sortByRate;
      else if (ch === 'p' || ch === ' ') this.paused = !this.paused;
      else continue;
    }
    this.draw();
  }

  /** Show a new snapshot (ignored while paused). */
  update(s: TopSnapshot): void {
    if (this.paused && this.last) return;
    this.last = s;
    this.draw();
  }

  draw(): void {
    if (this.restored) return;
    const cols = Math.max(20, this.out.columns ?? 80);
    const rows = Math.max(5, this.out.rows ?? 24);
    const fit = (l: string) => (l.length > cols ? l.slice(0, cols) : l);
    const lines: string[] = [];
    const g = this.current;
    const state = `${this.paused ? 'PAUSED  ' : ''}by ${g}, sorted by ${this.sortByRate ? 'rate' : 'count'}`;
    const title = `ctevents top  ${state}`;
    lines.push('\x1b[7m' + fit(title.padEnd(cols)) + '\x1b[0m');
    const s = this.last;
    if (!s) lines.push('waiting for the first sample...');
    else {
      for (const l of headerLines(s)) lines.push(fit(l));
      lines.push('');
      const head = `${'KEY'.padEnd(40)} ${'ENTRIES'.padStart(10)} ${'SHARE'.padStart(7)} ${'RATE/s'.padStart(9)}`;
      lines.push('\x1b[7m' + fit(head.padEnd(cols)) + '\x1b[0m');
      const list = s.top[g] ?? [];
      const room = rows - lines.length - 1;
      for (const r of list.slice(0, Math.max(0, room))) {
        lines.push(fit(`${r.key.padEnd(40)} ${String(r.count).padStart(10)} ${(r.share * 100).toFixed(1).padStart(6)}% ${r.rate.toFixed(1).padStart(9)}`));
      }
    }
    const help = 'g/Tab grouping  1-7 pick  s sort  p pause  q quit';
    while (lines.length < rows - 1) lines.push('');
    lines.length = rows - 1;
    lines.push(fit(help));
    this.out.write('\x1b[H' + lines.map((l) => l + '\x1b[K').join('\r\n') + '\x1b[J');
  }
}
