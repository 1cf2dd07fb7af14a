/** The pcap / pcapng parser (src/pcap/parser.ts, classic.ts, pcapng.ts): records, chunking, corrupt input. */
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import {
  CaptureParser,
  LINKTYPE_LINUX_SLL,
  LINKTYPE_NETLINK,
  MAX_RECORD_LENGTH,
  parseCapture,
  PcapError,
  readCapture,
} from '../src/pcap/index.js';
import { D1, D2, D3, cat, classicFile, cooked, cooked2, epb, hex, idb, nlDone, parseChunks, pcapError, shb, spb, summary, tsresol, twoSectionFile } from './helpers/pcap-fixtures.js';

describe('classic pcap', () => {
  it.each([
    { name: 'LE µs', le: true, ns: false },
    { name: 'LE ns', le: true, ns: true },
    { name: 'BE µs', le: false, ns: false },
    { name: 'BE ns', le: false, ns: true },
  ])('$name', ({ le, ns }) => {
    const frac = ns ? 123_456_789 : 123_456;
    const file = classicFile({ le, ns }, [
      { sec: 1_700_000_000, frac, data: D1 },
      { sec: 0, frac: 0, data: D2, orig: 500 },
      { sec: 0xffffffff, frac: ns ? 999_999_999 : 999_999, data: D3 },
    ]);
    const got = [...parseCapture(file)].map(summary);
    const fracNs = (f: number) => BigInt(ns ? f : f * 1000);
    expect(got).toEqual([
      { index: 0, fileOffset: 24, timestampNs: 1_700_000_000_000_000_000n + fracNs(frac), linktype: 253, originalLength: 36, data: hex(D1) },
      { index: 1, fileOffset: 76, timestampNs: 0n, linktype: 253, originalLength: 500, data: hex(D2) },
      { index: 2, fileOffset: 128, timestampNs: 4_294_967_295_000_000_000n + fracNs(ns ? 999_999_999 : 999_999), linktype: 253, originalLength: 36, data: hex(D3) },
    ]);
  });

  it('keeps the low 16 bits as linktype and accepts FCS bits', () => {
    const file = classicFile({ le: true, ns: false, linktype: 0x1400_0000 | 0x0400_0000 | LINKTYPE_LINUX_SLL }, [{ sec: 1, frac: 0, data: D1 }]);
    expect([...parseCapture(file)][0]!.linktype).toBe(LINKTYPE_LINUX_SLL);
  });

  it('header-only file yields nothing', () => {
    expect([...parseCapture(classicFile({ le: true, ns: false }, []))]).toEqual([]);
  });

  it('snaplen 0 means unlimited (only the sanity bound applies)', () => {
    const file = classicFile({ le: false, ns: false, snaplen: 0 }, [{ sec: 1, frac: 2, data: D1 }]);
    expect([...parseCapture(file)].map((r) => hex(r.data))).toEqual([hex(D1)]);
  });
});

// ---------------------------------------------------------------------------------------


// ---------------------------------------------------------------------------------------
describe('pcapng', () => {
  it('two sections of different byte order, EPB/SPB/PB, tsresol 10^-9, 10^-3, 2^-20, tsoffset', () => {
    const got = [...parseCapture(twoSectionFile())].map(summary);
    expect(got).toEqual([
      { index: 0, fileOffset: 80, timestampNs: 1_700_000_000_123_456_789n, linktype: 253, originalLength: 36, data: hex(D1) },
      { index: 1, fileOffset: 168, timestampNs: 1_700_000_000_123_456_000n, linktype: 253, originalLength: 99, data: hex(D2) },
      { index: 2, fileOffset: 236, timestampNs: 0n, linktype: 253, originalLength: 36, data: hex(D3) },
      { index: 3, fileOffset: 436, timestampNs: 103_500_000_000n, linktype: 113, originalLength: 36, data: hex(cooked(12, nlDone(4))) },
      // 5 s + 1/2^20 s = 5 s + 953.67 ns, floored; + 100 s if_tsoffset
      { index: 4, fileOffset: 504, timestampNs: 105_000_000_953n, linktype: 113, originalLength: 36, data: hex(cooked(12, nlDone(5))) },
      { index: 5, fileOffset: 572, timestampNs: 1_500_000_000n, linktype: 276, originalLength: 40, data: hex(cooked2(12, nlDone(6))) },
    ]);
  });

  it('SPB captured length is min(original length, snaplen of interface 0)', () => {
    const file = cat(shb(false), idb(false, LINKTYPE_NETLINK, 20), spb(false, 36, D1.subarray(0, 20)));
    const [rec] = [...parseCapture(file)];
    expect(rec && summary(rec)).toMatchObject({ originalLength: 36, data: hex(D1.subarray(0, 20)) });
  });

  it('a section resets the interface list', () => {
    const file = cat(shb(true), idb(true, 253, 0), idb(true, 253, 0), shb(true), idb(true, 253, 0), epb(true, 1, 0n, D1));
    expect(pcapError(() => [...parseCapture(file)])).toMatchObject({ offset: 116 + 8, recordIndex: 0 });
  });
});

