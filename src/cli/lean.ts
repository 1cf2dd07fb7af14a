/**
 * The lean print path (issue 14): for `--format json` and `--format conntrack` without
 * filters, events and dump entries go from the datagram bytes to the output line through
 * one reused scratch record (ctnetlink/lean.ts) and the lean writers (format/lean-json.ts,
 * format/lean-conntrack.ts), without the message model. Every message the lean decoder or
 * writer does not cover is decoded and printed by the full path (decodeMessageAt + the
 * session's formatter), so the output is the same text, message by message, either way
 * (test/lean.test.ts checks it on every capture and on mutated datagrams).
 *
 * Events: the subscription hands over raw datagrams (SubscriptionOptions.raw) and
 * printEventDatagram does what Subscription.receive + the pump do with a decoded one.
 * Dumps: ConntrackClient.dumpMapped calls dumpLine on each reply as it arrives.
 */
import { LEAN_ENTRY, LEAN_NEW, LEAN_DESTROY, LeanConntrack, decodeLeanAt } from '../ctnetlink/lean.js';
import { decodeDatagram, decodeMessageAt } from '../ctnetlink/message.js';
import type { Message } from '../ctnetlink/model.js';
import type { ConntrackFormatOptions } from '../format/conntrack.js';
import { leanConntrackLine } from '../format/lean-conntrack.js';
import { leanConntrackBytes } from '../format/lean-conntrack-bytes.js';
import { leanJsonLine } from '../format/lean-json.js';
import { LEAN_JSON_MAX_BYTES, leanJsonBytes, leanJsonBytesAt } from '../format/lean-json-bytes.js';
import type { DatagramBatch } from '../client/events.js';
import { RB_LEN, RB_NSEC, RB_SEC, RB_STRIDE } from '../client/receive-batch.js';
import { NetlinkDecodeError } from '../netlink/errors.js';
import { messageLen, nextMessage } from '../netlink/message.js';
import { Reader } from '../netlink/reader.js';
import type { Session } from './session.js';

/** A format's lean writers. */
export interface LeanWriter {
  /** The line of the record, or undefined when the writer does not cover it. */
  line: (e: LeanConntrack, ns: bigint | undefined) => string | undefined;
  /**
   * The same line and its newline written as bytes at `pos` of `chunk` (at least
   * LEAN_JSON_MAX_BYTES free); returns the end, or -1 when line() must write it. Only for
   * records line() covers.
   */
  bytes?: (e: LeanConntrack, ns: bigint | undefined, chunk: Uint8Array, pos: number) => number;
  /**
   * bytes() for a receive time given as seconds `times[at]` and nanoseconds `times[at + 1]`
   * (a receive batch's row: no bigint per event); -1 when line() must write it.
   */
  bytesAt?: (e: LeanConntrack, times: Uint32Array, at: number, chunk: Uint8Array, pos: number) => number;
}

/**
 * The lean writer for a run's format and options, or undefined when the run needs the
 * model for every message (filters, text / xml formats, --expect).
 */
export function leanWriterFor(s: Session): LeanWriter | undefined {
  if (!s.filter.empty || s.opts.expect) return undefined;
  if (s.formatName === 'json') return { line: leanJsonLine, bytes: leanJsonBytes, bytesAt: leanJsonBytesAt };
  if (s.formatName !== 'conntrack') return undefined;
  // The options formatterFor (formats.ts) gives the conntrack formatter; labels are left
  // out: a message with CTA_LABELS never reaches the lean writer.
  const out = s.opts.output ?? {};
  const o: ConntrackFormatOptions = {};
  if (out.extended) o.extended = true;
  if (out.id) o.id = true;
  if (out.timestamp) o.timestamp = true;
  if (out.ktimestamp) o.ktimestamp = true;
  const progname = s.portids?.name;
  o.progname = s.opts.command !== 'read' && progname !== undefined ? progname : () => undefined;
  const bytes = (e: LeanConntrack, chunk: Uint8Array, pos: number) => leanConntrackBytes(e, o, chunk, pos);
  return { line: (e, ns) => leanConntrackLine(e, ns, o), bytes: (e, _ns, chunk, pos) => bytes(e, chunk, pos), bytesAt: (e, _t, _a, chunk, pos) => bytes(e, chunk, pos) };
}

