/**
 * Decode throughput over a recorded capture of real kernel events (one process, run by
 * run.ts under `taskset -c 1` so that the JS thread and V8's helper threads share one core):
 *
 *   node build/bench/decode.js CAPTURE.pcap --mode memory [--iterations N]
 *       load every datagram into memory first (timed apart), then decode them all into
 *       the full model N times: the pure decode figure
 *   node build/bench/decode.js CAPTURE.pcap --mode stream [--passes N]
 *       readNetlinkDatagramBatches(file) -> decodeDatagram, streaming (one batch of datagrams
 *       per 64 KiB read), memory sampled; --passes reads the file N times in a row (a longer
 *       run for the memory samples)
 *   node build/bench/decode.js CAPTURE.pcap --mode read
 *       readNetlinkDatagramBatches(file) only: the pcap read cost
 *   node build/bench/decode.js CAPTURE.pcap --mode stream-records | read-records
 *       the same two through readNetlinkDatagrams(file), one datagram per async step (the
 *       per-record API)
 *   node build/bench/decode.js CAPTURE.pcap --mode stream-capture | read-capture
 *       the same two through readCapture(file) -> netlinkPayload, one record per async step
 *   node build/bench/decode.js CAPTURE.pcap --mode parser | parser-read
 *       stream / read with CaptureParser driven synchronously over READ_CHUNK_SIZE (64 KiB)
 *       file chunks -> netlinkPayload, no async step per chunk (same constant memory)
 *
 * Prints one JSON line. Every decoded message feeds a checksum over fields of the model so
 * that no part of the decode can be optimised away.
 */
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { decodeDatagram } from '../src/ctnetlink/message.js';
import type { Message } from '../src/ctnetlink/model.js';
import {
  CaptureParser,
  netlinkPayload,
  parseCapture,
  readCapture,
  READ_CHUNK_SIZE,
  readNetlinkDatagramBatches,
  readNetlinkDatagrams,
  type CaptureRecord,
} from '../src/pcap/index.js';
import { open } from 'node:fs/promises';

const path = process.argv[2];
if (path === undefined || path.startsWith('--')) {
  process.stderr.write('usage: decode.js CAPTURE --mode memory|stream|read|parser|parser-read|stream-records|read-records|stream-capture|read-capture [--iterations N] [--passes N]\n');
  process.exit(2);
}
const flag = (name: string, fallback: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1]! : fallback;
};
const mode = flag('mode', 'memory');
const iterations = Number(flag('iterations', '5'));
const passes = Number(flag('passes', '1'));
const SAMPLE_EVERY = 50_000;

interface Sample {
  messages: number;
  heapUsedMiB: number;
  rssMiB: number;
  arrayBuffersMiB: number;
}

const samples: Sample[] = [];
function sample(messages: number): void {
  const m = process.memoryUsage();
  samples.push({ messages, heapUsedMiB: m.heapUsed / 1048576, rssMiB: m.rss / 1048576, arrayBuffersMiB: m.arrayBuffers / 1048576 });
}

const counts = { messages: 0, new: 0, update: 0, destroy: 0, other: 0, datagrams: 0 };
let check = 0;
let nextSample = SAMPLE_EVERY;

function consume(ms: Message[]): void {
  for (const m of ms) {
    counts.messages++;
    if (m.kind === 'conntrack' && m.event !== undefined) {
      counts[m.event]++;
      const c = m.conntrack;
      check = (check + (c.id ?? 0) + (c.orig?.dstPort ?? 0) + (c.orig?.dst?.length ?? 0) + (c.reply?.src?.length ?? 0) + (c.status ?? 0)) | 0;
    } else counts.other++;
  }
  if (counts.messages >= nextSample) {
    sample(counts.messages);
    nextSample += SAMPLE_EVERY;
  }
}

function reset(): void {
  counts.messages = counts.new = counts.update = counts.destroy = counts.other = counts.datagrams = 0;
  nextSample = SAMPLE_EVERY;
}

const result: Record<string, unknown> = { mode, path };

if (mode === 'memory') {
  const t0 = performance.now();
  const file = readFileSync(path);
  const t1 = performance.now();
  const datagrams: Uint8Array[] = [];
  for (const rec of parseCapture(file)) {
    const p = netlinkPayload(rec);
    if (p !== undefined && p.protocol === 12) datagrams.push(p.data);
  }
  const t2 = performance.now();
  result.fileBytes = file.byteLength;
  result.datagrams = datagrams.length;
  result.readFileSeconds = (t1 - t0) / 1000;
  result.parseCaptureSeconds = (t2 - t1) / 1000;
  const runs: { seconds: number; messagesPerSecond: number }[] = [];
  for (let it = 0; it < iterations; it++) {
    reset();
    samples.length = 0;
    sample(0);
    const s = performance.now();
    for (let i = 0; i < datagrams.length; i++) consume(decodeDatagram(datagrams[i]!));
    const seconds = (performance.now() - s) / 1000;
    runs.push({ seconds, messagesPerSecond: counts.messages / seconds });
  }
  result.runs = runs;
} else if (/^(stream|read|parser|parser-read|stream-records|read-records|stream-capture|read-capture)$/.test(mode)) {
  const decode = !mode.includes('read');
  const onDatagram = (data: Uint8Array) => {
    counts.datagrams++;
    if (decode) consume(decodeDatagram(data));
    else {
      check = (check + data.byteLength) | 0;
      if (counts.datagrams >= nextSample) {
        sample(counts.datagrams);
        nextSample += SAMPLE_EVERY;
      }
    }
  };
  const onBatch = (batch: { data: Uint8Array }[]) => {
    for (let i = 0; i < batch.length; i++) onDatagram(batch[i]!.data);
  };
  const onRecord = (rec: CaptureRecord) => {
    const p = netlinkPayload(rec);
    if (p !== undefined && p.protocol === 12) onDatagram(p.data);
  };
  sample(0);
  const s = performance.now();
  for (let pass = 0; pass < passes; pass++) {
    if (mode === 'stream' || mode === 'read') {
      for await (const batch of readNetlinkDatagramBatches(path)) onBatch(batch);
    } else if (mode === 'stream-records' || mode === 'read-records') {
      for await (const d of readNetlinkDatagrams(path)) onDatagram(d.data);
    } else if (mode === 'stream-capture' || mode === 'read-capture') {
      for await (const rec of readCapture(path)) onRecord(rec);
    } else {
      // The same streaming, with the parser driven synchronously within each chunk.
      const parser = new CaptureParser();
      const file = await open(path, 'r');
      try {
        for (;;) {
          const buf = new Uint8Array(READ_CHUNK_SIZE);
          const { bytesRead } = await file.read(buf, 0, READ_CHUNK_SIZE, null);
          if (bytesRead === 0) break;
          parser.push(buf.subarray(0, bytesRead));
          for (let rec = parser.next(); rec !== undefined; rec = parser.next()) onRecord(rec);
        }
        parser.end();
      } finally {
        await file.close();
      }
    }
  }
  const seconds = (performance.now() - s) / 1000;
  result.seconds = seconds;
  result.passes = passes;
  const n = decode ? counts.messages : counts.datagrams;
  result.perSecond = n / seconds;
} else {
  process.stderr.write(`unknown mode ${mode}\n`);
  process.exit(2);
}

sample(counts.messages);
result.counts = { ...counts };
result.check = check;
result.samples = samples;
result.maxRssKiB = process.resourceUsage().maxRSS;
process.stdout.write(JSON.stringify(result) + '\n');
