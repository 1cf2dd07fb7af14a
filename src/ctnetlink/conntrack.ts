/**
 * A conntrack message body: the top-level attributes (enum ctattr_type) after nfgenmsg.
 *
 * Attribute order. The kernel emits attributes in a fixed order that depends on the
 * message kind (ctnetlink_fill_info for dumps and GET replies, ctnetlink_conntrack_event
 * for NEW/UPDATE and for DESTROY). The encoder writes that order, so kernel messages
 * re-encode byte for byte. When a decoded message deviates from it (requests built by
 * other tools, future kernels placing a new attribute mid-message), the decoder records
 * the order it saw in `attrOrder` and the encoder reproduces it. Checking is one table
 * lookup per attribute; the order is only collected on the rare deviating message.
 *
 * Decoding keeps the last of duplicated attributes; a zero-length top-level type 3 is the
 * CTA_TIMESTAMP_EVENT alignment pad (it reuses CTA_TIMESTAMP_PAD = 3) and is skipped.
 */
import { keepUnknown, putUnknown } from '../netlink/attribute.js';
import { NLA_HDRLEN } from '../netlink/constants.js';
import type { Builder } from '../netlink/builder.js';
import { NetlinkDecodeError, rethrowIn } from '../netlink/errors.js';
import {
  type Reader,
  attrLen,
  attrType,
  getBytes,
  getStringz,
  getU16be,
  getU32be,
  getU64be,
  nextAttr,
} from '../netlink/reader.js';
import * as C from './constants.js';
import type { Conntrack } from './model.js';
import {
  decodeCounters,
  decodeFilter,
  decodeHelper,
  decodeNat,
  decodeProtoInfo,
  decodeSeqAdj,
  decodeSynproxy,
  decodeTimestamps,
  encodeCounters,
  encodeFilter,
  encodeHelper,
  encodeNat,
  encodeProtoInfo,
  encodeSeqAdj,
  encodeSynproxy,
  encodeTimestamps,
} from './nests.js';
import { decodeTuple, encodeTuple } from './tuple.js';

/** Which kernel function's attribute order a message follows. */
export const enum Layout {
  /** ctnetlink_fill_info: dumps, GET replies; also used for requests. */
  Dump = 0,
  /** ctnetlink_conntrack_event, NEW/UPDATE branch. */
  Event = 1,
  /** ctnetlink_conntrack_event, DESTROY branch. */
  Destroy = 2,
}

const REQUEST_ONLY = [C.CTA_NAT_SRC, C.CTA_NAT_DST, C.CTA_MARK_MASK, C.CTA_LABELS_MASK, C.CTA_STATUS_MASK, C.CTA_FILTER];

const ORDERS: readonly (readonly number[])[] = [
  [
    C.CTA_TUPLE_ORIG, C.CTA_TUPLE_REPLY, C.CTA_ZONE, C.CTA_STATUS, C.CTA_MARK, C.CTA_SECCTX, C.CTA_ID, C.CTA_USE,
    C.CTA_TUPLE_MASTER, C.CTA_TIMEOUT, C.CTA_PROTOINFO, C.CTA_COUNTERS_ORIG, C.CTA_COUNTERS_REPLY, C.CTA_TIMESTAMP,
    C.CTA_HELP, C.CTA_LABELS, C.CTA_SEQ_ADJ_ORIG, C.CTA_SEQ_ADJ_REPLY, C.CTA_SYNPROXY, C.CTA_SECMARK,
    C.CTA_TIMESTAMP_EVENT, ...REQUEST_ONLY,
  ],
  [
    C.CTA_TUPLE_ORIG, C.CTA_TUPLE_REPLY, C.CTA_ZONE, C.CTA_ID, C.CTA_STATUS, C.CTA_TIMEOUT, C.CTA_PROTOINFO,
    C.CTA_HELP, C.CTA_SECCTX, C.CTA_LABELS, C.CTA_TUPLE_MASTER, C.CTA_SEQ_ADJ_ORIG, C.CTA_SEQ_ADJ_REPLY,
    C.CTA_SYNPROXY, C.CTA_MARK, C.CTA_TIMESTAMP_EVENT, C.CTA_USE, C.CTA_COUNTERS_ORIG, C.CTA_COUNTERS_REPLY,
    C.CTA_TIMESTAMP, C.CTA_SECMARK, ...REQUEST_ONLY,
  ],
  [
    C.CTA_TUPLE_ORIG, C.CTA_TUPLE_REPLY, C.CTA_ZONE, C.CTA_ID, C.CTA_STATUS, C.CTA_TIMEOUT, C.CTA_COUNTERS_ORIG,
    C.CTA_COUNTERS_REPLY, C.CTA_TIMESTAMP, C.CTA_PROTOINFO, C.CTA_MARK, C.CTA_TIMESTAMP_EVENT, C.CTA_USE,
    C.CTA_SECCTX, C.CTA_HELP, C.CTA_LABELS, C.CTA_TUPLE_MASTER, C.CTA_SEQ_ADJ_ORIG, C.CTA_SEQ_ADJ_REPLY,
    C.CTA_SYNPROXY, C.CTA_SECMARK, ...REQUEST_ONLY,
  ],
];

