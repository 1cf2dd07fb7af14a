// The formatters' fast paths: the JSON line writer against its reference (toJson +
// JSON.stringify) on every corpus message and on randomly varied models; the per-second
// time caches across second boundaries; u32; the conntrack printer's column rule when
// leading columns are missing; and the CLI's LineWriter (chunks, backpressure, EPIPE).

import { EventEmitter } from 'node:events';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LineWriter } from '../src/cli/output.js';
import { decodeDatagram } from '../src/ctnetlink/message.js';
import type { Conntrack, Message, Tuple } from '../src/ctnetlink/model.js';
import type { RawAttribute } from '../src/netlink/attribute.js';
import { formatConntrackEntry } from '../src/format/conntrack.js';
import { createJsonFormatter, formatMessage as formatJson, isoTime, toJson } from '../src/format/json.js';
import { u32 } from '../src/format/pieces.js';
import { createTextFormatter, localTime } from '../src/format/text.js';
import { loadCorpus } from './helpers/corpus.js';
import { Prng } from './helpers/prng.js';

const reference = (m: Message, ctx: { timestampNs?: bigint }) => JSON.stringify(toJson(m, ctx));

let corpus: Message[] = [];
beforeAll(async () => {
  for (const e of await loadCorpus()) {
    try {
      corpus.push(...decodeDatagram(e.bytes));
    } catch {
      // Malformed corpus entries are the decoder tests' business.
    }
  }
});
afterAll(() => {
  corpus = [];
});

const TIMES = [undefined, 0n, 1n, 999_999_999n, 1_000_000_000n, -1n, -1_500_000_000n, 1_795_532_821_745_528_999n, 253_402_300_800_000_000_000n];

