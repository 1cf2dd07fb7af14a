/**
 * The in-band item `ctevents read` gives for what it cannot decode: a record or block of
 * the capture that cannot be used, a bad message inside a datagram, a timestamp no date
 * can show, or the fault that ends the read early (`fatal`).
 *
 *   text:      MALFORMED record 7 (file offset 1234): <reason>
 *   json:      {"type":"malformed","record":7,"offset":1234,"error":"<reason>"}   (+ "fatal":true)
 *   conntrack: on stderr (stdout stays what conntrack prints):
 *              ctevents: FILE: record 7 (file offset 1234): <reason>
 *
 * `record` counts from 1 like tshark's frame numbers and is absent for a structure that is
 * no packet (a pcapng block of unknown type, an interface option, the file header);
 * `offset` is the byte offset in the file of the offending structure or field.
 */
import type { Format } from './args.js';

export interface MalformedItem {
  /** 0-based record number, when the fault belongs to a packet record. */
  index: number | undefined;
  fileOffset: number;
  reason: string;
  fatal: boolean;
}

export function malformedLine(f: Format, file: string, m: MalformedItem): { stdout?: string; stderr?: string } {
  const record = m.index === undefined ? undefined : m.index + 1;
  const where = record === undefined ? `file offset ${m.fileOffset}` : `record ${record} (file offset ${m.fileOffset})`;
  switch (f) {
    case 'json':
      return {
        stdout: JSON.stringify({ type: 'malformed', ...(record !== undefined ? { record } : {}), offset: m.fileOffset, error: m.reason, ...(m.fatal ? { fatal: true } : {}) }),
      };
    case 'text':
      return { stdout: `MALFORMED ${where}: ${m.reason}${m.fatal ? ' (the read ends here)' : ''}` };
    case 'conntrack':
    case 'xml':
      return { stderr: `ctevents: ${file}: ${where}: ${m.reason}${m.fatal ? ' (the read ends here)' : ''}` };
  }
}
