/**
 * Receive batches (issue 14, the CPU of listening): the datagrams of a drain handed over
 * undecoded as one buffer and its rows (src/client/receive-batch.ts), through
 * Subscription({ raw, batches }) to the CLI's printEventBatch (src/cli/lean.ts), with
 * receive times as seconds + nanoseconds (leanJsonBytesAt) and the digit writers of
 * src/format/bytes.ts. Checked against the per-datagram path on the real kernel bytes of
 * the corpus: the same output, byte for byte, the same warnings, the same --count stop;
 * markers, drops and the recorder in order. The live kernel side is in
 * test/listen-batch.live.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { Subscription, type EventItem } from '../src/client/events.js';
import { RB_LOCAL_DROP, RB_OVERRUN, RB_STRIDE, RB_TRUNCATED, batchItems, batchTimeNs } from '../src/client/receive-batch.js';
import type { ReceiveItem, Transport } from '../src/client/transport.js';
import { parseCommandLine } from '../src/cli/args.js';
import { leanWriterFor, printEventBatch, printEventDatagram } from '../src/cli/lean.js';
import type { OutStream } from '../src/cli/output.js';
import { createSession, type Session } from '../src/cli/session.js';
import { LEAN_ENTRY, LeanConntrack, decodeLeanAt } from '../src/ctnetlink/lean.js';
import { dec, padded } from '../src/format/bytes.js';
import { LEAN_JSON_MAX_BYTES, leanJsonBytes, leanJsonBytesAt } from '../src/format/lean-json-bytes.js';
import { messageLen } from '../src/netlink/message.js';
import { Reader } from '../src/netlink/reader.js';
import { loadCorpus } from './helpers/corpus.js';
import { Prng } from './helpers/prng.js';

const text = (b: Uint8Array, from: number, to: number) => Buffer.from(b.subarray(from, to)).toString('latin1');

/** Datagrams back to back and their rows, as the addon delivers a drain. */
function makeBatch(datagrams: Uint8Array[], times: [number, number][], markers: Map<number, [number, number]> = new Map()): { data: Uint8Array; meta: Uint32Array } {
  const rows: number[] = [];
  let size = 0;
  datagrams.forEach((d, i) => {
    const mk = markers.get(i);
    if (mk) rows.push(0, mk[1], 0, mk[0], times[i]![0], times[i]![1]);
    rows.push(d.length, 0, 2, 0, times[i]![0], times[i]![1]);
    size += d.length;
  });
  const data = new Uint8Array(size);
  let off = 0;
  for (const d of datagrams) {
    data.set(d, off);
    off += d.length;
  }
  return { data, meta: new Uint32Array(rows) };
}

describe('digit writers (format/bytes.ts)', () => {
  it('dec and padded write what toString writes, on both sides of 2^31 and 2^32', () => {
    const b = new Uint8Array(64);
    const rng = new Prng(0x14d1);
    const values = [0, 1, 9, 10, 99, 100, 101, 999, 1000, 65535, 99999, 100000, 999999, 1000000, 2 ** 31 - 1, 2 ** 31, 2 ** 31 + 1, 2 ** 32 - 1, 2 ** 32, 2 ** 53 - 1];
    for (let i = 0; i < 20000; i++) values.push(rng.int(2 ** 30) * (rng.chance(0.5) ? 1 : 7), rng.int(1000), rng.int(1_000_000_000));
    for (const n of values) {
      const end = dec(b, 3, n);
      expect(text(b, 3, end)).toBe(String(n));
      for (const width of [6, 9, 10]) {
        if (n >= 10 ** width) continue;
        const e2 = padded(b, 5, n, width);
        expect(e2).toBe(5 + width);
        expect(text(b, 5, e2)).toBe(String(n).padStart(width, '0'));
      }
    }
  });
});

