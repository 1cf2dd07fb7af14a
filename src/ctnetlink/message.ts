/**
 * Whole messages: netlink control messages and every ctnetlink / ctnetlink_exp message,
 * decoded into the `Message` union of model.ts and encoded back.
 *
 *   nlmsghdr (16, host order) | nfgenmsg (4) | attributes ...      (nfnetlink messages)
 *   nlmsghdr (16, host order) | control payload                   (types < 0x10)
 *
 * Classification (kernel conventions; see protocol.md §3.9-3.11):
 * - Events have neither NLM_F_REQUEST nor NLM_F_MULTI: CT_NEW with NLM_F_CREATE|NLM_F_EXCL
 *   is 'new', other CT_NEW 'update', CT_DELETE 'destroy'; EXP_NEW 'new', EXP_DELETE 'destroy'.
 * - Type 0x0103 without NLM_F_REQUEST is an expectation per-CPU stats reply (the kernel
 *   answers IPCTNL_MSG_EXP_GET_STATS_CPU with the CTNETLINK subsystem id).
 */
import { Builder } from '../netlink/builder.js';
import {
  HOST_LITTLE_ENDIAN,
  NLM_F_CREATE,
  NLM_F_EXCL,
  NLM_F_MULTI,
  NLM_F_REQUEST,
  NLMSG_DONE,
  NLMSG_ERROR,
  NLMSG_HDRLEN,
  NLMSG_MIN_TYPE,
  NLMSG_NOOP,
  NLMSG_OVERRUN,
} from '../netlink/constants.js';
import { decodeDonePayload, decodeErrorPayload, encodeDonePayload, encodeErrorPayload } from '../netlink/control.js';
import { NetlinkDecodeError, rethrowIn } from '../netlink/errors.js';
import { keepUnknown, putUnknown, type RawAttribute } from '../netlink/attribute.js';
import { messageLen, nextMessage, readHeader, type NlMsgHeader } from '../netlink/message.js';
import { Reader, attrLen, getBytes, nextAttr } from '../netlink/reader.js';
import { NFNL_SUBSYS_CTNETLINK, NFNL_SUBSYS_CTNETLINK_EXP } from '../nfnetlink/constants.js';
import { NFGENMSG_LEN, msgTypeOf, readNfgenmsg, subsysOf } from '../nfnetlink/header.js';
import * as C from './constants.js';
import { Layout, decodeConntrack, encodeConntrack } from './conntrack.js';
import { decodeExpectation, encodeExpectation } from './expect.js';
import type { EventType, Message } from './model.js';
import {
  decodeCpuStats,
  decodeExpectCpuStats,
  decodeGlobalStats,
  encodeCpuStats,
  encodeExpectCpuStats,
  encodeGlobalStats,
} from './stats.js';

const CT_NAMES = ['IPCTNL_MSG_CT_NEW', 'IPCTNL_MSG_CT_GET', 'IPCTNL_MSG_CT_DELETE', 'IPCTNL_MSG_CT_GET_CTRZERO',
  'IPCTNL_MSG_CT_GET_STATS_CPU', 'IPCTNL_MSG_CT_GET_STATS', 'IPCTNL_MSG_CT_GET_DYING', 'IPCTNL_MSG_CT_GET_UNCONFIRMED'];
const EXP_NAMES = ['IPCTNL_MSG_EXP_NEW', 'IPCTNL_MSG_EXP_GET', 'IPCTNL_MSG_EXP_DELETE', 'IPCTNL_MSG_EXP_GET_STATS_CPU'];
const CONTROL_NAMES = ['NLMSG_0', 'NLMSG_NOOP', 'NLMSG_ERROR', 'NLMSG_DONE', 'NLMSG_OVERRUN'];

/** Kernel name of a message type: "IPCTNL_MSG_CT_NEW", "NLMSG_DONE", or "0x0a01". */
export function messageTypeName(type: number): string {
  if (type < NLMSG_MIN_TYPE) return CONTROL_NAMES[type] ?? `NLMSG_${type}`;
  const sub = subsysOf(type);
  const msg = msgTypeOf(type);
  if (sub === NFNL_SUBSYS_CTNETLINK && CT_NAMES[msg]) return CT_NAMES[msg]!;
  if (sub === NFNL_SUBSYS_CTNETLINK_EXP && EXP_NAMES[msg]) return EXP_NAMES[msg]!;
  return `0x${type.toString(16).padStart(4, '0')}`;
}

