/**
 * The CLI's lean print path (issue 14: src/ctnetlink/lean.ts, src/format/lean-json.ts,
 * src/format/lean-conntrack.ts, src/cli/lean.ts) against the full path (decodeMessageAt +
 * the json / conntrack formatters), message by message: on every datagram of the kernel
 * corpus and the recorded captures, on mutated datagrams (the lean decoder must never
 * accept what the full decoder rejects or reads differently), and for each fallback
 * trigger (the message goes to the full path).
 */
import { describe, expect, it } from 'vitest';
import { LEAN_DESTROY, LEAN_ENTRY, LEAN_NEW, L_TS, LeanConntrack, decodeLeanAt } from '../src/ctnetlink/lean.js';
import { decodeDatagram, decodeMessageAt, encodeMessage } from '../src/ctnetlink/message.js';
import type { Message } from '../src/ctnetlink/model.js';
import { createConntrackFormatter, type ConntrackFormatOptions } from '../src/format/conntrack.js';
import { createJsonFormatter } from '../src/format/json.js';
import { leanConntrackLine } from '../src/format/lean-conntrack.js';
import { leanConntrackBytes } from '../src/format/lean-conntrack-bytes.js';
import { leanJsonLine } from '../src/format/lean-json.js';
import { LEAN_JSON_MAX_BYTES, leanJsonBytes } from '../src/format/lean-json-bytes.js';
import { LineWriter, type OutStream } from '../src/cli/output.js';
import { dumpLine } from '../src/cli/lean.js';
import { messageLen, nextMessage } from '../src/netlink/message.js';
import { Reader } from '../src/netlink/reader.js';
import { loadCorpus } from './helpers/corpus.js';
import { Prng } from './helpers/prng.js';

const NS = 1795532864922001000n;
const chunk = new Uint8Array(LEAN_JSON_MAX_BYTES + 7);
const json = createJsonFormatter();
const CT_OPTIONS: ConntrackFormatOptions[] = [
  {},
  { extended: true, id: true },
  { id: true },
  { timestamp: true, ktimestamp: true, progname: (p) => (p % 2 ? `prog${p}` : undefined) },
];
const conntrack = CT_OPTIONS.map((o) => ({ o, full: createConntrackFormatter(o) }));

function eventName(ev: number): string | undefined {
  return ev === LEAN_ENTRY ? undefined : ev === LEAN_NEW ? 'new' : ev === LEAN_DESTROY ? 'destroy' : 'update';
}

interface Tally { messages: number; lean: number; leanConntrack: number }

/**
 * Compare both paths on every message of `bytes`. Returns how many messages the lean path
 * took. A message the lean decoder accepts must decode with the full decoder to a
 * conntrack message with the same event type, and give the same lines.
 */
function compare(bytes: Uint8Array, origin: string, t: Tally, e = new LeanConntrack()): void {
  const r = new Reader(bytes);
  const end = bytes.length;
  let off = 0;
  while (off < end) {
    let len: number;
    try {
      len = messageLen(r, off, end);
    } catch {
      return;
    }
    t.messages++;
    let full: Message | undefined;
    try {
      full = decodeMessageAt(r, off, len);
    } catch {
      full = undefined;
    }
    if (decodeLeanAt(r, off, len, e)) {
      t.lean++;
      expect(full, `${origin}: lean accepted what the full decoder rejects`).toBeDefined();
      expect(full!.kind, origin).toBe('conntrack');
      const m = full as Message & { kind: 'conntrack' };
      expect(eventName(e.event), origin).toBe(m.event);
      for (const ns of [NS, undefined]) {
        const want = json(m, ns === undefined ? {} : { timestampNs: ns });
        expect(leanJsonLine(e, ns), origin).toBe(want);
        const end = leanJsonBytes(e, ns, chunk, 7);
        expect(Buffer.from(chunk.subarray(7, end)).toString('latin1'), origin).toBe(want + '\n');
      }
      for (const { o, full: f } of conntrack) {
        const line = leanConntrackLine(e, NS, o);
        if (line === undefined) continue;
        if (o === CT_OPTIONS[0]) t.leanConntrack++;
        expect(line, origin).toBe(f(m, { timestampNs: NS }));
        const end = leanConntrackBytes(e, o, chunk, 3);
        if (end >= 0) expect(Buffer.from(chunk.subarray(3, end)).toString('latin1'), origin).toBe(line + '\n');
        else expect(o.timestamp || o.ktimestamp || e.pid !== 0 || (e.has & L_TS) !== 0, origin).toBeTruthy();
      }
    }
    off = nextMessage(off, len, end);
  }
}

