/** The capture readers (src/pcap/reader.ts, flatten.ts, byte-queue.ts): batch readers and async generators. */
import { Readable } from 'node:stream';
import { inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import {
  netlinkPayload,
  parseCapture,
  PcapError,
  readCapture,
  readCaptureBatches,
  readNetlinkDatagramBatches,
  readNetlinkDatagrams,
  type CaptureRecord,
} from '../src/pcap/index.js';
import { D1, D2, D3, chunked, classicFile, collect, cooked, datagram, hex, nlDone, rejection, summary, twoSectionFile } from './helpers/pcap-fixtures.js';

describe('batch readers', () => {
  const big = cooked(12, new Uint8Array(2984).map((_, i) => i * 7));
  const files = [
    { name: 'classic', file: classicFile({ le: true, ns: true }, [{ sec: 1, frac: 1, data: D1 }, { sec: 2, frac: 2, data: big }, { sec: 3, frac: 3, data: D3 }, { sec: 4, frac: 4, data: D2 }]) },
    { name: 'pcapng', file: twoSectionFile() },
  ];

  it.each(files.flatMap(({ name, file }) => [1, 7, 100, 1000, file.length].map((size) => ({ name, file, size }))))(
    '$name in $size-byte chunks: readCaptureBatches gives the records of parseCapture, one non-empty batch per completing chunk',
    async ({ name, file, size }) => {
      const want = [...parseCapture(file)].map(summary);
      const { source, state } = chunked(file, size);
      const batches = await collect(readCaptureBatches(source));
      expect(batches.flat().map(summary)).toEqual(want);
      expect(batches.every((b) => b.length > 0)).toBe(true);
      expect(batches.length).toBeLessThanOrEqual(state.pulled);
      if (size === file.length) expect(batches.length).toBe(1);
      if (name === 'classic') {
        // A batch holds the records completed by one chunk: the last bytes of its records
        // lie in the same chunk, a later one for each batch.
        const chunkOfEnd = (r: CaptureRecord) => Math.floor((r.fileOffset + 16 + r.data.length - 1) / size);
        const perBatch = batches.map((b) => [...new Set(b.map(chunkOfEnd))]);
        expect(perBatch.every((c) => c.length === 1)).toBe(true);
        const order = perBatch.map((c) => c[0]!);
        expect(order).toEqual([...order].sort((x, y) => x - y));
        expect(new Set(order).size).toBe(order.length);
      }
      expect(state.closed).toBe(true);
    },
  );

  it.each(files.flatMap(({ name, file }) => [1, 7, 100, file.length].map((size) => ({ name, file, size }))))(
    '$name in $size-byte chunks: readNetlinkDatagramBatches gives what readNetlinkDatagrams gives',
    async ({ file, size }) => {
      for (const protocol of [undefined, 0, 12]) {
        const opts = protocol === undefined ? {} : { protocol };
        const want = (await collect(readNetlinkDatagrams(Readable.from([Buffer.from(file)]), opts))).map(datagram);
        const batches = await collect(readNetlinkDatagramBatches(chunked(file, size).source, opts));
        expect(batches.every((b) => b.length > 0)).toBe(true);
        expect(batches.flat().map(datagram), `protocol ${protocol}`).toEqual(want);
        // And both equal parseCapture + netlinkPayload.
        const direct = [...parseCapture(file)].flatMap((r) => {
          const p = netlinkPayload(r);
          return p === undefined || p.protocol !== (protocol ?? 12) ? [] : [{ index: r.index, fileOffset: r.fileOffset, timestampNs: r.timestampNs, protocol: p.protocol, data: hex(p.data) }];
        });
        expect(want).toEqual(direct);
      }
    },
  );

  it('records before a fault come first (a last short batch), then the PcapError', async () => {
    const bad = classicFile({ le: true, ns: false, snaplen: 100 }, [{ sec: 1, frac: 2, data: D1 }, { sec: 3, frac: 4, data: D2 }, { sec: 5, frac: 6, data: D1 }]);
    new DataView(bad.buffer).setUint32(16, 0, true); // snaplen 0: the bound is 262144
    new DataView(bad.buffer).setUint32(128 + 8, 300_000, true); // record 2: over the bound
    const got: number[][] = [];
    const err = await rejection(
      (async () => {
        for await (const b of readCaptureBatches(chunked(bad, bad.length).source)) got.push(b.map((r) => r.index));
      })(),
    );
    expect(got).toEqual([[0, 1]]);
    expect(err).toMatchObject({ offset: 136, recordIndex: 2 });
    const one: number[] = [];
    const err1 = await rejection(
      (async () => {
        for await (const r of readCapture(chunked(bad, 1000).source)) one.push(r.index);
      })(),
    );
    expect(one).toEqual([0, 1]);
    expect(err1).toMatchObject({ offset: 136, recordIndex: 2 });
  });

  it('datagrams before a bad frame come first, then the PcapError of netlinkPayload', async () => {
    const file = classicFile({ le: true, ns: false }, [{ sec: 1, frac: 2, data: D1 }, { sec: 3, frac: 4, data: D2 }, { sec: 5, frac: 6, data: cooked(12, nlDone(7), 1) }, { sec: 7, frac: 8, data: D1 }]);
    const batches: number[][] = [];
    const err = await rejection(
      (async () => {
        for await (const b of readNetlinkDatagramBatches(chunked(file, file.length).source)) batches.push(b.map((d) => d.index));
      })(),
    );
    expect(batches).toEqual([[0, 1]]);
    expect(err).toMatchObject({ offset: 128, recordIndex: 2 });
    expect(err.reason).toMatch(/hatype 1, want 824/);
    const one: number[] = [];
    const err1 = await rejection(
      (async () => {
        for await (const d of readNetlinkDatagrams(chunked(file, 10).source)) one.push(d.index);
      })(),
    );
    expect(one).toEqual([0, 1]);
    expect(err1).toMatchObject({ offset: 128, recordIndex: 2 });
    // A frame too short for its header, in a batch and one by one.
    const short = classicFile({ le: true, ns: false }, [{ sec: 1, frac: 2, data: D1 }, { sec: 3, frac: 4, data: D1.subarray(0, 12) }]);
    const e2 = await rejection(collect(readNetlinkDatagramBatches(chunked(short, 5).source)));
    expect(e2).toMatchObject({ offset: 76, recordIndex: 1 });
    expect(e2.reason).toMatch(/LINKTYPE_NETLINK record of 12 bytes, shorter than its 16-byte header/);
  });

  it('truncated input: the records, then the PcapError of end()', async () => {
    const file = classicFile({ le: false, ns: true }, [{ sec: 1, frac: 2, data: D1 }, { sec: 3, frac: 4, data: D2 }]);
    const cut = file.subarray(0, file.length - 3);
    const got: number[] = [];
    const err = await rejection(
      (async () => {
        for await (const b of readCaptureBatches(chunked(cut, 50).source)) got.push(...b.map((r) => r.index));
      })(),
    );
    expect(got).toEqual([0]);
    expect(err).toMatchObject({ offset: 76, recordIndex: 1 });
    expect(err.reason).toMatch(/truncated record/);
  });

  it('record data are views of the input chunk, of its class (Buffer or Uint8Array); straddling ones are copies', async () => {
    const file = files[0]!.file;
    const [plain] = await collect(readCaptureBatches(chunked(file, file.length).source));
    expect(plain!.every((r) => r.data.buffer === file.buffer && r.data.constructor === Uint8Array)).toBe(true);
    const buf = Buffer.from(file);
    const [fromBuffer] = await collect(readCaptureBatches(Readable.from([buf])));
    expect(fromBuffer!.every((r) => Buffer.isBuffer(r.data) && r.data.buffer === buf.buffer)).toBe(true);
    const [datagrams] = await collect(readNetlinkDatagramBatches(Readable.from([buf])));
    expect(datagrams!.every((d) => Buffer.isBuffer(d.data) && d.data.buffer === buf.buffer)).toBe(true);
    // 1000-byte chunks: the 3000-byte record (76..3092) straddles and is copied.
    const split = (await collect(readCaptureBatches(chunked(file, 1000).source))).flat();
    expect(split.map((r) => r.data.buffer === file.buffer)).toEqual([true, false, true, true]);
    expect(hex(split[1]!.data)).toBe(hex(big));
  });

  it('timestampNs is computed on access, can be assigned, and shows in inspect', async () => {
    const file = classicFile({ le: true, ns: false }, [{ sec: 1_700_000_000, frac: 999_999, data: D1 }]);
    const [rec] = [...parseCapture(file)];
    expect(rec!.timestampNs).toBe(1_700_000_000_999_999_000n);
    expect(Object.keys(rec!)).toEqual(['index', 'fileOffset', 'linktype', 'data', 'originalLength']);
    expect(inspect(rec)).toContain('timestampNs: 1700000000999999000n');
    rec!.timestampNs = 5n;
    expect(rec!.timestampNs).toBe(5n);
    const [d] = await collect(readNetlinkDatagrams(chunked(file, 3).source));
    expect(d!.timestampNs).toBe(1_700_000_000_999_999_000n);
    expect(Object.keys(d!)).toEqual(['index', 'fileOffset', 'protocol', 'data']);
    expect(inspect(d)).toContain('timestampNs: 1700000000999999000n');
    d!.timestampNs = 7n;
    expect(d!.timestampNs).toBe(7n);
  });
});

describe('readCapture / readNetlinkDatagrams as async generators', () => {
  const file = classicFile({ le: true, ns: false }, Array.from({ length: 6 }, (_, i) => ({ sec: i, frac: 0, data: cooked(12, nlDone(i)) })));

  it.each([
    { name: 'readCapture', read: (src: AsyncIterable<Uint8Array>) => readCapture(src) },
    { name: 'readNetlinkDatagrams', read: (src: AsyncIterable<Uint8Array>) => readNetlinkDatagrams(src) },
  ])('$name: break closes the source', async ({ read }) => {
    const { source, state } = chunked(file, 60);
    const seen: number[] = [];
    for await (const r of read(source)) {
      seen.push(r.index);
      if (r.index === 2) break;
    }
    expect(seen).toEqual([0, 1, 2]);
    expect(state.closed).toBe(true);
  });

  it('calls are served in order, also when not awaited one by one', async () => {
    const it = readNetlinkDatagrams(chunked(file, 17).source);
    const results = await Promise.all(Array.from({ length: 8 }, () => it.next()));
    expect(results.map((r) => (r.done ? 'done' : r.value.index))).toEqual([0, 1, 2, 3, 4, 5, 'done', 'done']);
    expect(await it.next()).toEqual({ value: undefined, done: true });
  });

  it('return() and throw() close the source; then the iterator is done', async () => {
    const a = chunked(file, 60);
    const it = readCapture(a.source);
    expect((await it.next()).value?.index).toBe(0);
    const pending = it.next(); // queued before return(): still served
    expect(await it.return()).toEqual({ value: undefined, done: true });
    expect((await pending).value?.index).toBe(1);
    expect(a.state.closed).toBe(true);
    expect(await it.next()).toEqual({ value: undefined, done: true });

    const b = chunked(file, 60);
    const it2 = readNetlinkDatagrams(b.source);
    expect((await it2.next()).value?.index).toBe(0);
    const boom = new Error('boom');
    await expect(it2.throw(boom)).rejects.toBe(boom);
    expect(b.state.closed).toBe(true);
    expect(await it2.next()).toEqual({ value: undefined, done: true });

    // Before the first step: nothing is read.
    const c = chunked(file, 60);
    const it3 = readCapture(c.source);
    await expect(it3.throw(boom)).rejects.toBe(boom);
    expect(c.state.pulled).toBe(0);
    expect(await it3.next()).toEqual({ value: undefined, done: true });
    expect(it3[Symbol.asyncIterator]()).toBe(it3);
  });

  it('after an error the iterator is done', async () => {
    const it = readCapture(chunked(file.subarray(0, 100), 60).source);
    expect((await it.next()).value?.index).toBe(0);
    await expect(it.next()).rejects.toBeInstanceOf(PcapError);
    expect(await it.next()).toEqual({ value: undefined, done: true });
  });
});

// ---------------------------------------------------------------------------------------

