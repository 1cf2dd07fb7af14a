/**
 * Record plumbing shared by the parser (reader.ts) and the netlink reader (linktype.ts):
 * timestamp clocks, the in-place cursor the parser fills for each record, and the record
 * classes handed to callers.
 *
 * Timestamps are kept as the two 32-bit numbers found in the file and turned into a BigInt
 * of nanoseconds only when `timestampNs` is read: the conversion costs several BigInt
 * operations, and a reader that never looks at the time should not pay for it.
 */
import type { CaptureRecord } from './reader.js';

/** Converts a record's two raw timestamp words into nanoseconds since the epoch. */
export interface TimestampClock {
  ns(high: number, low: number): bigint;
}

/** Classic pcap, microsecond magic: high = seconds, low = microseconds. */
class MicrosecondClock implements TimestampClock {
  ns(seconds: number, micros: number): bigint {
    // seconds * 1e6 + micros < 2^32 * 1e6 < 2^53: exact as a double, one BigInt multiply.
    return BigInt(seconds * 1_000_000 + micros) * 1000n;
  }
}

/** Classic pcap, nanosecond magic: high = seconds, low = nanoseconds. */
class NanosecondClock implements TimestampClock {
  ns(seconds: number, nanos: number): bigint {
    return BigInt(seconds) * 1_000_000_000n + BigInt(nanos);
  }
}

/** pcapng SPB: no timestamp, always 0n. */
class ZeroClock implements TimestampClock {
  ns(): bigint {
    return 0n;
  }
}

/** pcapng interface: 64-bit count of units (high, low words) at a resolution, plus an offset. */
export class InterfaceClock implements TimestampClock {
  constructor(
    /** Timestamp units per second (10^n or 2^n, from if_tsresol). */
    readonly unitsPerSecond: bigint,
    /** if_tsoffset, in nanoseconds. */
    readonly offsetNs: bigint,
  ) {}

  ns(high: number, low: number): bigint {
    const units = (BigInt(high) << 32n) | BigInt(low);
    if (this.unitsPerSecond === 1_000_000_000n) return units + this.offsetNs;
    return (units * 1_000_000_000n) / this.unitsPerSecond + this.offsetNs;
  }
}

export const MICROSECOND_CLOCK: TimestampClock = new MicrosecondClock();
export const NANOSECOND_CLOCK: TimestampClock = new NanosecondClock();
export const ZERO_CLOCK: TimestampClock = new ZeroClock();

/**
 * The record the parser has just framed, described in place (no allocation): its captured
 * bytes are `buf[start, start + length)`. Overwritten by the next step of the parser.
 */
export class RawRecord {
  /** Bytes holding the record: the input chunk, or a copy when the record straddled chunks. */
  buf: Uint8Array = new Uint8Array(0);
  start = 0;
  length = 0;
  index = 0;
  fileOffset = 0;
  linktype = 0;
  originalLength = 0;
  tsHigh = 0;
  tsLow = 0;
  clock: TimestampClock = ZERO_CLOCK;
}

/**
 * A view of `length` bytes at `start` of `buf`, sharing its memory. Of the same class as
 * `buf` (a Node Buffer gives a Buffer, as subarray does); for a plain Uint8Array, built
 * directly, which costs less than subarray.
 */
export function viewAt(buf: Uint8Array, start: number, length: number): Uint8Array {
  if (buf.constructor !== Uint8Array) return buf.subarray(start, start + length);
  return new Uint8Array(buf.buffer, buf.byteOffset + start, length);
}

const inspect = Symbol.for('nodejs.util.inspect.custom');

/**
 * The timestamp of a record, computed on access from the two raw words and the clock of
 * its interface. The words are private (#) fields, so that a record's own enumerable
 * properties are exactly its public fields (`timestampNs` is a getter on the prototype).
 */
abstract class TimedRecord {
  readonly #tsHigh: number;
  readonly #tsLow: number;
  readonly #clock: TimestampClock;
  #tsSet: bigint | undefined = undefined;

  constructor(tsHigh: number, tsLow: number, clock: TimestampClock) {
    this.#tsHigh = tsHigh;
    this.#tsLow = tsLow;
    this.#clock = clock;
  }

  /** Nanoseconds since the epoch (0n for a pcapng SPB). Computed on each read. */
  get timestampNs(): bigint {
    return this.#tsSet ?? this.#clock.ns(this.#tsHigh, this.#tsLow);
  }

  set timestampNs(value: bigint) {
    this.#tsSet = value;
  }
}

/** {@link CaptureRecord} with the timestamp computed on access. */
export class ParsedRecord extends TimedRecord implements CaptureRecord {
  constructor(
    public index: number,
    public fileOffset: number,
    public linktype: number,
    public data: Uint8Array,
    public originalLength: number,
    tsHigh: number,
    tsLow: number,
    clock: TimestampClock,
  ) {
    super(tsHigh, tsLow, clock);
  }

  /** What console.log and util.inspect show: the record as a plain object. */
  [inspect](): object {
    const { index, fileOffset, timestampNs, linktype, data, originalLength } = this;
    return { index, fileOffset, timestampNs, linktype, data, originalLength };
  }
}

/** A netlink datagram of a capture, with the timestamp computed on access (as ParsedRecord). */
export class DatagramRecord extends TimedRecord {
  constructor(
    public index: number,
    public fileOffset: number,
    public protocol: number,
    public data: Uint8Array,
    tsHigh: number,
    tsLow: number,
    clock: TimestampClock,
  ) {
    super(tsHigh, tsLow, clock);
  }

  /** What console.log and util.inspect show: the record as a plain object. */
  [inspect](): object {
    const { index, fileOffset, timestampNs, protocol, data } = this;
    return { index, fileOffset, timestampNs, protocol, data };
  }
}
