/**
 * The one attribute walk every nest decoder uses.
 *
 *   struct nlattr (NLA_HDRLEN = 4 bytes, host order)   payload           pad
 *   +-----------------+-----------------+--------------------------------+-----+
 *   | nla_len (u16)   | nla_type (u16)  | nla_len - NLA_HDRLEN bytes     | 0-3 |
 *   +-----------------+-----------------+--------------------------------+-----+
 *   ^ off                               ^ p = off + NLA_HDRLEN, n bytes
 *
 *   for (const a = new AttrCursor(r, start, end); a.next(); ) {
 *     switch (a.type) {
 *       case CTA_MARK: ct.mark = getU32be(r, a.p, a.n, 'CTA_MARK'); break;
 *       default: ct.unknown = keepUnknown(ct.unknown, r, a.off, a.len);
 *     }
 *   }
 *
 * next() validates the header (attrLen: NetlinkDecodeError with the attribute's offset
 * when it is short or overruns the nest) and steps by align4(nla_len), the last
 * attribute's padding being optional. Every step advances by at least NLA_HDRLEN bytes,
 * so a walk always terminates.
 *
 * Speed: the cursor is one small monomorphic class whose methods V8 inlines; when it does
 * not escape the decoding function (its fields are read, the object itself is never
 * stored or passed on) the allocation is removed by escape analysis, so the loop costs
 * what the hand-written `for (off...)` loops it replaced did (measured with
 * `npm run bench -- decode`, README "How it is built").
 */
import { NLA_HDRLEN } from './constants.js';
import { type Reader, attrLen, attrType, nextAttr } from './reader.js';

export class AttrCursor {
  /** Offset of the current attribute's header. */
  off = 0;
  /** Its validated nla_len (header included, padding excluded). */
  len = 0;
  /** Its type, NLA_F_NESTED / NLA_F_NET_BYTEORDER masked off. */
  type = 0;
  /** Offset of its payload (off + NLA_HDRLEN). */
  p = 0;
  /** Length of its payload (len - NLA_HDRLEN). */
  n = 0;
  private at: number;
  private readonly r: Reader;
  private readonly end: number;

  /** A walk over the attributes in [start, end) of `r`. */
  constructor(r: Reader, start: number, end: number) {
    this.r = r;
    this.at = start;
    this.end = end;
  }

  /** Move to the next attribute; false once the range is exhausted. */
  next(): boolean {
    const off = this.at;
    const end = this.end;
    if (off >= end) return false;
    const len = attrLen(this.r, off, end);
    this.off = off;
    this.len = len;
    this.type = attrType(this.r, off);
    this.p = off + NLA_HDRLEN;
    this.n = len - NLA_HDRLEN;
    this.at = nextAttr(off, len, end);
    return true;
  }
}
