/**
 * Seeded fuzzing of capture reading as `ctevents read` does it: small pcap and pcapng files
 * of real kernel datagrams (captures/*.pcap), mutated in memory and fed in random chunks
 * to the streaming item reader (NetlinkItemParser, the core of readNetlinkItemBatches),
 * every datagram decoded message by message (decodeDatagramItems), and every item put
 * through one of the three formatters (text, json, conntrack: in turn, file by file) and
 * the malformed-item line of that format.
 *
 * Mutations: bit flips, random bytes, interesting u32 values (0, 1, 16, 262144, 262145,
 * 2^28, 2^31, 2^32-1, ±1 of the old value) written over header fields (record and block
 * lengths, versions, link types, snaplens, interface ids, timestamps, option codes and
 * lengths), truncation, a region cut out or duplicated. Some iterations stack several.
 *
 * Oracles, for every mutated file: nothing is thrown (the reader reports faults as items;
 * a typed PcapError / NetlinkDecodeError escaping is a bug too, as is anything else); each
 * file is read in bounded time; the same items come out however the file is split into
 * chunks; the process's memory stays bounded (a length field cannot make the reader
 * buffer more than the record bound).
 *
 *   CTEV_FUZZ_SEED=<u32>          reproduce a run (the seed is printed on every run)
 *   CTEV_FUZZ_ITERATIONS=<n>      more mutated files (default 100,000)
 */
import { describe, expect, it } from 'vitest';
import { formatterFor, loadFormat } from '../src/cli/formats.js';
import { malformedLine } from '../src/cli/malformed.js';
import { printableTime } from '../src/cli/read.js';
import type { Format } from '../src/cli/args.js';
import { decodeDatagramItems } from '../src/ctnetlink/tolerant.js';
import { MalformedRecord, NetlinkItemParser, type NetlinkItem } from '../src/pcap/index.js';
import { block, cat, classicFile, cooked, datagramsOf, epb, idb, option, shb } from './helpers/pcap-craft.js';
import { Prng, seedFromEnv } from './helpers/prng.js';

const ITERATIONS = Number(process.env.CTEV_FUZZ_ITERATIONS ?? 100_000);
const SEED = seedFromEnv();
const SLOW_MS = 2000;
const FORMATS: Format[] = ['text', 'json', 'conntrack'];
for (const f of FORMATS) await loadFormat(f);
const FORMATTERS = FORMATS.map((f) => [f, formatterFor(f, { live: false })] as const);

// Small seed files: 1-3 datagrams of each recorded scenario, as classic pcap and pcapng.
const NAMES = ['tcp-ipv4.pcap', 'tcp-ipv6.pcap', 'icmp.pcap', 'nat.pcap', 'helper-expect.pcap', 'errors.pcap', 'stats.pcap', 'zones-marks-labels.pcap', 'acct-timestamps.pcap', 'udp.pcap'];
const SEEDS: { name: string; bytes: Uint8Array }[] = [];
for (const name of NAMES) {
  const ds = datagramsOf(name).filter((d) => d.length <= 1200);
  for (let i = 0; i + 1 < ds.length && i < 6; i += 2) {
    const pair = [ds[i]!, ds[i + 1]!];
    SEEDS.push({ name: `${name}#${i} pcap`, bytes: classicFile({ snaplen: i === 0 ? 262144 : 64 }, pair.map((d) => ({ data: cooked(d) }))) });
    SEEDS.push({
      name: `${name}#${i} pcapng`,
      bytes: cat(
        shb(),
        idb({ snaplen: 0, options: i === 2 ? [option(9, Uint8Array.of(9)), option(14, new Uint8Array(8))] : [] }),
        epb(1_700_000_000_000_000n + BigInt(i), cooked(pair[0]!)),
        ...(i === 4 ? [block(5, new Uint8Array(20))] : []),
        epb(1_700_000_001_000_000n, cooked(pair[1]!)),
      ),
    });
  }
}

const INTERESTING = [0, 1, 2, 4, 12, 15, 16, 20, 28, 32, 253, 262144, 262145, 0x10000000, 0x7fffffff, 0x80000000, 0xffffffff, 0x0a0d0d0a, 0xa1b2c3d4];

function mutate(rng: Prng, src: Uint8Array): Uint8Array {
  let b = src.slice();
  for (let k = rng.chance(0.3) ? rng.range(2, 4) : 1; k > 0; k--) {
    if (b.length === 0) break;
    const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
    switch (rng.int(7)) {
      case 0: // bit flip
        b[rng.int(b.length)]! ^= 1 << rng.int(8);
        break;
      case 1: // random byte
        b[rng.int(b.length)] = rng.int(256);
        break;
      case 2:
      case 3: {
        // an interesting u32 (or old ± 1) over an aligned field, mostly in the headers
        if (b.length < 4) break;
        const at = (rng.chance(0.6) ? rng.int(Math.min(b.length, 80)) : rng.int(b.length)) & ~3;
        if (at + 4 > b.length) break;
        const le = rng.chance(0.85);
        const v = rng.chance(0.7) ? rng.pick(INTERESTING) : (dv.getUint32(at, le) + (rng.chance(0.5) ? 1 : -1)) >>> 0;
        dv.setUint32(at, v, le);
        break;
      }
      case 4: // truncate
        b = b.slice(0, rng.int(b.length));
        break;
      case 5: {
        // cut a region out
        const a = rng.int(b.length);
        b = cat(b.subarray(0, a), b.subarray(Math.min(b.length, a + rng.range(1, 64))));
        break;
      }
      case 6: {
        // duplicate a region
        const a = rng.int(b.length);
        const e = Math.min(b.length, a + rng.range(1, 128));
        b = cat(b.subarray(0, e), b.subarray(a, e), b.subarray(e));
        break;
      }
    }
  }
  return b;
}