describe('lean print path', () => {
  it('writes the full path\'s json and conntrack lines for every corpus and capture message it takes', async () => {
    const corpus = await loadCorpus();
    const t: Tally = { messages: 0, lean: 0, leanConntrack: 0 };
    for (const entry of corpus) compare(entry.bytes, entry.origin, t);
    // The captures hold a 312-entry dump and NEW/UPDATE/DESTROY events of TCP and UDP.
    expect(t.lean).toBeGreaterThan(400);
    expect(t.leanConntrack).toBeGreaterThan(400);
    expect(t.messages).toBeGreaterThan(t.lean);
  });

  it('never accepts a mutated message the full decoder reads differently', async () => {
    const corpus = (await loadCorpus()).filter((c) => {
      const t: Tally = { messages: 0, lean: 0, leanConntrack: 0 };
      compare(c.bytes, c.origin, t);
      return t.lean > 0 && c.bytes.length < 4096;
    });
    expect(corpus.length).toBeGreaterThan(20);
    const rng = new Prng(0x1e4a14);
    const t: Tally = { messages: 0, lean: 0, leanConntrack: 0 };
    const e = new LeanConntrack();
    for (let i = 0; i < 20000; i++) {
      const c = corpus[rng.int(corpus.length)]!;
      const b = c.bytes.slice();
      const n = 1 + rng.int(3);
      for (let k = 0; k < n; k++) {
        const at = 16 + rng.int(b.length - 16);
        b[at] = rng.chance(0.5) ? rng.int(256) : b[at]! ^ (1 << rng.int(8));
      }
      compare(b, `${c.origin} mutated (seed ${rng.seed}, round ${i})`, t, e);
    }
    // Many mutations hit values (ports, counters, addresses), which the lean path prints.
    expect(t.lean).toBeGreaterThan(1000);
  });

  it('falls back to the full path for every shape it does not cover', async () => {
    const corpus = await loadCorpus();
    // A TCP event and a dump entry the lean path takes, as the base of each variant.
    const pick = (want: (m: Message & { kind: 'conntrack' }) => boolean) => {
      for (const c of corpus) {
        let ms: Message[];
        try {
          ms = decodeDatagram(c.bytes);
        } catch {
          continue;
        }
        for (const x of ms) {
          if (x.kind !== 'conntrack' || !want(x)) continue;
          const b = encodeMessage(x);
          if (decodeLeanAt(new Reader(b), 0, b.length, new LeanConntrack())) return x;
        }
      }
      throw new Error('no base message');
    };
    const bases = [
      pick((m) => m.event === 'new' && m.conntrack.orig?.proto === 6),
      pick((m) => m.event === undefined && m.conntrack.protoinfo?.tcp !== undefined),
    ];
    const variants: [string, (m: Message & { kind: 'conntrack' }) => void][] = [
      ['labels', (m) => void (m.conntrack.labels = new Uint8Array(16).fill(1))],
      ['helper', (m) => void (m.conntrack.helper = { name: 'ftp' })],
      ['secctx', (m) => void (m.conntrack.secctx = 'system_u:object_r:unlabeled_t:s0')],
      ['seq adjust (NAT)', (m) => void (m.conntrack.seqAdjOrig = { correctionPos: 1, offsetBefore: 2, offsetAfter: 3 })],
      ['synproxy', (m) => void (m.conntrack.synproxy = { isn: 1, its: 2, tsoff: 3 })],
      ['master tuple', (m) => void (m.conntrack.master = { ...m.conntrack.orig! })],
      ['tuple zone', (m) => void (m.conntrack.orig = { ...m.conntrack.orig!, zone: 7 })],
      ['ICMP tuple', (m) => {
        m.conntrack.orig = { src: '10.0.0.1', dst: '10.0.0.2', proto: 1, icmpType: 8, icmpCode: 0, icmpId: 77 };
        m.conntrack.reply = { src: '10.0.0.2', dst: '10.0.0.1', proto: 1, icmpType: 0, icmpCode: 0, icmpId: 77 };
        delete m.conntrack.protoinfo;
      }],
      ['SCTP protoinfo', (m) => void (m.conntrack.protoinfo = { sctp: { state: 3, vtagOriginal: 1, vtagReply: 2 } })],
      ['protoinfo with an unknown member', (m) => void (m.conntrack.protoinfo = { tcp: { state: 3, unknown: [{ type: 9, data: new Uint8Array([1]) }] } })],
      ['unknown attribute', (m) => void (m.conntrack.unknown = [{ type: 60, data: new Uint8Array([1, 2, 3, 4]) }])],
      ['counters with an unknown member', (m) => void (m.conntrack.countersOrig = { packets: 1n, bytes: 2n, unknown: [{ type: 3, data: new Uint8Array(4) }] })],
      ['no reply tuple', (m) => void delete m.conntrack.reply],
      ['protocols of the tuples differ', (m) => void (m.conntrack.reply = { ...m.conntrack.reply!, proto: 17 })],
    ];
    for (const base of bases) {
      for (const [name, change] of variants) {
        const m = structuredClone(base);
        change(m);
        const bytes = encodeMessage(m);
        const r = new Reader(bytes);
        expect(decodeLeanAt(r, 0, bytes.length, new LeanConntrack()), name).toBe(false);
        if (base.event === undefined) {
          const got = dumpLine({ line: leanJsonLine }, NS, r, 0, bytes.length);
          expect(typeof got, name).toBe('object');
          expect(json(got as Message, { timestampNs: NS }), name).toBe(json(decodeMessageAt(r, 0, bytes.length), { timestampNs: NS }));
        }
      }
      // The unchanged base takes the lean path, and an ICMP entry that the JSON writer takes
      // is handed back by the conntrack writer (its columns differ).
      const bytes = encodeMessage(base);
      expect(decodeLeanAt(new Reader(bytes), 0, bytes.length, new LeanConntrack())).toBe(true);
      if (base.event === undefined) expect(typeof dumpLine({ line: leanJsonLine }, NS, new Reader(bytes), 0, bytes.length)).toBe('string');
    }
    const gre = structuredClone(bases[1]!);
    gre.conntrack.orig = { ...gre.conntrack.orig!, proto: 47 };
    gre.conntrack.reply = { ...gre.conntrack.reply!, proto: 47 };
    delete gre.conntrack.protoinfo;
    const bytes = encodeMessage(gre);
    const e = new LeanConntrack();
    expect(decodeLeanAt(new Reader(bytes), 0, bytes.length, e)).toBe(true);
    expect(leanConntrackLine(e, NS, {})).toBeUndefined();
    expect(leanJsonLine(e, NS)).toBe(json(decodeMessageAt(new Reader(bytes), 0, bytes.length), { timestampNs: NS }));
  });

  it('writes the time of every line right as the second changes (bytes and string writers agree)', async () => {
    const corpus = await loadCorpus();
    const e = new LeanConntrack();
    const c = corpus.find((x) => {
      const r = new Reader(x.bytes);
      return decodeLeanAt(r, 0, messageLen(r, 0, x.bytes.length), e) && e.event !== LEAN_ENTRY;
    })!;
    const r = new Reader(c.bytes);
    expect(decodeLeanAt(r, 0, messageLen(r, 0, c.bytes.length), e)).toBe(true);
    const m = decodeDatagram(c.bytes)[0]!;
    const rng = new Prng(14);
    const times = [0n, 1n, 999_999_999n, 1_000_000_000n, 1_000_000_001n, NS, NS - 1n, NS + 1n, 1795532864999999999n, 1795532865000000000n, 1795532865000000001n, 1795532864000000000n];
    for (let i = 0; i < 500; i++) times.push(NS + BigInt(rng.int(3_000_000)) * 1000n + BigInt(rng.int(1000)) - 1_500_000_000n);
    for (const ns of times) {
      const want = json(m, { timestampNs: ns });
      expect(leanJsonLine(e, ns), String(ns)).toBe(want);
      const end = leanJsonBytes(e, ns, chunk, 0);
      expect(Buffer.from(chunk.subarray(0, end)).toString('latin1'), String(ns)).toBe(want + '\n');
    }
  });

  it('LineWriter keeps byte lines and string lines in order, counted by kind', async () => {
    const chunks: (string | Uint8Array)[] = [];
    const out: OutStream = { write: (c, cb) => (chunks.push(c), cb?.(), true), once: () => undefined, on: () => undefined, removeListener: () => undefined };
    const w = new LineWriter(out);
    const bytesLine = (text: string, kind: string) => {
      const b = w.room(4096);
      const p = w.bytesPos;
      for (let i = 0; i < text.length; i++) b[p + i] = text.charCodeAt(i);
      b[p + text.length] = 10;
      w.bytesLine(p + text.length + 1, kind);
    };
    w.line('first string', 'new');
    bytesLine('bytes 1', 'new');
    w.line('string after bytes: é ✓', 'destroy');
    bytesLine('bytes 2', 'destroy');
    w.line('x'.repeat(5000), 'new'); // too long for the byte chunk: its own string write
    bytesLine('bytes 3', 'update');
    // Enough byte lines to fill several chunks.
    for (let i = 0; i < 20000; i++) bytesLine(`line ${i}`, 'new');
    await w.flush();
    const text = chunks.map((c) => (typeof c === 'string' ? c : Buffer.from(c).toString('utf8'))).join('');
    const want = ['first string', 'bytes 1', 'string after bytes: é ✓', 'bytes 2', 'x'.repeat(5000), 'bytes 3', ...Array.from({ length: 20000 }, (_, i) => `line ${i}`)];
    expect(text).toBe(want.join('\n') + '\n');
    expect(w.written).toEqual({ new: 20003, destroy: 2, update: 1 });
  });
});