const KNOWN_MAX = C.CTA_TIMESTAMP_EVENT;
const UNKNOWN_RANK = 1000;

/** RANKS[layout][type]: position of a known type in that layout's order. */
const RANKS: readonly Int16Array[] = ORDERS.map((order) => {
  const rank = new Int16Array(KNOWN_MAX + 1).fill(UNKNOWN_RANK);
  order.forEach((t, i) => (rank[t] = i));
  return rank;
});

function rankOf(layout: Layout, type: number): number {
  return type <= KNOWN_MAX ? RANKS[layout]![type]! : UNKNOWN_RANK;
}

/** Top-level attribute names by type, made on first use (only error messages need them: start-up, issue 14). */
let NAMES: Record<number, string> | undefined;

/** Kernel name of a top-level conntrack attribute type ("CTA_MARK"), or "type N". */
export function ctaName(type: number): string {
  NAMES ??= Object.fromEntries(
    Object.entries(C)
      .filter(([k, v]) => /^CTA_[A-Z_]+$/.test(k) && typeof v === 'number' && v >= 1 && v <= KNOWN_MAX && !/^CTA_(TUPLE_IP|TUPLE_PROTO|TUPLE_ZONE|IP_|PROTO_|PROTOINFO_|COUNTERS_P|COUNTERS_B|COUNTERS32|COUNTERS_PAD|TIMESTAMP_START|TIMESTAMP_STOP|TIMESTAMP_PAD|NAT_V|NAT_PROTO|PROTONAT|SEQADJ|SYNPROXY_|HELP_|SECCTX_|FILTER_|STATS|EXPECT|NAT_SEQ)/.test(k))
      .map(([k, v]) => [v as number, k]),
  );
  return NAMES[type] ?? `attribute type ${type}`;
}

function decodeNested<T>(name: string, off: number, fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    return rethrowIn(name, e, off);
  }
}

