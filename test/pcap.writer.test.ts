/** The nlmon-style writer (src/pcap/writer.ts): PcapWriter and files written with openPcapFile. */
import { spawnSync } from 'node:child_process';
import { createReadStream } from 'node:fs';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  netlinkPayload,
  openPcapFile,
  parseCapture,
  PcapError,
  PcapWriter,
  readCapture,
  readNetlinkDatagramBatches,
  readNetlinkDatagrams,
} from '../src/pcap/index.js';
import { collector, ctGetDump, exposeGc, hex, nlDone } from './helpers/pcap-fixtures.js';

describe('PcapWriter', () => {
  it('writes exactly the libpcap nlmon layout', () => {
    const sink = collector();
    const w = new PcapWriter(sink, { littleEndian: true });
    w.writeDatagram(nlDone(1), 1_700_000_000_123_456_789n);
    const want = [
      'd4c3b2a1 0200 0400 00000000 00000000 00000400 fd000000', // magic, 2.4, zone, sigfigs, snaplen 262144, linktype 253
      '00f15365 40e20100 24000000 24000000', // ts_sec, ts_usec 123456 (truncated), incl 36, orig 36
      '0004 0338 0000 0000000000000000 000c', // pkttype 4, hatype 824, halen 0, addr, protocol 12 (BE)
      hex(nlDone(1)),
    ].join('').replaceAll(' ', '');
    expect(hex(sink.bytes())).toBe(want);
    expect(sink.chunks.length).toBe(2); // header, then one chunk per record
  });

  it.each([
    { name: 'LE µs', opts: { littleEndian: true }, ns: false },
    { name: 'LE ns', opts: { littleEndian: true, nanosecond: true }, ns: true },
    { name: 'BE µs', opts: { littleEndian: false }, ns: false },
    { name: 'BE ns', opts: { littleEndian: false, nanosecond: true }, ns: true },
  ])('round trip $name', ({ opts, ns }) => {
    const sink = collector();
    const w = new PcapWriter(sink, opts);
    const ts = 1_700_000_000_987_654_321n;
    w.writeDatagram(nlDone(1), ts);
    w.writeDatagram(ctGetDump(2), ts + 1n, 12);
    w.writeDatagram(nlDone(3), 0n, 0);
    const got = [...parseCapture(sink.bytes())].map((r) => ({ ts: r.timestampNs, ...netlinkPayload(r)! }));
    const t = (x: bigint) => (ns ? x : x - (x % 1000n));
    expect(got.map((g) => ({ ts: g.ts, protocol: g.protocol, data: hex(g.data) }))).toEqual([
      { ts: t(ts), protocol: 12, data: hex(nlDone(1)) },
      { ts: t(ts + 1n), protocol: 12, data: hex(ctGetDump(2)) },
      { ts: 0n, protocol: 0, data: hex(nlDone(3)) },
    ]);
  });

  it('truncates to snaplen like libpcap, defaults the timestamp to now, validates arguments', () => {
    const sink = collector();
    const w = new PcapWriter(sink, { snaplen: 30 });
    const before = BigInt(Date.now()) * 1_000_000n;
    w.writeDatagram(nlDone(1));
    const [r] = [...parseCapture(sink.bytes())];
    expect(r!.data.length).toBe(30);
    expect(r!.originalLength).toBe(36);
    expect(r!.timestampNs >= before - 1_000_000n && r!.timestampNs <= BigInt(Date.now() + 1) * 1_000_000n).toBe(true);
    expect(() => w.writeDatagram(nlDone(1), -1n)).toThrow(PcapError);
    expect(() => w.writeDatagram(nlDone(1), 1n << 64n)).toThrow(PcapError);
    expect(() => w.writeDatagram(nlDone(1), 0n, 70000)).toThrow(PcapError);
    expect(() => new PcapWriter(sink, { snaplen: 3 })).toThrow(PcapError);
  });
});

// ---------------------------------------------------------------------------------------

