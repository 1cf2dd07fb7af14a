/**
 * Message builder: appends headers and attributes into one growable buffer and
 * back-patches nlmsg_len and nest lengths. Padding bytes are always written as zero.
 * It knows netlink only: family headers such as nfgenmsg are written by their layer
 * (nfnetlink/header.ts putNfgenmsg) with putRaw / putRawU16be.
 *
 * Header fields (nlmsghdr, nlattr) are written in the builder's byte order (host order
 * by default); payload helpers say their order in their name (U16be, U32be, U32host...).
 *
 *   b.beginMessage(type, flags, seq, pid)   reserves the 16-byte nlmsghdr
 *   const n = b.nestStart(CTA_TUPLE_ORIG)   reserves an nlattr with NLA_F_NESTED
 *   b.putU32be(CTA_STATUS, 8)
 *   b.nestEnd(n)                            patches nla_len
 *   b.endMessage()                          patches nlmsg_len
 *   b.finish()                              the datagram (a copy)
 */
import { HOST_LITTLE_ENDIAN, NLA_F_NESTED, NLA_HDRLEN, NLMSG_HDRLEN, align4 } from './constants.js';
import { NetlinkEncodeError } from './errors.js';

const utf8 = new TextEncoder();

export class Builder {
  private buf: Uint8Array;
  private view: DataView;
  private len = 0;
  private msgStart = -1;
  /** Padding bytes written by the last reserve (see endMessage). */
  private tailPad = 0;
  readonly le: boolean;

  constructor(initialSize = 512, le: boolean = HOST_LITTLE_ENDIAN) {
    this.buf = new Uint8Array(initialSize);
    this.view = new DataView(this.buf.buffer);
    this.le = le;
  }

  get length(): number {
    return this.len;
  }

  /** Reserve `n` bytes (plus zeroed padding to 4) and return their offset. */
  private reserve(n: number): number {
    const off = this.len;
    const total = align4(n);
    if (off + total > this.buf.length) {
      let size = this.buf.length * 2;
      while (size < off + total) size *= 2;
      const next = new Uint8Array(size);
      next.set(this.buf.subarray(0, off));
      this.buf = next;
      this.view = new DataView(next.buffer);
    }
    this.buf.fill(0, off + n, off + total);
    this.len = off + total;
    this.tailPad = total - n;
    return off;
  }

  beginMessage(type: number, flags: number, seq: number, pid: number): void {
    if (this.msgStart >= 0) throw new NetlinkEncodeError('beginMessage inside an open message');
    const off = this.reserve(NLMSG_HDRLEN);
    this.msgStart = off;
    const v = this.view;
    v.setUint32(off, 0, this.le);
    v.setUint16(off + 4, type, this.le);
    v.setUint16(off + 6, flags, this.le);
    v.setUint32(off + 8, seq >>> 0, this.le);
    v.setUint32(off + 12, pid >>> 0, this.le);
  }

  /**
   * Patch nlmsg_len. It counts attribute padding, as the kernel's does; with
   * `exact` the padding of the last thing put (raw bytes of an opaque payload) is left
   * out, so that a payload of any length keeps its length on the wire.
   */
  endMessage(exact = false): void {
    if (this.msgStart < 0) throw new NetlinkEncodeError('endMessage without beginMessage');
    const pad = exact && this.len > this.msgStart + NLMSG_HDRLEN ? this.tailPad : 0;
    this.view.setUint32(this.msgStart, this.len - this.msgStart - pad, this.le);
    this.msgStart = -1;
  }

  /** Raw bytes inside the current message (e.g. nfgenmsg, struct nlmsgerr), padded to 4. */
  putRaw(bytes: Uint8Array): void {
    const off = this.reserve(bytes.length);
    this.buf.set(bytes, off);
  }

  /** Raw bytes of a fixed family header (e.g. struct nfgenmsg), padded to 4; returns their offset. */
  putStruct(bytes: ArrayLike<number>): number {
    const off = this.reserve(bytes.length);
    this.buf.set(bytes, off);
    return off;
  }

  /** A u32 in header byte order, not wrapped in an attribute (e.g. NLMSG_DONE's status). */
  putRawU32host(value: number): void {
    const off = this.reserve(4);
    this.view.setUint32(off, value >>> 0, this.le);
  }

  private attrHeader(type: number, payload: number): number {
    if (payload + NLA_HDRLEN > 0xffff) throw new NetlinkEncodeError(`attribute ${type} is too long (${payload} bytes)`);
    const off = this.reserve(NLA_HDRLEN + payload);
    this.view.setUint16(off, NLA_HDRLEN + payload, this.le);
    this.view.setUint16(off + 2, type, this.le);
    return off + NLA_HDRLEN;
  }

  /** An attribute whose raw type (flag bits included) and payload are given as is. */
  putAttr(rawType: number, payload: Uint8Array): void {
    const p = this.attrHeader(rawType, payload.length);
    this.buf.set(payload, p);
  }

  putEmpty(type: number): void {
    this.attrHeader(type, 0);
  }

  putU8(type: number, value: number): void {
    const p = this.attrHeader(type, 1);
    this.buf[p] = value;
  }

  putU16be(type: number, value: number): void {
    const p = this.attrHeader(type, 2);
    this.view.setUint16(p, value, false);
  }

  putU32be(type: number, value: number): void {
    const p = this.attrHeader(type, 4);
    this.view.setUint32(p, value >>> 0, false);
  }

  putU32host(type: number, value: number): void {
    const p = this.attrHeader(type, 4);
    this.view.setUint32(p, value >>> 0, this.le);
  }

  putU64be(type: number, value: bigint): void {
    const p = this.attrHeader(type, 8);
    this.view.setBigUint64(p, BigInt.asUintN(64, value), false);
  }

  /** Two raw bytes (struct nf_ct_tcp_flags {flags, mask}). */
  putU8Pair(type: number, a: number, b: number): void {
    const p = this.attrHeader(type, 2);
    this.buf[p] = a;
    this.buf[p + 1] = b;
  }

  putStringz(type: number, value: string): void {
    const s = utf8.encode(value);
    const p = this.attrHeader(type, s.length + 1);
    this.buf.set(s, p);
    this.buf[p + s.length] = 0;
  }

  /** Start a nest; returns a token for nestEnd. NLA_F_NESTED is set as the kernel does. */
  nestStart(type: number): number {
    const off = this.len;
    this.attrHeader(type | NLA_F_NESTED, 0);
    return off;
  }

  nestEnd(token: number): void {
    const len = this.len - token;
    if (len > 0xffff) throw new NetlinkEncodeError(`nest at ${token} is too long (${len} bytes)`);
    this.view.setUint16(token, len, this.le);
  }

  /** Drop a nest started with nestStart (and everything put into it). */
  nestCancel(token: number): void {
    this.len = token;
  }

  /** The bytes built so far, copied out; the builder is reset for reuse. */
  finish(): Uint8Array {
    if (this.msgStart >= 0) throw new NetlinkEncodeError('finish inside an open message');
    const out = this.buf.slice(0, this.len);
    this.len = 0;
    return out;
  }
}