// ---------------------------------------------------------------------------------------

describe('chunking', () => {
  const files = [
    { name: 'classic LE µs', file: classicFile({ le: true, ns: false }, [{ sec: 1, frac: 2, data: D1 }, { sec: 3, frac: 4, data: D2 }, { sec: 5, frac: 6, data: D3 }]) },
    { name: 'classic BE ns', file: classicFile({ le: false, ns: true }, [{ sec: 1, frac: 2, data: D1 }, { sec: 3, frac: 4, data: new Uint8Array(0) }]) },
    { name: 'pcapng two sections', file: twoSectionFile() },
  ];

  it.each(files)('$name: every two-chunk split and 1-byte chunks give identical records', ({ file }) => {
    const want = [...parseCapture(file)].map(summary);
    expect(want.length).toBeGreaterThan(0);
    for (let k = 0; k <= file.length; k++) {
      expect(parseChunks([file.subarray(0, k), file.subarray(k)]).map(summary), `split at ${k}`).toEqual(want);
    }
    const bytes = Array.from({ length: file.length }, (_, i) => file.subarray(i, i + 1));
    expect(parseChunks(bytes).map(summary)).toEqual(want);
  });

  it.each([2, 3, 5, 7, 13, 64, 1000])('a 3000-byte record amid small ones, in %i-byte chunks', (size) => {
    const big = cooked(12, new Uint8Array(2984).map((_, i) => i * 7));
    const file = classicFile({ le: true, ns: true }, [{ sec: 1, frac: 1, data: D1 }, { sec: 2, frac: 2, data: big }, { sec: 3, frac: 3, data: D2 }]);
    const want = [...parseCapture(file)].map(summary);
    const chunks = Array.from({ length: Math.ceil(file.length / size) }, (_, i) => file.subarray(i * size, (i + 1) * size));
    expect(parseChunks(chunks).map(summary)).toEqual(want);
  });

  it('record data is a view into the chunk unless it straddles chunks', () => {
    const { file } = files[0]!;
    const whole = parseChunks([file]);
    expect(whole.every((r) => r.data.buffer === file.buffer)).toBe(true);
    const a = file.slice(0, 24 + 52 + 20); // cuts record 1 (at 76) inside its data
    const b = file.slice(a.length);
    const split = parseChunks([a, b]);
    expect(split[0]!.data.buffer).toBe(a.buffer);
    expect(split[2]!.data.buffer).toBe(b.buffer);
    expect(split[1]!.data.buffer).not.toBe(a.buffer);
    expect(split[1]!.data.buffer).not.toBe(b.buffer);
  });

  it('readCapture accepts async iterables and Node readable streams', async () => {
    const file = twoSectionFile();
    const want = [...parseCapture(file)].map(summary);
    async function* gen() {
      for (let i = 0; i < file.length; i += 7) yield file.subarray(i, i + 7);
    }
    const fromGen = [];
    for await (const r of readCapture(gen())) fromGen.push(summary(r));
    expect(fromGen).toEqual(want);
    const fromStream = [];
    for await (const r of readCapture(Readable.from([Buffer.from(file.subarray(0, 100)), Buffer.from(file.subarray(100))]))) {
      fromStream.push(summary(r));
    }
    expect(fromStream).toEqual(want);
  });

  it('a stream of strings is refused with PcapError', async () => {
    const run = async () => {
      for await (const r of readCapture(Readable.from(['abc'], { objectMode: true }))) void r;
    };
    await expect(run()).rejects.toBeInstanceOf(PcapError);
  });
});