describe('files', () => {
  let dir = '';
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'pcap-test-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const has = (tool: string) => spawnSync(tool, ['--version'], { stdio: 'ignore' }).status === 0;
  const hasTshark = has('tshark');
  const hasEditcap = has('editcap');
  if (!hasTshark) console.warn('skipping tshark interoperability test: tshark not found on PATH');
  if (!hasEditcap) console.warn('skipping editcap interoperability test: editcap not found on PATH');

  async function writeSample(path: string, opts = {}) {
    const f = await openPcapFile(path, opts);
    f.writer.writeDatagram(nlDone(1), 1_700_000_000_123_456_789n);
    f.writer.writeDatagram(ctGetDump(2), 1_700_000_001_000_000_000n);
    await f.close();
  }

  it('openPcapFile writes a file readCapture reads back (path and fs stream)', async () => {
    const path = join(dir, 'sample.pcap');
    await writeSample(path);
    const want = [hex(nlDone(1)), hex(ctGetDump(2))];
    const a = [];
    for await (const d of readNetlinkDatagrams(path)) a.push(hex(d.data));
    const b = [];
    for await (const d of readNetlinkDatagrams(createReadStream(path, { highWaterMark: 5 }))) b.push(hex(d.data));
    expect(a).toEqual(want);
    expect(b).toEqual(want);
  });

  it('openPcapFile rejects an unopenable path; close is idempotent', async () => {
    await expect(openPcapFile(join(dir, 'no', 'such', 'dir.pcap'))).rejects.toThrow(/ENOENT/);
    const f = await openPcapFile(join(dir, 'empty.pcap'));
    await f.close();
    await f.close();
    expect((await stat(join(dir, 'empty.pcap'))).size).toBe(24);
    expect(() => f.writer.writeDatagram(nlDone(1))).toThrow(PcapError);
  });

  it.skipIf(!hasTshark)('tshark decodes a written file as Linux netlink / netlink-netfilter', async () => {
    const path = join(dir, 'tshark.pcap');
    await writeSample(path);
    const out = spawnSync('tshark', ['-r', path, '-V'], { encoding: 'utf8' });
    expect(out.status, out.stderr).toBe(0);
    expect(out.stdout).toContain('Encapsulation type: Linux Netlink');
    expect(out.stdout).toContain('Linux netlink (cooked header)');
    expect(out.stdout).toContain('Link-layer address type: Netlink (824)');
    expect(out.stdout).toContain('Family: Netfilter (0x000c)');
    expect(out.stdout).toContain('Message type: End of a dump (0x0003)');
    expect(out.stdout).toMatch(/Linux netlink netfilter protocol/i);
    expect(out.stdout).toContain('Subsystem: Conntrack (1)');
    expect(out.stdout).toContain('Epoch Time: 1700000000.123456000 seconds');
  });

  it.skipIf(!hasEditcap)('reads what editcap converts to pcapng and to nanosecond pcap', async () => {
    const path = join(dir, 'conv.pcap');
    await writeSample(path);
    const want = [...parseCapture(await readFile(path))].map((r) => ({ ts: r.timestampNs, data: hex(r.data) }));
    for (const format of ['pcapng', 'nsecpcap']) {
      const out = join(dir, `conv.${format}`);
      expect(spawnSync('editcap', ['-F', format, path, out]).status).toBe(0);
      const got = [];
      for await (const r of readCapture(out)) got.push({ ts: r.timestampNs, data: hex(r.data) });
      expect(got, format).toEqual(want);
    }
  });

  it('streams a 1,000,000-record file with bounded memory', async () => {
    const path = join(dir, 'big.pcap');
    const count = 1_000_000;
    const f = await openPcapFile(path);
    const payload = nlDone(0);
    for (let i = 0; i < count; i++) {
      new DataView(payload.buffer).setUint32(8, i, true);
      if (!f.writer.writeDatagram(payload, BigInt(i) * 1000n)) await f.drain();
    }
    await f.close();
    expect((await stat(path)).size).toBe(24 + count * 52);

    // Sample memory after a full GC, so that what is measured is what the reader retains
    // (garbage awaiting collection is not growth). The file is 50 MiB: holding it, or a
    // growing share of it, would show; holding one 1 MiB chunk and a record would not.
    const gc = exposeGc();
    if (gc === undefined) console.warn('no gc() available: memory samples include uncollected garbage');
    const sample = async () => {
      gc?.();
      await new Promise((resolve) => setTimeout(resolve, 1)); // let freed backing stores be swept
      gc?.();
      const m = process.memoryUsage();
      return m.heapUsed + m.arrayBuffers;
    };
    const base = await sample();
    let peak = 0;
    let n = 0;
    let lastSeq = -1;
    for await (const d of readNetlinkDatagrams(path)) {
      const seq = new DataView(d.data.buffer, d.data.byteOffset).getUint32(8, true);
      if (seq !== lastSeq + 1 || d.index !== n) throw new Error(`record ${n}: seq ${seq}`);
      lastSeq = seq;
      if (++n % 100_000 === 0) peak = Math.max(peak, (await sample()) - base);
    }
    expect(n).toBe(count);
    // The same through the batch reader.
    let batchPeak = 0;
    n = 0;
    lastSeq = -1;
    for await (const batch of readNetlinkDatagramBatches(path)) {
      for (const d of batch) {
        const seq = new DataView(d.data.buffer, d.data.byteOffset).getUint32(8, true);
        if (seq !== lastSeq + 1 || d.index !== n) throw new Error(`record ${n}: seq ${seq}`);
        lastSeq = seq;
        n++;
      }
      if (n % 100_000 < batch.length) batchPeak = Math.max(batchPeak, (await sample()) - base);
    }
    expect(n).toBe(count);
    const mib = (x: number) => `${(x / 2 ** 20).toFixed(1)} MiB`;
    console.log(`1e6 records (${mib(24 + count * 52)} file): peak growth of heapUsed + arrayBuffers ${mib(peak)} (batches: ${mib(batchPeak)})`);
    expect(peak).toBeLessThan((gc ? 16 : 50) * 2 ** 20);
    expect(batchPeak).toBeLessThan((gc ? 16 : 50) * 2 ** 20);
  }, 120_000);
});