/** Decode the attributes in [start, end) of a conntrack message. */
export function decodeConntrack(r: Reader, family: number, start: number, end: number, layout: Layout): Conntrack {
  const ct: Conntrack = { family };
  let last = -1;
  let canonical = true;
  for (let off = start; off < end; ) {
    const len = attrLen(r, off, end);
    const p = off + NLA_HDRLEN;
    const n = len - NLA_HDRLEN;
    const type = attrType(r, off);
    if (type === C.CTA_STATUS && n === 0) {
      off = nextAttr(off, len, end);
      continue;
    }
    const rank = rankOf(layout, type);
    if (rank <= last && rank !== UNKNOWN_RANK) canonical = false;
    else if (rank < last) canonical = false;
    last = rank;
    switch (type) {
      case C.CTA_TUPLE_ORIG: ct.orig = decodeNested('CTA_TUPLE_ORIG', off, () => decodeTuple(r, p, p + n)); break;
      case C.CTA_TUPLE_REPLY: ct.reply = decodeNested('CTA_TUPLE_REPLY', off, () => decodeTuple(r, p, p + n)); break;
      case C.CTA_TUPLE_MASTER: ct.master = decodeNested('CTA_TUPLE_MASTER', off, () => decodeTuple(r, p, p + n)); break;
      case C.CTA_STATUS: ct.status = getU32be(r, p, n, 'CTA_STATUS'); break;
      case C.CTA_PROTOINFO: ct.protoinfo = decodeNested('CTA_PROTOINFO', off, () => decodeProtoInfo(r, p, p + n)); break;
      case C.CTA_HELP: ct.helper = decodeNested('CTA_HELP', off, () => decodeHelper(r, p, p + n)); break;
      case C.CTA_NAT_SRC: ct.natSrc = decodeNested('CTA_NAT_SRC', off, () => decodeNat(r, p, p + n)); break;
      case C.CTA_NAT_DST: ct.natDst = decodeNested('CTA_NAT_DST', off, () => decodeNat(r, p, p + n)); break;
      case C.CTA_TIMEOUT: ct.timeout = getU32be(r, p, n, 'CTA_TIMEOUT'); break;
      case C.CTA_MARK: ct.mark = getU32be(r, p, n, 'CTA_MARK'); break;
      case C.CTA_COUNTERS_ORIG: ct.countersOrig = decodeNested('CTA_COUNTERS_ORIG', off, () => decodeCounters(r, p, p + n)); break;
      case C.CTA_COUNTERS_REPLY: ct.countersReply = decodeNested('CTA_COUNTERS_REPLY', off, () => decodeCounters(r, p, p + n)); break;
      case C.CTA_USE: ct.use = getU32be(r, p, n, 'CTA_USE'); break;
      case C.CTA_ID: ct.id = getU32be(r, p, n, 'CTA_ID'); break;
      case C.CTA_SEQ_ADJ_ORIG: ct.seqAdjOrig = decodeNested('CTA_SEQ_ADJ_ORIG', off, () => decodeSeqAdj(r, p, p + n)); break;
      case C.CTA_SEQ_ADJ_REPLY: ct.seqAdjReply = decodeNested('CTA_SEQ_ADJ_REPLY', off, () => decodeSeqAdj(r, p, p + n)); break;
      case C.CTA_SECMARK: ct.secmark = getU32be(r, p, n, 'CTA_SECMARK'); break;
      case C.CTA_ZONE: ct.zone = getU16be(r, p, n, 'CTA_ZONE'); break;
      case C.CTA_SECCTX:
        decodeNested('CTA_SECCTX', off, () => {
          for (let o2 = p; o2 < p + n; ) {
            const l2 = attrLen(r, o2, p + n);
            if (attrType(r, o2) === C.CTA_SECCTX_NAME) ct.secctx = getStringz(r, o2 + NLA_HDRLEN, l2 - NLA_HDRLEN, 'CTA_SECCTX_NAME');
            else ct.secctxUnknown = keepUnknown(ct.secctxUnknown, r, o2, l2);
            o2 = nextAttr(o2, l2, p + n);
          }
        });
        if (ct.secctx === undefined && ct.secctxUnknown === undefined) ct.secctxUnknown = [];
        break;
      case C.CTA_TIMESTAMP: ct.timestamp = decodeNested('CTA_TIMESTAMP', off, () => decodeTimestamps(r, p, p + n)); break;
      case C.CTA_MARK_MASK: ct.markMask = getU32be(r, p, n, 'CTA_MARK_MASK'); break;
      case C.CTA_LABELS: ct.labels = getBytes(r, p, n); break;
      case C.CTA_LABELS_MASK: ct.labelsMask = getBytes(r, p, n); break;
      case C.CTA_SYNPROXY: ct.synproxy = decodeNested('CTA_SYNPROXY', off, () => decodeSynproxy(r, p, p + n)); break;
      case C.CTA_FILTER: ct.filter = decodeNested('CTA_FILTER', off, () => decodeFilter(r, p, p + n)); break;
      case C.CTA_STATUS_MASK: ct.statusMask = getU32be(r, p, n, 'CTA_STATUS_MASK'); break;
      case C.CTA_TIMESTAMP_EVENT: ct.eventTimestamp = getU64be(r, p, n, 'CTA_TIMESTAMP_EVENT'); break;
      default: ct.unknown = keepUnknown(ct.unknown, r, off, len);
    }
    off = nextAttr(off, len, end);
  }
  if (!canonical) recordOrder(r, ct, start, end, layout);
  return ct;
}

/** Slow path: keep the order of a message that does not follow the layout. */
function recordOrder(r: Reader, ct: Conntrack, start: number, end: number, layout: Layout): void {
  const order: number[] = [];
  let seen = 0;
  for (let off = start; off < end; ) {
    const len = attrLen(r, off, end);
    const type = attrType(r, off);
    off = nextAttr(off, len, end);
    if (type === C.CTA_STATUS && len === 4) continue;
    if (type >= 1 && type <= KNOWN_MAX) {
      if (seen & (1 << type)) continue;
      seen |= 1 << type;
    }
    order.push(type);
  }
  let last = -1;
  for (const t of order) {
    const rank = rankOf(layout, t);
    if (rank < last) {
      ct.attrOrder = order;
      return;
    }
    last = rank;
  }
}

