/**
 * ctnetlink (NFNL_SUBSYS_CTNETLINK = 1) and ctnetlink-exp (NFNL_SUBSYS_CTNETLINK_EXP = 2)
 * as nfnetlink subsystems: which message types they know, how the attributes after
 * nfgenmsg decode into the `Message` kinds of model.ts, and back. Both register themselves
 * in the shared registry (nfnetlink/registry.ts) when this module is imported.
 *
 * Classification (kernel conventions; see protocol.md §3.9-3.11), decided here, once:
 * - Events have neither NLM_F_REQUEST nor NLM_F_MULTI and seq 0: CT_NEW with
 *   NLM_F_CREATE|NLM_F_EXCL is 'new', other CT_NEW 'update', CT_DELETE 'destroy';
 *   EXP_NEW 'new', EXP_DELETE 'destroy'.
 * - Type 0x0103 without NLM_F_REQUEST is an expectation per-CPU stats reply (the kernel
 *   answers IPCTNL_MSG_EXP_GET_STATS_CPU with the CTNETLINK subsystem id).
 */
import { keepUnknown, putUnknown, type RawAttribute } from '../netlink/attribute.js';
import type { Builder } from '../netlink/builder.js';
import { NLM_F_CREATE, NLM_F_EXCL, NLM_F_MULTI, NLM_F_REQUEST } from '../netlink/constants.js';
import type { NlMsgHeader } from '../netlink/message.js';
import { type Reader, attrLen, nextAttr } from '../netlink/reader.js';
import { NFNL_SUBSYS_CTNETLINK, NFNL_SUBSYS_CTNETLINK_EXP } from '../nfnetlink/constants.js';
import { type NfGenMsg, msgTypeOf } from '../nfnetlink/header.js';
import { type NfnlSubsystem, NfnlRegistry, nfnlSubsystems } from '../nfnetlink/registry.js';
import * as C from './constants.js';
import { Layout, decodeConntrack, encodeConntrack } from './conntrack.js';
import { decodeExpectation, encodeExpectation } from './expect.js';
import { checkRequestFields } from './fields.js';
import type { CtnetlinkMessage, EventType } from './model.js';
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

function requestMessage(r: Reader, header: NlMsgHeader, nfgen: NfGenMsg, a: number, end: number): CtnetlinkMessage {
  const unknown = rawAttrs(r, a, end);
  return unknown ? { kind: 'request', header, nfgen, unknown } : { kind: 'request', header, nfgen };
}

function decodeCt(r: Reader, header: NlMsgHeader, nfgen: NfGenMsg, a: number, end: number): CtnetlinkMessage {
  const msg = msgTypeOf(header.type);
  const flags = header.flags;
  const request = (flags & NLM_F_REQUEST) !== 0;
  if (msg === C.IPCTNL_MSG_CT_GET_STATS_CPU && !request) {
    return { kind: 'stats-cpu', header, nfgen, stats: decodeCpuStats(r, nfgen.resId, a, end) };
  }
  if (msg === C.IPCTNL_MSG_CT_GET_STATS && !request) {
    return { kind: 'stats', header, nfgen, stats: decodeGlobalStats(r, a, end) };
  }
  if (msg === C.IPCTNL_MSG_CT_GET_CTRZERO && !request) {
    return { kind: 'expect-stats-cpu', header, nfgen, stats: decodeExpectCpuStats(r, nfgen.resId, a, end) };
  }
  if (msg === C.IPCTNL_MSG_CT_GET_STATS_CPU || msg === C.IPCTNL_MSG_CT_GET_STATS) return requestMessage(r, header, nfgen, a, end);
  const conntrack = decodeConntrack(r, nfgen.family, a, end, layoutOf(msg, flags, header.seq));
  const event = ctEvent(msg, flags, header.seq);
  return event ? { kind: 'conntrack', header, nfgen, event, conntrack } : { kind: 'conntrack', header, nfgen, conntrack };
}

function decodeExp(r: Reader, header: NlMsgHeader, nfgen: NfGenMsg, a: number, end: number): CtnetlinkMessage {
  const msg = msgTypeOf(header.type);
  if (msg === C.IPCTNL_MSG_EXP_GET_STATS_CPU) {
    if ((header.flags & NLM_F_REQUEST) === 0) {
      return { kind: 'expect-stats-cpu', header, nfgen, stats: decodeExpectCpuStats(r, nfgen.resId, a, end) };
    }
    return requestMessage(r, header, nfgen, a, end);
  }
  const expect = decodeExpectation(r, nfgen.family, a, end);
  if (isEvent(header.flags, header.seq) && msg !== C.IPCTNL_MSG_EXP_GET) {
    return { kind: 'expect', header, nfgen, event: msg === C.IPCTNL_MSG_EXP_NEW ? 'new' : 'destroy', expect };
  }
  return { kind: 'expect', header, nfgen, expect };
}

/** Both subsystems encode every ctnetlink kind (0x0103 carries an expectation stats reply). */
function encodeCtnetlink(b: Builder, m: CtnetlinkMessage): void {
  const h = m.header;
  switch (m.kind) {
    case 'conntrack': encodeConntrack(b, m.conntrack, layoutOf(msgTypeOf(h.type), h.flags, h.seq)); break;
    case 'expect': encodeExpectation(b, m.expect); break;
    case 'stats-cpu': encodeCpuStats(b, m.stats); break;
    case 'stats': encodeGlobalStats(b, m.stats); break;
    case 'expect-stats-cpu': encodeExpectCpuStats(b, m.stats); break;
    case 'request': putUnknown(b, m.unknown); break;
  }
}

function classify(m: CtnetlinkMessage): EventType | undefined {
  return m.kind === 'conntrack' || m.kind === 'expect' ? m.event : undefined;
}

export const CTNETLINK: NfnlSubsystem<CtnetlinkMessage> = {
  id: NFNL_SUBSYS_CTNETLINK,
  name: 'ctnetlink',
  kinds: ['conntrack', 'stats-cpu', 'stats', 'expect-stats-cpu', 'request', 'expect'],
  knows: (msg) => msg <= C.IPCTNL_MSG_CT_GET_UNCONFIRMED,
  typeName: (msg) => CT_NAMES[msg],
  decode: decodeCt,
  encode: encodeCtnetlink,
  checkRequest: checkRequestFields,
  classify,
};

export const CTNETLINK_EXP: NfnlSubsystem<CtnetlinkMessage> = {
  id: NFNL_SUBSYS_CTNETLINK_EXP,
  name: 'ctnetlink_exp',
  kinds: ['expect'],
  knows: (msg) => msg <= C.IPCTNL_MSG_EXP_GET_STATS_CPU,
  typeName: (msg) => EXP_NAMES[msg],
  decode: decodeExp,
  encode: encodeCtnetlink,
  checkRequest: checkRequestFields,
  classify,
};

/** The registry decodeDatagram uses: ctnetlink and ctnetlink-exp only (others stay raw). */
export const CTNETLINK_REGISTRY = new NfnlRegistry<CtnetlinkMessage>().register(CTNETLINK).register(CTNETLINK_EXP);

nfnlSubsystems.register(CTNETLINK).register(CTNETLINK_EXP);