// ---------------------------------------------------------------------------------------

describe('corrupt input gives PcapError at the right offset', () => {
  const good = () => classicFile({ le: true, ns: false, snaplen: 100 }, [{ sec: 1, frac: 2, data: D1 }, { sec: 3, frac: 4, data: D2 }]);
  const ng = () => cat(shb(true), idb(true, LINKTYPE_NETLINK, 100, [tsresol(9)]), epb(true, 0, 5n, D1)); // SHB 0, IDB 28, EPB 60..128
  const patch = (b: Uint8Array, at: number, v: number, le = true): Uint8Array => {
    new DataView(b.buffer, b.byteOffset).setUint32(at, v, le);
    return b;
  };

  it.each([
    { name: 'empty input', bytes: () => new Uint8Array(0), offset: 0, reason: /empty input/ },
    { name: 'unknown magic', bytes: () => patch(good(), 0, 0x12345678), offset: 0, reason: /unknown magic/ },
    { name: 'Kuznetzov magic', bytes: () => patch(good(), 0, 0xa1b2cd34), offset: 0, reason: /Kuznetzov/ },
    { name: 'truncated magic', bytes: () => good().subarray(0, 3), offset: 0, reason: /truncated capture header/ },
    { name: 'truncated global header', bytes: () => good().subarray(0, 20), offset: 0, reason: /truncated global header: .* 20 of 24/ },
    { name: 'bad version', bytes: () => patch(good(), 4, 0x0002_0001), offset: 4, reason: /version 1.2/ },
    { name: 'reserved linktype bits', bytes: () => patch(good(), 20, 0x0001_00fd), offset: 20, reason: /reserved linktype bits/ },
    { name: 'truncated record header', bytes: () => good().subarray(0, 76 + 7), offset: 76, index: 1, reason: /truncated record header/ },
    { name: 'truncated mid-record', bytes: () => good().subarray(0, 76 + 16 + 30), offset: 76, index: 1, reason: /truncated record: .* 46 of 52/ },
    { name: 'record over the netlink bound', bytes: () => patch(patch(good(), 16, 0), 24 + 8, 262_145), offset: 32, index: 0, reason: /over the bound 262144/ },
    { name: 'record over sanity bound', bytes: () => patch(patch(good(), 16, 0xffffffff), 24 + 8, MAX_RECORD_LENGTH + 1), offset: 32, index: 0, reason: /over the bound 268435456/ },
    { name: 'pcapng bad byte-order magic', bytes: () => patch(ng(), 8, 0x11223344), offset: 8, reason: /byte-order magic/ },
    { name: 'pcapng major version 2', bytes: () => patch(ng(), 12, 2), offset: 12, reason: /major version 2/ },
    { name: 'pcapng truncated SHB', bytes: () => ng().subarray(0, 10), offset: 0, reason: /truncated section header/ },
    { name: 'pcapng length not multiple of 4', bytes: () => patch(ng(), 28 + 4, 30), offset: 32, reason: /not a multiple of 4/ },
    { name: 'pcapng length < 12', bytes: () => patch(ng(), 60 + 4, 8), offset: 64, index: 0, reason: /below 32/ },
    { name: 'pcapng unknown block length < 12', bytes: () => patch(patch(ng(), 60, 0x99), 64, 8), offset: 64, reason: /below 12/ },
    { name: 'pcapng length over bound', bytes: () => patch(ng(), 64, MAX_RECORD_LENGTH + 4), offset: 64, index: 0, reason: /over the bound 327680/ },
    { name: 'pcapng trailing length mismatch', bytes: () => patch(ng(), 60 + 68 - 4, 64), offset: 124, index: 0, reason: /trailing block_total_length 64/ },
    { name: 'EPB missing interface', bytes: () => patch(ng(), 60 + 8, 1), offset: 68, index: 0, reason: /interface 1, section has 1/ },
    { name: 'SPB without interface', bytes: () => cat(shb(true), spb(true, 4, Uint8Array.of(1, 2, 3, 4))), offset: 28, index: 0, reason: /SPB without interface 0/ },
    { name: 'SPB data overruns block', bytes: () => cat(shb(true), idb(true, 253, 0), spb(true, 9, Uint8Array.of(1, 2, 3, 4))), offset: 56, index: 0, reason: /overruns/ },
    { name: 'EPB captured length overruns block', bytes: () => patch(ng(), 60 + 20, 40), offset: 80, index: 0, reason: /captured length 40 overruns/ },
    { name: 'EPB captured length huge', bytes: () => patch(ng(), 60 + 20, 0xfffffff0), offset: 80, index: 0, reason: /overruns/ },
    { name: 'pcapng truncated mid-block', bytes: () => ng().subarray(0, 100), offset: 60, index: 0, reason: /truncated block: .* 40 of 68/ },
    { name: 'pcapng truncated block header', bytes: () => cat(ng(), new Uint8Array(5)), offset: 128, reason: /truncated block header: .* 5 of 8/ },
  ])('$name', ({ bytes, offset, index, reason }) => {
    const input = bytes();
    for (const chunks of [[input], Array.from({ length: input.length }, (_, i) => input.subarray(i, i + 1))]) {
      const err = pcapError(() => parseChunks(chunks));
      expect(err.offset).toBe(offset);
      expect(err.recordIndex).toBe(index);
      expect(err.reason).toMatch(reason);
      expect(err.message).toContain(`offset ${offset}`);
    }
  });

  it('mutated captures only ever yield records or PcapError (seeded, terminating)', () => {
    let s = 0x2545f491;
    const rand = (n: number) => {
      s ^= s << 13;
      s ^= s >>> 17;
      s ^= s << 5;
      return (s >>> 0) % n;
    };
    const corpus = [twoSectionFile(), good(), ng()];
    let errors = 0;
    for (let i = 0; i < 3000; i++) {
      const input = corpus[i % corpus.length]!.slice();
      for (let m = 1 + rand(4); m > 0; m--) {
        const at = rand(input.length);
        if (rand(3) === 0) input[at] = rand(256);
        else if (rand(2) === 0) new DataView(input.buffer).setUint32(at & ~3, rand(0x10000) * (rand(2) ? 0x10000 : 1), rand(2) === 0);
        else input[at] ^= 1 << rand(8);
      }
      const cut = rand(4) === 0 ? input.subarray(0, rand(input.length)) : input;
      try {
        for (const r of parseCapture(cut)) void r;
      } catch (e) {
        if (!(e instanceof PcapError)) throw e;
        errors++;
      }
    }
    expect(errors).toBeGreaterThan(0);
  });

  it('mutated captures give the same records and the same error whole, split anywhere, and byte by byte', () => {
    let s = 0x1234567;
    const rand = (n: number) => {
      s ^= s << 13;
      s ^= s >>> 17;
      s ^= s << 5;
      return (s >>> 0) % n;
    };
    const corpus = [twoSectionFile(), good(), ng()];
    const outcome = (chunks: Uint8Array[]) => {
      const p = new CaptureParser();
      const recs: ReturnType<typeof summary>[] = [];
      try {
        for (const c of chunks) {
          p.push(c);
          for (let r = p.next(); r !== undefined; r = p.next()) recs.push(summary(r));
        }
        p.end();
        return { recs, error: undefined };
      } catch (e) {
        if (!(e instanceof PcapError)) throw e;
        return { recs, error: { offset: e.offset, recordIndex: e.recordIndex, reason: e.reason } };
      }
    };
    for (let i = 0; i < 600; i++) {
      const input = corpus[i % corpus.length]!.slice();
      for (let m = 1 + rand(3); m > 0; m--) input[rand(input.length)] ^= 1 << rand(8);
      const whole = outcome([input]);
      const k = rand(input.length + 1);
      const j = rand(input.length + 1);
      const [a, b] = k < j ? [k, j] : [j, k];
      expect(outcome([input.subarray(0, a), input.subarray(a, b), input.subarray(b)]), `input ${i}, split ${a}/${b}`).toEqual(whole);
      if (i % 10 === 0) {
        expect(outcome(Array.from({ length: input.length }, (_, x) => input.subarray(x, x + 1))), `input ${i}, bytes`).toEqual(whole);
      }
    }
  });
});

// ---------------------------------------------------------------------------------------

