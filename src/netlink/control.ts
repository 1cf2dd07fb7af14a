/**
 * Netlink control messages: NLMSG_ERROR (an ACK when error is 0) and NLMSG_DONE, with
 * their extended-ACK TLVs.
 *
 *   NLMSG_ERROR payload (struct nlmsgerr), host order:
 *   +-------------+----------------------------+---------------------------+------------+
 *   | error (s32) | echoed request nlmsghdr    | echoed request payload    | ext-ack    |
 *   |             | (16 bytes)                 | unless NLM_F_CAPPED,      | TLVs if    |
 *   |             |                            | padded to 4               | ACK_TLVS   |
 *   +-------------+----------------------------+---------------------------+------------+
 *   NLMSG_DONE payload: s32 status (0 or -errno), then TLVs if NLM_F_ACK_TLVS.
 *
 * TLVs (enum nlmsgerr_attrs) are struct nlattr in host order; integers in them are host
 * order too. NLMSGERR_ATTR_POLICY nests NL_POLICY_TYPE_ATTR_* describing the violated
 * policy.
 */
import { type RawAttribute, keepUnknown, putUnknown } from './attribute.js';
import type { Builder } from './builder.js';
import {
  NLM_F_ACK_TLVS,
  NLM_F_CAPPED,
  NLA_HDRLEN,
  NLMSG_HDRLEN,
  NLMSGERR_ATTR_COOKIE,
  NLMSGERR_ATTR_MISS_NEST,
  NLMSGERR_ATTR_MISS_TYPE,
  NLMSGERR_ATTR_MSG,
  NLMSGERR_ATTR_OFFS,
  NLMSGERR_ATTR_POLICY,
  align4,
} from './constants.js';
import { NetlinkDecodeError, rethrowIn } from './errors.js';
import { type NlMsgHeader, readHeader } from './message.js';
import { type Reader, attrLen, attrType, getBytes, getStringz, getU32host, nextAttr } from './reader.js';

// enum netlink_policy_type_attr
export const NL_POLICY_TYPE_ATTR_TYPE = 1;
export const NL_POLICY_TYPE_ATTR_MIN_VALUE_S = 2;
export const NL_POLICY_TYPE_ATTR_MAX_VALUE_S = 3;
export const NL_POLICY_TYPE_ATTR_MIN_VALUE_U = 4;
export const NL_POLICY_TYPE_ATTR_MAX_VALUE_U = 5;
export const NL_POLICY_TYPE_ATTR_MIN_LENGTH = 6;
export const NL_POLICY_TYPE_ATTR_MAX_LENGTH = 7;
export const NL_POLICY_TYPE_ATTR_POLICY_IDX = 8;
export const NL_POLICY_TYPE_ATTR_POLICY_MAXTYPE = 9;
export const NL_POLICY_TYPE_ATTR_BITFIELD32_MASK = 10;
export const NL_POLICY_TYPE_ATTR_PAD = 11;
export const NL_POLICY_TYPE_ATTR_MASK = 12;

/** The violated policy (NLMSGERR_ATTR_POLICY); `type` is enum netlink_attribute_type. */
export interface PolicyInfo {
  type?: number;
  minValueS?: bigint;
  maxValueS?: bigint;
  minValueU?: bigint;
  maxValueU?: bigint;
  minLength?: number;
  maxLength?: number;
  policyIdx?: number;
  policyMaxType?: number;
  bitfield32Mask?: number;
  mask?: bigint;
  unknown?: RawAttribute[];
}

export interface ExtAck {
  /** Human-readable reason (NLMSGERR_ATTR_MSG). */
  message?: string;
  /** Offset of the offending attribute from the start of the request's nlmsghdr. */
  offset?: number;
  cookie?: Uint8Array;
  policy?: PolicyInfo;
  /** Type of a required attribute that was missing. */
  missingType?: number;
  /** Offset of the nest in which it was missing. */
  missingNest?: number;
  unknown?: RawAttribute[];
}