/** After a line went out: true when --count is reached (Session.record's count). */
function counted(s: Session): boolean {
  if (s.opts.count !== undefined && ++s.printed >= s.opts.count) {
    s.stop.abort('count');
    return true;
  }
  return false;
}

const EVENT_KIND = ['entries', 'new', 'update', 'destroy'] as const;

/** The scratch record every message is decoded into. */
const scratch = new LeanConntrack();

/** The Reader over the last receive batch's buffer: the datagrams of one batch share it. */
let reader: Reader | undefined;
let readerBuffer: ArrayBufferLike | undefined;

function readerFor(buf: ArrayBufferLike): Reader {
  if (buf !== readerBuffer) {
    reader = new Reader(new Uint8Array(buf));
    readerBuffer = buf;
  }
  return reader!;
}

/**
 * For ConntrackClient.dumpMapped: the line of a dump reply (an entry), or the message
 * decoded by the full decoder when the lean path does not cover it (its exceptions end the
 * dump as they do on the full path).
 */
export function dumpLine(write: LeanWriter, ns: bigint | undefined, r: Reader, off: number, len: number): string | Message {
  if (decodeLeanAt(r, off, len, scratch) && scratch.event === LEAN_ENTRY) {
    const line = write.line(scratch, ns);
    if (line !== undefined) return line;
  }
  return decodeMessageAt(r, off, len);
}

/**
 * For ConntrackClient.dumpMapped: print each dump reply as it arrives, in order (the lean
 * line, or the full path's for what the lean path does not cover), counting --count; the
 * dump's consumer only waits for the output and stops. Returns 1 (a queued reply).
 */
export function dumpPrinter(s: Session, write: LeanWriter, ns: bigint): (r: Reader, off: number, len: number) => number {
  return (r, off, len) => {
    if (s.stop.signal.aborted || s.out.closed) return 1; // --count reached, or the reader left
    const bytes = write.bytes;
    if (bytes !== undefined && decodeLeanAt(r, off, len, scratch) && scratch.event === LEAN_ENTRY) {
      const out = s.out;
      const chunk = out.room(LEAN_JSON_MAX_BYTES);
      const end = bytes(scratch, ns, chunk, out.bytesPos);
      if (end >= 0) {
        out.bytesLine(end, 'entries');
        counted(s);
        return 1;
      }
    }
    const x = dumpLine(write, ns, r, off, len);
    if (typeof x === 'string') s.recordLine(x, 'entries');
    else if (x.kind === 'conntrack' && s.filter.match(x.conntrack)) s.record(x, ns, 'entries');
    return 1;
  };
}

/** One message of an event datagram: a line with its kind, or the decoded message. */
type Out = { line: string; kind: string } | { message: Message };

/** Print a decoded message as the subscription + pump do (events only). True when --count is reached. */
function printMessage(s: Session, m: Message, ns: bigint): boolean {
  if (m.kind === 'conntrack' && m.event) {
    if (!s.filter.match(m.conntrack)) return false;
    return s.record(m, ns, m.event);
  }
  if (m.kind === 'expect' && m.event) {
    if (!s.filter.empty && !s.filter.matchExpect(m.expect)) return false;
    return s.record(m, ns, 'expect');
  }
  return false;
}

/** The lean line of the message at `off`, undefined for a non-event, or the full decode. */
function eventOut(write: LeanWriter, r: Reader, off: number, len: number, ns: bigint): Out | undefined {
  if (decodeLeanAt(r, off, len, scratch)) {
    if (scratch.event === LEAN_ENTRY) return undefined; // not an event: the subscription drops it
    const line = write.line(scratch, ns);
    if (line !== undefined) return { line, kind: EVENT_KIND[scratch.event]! };
  }
  return { message: decodeMessageAt(r, off, len) };
}

/**
 * Print the events of one received datagram. A datagram that does not decode is skipped
 * whole with the full path's warning, as Subscription reports it. True when --count is
 * reached.
 */