describe('leanJsonBytesAt (receive time as seconds + nanoseconds)', () => {
  it('writes the bytes leanJsonBytes writes for the same time, on every event of the corpus', async () => {
    const corpus = await loadCorpus();
    const e = new LeanConntrack();
    const chunk = new Uint8Array(LEAN_JSON_MAX_BYTES + 16);
    const want = new Uint8Array(LEAN_JSON_MAX_BYTES + 16);
    const rng = new Prng(0x14a7);
    let events = 0;
    const secs = [1, 999_999_999, 1_795_532_864, 1_795_532_865, 4_294_967_295];
    const nsecs = [0, 1, 999, 1000, 999_999, 1_000_000, 123_456_789, 999_999_999];
    for (const c of corpus) {
      const r = new Reader(c.bytes);
      let len: number;
      try {
        len = messageLen(r, 0, c.bytes.length);
      } catch {
        continue;
      }
      if (!decodeLeanAt(r, 0, len, e)) continue;
      events += e.event === LEAN_ENTRY ? 0 : 1;
      const times: [number, number][] = [[0, 5], [0, 0]];
      for (const s of secs) for (const n of nsecs) times.push([s, n]);
      for (let i = 0; i < 20; i++) times.push([1_795_532_864 + rng.int(3), rng.int(1_000_000_000)]);
      for (const [s, n] of times) {
        const ns = BigInt(s) * 1_000_000_000n + BigInt(n);
        const a = leanJsonBytes(e, ns, want, 5);
        const b = leanJsonBytesAt(e, new Uint32Array([7, s, n]), 1, chunk, 5);
        expect(text(chunk, 5, b), `${c.origin} at ${s}.${n}`).toBe(text(want, 5, a));
      }
    }
    expect(events).toBeGreaterThan(100);
  });
});

/** A transport that hands over batches (onReceiveBatch) and, for the reference, items. */
class BatchTransport implements Transport {
  readonly portid = 1;
  onItems: ((items: ReceiveItem[]) => void) | undefined;
  onBatch: ((data: Uint8Array, meta: Uint32Array) => void) | undefined;
  kernelDrops = 0;
  pauses = 0;
  constructor(readonly batches = true) {}
  send(): void {}
  onReceive(cb: (items: ReceiveItem[]) => void): void {
    this.onItems = cb;
  }
  onReceiveBatch?(cb: (data: Uint8Array, meta: Uint32Array) => void): void {
    this.onBatch = cb;
  }
  deliver(data: Uint8Array, meta: Uint32Array): void {
    if (this.onBatch) this.onBatch(data, meta);
    else this.onItems!(batchItems(data, meta));
  }
  pause(): void {
    this.pauses++;
  }
  resume(): void {}
  close(): void {}
  drops(): number {
    return this.kernelDrops;
  }
}