/** NLMSG_ERROR: an ACK (error 0) or a failure (negative errno). */
export interface ErrorPayload {
  /** 0 for an ACK, otherwise a negative errno. */
  error: number;
  /** The echoed request header, its nlmsg_len included. */
  request: NlMsgHeader & { len: number };
  /** The echoed request payload: absent when the kernel capped the echo. */
  requestPayload?: Uint8Array;
  extAck?: ExtAck;
}

export interface DonePayload {
  /** 0, or a negative errno when a dump failed. */
  error: number;
  extAck?: ExtAck;
}

function s64(r: Reader, p: number, n: number, name: string): bigint {
  if (n !== 8) throw new NetlinkDecodeError(`expected 8-byte payload, got ${n} bytes`, p - NLA_HDRLEN, [name]);
  return r.view.getBigInt64(p, r.le);
}

function u64(r: Reader, p: number, n: number, name: string): bigint {
  if (n !== 8) throw new NetlinkDecodeError(`expected 8-byte payload, got ${n} bytes`, p - NLA_HDRLEN, [name]);
  return r.view.getBigUint64(p, r.le);
}

function decodePolicy(r: Reader, start: number, end: number): PolicyInfo {
  const pol: PolicyInfo = {};
  for (let off = start; off < end; ) {
    const len = attrLen(r, off, end);
    const p = off + NLA_HDRLEN;
    const n = len - NLA_HDRLEN;
    switch (attrType(r, off)) {
      case NL_POLICY_TYPE_ATTR_TYPE: pol.type = getU32host(r, p, n, 'NL_POLICY_TYPE_ATTR_TYPE'); break;
      case NL_POLICY_TYPE_ATTR_MIN_VALUE_S: pol.minValueS = s64(r, p, n, 'NL_POLICY_TYPE_ATTR_MIN_VALUE_S'); break;
      case NL_POLICY_TYPE_ATTR_MAX_VALUE_S: pol.maxValueS = s64(r, p, n, 'NL_POLICY_TYPE_ATTR_MAX_VALUE_S'); break;
      case NL_POLICY_TYPE_ATTR_MIN_VALUE_U: pol.minValueU = u64(r, p, n, 'NL_POLICY_TYPE_ATTR_MIN_VALUE_U'); break;
      case NL_POLICY_TYPE_ATTR_MAX_VALUE_U: pol.maxValueU = u64(r, p, n, 'NL_POLICY_TYPE_ATTR_MAX_VALUE_U'); break;
      case NL_POLICY_TYPE_ATTR_MIN_LENGTH: pol.minLength = getU32host(r, p, n, 'NL_POLICY_TYPE_ATTR_MIN_LENGTH'); break;
      case NL_POLICY_TYPE_ATTR_MAX_LENGTH: pol.maxLength = getU32host(r, p, n, 'NL_POLICY_TYPE_ATTR_MAX_LENGTH'); break;
      case NL_POLICY_TYPE_ATTR_POLICY_IDX: pol.policyIdx = getU32host(r, p, n, 'NL_POLICY_TYPE_ATTR_POLICY_IDX'); break;
      case NL_POLICY_TYPE_ATTR_POLICY_MAXTYPE: pol.policyMaxType = getU32host(r, p, n, 'NL_POLICY_TYPE_ATTR_POLICY_MAXTYPE'); break;
      case NL_POLICY_TYPE_ATTR_BITFIELD32_MASK: pol.bitfield32Mask = getU32host(r, p, n, 'NL_POLICY_TYPE_ATTR_BITFIELD32_MASK'); break;
      case NL_POLICY_TYPE_ATTR_MASK: pol.mask = u64(r, p, n, 'NL_POLICY_TYPE_ATTR_MASK'); break;
      case NL_POLICY_TYPE_ATTR_PAD: if (n !== 0) pol.unknown = keepUnknown(pol.unknown, r, off, len); break;
      default: pol.unknown = keepUnknown(pol.unknown, r, off, len);
    }
    off = nextAttr(off, len, end);
  }
  return pol;
}