/** Reads `file` in the given chunks the way ctevents read does, in format `f`; the lines it prints. */
function readAll(file: Uint8Array, cuts: number[], f: number): string[] {
  const [name, fmt] = FORMATTERS[f]!;
  const p = new NetlinkItemParser();
  const items: NetlinkItem[] = [];
  let at = 0;
  for (const c of [...cuts, file.length]) {
    p.push(file.subarray(at, c));
    p.drain(items);
    at = c;
  }
  p.end(items);
  const out: string[] = [];
  for (const it of items) {
    if (it instanceof MalformedRecord) {
      const m = { index: it.index, fileOffset: it.fileOffset, reason: it.reason, fatal: it.fatal };
      const l = malformedLine(name, 'fuzz.pcap', m);
      out.push(l.stdout ?? l.stderr ?? '');
      continue;
    }
    const ts = it.timestampNs;
    const ctx = printableTime(ts) ? { timestampNs: ts } : {};
    for (const m of decodeDatagramItems(it.data)) {
      if (m.kind === 'malformed') {
        out.push(`malformed message ${m.offset}: ${m.error.message}`);
        continue;
      }
      out.push(fmt(m, ctx) ?? '');
    }
  }
  return out;
}

function hex(b: Uint8Array): string {
  return Buffer.from(b).toString('hex');
}

describe('fuzz: mutated pcap / pcapng files through the reader and the three formats', () => {
  it(`seed files read clean (${SEEDS.length} files)`, () => {
    for (const s of SEEDS) {
      for (let f = 0; f < FORMATS.length; f++) {
        const lines = readAll(s.bytes, [], f);
        expect(lines.some((l) => l.includes('malformed') || l.startsWith('MALFORMED')), s.name).toBe(false);
        expect(lines.length, s.name).toBeGreaterThan(0);
      }
    }
  });

  it(
    `${ITERATIONS} mutated files: no exception, bounded time, same output in any chunking, bounded memory (seed ${SEED})`,
    () => {
      console.log(`fuzz.pcap: CTEV_FUZZ_SEED=${SEED} CTEV_FUZZ_ITERATIONS=${ITERATIONS}`);
      const rng = new Prng(SEED);
      const rss0 = process.memoryUsage().rss;
      let maxRss = rss0;
      let malformedFiles = 0;
      let clean = 0;
      let slowest = 0;
      const started = performance.now();
      const cpu0 = process.cpuUsage();
      // Most mutated files make errors (reported as items); their stack traces are the
      // bulk of the cost and tell nothing here (a failure prints the file and the seed).
      const stackTraceLimit = Error.stackTraceLimit;
      Error.stackTraceLimit = 0;
      try {
      for (let i = 0; i < ITERATIONS; i++) {
        const src = SEEDS[rng.int(SEEDS.length)]!;
        const file = mutate(rng, src.bytes);
        const cuts: number[] = [];
        for (let k = rng.int(3); k > 0; k--) cuts.push(rng.int(file.length + 1));
        cuts.sort((a, b) => a - b);
        const t0 = performance.now();
        let lines: string[];
        try {
          lines = readAll(file, cuts, i % 3);
        } catch (e) {
          throw new Error(`iteration ${i} (seed ${SEED}, from ${src.name}) threw ${(e as Error)?.stack ?? String(e)}\nfile: ${hex(file)}\ncuts: ${cuts.join(',')}`);
        }
        const dt = performance.now() - t0;
        slowest = Math.max(slowest, dt);
        if (dt > SLOW_MS) throw new Error(`iteration ${i} (seed ${SEED}) took ${dt.toFixed(0)} ms\nfile: ${hex(file)}`);
        if (lines.some((l) => l.includes('malformed') || l.startsWith('MALFORMED') || l.startsWith('ctevents: fuzz.pcap'))) malformedFiles++;
        else clean++;
        // Same output whole (every 16th file, to keep the run short).
        if (cuts.length > 0 && i % 16 === 0) {
          const whole = readAll(file, [], i % 3);
          if (JSON.stringify(whole) !== JSON.stringify(lines)) {
            throw new Error(`iteration ${i} (seed ${SEED}): chunking ${cuts.join(',')} changed the output\nfile: ${hex(file)}`);
          }
        }
        if ((i & 4095) === 0) maxRss = Math.max(maxRss, process.memoryUsage().rss);
      }
      } finally {
        Error.stackTraceLimit = stackTraceLimit;
      }
      maxRss = Math.max(maxRss, process.memoryUsage().rss);
      const s = (performance.now() - started) / 1000;
      const cpu = process.cpuUsage(cpu0);
      const cpuS = (cpu.user + cpu.system) / 1e6;
      console.log(
        `fuzz.pcap: ${ITERATIONS} files in ${s.toFixed(1)} s (${cpuS.toFixed(1)} s of CPU), ${malformedFiles} with malformed items, ${clean} clean, slowest ${slowest.toFixed(1)} ms, RSS ${(rss0 / 2 ** 20).toFixed(0)} -> max ${(maxRss / 2 ** 20).toFixed(0)} MiB`,
      );
      expect(malformedFiles).toBeGreaterThan(ITERATIONS / 10);
      expect(maxRss - rss0).toBeLessThan(256 * 2 ** 20);
    },
    600_000,
  );
});