describe('json: the direct writer equals JSON.stringify(toJson(m))', () => {
  it('for every corpus message (fixtures, kernel corpus, captures) at several times', () => {
    expect(corpus.length).toBeGreaterThan(100);
    let n = 0;
    for (const m of corpus) {
      for (const t of TIMES) {
        const ctx = t === undefined ? {} : { timestampNs: t };
        expect(formatJson(m, ctx)).toBe(reference(m, ctx));
        n++;
      }
    }
    expect(n).toBeGreaterThan(1000);
  });

  it('for randomly varied conntrack models (every optional part, odd values, unknown attributes)', () => {
    const rng = new Prng(0x5eed);
    const base = corpus.filter((m): m is Message & { kind: 'conntrack' } => m.kind === 'conntrack');
    const maybe = <T>(f: () => T): T | undefined => (rng.chance(0.5) ? f() : undefined);
    const num = () => rng.pick([0, 1, 7, 255, 65535, 0x3fffffff, 0x40000000, 0x7fffffff, 0xffffffff, rng.next(), -1]);
    const big = () => rng.pick([0n, 1n, 2n ** 64n - 1n, 9_007_199_254_740_993n, BigInt(rng.next())]);
    const raw = (): RawAttribute => ({ type: rng.int(0x10000), data: rng.bytes(rng.int(5)) });
    const text = () => rng.pick(['ftp', 'a"b', 'x\\y', 'tab\t', '\u0001', 'ünï', '\ud800', '\ud83d\ude00', '']);
    const tuple = (proto?: number): Tuple => {
      const t: Tuple = {};
      if (rng.chance(0.8)) t.src = rng.pick(['1.1.1.1', '2001:db8::1', '::', '::ffff:192.0.2.1']);
      if (rng.chance(0.8)) t.dst = rng.pick(['2.2.2.2', 'fe80::1', '255.255.255.255']);
      if (rng.chance(0.8)) t.proto = proto ?? rng.pick([6, 17, 1, 58, 47, 132, 33, 136, 50, 300]);
      if (rng.chance(0.6)) t.srcPort = num();
      if (rng.chance(0.6)) t.dstPort = num();
      if (rng.chance(0.2)) t.icmpType = num();
      if (rng.chance(0.2)) t.icmpCode = num();
      if (rng.chance(0.2)) t.icmpId = num();
      if (rng.chance(0.2)) t.zone = num();
      if (rng.chance(0.1)) t.unknown = rng.chance(0.3) ? [] : [raw()];
      if (rng.chance(0.1)) t.unknownIp = [raw()];
      if (rng.chance(0.1)) t.unknownProto = rng.chance(0.5) ? [] : [raw()];
      return t;
    };
    for (let i = 0; i < 20000; i++) {
      const m0 = rng.pick(base);
      const ct: Conntrack = { ...m0.conntrack };
      for (let j = rng.range(1, 6); j > 0; j--) {
        switch (rng.int(16)) {
          case 0: ct.family = rng.pick([0, 2, 10, 7]); break;
          case 1: ct.orig = maybe(() => tuple()); break;
          case 2: ct.reply = maybe(() => tuple(ct.orig?.proto)); break;
          case 3: ct.master = tuple(); break;
          case 4: ct.status = rng.pick([0, 8, 0xe, 0x1ff, 0xffffffff, rng.next()]); break;
          case 5: ct.timeout = num(); ct.mark = maybe(num); ct.secmark = maybe(num); ct.zone = maybe(num); ct.id = maybe(num); ct.use = maybe(num); break;
          case 6: ct.countersOrig = maybe(() => ({ packets: maybe(big), bytes: maybe(big), ...(rng.chance(0.3) ? { unknown: [raw()] } : {}) })); ct.countersReply = maybe(() => ({ packets: maybe(big), bytes: maybe(big) })); break;
          case 7: ct.timestamp = maybe(() => ({ start: maybe(big), stop: maybe(big), ...(rng.chance(0.3) ? { unknown: rng.chance(0.5) ? [] : [raw()] } : {}) })); ct.eventTimestamp = maybe(big); break;
          case 8:
            ct.protoinfo = {
              ...(rng.chance(0.8) ? { tcp: { state: rng.int(14), wscaleOriginal: maybe(() => rng.int(15)), wscaleReply: 7, flagsOriginal: maybe(() => ({ flags: rng.int(256), mask: 0 })), flagsReply: { flags: 35, mask: rng.int(256) }, ...(rng.chance(0.2) ? { unknown: [raw()] } : {}) } } : {}),
              ...(rng.chance(0.2) ? { sctp: { state: rng.int(12), vtagOriginal: num(), vtagReply: num() } } : {}),
              ...(rng.chance(0.2) ? { dccp: { state: rng.int(12), role: 1, handshakeSeq: big() } } : {}),
              ...(rng.chance(0.1) ? { unknown: [raw()] } : {}),
            };
            break;
          case 9: ct.helper = maybe(() => ({ name: maybe(text), info: maybe(() => rng.bytes(3)), ...(rng.chance(0.2) ? { unknown: [] } : {}) })); break;
          case 10: ct.secctx = maybe(text); if (rng.chance(0.2)) ct.secctxUnknown = [raw()]; break;
          case 11: ct.labels = maybe(() => rng.bytes(rng.int(17))); ct.labelsMask = maybe(() => rng.bytes(2)); break;
          case 12: ct.seqAdjOrig = maybe(() => ({ correctionPos: num(), offsetBefore: num(), offsetAfter: num() })); ct.synproxy = maybe(() => ({ isn: num(), its: maybe(num), tsoff: num() })); break;
          case 13: ct.natSrc = maybe(() => ({ minIp: '1.1.1.1', maxIp: maybe(() => '1.1.1.9'), minPort: maybe(num) })); ct.filter = maybe(() => ({ origFlags: maybe(num), replyFlags: num() })); ct.markMask = maybe(num); ct.statusMask = maybe(num); break;
          case 14: ct.unknown = maybe(() => (rng.chance(0.3) ? [] : [raw(), raw()])); break;
          case 15: if (ct.orig) ct.reply = { ...ct.orig, src: ct.orig.dst, dst: ct.orig.src, srcPort: ct.orig.dstPort, dstPort: ct.orig.srcPort }; break;
        }
      }
      const header = { ...m0.header, pid: rng.pick([0, 4242, 0xffffffff]), flags: rng.pick([m0.header.flags, 0, 0x200, 0x1, 0x301]) };
      const event = rng.pick([m0.event, undefined, 'new', 'update', 'destroy'] as const);
      const m: Message = { kind: 'conntrack', header, nfgen: m0.nfgen, conntrack: ct, ...(event === undefined ? {} : { event }) };
      const t = rng.pick(TIMES);
      const ctx = t === undefined ? {} : { timestampNs: t };
      let want: string;
      try {
        want = reference(m, ctx);
      } catch (e) {
        // Times outside the Date range: both throw the same RangeError.
        expect(() => formatJson(m, ctx)).toThrow((e as Error).message);
        continue;
      }
      expect(formatJson(m, ctx)).toBe(want);
    }
  });

  it('indents with the space option (the generic path)', () => {
    const m = corpus.find((x) => x.kind === 'conntrack')!;
    expect(createJsonFormatter({ space: 2 })(m, { timestampNs: 1n })).toBe(JSON.stringify(toJson(m, { timestampNs: 1n }), null, 2));
    expect(createJsonFormatter({ space: 0 })(m)).toBe(reference(m, {}));
  });
});

describe('per-second time caches', () => {
  it('isoTime and the text clock agree with the uncached computation across seconds', () => {
    const fmt = createTextFormatter({ utc: true, date: true });
    const fmtLocal = createTextFormatter();
    const m = corpus.find((x): x is Message & { kind: 'conntrack' } => x.kind === 'conntrack' && x.event !== undefined && x.conntrack.eventTimestamp === undefined)!;
    const base = 1_795_532_821_000_000_000n;
    const times = [base, base + 999_999_999n, base + 1_000_000_000n, base + 5n, base - 1n, base + 86_400_000_000_000n, 5n, -5n, base];
    for (const t of times) {
      const sec = t >= 0n ? t / 1_000_000_000n : (t - 999_999_999n) / 1_000_000_000n;
      const usec = String((t - sec * 1_000_000_000n) / 1000n).padStart(6, '0');
      expect(isoTime(t)).toBe(new Date(Number(sec) * 1000).toISOString().replace(/\.\d{3}Z$/, `.${usec}Z`));
      expect(fmt(m, { timestampNs: t })!.startsWith(localTime(t, { utc: true, date: true }) + ' ')).toBe(true);
      expect(fmtLocal(m, { timestampNs: t })!.startsWith(localTime(t) + ' ')).toBe(true);
      expect(JSON.parse(formatJson(m, { timestampNs: t })!).time).toBe(isoTime(t));
    }
  });
});