/**
 * Events carry sequence number 0 and neither NLM_F_REQUEST nor NLM_F_MULTI. The seq test
 * keeps a GET reply (which carries the request's seq, and lacks NLM_F_MULTI when the
 * requester's port id is 0) from being taken for an UPDATE event.
 */
function isEvent(flags: number, seq: number): boolean {
  return (flags & (NLM_F_REQUEST | NLM_F_MULTI)) === 0 && seq === 0;
}

function ctEvent(msg: number, flags: number, seq: number): EventType | undefined {
  if (!isEvent(flags, seq)) return undefined;
  if (msg === C.IPCTNL_MSG_CT_NEW) return flags & (NLM_F_CREATE | NLM_F_EXCL) ? 'new' : 'update';
  if (msg === C.IPCTNL_MSG_CT_DELETE) return 'destroy';
  return undefined;
}

/** Attribute layout of a conntrack message, from its header alone (decode and encode agree). */
function layoutOf(msg: number, flags: number, seq: number): Layout {
  if (!isEvent(flags, seq)) return Layout.Dump;
  if (msg === C.IPCTNL_MSG_CT_DELETE) return Layout.Destroy;
  if (msg === C.IPCTNL_MSG_CT_NEW) return Layout.Event;
  return Layout.Dump;
}

function rawAttrs(r: Reader, start: number, end: number): RawAttribute[] | undefined {
  let out: RawAttribute[] | undefined;
  for (let off = start; off < end; ) {
    const len = attrLen(r, off, end);
    out = keepUnknown(out, r, off, len);
    off = nextAttr(off, len, end);
  }
  return out;
}

function decodeBody(r: Reader, header: NlMsgHeader, off: number, end: number): Message {
  const type = header.type;
  const flags = header.flags;
  const p = off + NLMSG_HDRLEN;
  if (type < NLMSG_MIN_TYPE) {
    switch (type) {
      case NLMSG_ERROR: return { kind: 'error', header, error: decodeErrorPayload(r, flags, p, end) };
      case NLMSG_DONE: return { kind: 'done', header, done: decodeDonePayload(r, flags, p, end) };
      case NLMSG_NOOP: if (p === end) return { kind: 'noop', header }; break;
      case NLMSG_OVERRUN: if (p === end) return { kind: 'overrun', header }; break;
    }
    return { kind: 'other', header, payload: getBytes(r, p, end - p) };
  }
  const sub = subsysOf(type);
  const msg = msgTypeOf(type);
  const known =
    (sub === NFNL_SUBSYS_CTNETLINK && msg <= C.IPCTNL_MSG_CT_GET_UNCONFIRMED) ||
    (sub === NFNL_SUBSYS_CTNETLINK_EXP && msg <= C.IPCTNL_MSG_EXP_GET_STATS_CPU);
  if (!known) return { kind: 'other', header, payload: getBytes(r, p, end - p) };
  const nfgen = readNfgenmsg(r, p, end);
  const a = p + NFGENMSG_LEN;
  const request = (flags & NLM_F_REQUEST) !== 0;
  if (sub === NFNL_SUBSYS_CTNETLINK) {
    if (msg === C.IPCTNL_MSG_CT_GET_STATS_CPU && !request) {
      return { kind: 'stats-cpu', header, nfgen, stats: decodeCpuStats(r, nfgen.resId, a, end) };
    }
    if (msg === C.IPCTNL_MSG_CT_GET_STATS && !request) {
      return { kind: 'stats', header, nfgen, stats: decodeGlobalStats(r, a, end) };
    }
    if (msg === C.IPCTNL_MSG_CT_GET_CTRZERO && !request) {
      return { kind: 'expect-stats-cpu', header, nfgen, stats: decodeExpectCpuStats(r, nfgen.resId, a, end) };
    }
    if (msg === C.IPCTNL_MSG_CT_GET_STATS_CPU || msg === C.IPCTNL_MSG_CT_GET_STATS) {
      const unknown = rawAttrs(r, a, end);
      return unknown ? { kind: 'request', header, nfgen, unknown } : { kind: 'request', header, nfgen };
    }
    const conntrack = decodeConntrack(r, nfgen.family, a, end, layoutOf(msg, flags, header.seq));
    const event = ctEvent(msg, flags, header.seq);
    return event ? { kind: 'conntrack', header, nfgen, event, conntrack } : { kind: 'conntrack', header, nfgen, conntrack };
  }
  if (msg === C.IPCTNL_MSG_EXP_GET_STATS_CPU) {
    if (!request) return { kind: 'expect-stats-cpu', header, nfgen, stats: decodeExpectCpuStats(r, nfgen.resId, a, end) };
    const unknown = rawAttrs(r, a, end);
    return unknown ? { kind: 'request', header, nfgen, unknown } : { kind: 'request', header, nfgen };
  }
  const expect = decodeExpectation(r, nfgen.family, a, end);
  if (isEvent(flags, header.seq) && msg !== C.IPCTNL_MSG_EXP_GET) {
    return { kind: 'expect', header, nfgen, event: msg === C.IPCTNL_MSG_EXP_NEW ? 'new' : 'destroy', expect };
  }
  return { kind: 'expect', header, nfgen, expect };
}