describe('Subscription({ raw, batches })', () => {
  it('hands runs of datagrams over as batch items, markers in place, the recorder per datagram in order', () => {
    const t = new BatchTransport();
    const seen: [string, bigint][] = [];
    const sub = new Subscription(t, { raw: true, batches: true, onDatagram: (d, ns) => seen.push([text(d, 0, d.length), ns]) });
    expect(t.onBatch).toBeDefined();
    expect(t.onItems).toBeUndefined();
    const dg = (s: string) => new Uint8Array(Buffer.from(s, 'latin1'));
    const ds = ['aaaa', 'bbbbbb', 'cc', 'dddddddd', 'e'].map(dg);
    const times: [number, number][] = ds.map((_, i) => [1_795_532_864 + i, 100 * i]);
    t.kernelDrops = 7;
    // kernel overrun before datagram 2, our buffer's drop (5 messages) before datagram 4
    const { data, meta } = makeBatch(ds, times, new Map([[2, [RB_OVERRUN, 0]], [4, [RB_LOCAL_DROP, 5]]]));
    t.deliver(data, meta);
    const items = sub.drain();
    const shape = items.map((it: EventItem) => {
      if (it.kind === 'batch') {
        let off = it.offset;
        const out: string[] = [];
        for (let i = it.first; i < it.end; i++) {
          const len = it.meta[i * RB_STRIDE]!;
          out.push(text(it.data, off, off + len));
          off += len;
        }
        return `batch ${out.join(',')}`;
      }
      if (it.kind === 'overrun') return `overrun ${it.source} ${it.lost} ${it.receivedNs}`;
      return it.kind;
    });
    expect(shape).toEqual([
      'batch aaaa,bbbbbb',
      `overrun kernel 7 ${batchTimeNs(meta, 2 * RB_STRIDE)}`,
      'batch cc,dddddddd',
      `overrun buffer 5 ${1_795_532_868n * 1_000_000_000n + 400n}`,
      'batch e',
    ]);
    expect(seen).toEqual(ds.map((d, i) => [text(d, 0, d.length), BigInt(times[i]![0]) * 1_000_000_000n + BigInt(times[i]![1])]));
    // drops the kernel counts later get a marker of their own after the batch
    t.kernelDrops = 9;
    const one = makeBatch([dg('ffff')], [[1_795_532_870, 0]]);
    t.deliver(one.data, one.meta);
    expect(sub.drain().map((i) => (i.kind === 'overrun' ? `overrun ${i.lost}` : i.kind))).toEqual(['batch', 'overrun 2']);
    sub.close();
  });

  it('pauses by bytes queued, as for items', () => {
    const t = new BatchTransport();
    const sub = new Subscription(t, { raw: true, batches: true, highWaterBytes: 10_000 });
    const big = new Uint8Array(6000);
    let b = makeBatch([big], [[1, 0]]);
    t.deliver(b.data, b.meta);
    expect(t.pauses).toBe(0);
    b = makeBatch([big], [[1, 1]]);
    t.deliver(b.data, b.meta);
    expect(t.pauses).toBe(1);
    expect(sub.drain()).toHaveLength(2);
    sub.close();
  });

  it('without onReceiveBatch on the transport (or without raw) it takes items as before', () => {
    const t = new BatchTransport();
    delete (t as Partial<BatchTransport>).onReceiveBatch;
    (t as { onReceiveBatch?: unknown }).onReceiveBatch = undefined;
    const sub = new Subscription(t, { raw: true, batches: true });
    expect(t.onItems).toBeDefined();
    const b = makeBatch([new Uint8Array([1, 2, 3])], [[5, 6]]);
    t.deliver(b.data, b.meta);
    expect(sub.drain()).toEqual([{ kind: 'datagram', data: new Uint8Array([1, 2, 3]), receivedNs: 5_000_000_006n }]);
    sub.close();
    const t2 = new BatchTransport();
    new Subscription(t2, { batches: true }).close();
    expect(t2.onItems).toBeDefined();
    expect(t2.onBatch).toBeUndefined();
  });

  it('batchItems gives the items of a batch, markers and truncation included', () => {
    const b = makeBatch([new Uint8Array([1, 2]), new Uint8Array([3])], [[1, 2], [3, 4]], new Map([[1, [RB_OVERRUN, 0]]]));
    b.meta[3] = RB_TRUNCATED;
    expect(batchItems(b.data, b.meta)).toEqual([
      { data: new Uint8Array([1, 2]), pid: 0, groups: 2, truncated: true, timestampNs: 1_000_000_002n },
      { overrun: true, source: 'kernel', timestampNs: 3_000_000_004n },
      { data: new Uint8Array([3]), pid: 0, groups: 2, truncated: false, timestampNs: 3_000_000_004n },
    ]);
  });
});

