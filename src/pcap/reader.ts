/**
 * Capture reader: one push/pull state machine ({@link CaptureParser}) for classic pcap and
 * pcapng, fed with chunks of any size, and drivers over it: {@link parseCapture}
 * (synchronous, whole file in memory), {@link readCaptureBatches} (streaming, constant
 * memory, one array of records per input chunk) and {@link readCapture} (the same, one
 * record per step).
 *
 * Pending bytes live in a queue of the caller's chunks. A record lying inside one chunk is
 * returned as a view into that chunk, its header read in place through one DataView per
 * chunk; only a record straddling chunks is copied. Memory is therefore bounded by one
 * chunk plus the largest record, never by the file size.
 *
 *   chunks:   [.......|rec 5 hdr|rec 5 da][ta|rec 6 ....|rec 7 ...]
 *                                  ^ rec 5 straddles: copied   ^ rec 6, 7: views, no copy
 */
import { open } from 'node:fs/promises';
import type { CaptureRecord, CaptureSource } from './capture-record.js';
import { READ_CHUNK_SIZE } from './capture-record.js';
import { PcapError } from './errors.js';
import { flattenBatches } from './flatten.js';
import { CaptureParser } from './parser.js';

export { READ_CHUNK_SIZE, type CaptureFormat, type CaptureRecord, type CaptureSource } from './capture-record.js';
export { flattenBatches } from './flatten.js';
export { CaptureParser, parseCapture, type CaptureParserOptions } from './parser.js';

/**
 * Streams the records of a capture file (path, read in {@link READ_CHUNK_SIZE} chunks) or of
 * a byte stream (e.g. process.stdin) without holding the file in memory. Record data are
 * views into the chunk they arrived in (copies when they straddle chunks).
 * Throws PcapError on malformed or truncated input (after yielding the good records before
 * it); file system errors pass through.
 *
 * One record per step; {@link readCaptureBatches} is the faster way to stream a large file.
 */
export function readCapture(source: CaptureSource): AsyncGenerator<CaptureRecord, void, undefined> {
  return flattenBatches(readCaptureBatches(source));
}

/**
 * Streams a capture like {@link readCapture}, but a batch at a time: every input chunk
 * (64 KiB read from a path, or one chunk of a stream) gives one array holding the records
 * completed by that chunk, in file order; chunks completing no record give no batch, so a
 * batch is never empty. The async iteration cost is paid once per chunk instead of once
 * per record. The arrays are the caller's to keep; record data are views into the input
 * chunks (copies for records straddling chunks), as with readCapture.
 *
 * On malformed or truncated input the records before the fault are yielded first (as a
 * last, possibly short batch), then the PcapError is thrown; file system errors pass through.
 */
export async function* readCaptureBatches(source: CaptureSource): AsyncGenerator<CaptureRecord[], void, undefined> {
  const parser = new CaptureParser();
  for await (const chunk of captureChunks(source)) {
    parser.push(chunk);
    const batch: CaptureRecord[] = [];
    try {
      fillBatch(parser, batch);
    } catch (e) {
      if (batch.length > 0) yield batch;
      throw e;
    }
    if (batch.length > 0) yield batch;
  }
  parser.end();
}

/** Appends the records the parser can complete to `batch` (a plain function: optimisable). */
function fillBatch(parser: CaptureParser, batch: CaptureRecord[]): void {
  for (let rec = parser.next(); rec !== undefined; rec = parser.next()) batch.push(rec);
}

/**
 * The byte chunks of a source: a path read in {@link READ_CHUNK_SIZE} pieces (each in a
 * buffer of its own, since records handed out may still view the previous ones), or the
 * chunks of a stream / async iterable, checked to be bytes. For the readers of this module.
 * @internal
 */
export async function* captureChunks(source: CaptureSource): AsyncGenerator<Uint8Array, void, undefined> {
  if (typeof source === 'string') {
    const file = await open(source, 'r');
    try {
      for (;;) {
        // A fresh buffer per read: records handed out earlier may still view the old one.
        const buf = new Uint8Array(READ_CHUNK_SIZE);
        const { bytesRead } = await file.read(buf, 0, READ_CHUNK_SIZE, null);
        if (bytesRead === 0) return;
        yield bytesRead === READ_CHUNK_SIZE ? buf : buf.subarray(0, bytesRead);
      }
    } finally {
      await file.close();
    }
  }
  let offset = 0;
  for await (const chunk of source as AsyncIterable<unknown>) {
    if (!(chunk instanceof Uint8Array)) {
      throw new PcapError(`input chunk is a ${typeof chunk}, not bytes (was an encoding set on the stream?)`, offset);
    }
    offset += chunk.byteLength;
    yield chunk;
  }
}
