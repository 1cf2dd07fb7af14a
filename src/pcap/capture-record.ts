/**
 * What the capture readers hand out: one captured packet ({@link CaptureRecord}), the
 * sources they accept, the container formats, and the file read size.
 */
/** One captured packet, from a classic record or a pcapng EPB/SPB/PB. */
export interface CaptureRecord {
  /** 0-based record number in the file (all sections together). */
  index: number;
  /** Byte offset of the record header (pcap) or block (pcapng) in the file. */
  fileOffset: number;
  /**
   * Nanoseconds since the epoch (0n for a pcapng SPB, which carries no timestamp). In the
   * records the readers return this is a getter that computes the value when read (so it
   * is not an own property: `{ ...rec }` does not copy it); it may be assigned.
   */
  timestampNs: bigint;
  /** LINKTYPE_* of the record's interface. */
  linktype: number;
  /** Captured bytes including the link-layer header. Borrowed view into the input chunk. */
  data: Uint8Array;
  /** Length of the packet on the wire (may exceed data.length when truncated by snaplen). */
  originalLength: number;
}

/** What {@link readCapture} accepts: a file path, or a stream / async iterable of byte chunks. */
export type CaptureSource = string | AsyncIterable<Uint8Array> | NodeJS.ReadableStream;

/** Container format detected from the magic. */
export type CaptureFormat = 'pcap' | 'pcapng';

/**
 * Size of the chunks {@link readCapture} and the batch readers read from a file path: 64 KiB.
 * Small enough that a chunk is usually released before the young-generation collections
 * that would promote it (then only a full collection frees it), large enough that the read
 * calls cost little: memory stays flat at no loss of speed.
 */
export const READ_CHUNK_SIZE = 64 * 1024;