function emit(b: Builder, ct: Conntrack, type: number): void {
  switch (type) {
    case C.CTA_TUPLE_ORIG: if (ct.orig) encodeTuple(b, type, ct.orig, 'CTA_TUPLE_ORIG'); break;
    case C.CTA_TUPLE_REPLY: if (ct.reply) encodeTuple(b, type, ct.reply, 'CTA_TUPLE_REPLY'); break;
    case C.CTA_TUPLE_MASTER: if (ct.master) encodeTuple(b, type, ct.master, 'CTA_TUPLE_MASTER'); break;
    case C.CTA_STATUS: if (ct.status !== undefined) b.putU32be(type, ct.status); break;
    case C.CTA_PROTOINFO: if (ct.protoinfo) encodeProtoInfo(b, ct.protoinfo); break;
    case C.CTA_HELP: if (ct.helper) encodeHelper(b, ct.helper); break;
    case C.CTA_NAT_SRC: if (ct.natSrc) encodeNat(b, type, ct.natSrc, 'CTA_NAT_SRC'); break;
    case C.CTA_NAT_DST: if (ct.natDst) encodeNat(b, type, ct.natDst, 'CTA_NAT_DST'); break;
    case C.CTA_TIMEOUT: if (ct.timeout !== undefined) b.putU32be(type, ct.timeout); break;
    case C.CTA_MARK: if (ct.mark !== undefined) b.putU32be(type, ct.mark); break;
    case C.CTA_COUNTERS_ORIG: if (ct.countersOrig) encodeCounters(b, type, ct.countersOrig); break;
    case C.CTA_COUNTERS_REPLY: if (ct.countersReply) encodeCounters(b, type, ct.countersReply); break;
    case C.CTA_USE: if (ct.use !== undefined) b.putU32be(type, ct.use); break;
    case C.CTA_ID: if (ct.id !== undefined) b.putU32be(type, ct.id); break;
    case C.CTA_SEQ_ADJ_ORIG: if (ct.seqAdjOrig) encodeSeqAdj(b, type, ct.seqAdjOrig); break;
    case C.CTA_SEQ_ADJ_REPLY: if (ct.seqAdjReply) encodeSeqAdj(b, type, ct.seqAdjReply); break;
    case C.CTA_SECMARK: if (ct.secmark !== undefined) b.putU32be(type, ct.secmark); break;
    case C.CTA_ZONE: if (ct.zone !== undefined) b.putU16be(type, ct.zone); break;
    case C.CTA_SECCTX:
      if (ct.secctx !== undefined || ct.secctxUnknown !== undefined) {
        const n = b.nestStart(type);
        if (ct.secctx !== undefined) b.putStringz(C.CTA_SECCTX_NAME, ct.secctx);
        putUnknown(b, ct.secctxUnknown);
        b.nestEnd(n);
      }
      break;
    case C.CTA_TIMESTAMP: if (ct.timestamp) encodeTimestamps(b, ct.timestamp); break;
    case C.CTA_MARK_MASK: if (ct.markMask !== undefined) b.putU32be(type, ct.markMask); break;
    case C.CTA_LABELS: if (ct.labels) b.putAttr(type, ct.labels); break;
    case C.CTA_LABELS_MASK: if (ct.labelsMask) b.putAttr(type, ct.labelsMask); break;
    case C.CTA_SYNPROXY: if (ct.synproxy) encodeSynproxy(b, ct.synproxy); break;
    case C.CTA_FILTER: if (ct.filter) encodeFilter(b, ct.filter); break;
    case C.CTA_STATUS_MASK: if (ct.statusMask !== undefined) b.putU32be(type, ct.statusMask); break;
    case C.CTA_TIMESTAMP_EVENT: if (ct.eventTimestamp !== undefined) b.putU64be(type, ct.eventTimestamp); break;
  }
}

/** Encode the attributes of a conntrack message in the layout's order (or ct.attrOrder). */
export function encodeConntrack(b: Builder, ct: Conntrack, layout: Layout): void {
  const order = ct.attrOrder;
  if (order === undefined) {
    for (const type of ORDERS[layout]!) emit(b, ct, type);
    putUnknown(b, ct.unknown);
    return;
  }
  let done = 0;
  let u = 0;
  const unknown = ct.unknown ?? [];
  for (const type of order) {
    if (type >= 1 && type <= KNOWN_MAX) {
      if (done & (1 << type)) continue;
      done |= 1 << type;
      emit(b, ct, type);
    } else if (u < unknown.length) {
      const a = unknown[u++]!;
      b.putAttr(a.type, a.data);
    }
  }
  for (const type of ORDERS[layout]!) if (!(done & (1 << type))) emit(b, ct, type);
  for (; u < unknown.length; u++) b.putAttr(unknown[u]!.type, unknown[u]!.data);
}

export { NetlinkDecodeError };