/** A session printing into strings. */
async function session(argv: string[]): Promise<{ s: Session; out: () => string; err: () => string }> {
  let out = '';
  let err = '';
  const sink = (add: (s: string) => void): OutStream => ({
    write: (c: string | Uint8Array, cb?: (e?: Error | null) => void) => {
      add(typeof c === 'string' ? c : Buffer.from(c).toString('utf8'));
      cb?.();
      return true;
    },
    once: () => undefined,
    on: () => undefined,
    removeListener: () => undefined,
  });
  const s = await createSession(parseCommandLine(argv), { stdout: sink((x) => (out += x)), stderr: sink((x) => (err += x)), stdin: process.stdin });
  return { s, out: () => out, err: () => err };
}

describe('printEventBatch (cli/lean.ts)', () => {
  it('prints what printEventDatagram prints per datagram, on every corpus datagram, mutated ones and joined ones', async () => {
    const corpus = await loadCorpus();
    const rng = new Prng(0x14b0);
    const datagrams: Uint8Array[] = corpus.map((c) => c.bytes);
    // mutated copies (fallbacks, undecodable datagrams) and two events in one datagram
    for (let i = 0; i < 400; i++) {
      const b = corpus[rng.int(corpus.length)]!.bytes.slice();
      if (b.length > 16) b[16 + rng.int(b.length - 16)] ^= 1 << rng.int(8);
      datagrams.push(b);
    }
    const events = corpus.filter((c) => c.source === 'kernel' && c.bytes.length < 1000).slice(0, 6).map((c) => c.bytes);
    for (let i = 0; i + 1 < events.length; i += 2) {
      const a = events[i]!;
      const b = events[i + 1]!;
      const j = new Uint8Array(((a.length + 3) & ~3) + b.length);
      j.set(a, 0);
      j.set(b, (a.length + 3) & ~3);
      datagrams.push(j);
    }
    datagrams.push(new Uint8Array(8), new Uint8Array(0));
    const times: [number, number][] = datagrams.map((_, i) => [1_795_532_864 + (i >> 7), (i * 7_919_113) % 1_000_000_000]);
    for (const argv of [['--format', 'json'], ['--format', 'conntrack'], ['--format', 'conntrack', '-o', 'extended,id'], ['--format', 'json', '--count', '150']]) {
      const a = await session(argv);
      const b = await session(argv);
      const wa = leanWriterFor(a.s)!;
      const wb = leanWriterFor(b.s)!;
      expect(wa.bytesAt, argv.join(' ')).toBeDefined();
      // the batch path, in batches of various sizes with markers between them
      const sub = new Subscription(new BatchTransport(), { raw: true, batches: true });
      const t = (sub as unknown as { transport: BatchTransport }).transport;
      let stopA = false;
      for (let i = 0; i < datagrams.length && !stopA; ) {
        const n = 1 + rng.int(40);
        const part = datagrams.slice(i, i + n);
        const batch = makeBatch(part, times.slice(i, i + n));
        i += n;
        t.deliver(batch.data, batch.meta);
        for (const it of sub.drain()) {
          expect(it.kind).toBe('batch');
          if (it.kind === 'batch' && printEventBatch(a.s, wa, it)) {
            stopA = true;
            break;
          }
        }
      }
      sub.close();
      // the reference: one datagram at a time, a view and a bigint time each
      let stopB = false;
      for (let i = 0; i < datagrams.length && !stopB; i++) {
        stopB = printEventDatagram(b.s, wb, datagrams[i]!, BigInt(times[i]![0]) * 1_000_000_000n + BigInt(times[i]![1]));
      }
      await a.s.out.flush();
      await b.s.out.flush();
      expect(stopA, argv.join(' ')).toBe(stopB);
      expect(a.out().length, argv.join(' ')).toBeGreaterThan(10_000);
      expect(a.out(), argv.join(' ')).toBe(b.out());
      expect(a.err(), argv.join(' ')).toBe(b.err());
      expect(a.s.out.written, argv.join(' ')).toEqual(b.s.out.written);
      if (argv.includes('--count')) expect(a.out().split('\n').length - 1).toBe(150);
    }
  });
});