describe('u32', () => {
  it('is String(n)', () => {
    const rng = new Prng(7);
    const values = [0, 1, 9, 10, 9999, 10000, 10001, 99_999_999, 100_000_000, 0x3fffffff, 0x40000000, 0xffffffff, 2 ** 32, -1, -0, 1.5, NaN, Infinity];
    for (let i = 0; i < 20000; i++) values.push(rng.next(), rng.int(100000));
    for (const v of values) expect(u32(v)).toBe(String(v));
  });
});

describe('conntrack printer: columns without the usual leading ones', () => {
  it('starts with whatever column comes first, and keeps the event column as "%9s "', () => {
    const noProto: Conntrack = { family: 2, orig: { src: '1.1.1.1', dst: '2.2.2.2' }, status: 8, mark: 0 };
    expect(formatConntrackEntry(noProto)).toBe('src=1.1.1.1 dst=2.2.2.2 [UNREPLIED] mark=0');
    expect(formatConntrackEntry(noProto, '[NEW]')).toBe('    [NEW] src=1.1.1.1 dst=2.2.2.2 [UNREPLIED] mark=0');
    expect(formatConntrackEntry({ family: 2 })).toBe('');
    expect(formatConntrackEntry({ family: 2 }, '[DESTROY]')).toBe('[DESTROY]');
    expect(formatConntrackEntry({ family: 7, orig: { proto: 1, icmpType: 8 }, use: 1 })).toBe('icmp     1 type=8 code=0 id=0 use=1');
    expect(formatConntrackEntry({ family: 7, orig: { proto: 50 } }, '[UPDATE]')).toBe(' [UPDATE] unknown  50');
  });
});

// ---------------------------------------------------------------------------------------
// LineWriter

class FakeStream extends EventEmitter {
  chunks: string[] = [];
  /** write() returns false (the stream wants us to wait) while this is set. */
  full = false;
  throwOnWrite: (Error & { code?: string }) | undefined;
  write(chunk: string): boolean {
    if (this.throwOnWrite) throw this.throwOnWrite;
    this.chunks.push(chunk);
    return !this.full;
  }
}

const tick = () => new Promise<void>((res) => setImmediate(res));

describe('cli LineWriter', () => {
  it('writes 64 KiB chunks in one write each, the rest on flush()', async () => {
    const out = new FakeStream();
    const w = new LineWriter(out);
    const line = 'x'.repeat(99);
    for (let i = 0; i < 1000; i++) w.line(line);
    expect(out.chunks.length).toBe(1);
    expect(out.chunks[0]!.length).toBeGreaterThanOrEqual(64 * 1024);
    await w.flush();
    expect(out.chunks.join('')).toBe(`${line}\n`.repeat(1000));
  });

  it('writes what it gathered once the event loop turns, without flush()', async () => {
    const out = new FakeStream();
    const w = new LineWriter(out);
    w.line('a');
    w.line('b');
    expect(out.chunks).toEqual([]);
    await tick();
    expect(out.chunks).toEqual(['a\nb\n']);
    await tick();
    expect(out.chunks).toEqual(['a\nb\n']);
  });

  it('is blocked from a refused write until drain, and flush() waits for it', async () => {
    const out = new FakeStream();
    const w = new LineWriter(out);
    out.full = true;
    w.line('a');
    expect(w.blocked).toBe(false);
    let flushed = false;
    const f = w.flush().then(() => (flushed = true));
    expect(w.blocked).toBe(true);
    await tick();
    expect(flushed).toBe(false);
    out.full = false;
    out.emit('drain');
    await f;
    expect(flushed).toBe(true);
    expect(w.blocked).toBe(false);
    expect(out.listenerCount('drain')).toBe(0);
    expect(out.listenerCount('close')).toBe(0);
  });

  it('ends quietly on EPIPE: later lines are dropped and a waiting flush() returns', async () => {
    const out = new FakeStream();
    let closed = 0;
    const w = new LineWriter(out, () => closed++);
    out.full = true;
    w.line('a');
    const f = w.flush();
    out.emit('error', Object.assign(new Error('EPIPE'), { code: 'EPIPE' }));
    await f;
    expect(closed).toBe(1);
    expect(w.closed).toBe(true);
    w.line('b');
    await w.flush();
    expect(out.chunks).toEqual(['a\n']);
  });

  it('treats a throwing write as a closed reader', async () => {
    const out = new FakeStream();
    let closed = 0;
    const w = new LineWriter(out, () => closed++);
    out.throwOnWrite = Object.assign(new Error('write after end'), { code: 'ERR_STREAM_DESTROYED' });
    w.line('a');
    await w.flush();
    expect(closed).toBe(1);
    expect(w.closed).toBe(true);
  });
});
