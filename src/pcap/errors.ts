/**
 * Errors of the pcap layer (capture files: classic pcap and pcapng).
 *
 * Every malformed capture surfaces as a {@link PcapError} that names the byte offset in the
 * file where the problem was found; the readers never let a RangeError or TypeError escape
 * and never return a value they could not validate.
 */

/**
 * Sanity bound for one record or block: 256 MiB. Larger length fields are treated as
 * corruption rather than trusted, so a flipped bit cannot make a reader buffer gigabytes.
 */
export const MAX_RECORD_LENGTH = 0x1000_0000;

/** A capture file (or a capture written by this module) that cannot be handled. */
export class PcapError extends Error {
  /** Byte offset in the file of the offending structure or field. */
  readonly offset: number;
  /** What is wrong, without the location (which is in `offset` / `recordIndex`). */
  readonly reason: string;
  /** 0-based number of the record concerned, when the error belongs to a packet record. */
  readonly recordIndex?: number;

  constructor(reason: string, offset: number, recordIndex?: number) {
    const where = recordIndex === undefined ? `offset ${offset}` : `offset ${offset}, record ${recordIndex}`;
    super(`pcap: ${reason} (${where})`);
    this.name = 'PcapError';
    this.offset = offset;
    this.reason = reason;
    if (recordIndex !== undefined) this.recordIndex = recordIndex;
  }
}