export function printEventDatagram(s: Session, write: LeanWriter, data: Uint8Array, ns: bigint): boolean {
  const r = readerFor(data.buffer);
  const base = data.byteOffset;
  const end = base + data.length;
  let outs: Out[] | undefined;
  try {
    const len = messageLen(r, base, end);
    if (((len + 3) & ~3) >= end - base) {
      // One message per datagram: how the kernel sends every event.
      if (decodeLeanAt(r, base, len, scratch)) {
        if (scratch.event === LEAN_ENTRY) return false;
        const kind = scratch.event === LEAN_NEW ? 'new' : scratch.event === LEAN_DESTROY ? 'destroy' : 'update';
        const bytes = write.bytes;
        if (bytes !== undefined) {
          const out = s.out;
          if (out.closed) return false;
          const chunk = out.room(LEAN_JSON_MAX_BYTES);
          const end = bytes(scratch, ns, chunk, out.bytesPos);
          if (end >= 0) {
            out.bytesLine(end, kind);
            return counted(s);
          }
        }
        const line = write.line(scratch, ns);
        if (line !== undefined) return s.recordLine(line, kind);
      }
      // (the full decoder sees the datagram alone, so that its offsets are the datagram's)
      return printMessage(s, decodeMessageAt(new Reader(data), 0, len), ns);
    }
    // Several: all are decoded before any is printed (a bad one skips the whole datagram).
    const rd = new Reader(data);
    outs = [];
    for (let off = 0; off < data.length; ) {
      const l = messageLen(rd, off, data.length);
      const o = eventOut(write, rd, off, l, ns);
      if (o !== undefined) outs.push(o);
      off = nextMessage(off, l, data.length);
    }
  } catch (e) {
    if (!(e instanceof NetlinkDecodeError)) throw e;
    // The full decoder's verdict on the datagram, word for word.
    let ms: Message[];
    try {
      ms = decodeDatagram(data);
    } catch (e2) {
      if (!(e2 instanceof NetlinkDecodeError)) throw e2;
      s.warn(`ctevents: undecodable datagram skipped: ${e2.message}`);
      return false;
    }
    for (const m of ms) if (printMessage(s, m, ns)) return true;
    return false;
  }
  for (const o of outs) {
    if ('line' in o ? s.recordLine(o.line, o.kind) : printMessage(s, o.message, ns)) return true;
  }
  return false;
}

/**
 * Print the events of a run of datagrams of one receive batch (SubscriptionOptions.batches),
 * in order, as printEventDatagram prints each of them: a datagram of one event message the
 * lean decoder and bytesAt cover is written straight into the output chunk with its
 * receive time as two numbers (nothing is allocated per event); every other datagram goes
 * through printEventDatagram with a view and a bigint time. True when --count is reached.
 */
export function printEventBatch(s: Session, write: LeanWriter, b: DatagramBatch): boolean {
  const data = b.data;
  const meta = b.meta;
  const r = readerFor(data.buffer);
  const view = r.view;
  const le = r.le;
  const bytesAt = write.bytesAt;
  const out = s.out;
  let start = data.byteOffset + b.offset;
  for (let i = b.first, m = i * RB_STRIDE; i < b.end; i++, m += RB_STRIDE) {
    const len = meta[m + RB_LEN]!;
    const at = start;
    start += len;
    if (bytesAt !== undefined && len >= 16) {
      const ml = view.getUint32(at, le);
      // One message per datagram (how the kernel sends every event), framed as
      // printEventDatagram frames it; anything else takes the general path below.
      if (ml >= 16 && ml <= len && ((ml + 3) & ~3) >= len && decodeLeanAt(r, at, ml, scratch)) {
        if (scratch.event === LEAN_ENTRY) continue; // not an event
        if (out.closed) continue;
        const chunk = out.room(LEAN_JSON_MAX_BYTES);
        const end = bytesAt(scratch, meta, m + RB_SEC, chunk, out.bytesPos);
        if (end >= 0) {
          out.bytesLine(end, scratch.event === LEAN_NEW ? 'new' : scratch.event === LEAN_DESTROY ? 'destroy' : 'update');
          if (counted(s)) return true;
          continue;
        }
      }
    }
    const ns = BigInt(meta[m + RB_SEC]!) * 1_000_000_000n + BigInt(meta[m + RB_NSEC]!);
    if (printEventDatagram(s, write, data.subarray(at - data.byteOffset, at - data.byteOffset + len), ns)) return true;
  }
  return false;
}