function encodePolicy(b: Builder, pol: PolicyInfo): void {
  const i64 = (t: number, v: bigint, signed: boolean) => {
    const d = new Uint8Array(8);
    const dv = new DataView(d.buffer);
    if (signed) dv.setBigInt64(0, BigInt.asIntN(64, v), b.le);
    else dv.setBigUint64(0, BigInt.asUintN(64, v), b.le);
    b.putAttr(t, d);
  };
  // Kernel order (__netlink_policy_dump_write_attr): the type-specific attributes first,
  // NL_POLICY_TYPE_ATTR_TYPE last.
  if (pol.minValueS !== undefined) i64(NL_POLICY_TYPE_ATTR_MIN_VALUE_S, pol.minValueS, true);
  if (pol.maxValueS !== undefined) i64(NL_POLICY_TYPE_ATTR_MAX_VALUE_S, pol.maxValueS, true);
  if (pol.minValueU !== undefined) i64(NL_POLICY_TYPE_ATTR_MIN_VALUE_U, pol.minValueU, false);
  if (pol.maxValueU !== undefined) i64(NL_POLICY_TYPE_ATTR_MAX_VALUE_U, pol.maxValueU, false);
  if (pol.minLength !== undefined) b.putU32host(NL_POLICY_TYPE_ATTR_MIN_LENGTH, pol.minLength);
  if (pol.maxLength !== undefined) b.putU32host(NL_POLICY_TYPE_ATTR_MAX_LENGTH, pol.maxLength);
  if (pol.policyIdx !== undefined) b.putU32host(NL_POLICY_TYPE_ATTR_POLICY_IDX, pol.policyIdx);
  if (pol.policyMaxType !== undefined) b.putU32host(NL_POLICY_TYPE_ATTR_POLICY_MAXTYPE, pol.policyMaxType);
  if (pol.bitfield32Mask !== undefined) b.putU32host(NL_POLICY_TYPE_ATTR_BITFIELD32_MASK, pol.bitfield32Mask);
  if (pol.mask !== undefined) i64(NL_POLICY_TYPE_ATTR_MASK, pol.mask, false);
  if (pol.type !== undefined) b.putU32host(NL_POLICY_TYPE_ATTR_TYPE, pol.type);
  putUnknown(b, pol.unknown);
}

/** Decode the ext-ack TLVs in [start, end). */
export function decodeExtAck(r: Reader, start: number, end: number): ExtAck {
  const ack: ExtAck = {};
  for (let off = start; off < end; ) {
    const len = attrLen(r, off, end);
    const p = off + NLA_HDRLEN;
    const n = len - NLA_HDRLEN;
    switch (attrType(r, off)) {
      case NLMSGERR_ATTR_MSG: ack.message = getStringz(r, p, n, 'NLMSGERR_ATTR_MSG'); break;
      case NLMSGERR_ATTR_OFFS: ack.offset = getU32host(r, p, n, 'NLMSGERR_ATTR_OFFS'); break;
      case NLMSGERR_ATTR_COOKIE: ack.cookie = getBytes(r, p, n); break;
      case NLMSGERR_ATTR_POLICY:
        try {
          ack.policy = decodePolicy(r, p, p + n);
        } catch (e) {
          rethrowIn('NLMSGERR_ATTR_POLICY', e, off);
        }
        break;
      case NLMSGERR_ATTR_MISS_TYPE: ack.missingType = getU32host(r, p, n, 'NLMSGERR_ATTR_MISS_TYPE'); break;
      case NLMSGERR_ATTR_MISS_NEST: ack.missingNest = getU32host(r, p, n, 'NLMSGERR_ATTR_MISS_NEST'); break;
      default: ack.unknown = keepUnknown(ack.unknown, r, off, len);
    }
    off = nextAttr(off, len, end);
  }
  return ack;
}