/**
 * Decode the message at `off` (already length-checked to `len` bytes).
 * Throws NetlinkDecodeError whose path starts with the message type name.
 */
export function decodeMessageAt(r: Reader, off: number, len: number): Message {
  const header = readHeader(r, off);
  try {
    return decodeBody(r, header, off, off + len);
  } catch (e) {
    return rethrowIn(messageTypeName(header.type), e, off);
  }
}

/** Decode every message of one netlink datagram. `le`: byte order of its headers. */
export function decodeDatagram(bytes: Uint8Array, le: boolean = HOST_LITTLE_ENDIAN): Message[] {
  const r = new Reader(bytes, le);
  const out: Message[] = [];
  const end = bytes.length;
  for (let off = 0; off < end; ) {
    const len = messageLen(r, off, end);
    out.push(decodeMessageAt(r, off, len));
    off = nextMessage(off, len, end);
  }
  return out;
}

/** Decode a datagram that must hold exactly one message. */
export function decodeMessage(bytes: Uint8Array, le: boolean = HOST_LITTLE_ENDIAN): Message {
  const ms = decodeDatagram(bytes, le);
  if (ms.length !== 1) throw new NetlinkDecodeError(`expected one message, found ${ms.length}`, 0);
  return ms[0]!;
}

/** Append one message to the builder. */
export function encodeMessageInto(b: Builder, m: Message): void {
  const h = m.header;
  b.beginMessage(h.type, h.flags, h.seq, h.pid);
  switch (m.kind) {
    case 'error': encodeErrorPayload(b, m.error); break;
    case 'done': encodeDonePayload(b, m.done); break;
    case 'noop':
    case 'overrun': break;
    case 'other': b.putRaw(m.payload); break;
    default: {
      b.putNfgenmsg(m.nfgen.family, m.nfgen.version, m.nfgen.resId);
      switch (m.kind) {
        case 'conntrack': encodeConntrack(b, m.conntrack, layoutOf(msgTypeOf(h.type), h.flags, h.seq)); break;
        case 'expect': encodeExpectation(b, m.expect); break;
        case 'stats-cpu': encodeCpuStats(b, m.stats); break;
        case 'stats': encodeGlobalStats(b, m.stats); break;
        case 'expect-stats-cpu': encodeExpectCpuStats(b, m.stats); break;
        case 'request': putUnknown(b, m.unknown); break;
      }
    }
  }
  // An opaque payload keeps its exact length (nlmsg_len may be unaligned).
  b.endMessage(m.kind === 'other');
}

/** Encode messages into one datagram. */
export function encodeMessages(ms: readonly Message[], le: boolean = HOST_LITTLE_ENDIAN): Uint8Array {
  const b = new Builder(512, le);
  for (const m of ms) encodeMessageInto(b, m);
  return b.finish();
}

export function encodeMessage(m: Message, le: boolean = HOST_LITTLE_ENDIAN): Uint8Array {
  return encodeMessages([m], le);
}