export function encodeExtAck(b: Builder, ack: ExtAck): void {
  // Kernel order (netlink_ack_tlv_fill): MSG, COOKIE, then for errors OFFS, POLICY,
  // MISS_TYPE, MISS_NEST.
  if (ack.message !== undefined) b.putStringz(NLMSGERR_ATTR_MSG, ack.message);
  if (ack.cookie !== undefined) b.putAttr(NLMSGERR_ATTR_COOKIE, ack.cookie);
  if (ack.offset !== undefined) b.putU32host(NLMSGERR_ATTR_OFFS, ack.offset);
  if (ack.policy !== undefined) {
    const t = b.nestStart(NLMSGERR_ATTR_POLICY);
    encodePolicy(b, ack.policy);
    b.nestEnd(t);
  }
  if (ack.missingType !== undefined) b.putU32host(NLMSGERR_ATTR_MISS_TYPE, ack.missingType);
  if (ack.missingNest !== undefined) b.putU32host(NLMSGERR_ATTR_MISS_NEST, ack.missingNest);
  putUnknown(b, ack.unknown);
}

/** Decode an NLMSG_ERROR payload in [start, end); `flags` are the message's nlmsg_flags. */
export function decodeErrorPayload(r: Reader, flags: number, start: number, end: number): ErrorPayload {
  if (end - start < 4 + NLMSG_HDRLEN) {
    throw new NetlinkDecodeError(`NLMSG_ERROR payload of ${end - start} bytes is shorter than struct nlmsgerr (20)`, start, ['nlmsgerr']);
  }
  const error = r.view.getInt32(start, r.le);
  const h = start + 4;
  const request = { len: r.view.getUint32(h, r.le), ...readHeader(r, h) };
  const out: ErrorPayload = { error, request };
  let off = h + NLMSG_HDRLEN;
  if ((flags & NLM_F_CAPPED) === 0 && request.len > NLMSG_HDRLEN) {
    const echoed = request.len - NLMSG_HDRLEN;
    if (echoed > end - off) {
      throw new NetlinkDecodeError(`echoed request of ${request.len} bytes exceeds the message`, h, ['nlmsgerr']);
    }
    out.requestPayload = getBytes(r, off, echoed);
    off = Math.min(end, off + align4(echoed));
  }
  if ((flags & NLM_F_ACK_TLVS) !== 0) {
    try {
      out.extAck = decodeExtAck(r, off, end);
    } catch (e) {
      rethrowIn('nlmsgerr ext-ack', e, off);
    }
  } else if (off < end) {
    throw new NetlinkDecodeError(`${end - off} unexpected bytes after struct nlmsgerr`, off, ['nlmsgerr']);
  }
  return out;
}

export function encodeErrorPayload(b: Builder, e: ErrorPayload): void {
  b.putRawU32host(e.error);
  const hdr = new Uint8Array(NLMSG_HDRLEN);
  const v = new DataView(hdr.buffer);
  v.setUint32(0, e.request.len >>> 0, b.le);
  v.setUint16(4, e.request.type, b.le);
  v.setUint16(6, e.request.flags, b.le);
  v.setUint32(8, e.request.seq >>> 0, b.le);
  v.setUint32(12, e.request.pid >>> 0, b.le);
  b.putRaw(hdr);
  if (e.requestPayload !== undefined) b.putRaw(e.requestPayload);
  if (e.extAck !== undefined) encodeExtAck(b, e.extAck);
}

export function decodeDonePayload(r: Reader, flags: number, start: number, end: number): DonePayload {
  if (end === start) return { error: 0 };
  if (end - start < 4) {
    throw new NetlinkDecodeError(`NLMSG_DONE payload of ${end - start} bytes is shorter than its 4-byte status`, start, ['status']);
  }
  const out: DonePayload = { error: r.view.getInt32(start, r.le) };
  if ((flags & NLM_F_ACK_TLVS) !== 0) {
    try {
      out.extAck = decodeExtAck(r, start + 4, end);
    } catch (e) {
      rethrowIn('ext-ack', e, start + 4);
    }
  } else if (end > start + 4) {
    throw new NetlinkDecodeError(`${end - start - 4} unexpected bytes after the NLMSG_DONE status`, start + 4, ['status']);
  }
  return out;
}

export function encodeDonePayload(b: Builder, d: DonePayload): void {
  b.putRawU32host(d.error);
  if (d.extAck !== undefined) encodeExtAck(b, d.extAck);
}
