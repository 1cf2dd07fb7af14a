/**
 * Request messages, as models ready for encodeMessage(). seq and pid are left 0 for the
 * connection to fill in; NLM_F_ACK is added by the connection for non-dump requests.
 *
 *   dump          CT_GET | NLM_F_DUMP, optional filters (family, mark/mask,
 *                 status/mask, zone, CTA_FILTER with partial tuples)
 *   get           CT_GET by tuple (+ zone, + id)
 *   create        CT_NEW | NLM_F_CREATE | NLM_F_EXCL (without EXCL: create or update)
 *   update        CT_NEW without CREATE: changes timeout, mark, status, labels, ...
 *   delete        CT_DELETE by tuple (+ id that must match)
 *   flush         CT_DELETE without a tuple; version 1 limits it to nfgen_family
 *   get-and-zero  CT_GET_CTRZERO (one entry, or a dump)
 *   stats         CT_GET_STATS_CPU (dump), CT_GET_STATS
 *   dying/unconfirmed  CT_GET_DYING / CT_GET_UNCONFIRMED dumps
 *   expectations  EXP_GET dump (optionally of one master), EXP_GET_STATS_CPU
 */
import {
  NLM_F_CREATE,
  NLM_F_DUMP,
  NLM_F_EXCL,
  NLM_F_REQUEST,
} from '../netlink/constants.js';
import { NFNL_SUBSYS_CTNETLINK, NFNL_SUBSYS_CTNETLINK_EXP, AF_UNSPEC } from '../nfnetlink/constants.js';
import { nfType } from '../nfnetlink/header.js';
import * as C from './constants.js';
import type { Conntrack, Message, Tuple, TupleFilter } from './model.js';
import { checkCreate, checkDump, checkEntryKey, checkGet, checkExpectDump, checkFlush, checkListFamily, checkUpdate } from './validate.js';

/** Filters the kernel applies while dumping or flushing. */
export interface KernelFilter {
  /** 2 (AF_INET) or 10 (AF_INET6); 0 = all. */
  family?: number;
  mark?: number;
  /** Default 0xffffffff: (ct.mark & markMask) === mark. */
  markMask?: number;
  status?: number;
  /** Default: the status value itself. */
  statusMask?: number;
  zone?: number;
  /** Partial original tuple: every field present must match (CTA_FILTER). */
  orig?: Tuple;
  /** Partial reply tuple. */
  reply?: Tuple;
}

/** An entry's key for get and delete: one tuple (orig preferred), zone, id. */
export interface EntryKey {
  family: number;
  orig?: Tuple;
  reply?: Tuple;
  zone?: number;
  id?: number;
}

function ct(msg: number, flags: number, conntrack: Conntrack, version = 0): Message {
  return {
    kind: 'conntrack',
    header: { type: nfType(NFNL_SUBSYS_CTNETLINK, msg), flags: NLM_F_REQUEST | flags, seq: 0, pid: 0 },
    nfgen: { family: conntrack.family, version, resId: 0 },
    conntrack,
  };
}

/** CTA_FILTER_F_* bits for the fields present in a partial tuple. */
export function tupleFilterFlags(t: Tuple): number {
  let f = 0;
  if (t.src !== undefined) f |= C.CTA_FILTER_F_CTA_IP_SRC;
  if (t.dst !== undefined) f |= C.CTA_FILTER_F_CTA_IP_DST;
  if (t.zone !== undefined) f |= C.CTA_FILTER_F_CTA_TUPLE_ZONE;
  if (t.proto !== undefined) f |= C.CTA_FILTER_F_CTA_PROTO_NUM;
  if (t.srcPort !== undefined) f |= C.CTA_FILTER_F_CTA_PROTO_SRC_PORT;
  if (t.dstPort !== undefined) f |= C.CTA_FILTER_F_CTA_PROTO_DST_PORT;
  const v6 = t.proto === C.IPPROTO_ICMPV6;
  if (t.icmpType !== undefined) f |= v6 ? C.CTA_FILTER_F_CTA_PROTO_ICMPV6_TYPE : C.CTA_FILTER_F_CTA_PROTO_ICMP_TYPE;
  if (t.icmpCode !== undefined) f |= v6 ? C.CTA_FILTER_F_CTA_PROTO_ICMPV6_CODE : C.CTA_FILTER_F_CTA_PROTO_ICMP_CODE;
  if (t.icmpId !== undefined) f |= v6 ? C.CTA_FILTER_F_CTA_PROTO_ICMPV6_ID : C.CTA_FILTER_F_CTA_PROTO_ICMP_ID;
  return f;
}

function filterBody(f: KernelFilter | undefined): Conntrack {
  const body: Conntrack = { family: f?.family ?? AF_UNSPEC };
  if (!f) return body;
  if (f.mark !== undefined) {
    body.mark = f.mark;
    body.markMask = f.markMask ?? 0xffffffff;
  }
  if (f.status !== undefined) {
    body.status = f.status;
    body.statusMask = f.statusMask ?? f.status;
  }
  if (f.zone !== undefined) body.zone = f.zone;
  if (f.orig !== undefined || f.reply !== undefined) {
    const filter: TupleFilter = {};
    if (f.orig !== undefined) {
      body.orig = f.orig;
      filter.origFlags = tupleFilterFlags(f.orig);
    }
    if (f.reply !== undefined) {
      body.reply = f.reply;
      filter.replyFlags = tupleFilterFlags(f.reply);
    }
    body.filter = filter;
  }
  return body;
}

/** Dump the table (or only what the filter matches). `zero`: read and zero counters. */
export function dumpRequest(filter?: KernelFilter, opts: { zero?: boolean } = {}): Message {
  checkDump(filter, opts);
  return ct(opts.zero ? C.IPCTNL_MSG_CT_GET_CTRZERO : C.IPCTNL_MSG_CT_GET, NLM_F_DUMP, filterBody(filter));
}

function keyBody(key: EntryKey): Conntrack {
  const body: Conntrack = { family: key.family };
  if (key.orig !== undefined) body.orig = key.orig;
  else if (key.reply !== undefined) body.reply = key.reply;
  if (key.zone !== undefined) body.zone = key.zone;
  if (key.id !== undefined) body.id = key.id;
  return body;
}

/** Get one entry by tuple. `zero`: read and zero its counters. */
export function getRequest(key: EntryKey, opts: { zero?: boolean } = {}): Message {
  checkGet(key, opts);
  return ct(opts.zero ? C.IPCTNL_MSG_CT_GET_CTRZERO : C.IPCTNL_MSG_CT_GET, 0, keyBody(key));
}

/**
 * Create an entry: needs orig, reply and timeout. `orUpdate`: update it if it exists
 * (no NLM_F_EXCL) instead of failing with EEXIST.
 */
export function createRequest(entry: Conntrack, opts: { orUpdate?: boolean } = {}): Message {
  checkCreate(entry, opts);
  return ct(C.IPCTNL_MSG_CT_NEW, NLM_F_CREATE | (opts.orUpdate ? 0 : NLM_F_EXCL), confirmed(entry));
}

/**
 * Entries made or changed through ctnetlink are confirmed, and a CTA_STATUS that clears
 * IPS_CONFIRMED is refused with EBUSY; like conntrack-tools, always send the bit.
 */
function confirmed(entry: Conntrack): Conntrack {
  if (entry.status === undefined || entry.status & C.IPS_CONFIRMED) return entry;
  return { ...entry, status: (entry.status | C.IPS_CONFIRMED) >>> 0 };
}

/** Update an existing entry (found by orig or reply tuple): timeout, mark(+mask), status, labels... */
export function updateRequest(entry: Conntrack): Message {
  checkUpdate(entry);
  return ct(C.IPCTNL_MSG_CT_NEW, 0, confirmed(entry));
}

/**
 * Delete one entry by tuple (and id, which must then match). Throws NetlinkEncodeError
 * without a complete tuple: the kernel treats a CT_DELETE without one as a flush of the
 * whole table (every family).
 */
export function deleteRequest(key: EntryKey): Message {
  checkEntryKey(key, 'delete');
  return ct(C.IPCTNL_MSG_CT_DELETE, 0, keyBody(key));
}

/**
 * Flush the table, or what the filter matches. With a family (or a tuple filter) only
 * that family is flushed (nfgenmsg version 1, as libnetfilter_conntrack sends). Only
 * flushRequest() without an argument flushes everything: flushRequest(undefined) and a
 * filter that would not narrow the flush (empty, family 0, markMask alone...) throw
 * NetlinkEncodeError.
 */
export function flushRequest(filter?: KernelFilter): Message {
  checkFlush(filter, arguments.length);
  const body = filterBody(filter);
  return ct(C.IPCTNL_MSG_CT_DELETE, 0, body, body.family !== AF_UNSPEC ? 1 : 0);
}

function bare(sub: number, msg: number, flags: number, family = AF_UNSPEC): Message {
  return {
    kind: 'request',
    header: { type: nfType(sub, msg), flags: NLM_F_REQUEST | flags, seq: 0, pid: 0 },
    nfgen: { family, version: 0, resId: 0 },
  };
}

/** Per-CPU counters: one reply per CPU, then NLMSG_DONE. */
export function statsCpuRequest(): Message {
  return bare(NFNL_SUBSYS_CTNETLINK, C.IPCTNL_MSG_CT_GET_STATS_CPU, NLM_F_DUMP);
}

/** Entries in use and nf_conntrack_max (one reply). */
export function statsRequest(): Message {
  return bare(NFNL_SUBSYS_CTNETLINK, C.IPCTNL_MSG_CT_GET_STATS, 0);
}

/** Entries on the dying list (waiting for DESTROY delivery in reliable mode). */
export function dyingRequest(family = AF_UNSPEC): Message {
  checkListFamily(family);
  return ct(C.IPCTNL_MSG_CT_GET_DYING, NLM_F_DUMP, { family });
}

/** The unconfirmed list: always empty on current kernels, kept for completeness. */
export function unconfirmedRequest(family = AF_UNSPEC): Message {
  checkListFamily(family);
  return ct(C.IPCTNL_MSG_CT_GET_UNCONFIRMED, NLM_F_DUMP, { family });
}

/** Dump expectations, optionally only those of one master (its original tuple). */
export function expectDumpRequest(family = AF_UNSPEC, master?: Tuple): Message {
  checkExpectDump(family, master);
  return {
    kind: 'expect',
    header: { type: nfType(NFNL_SUBSYS_CTNETLINK_EXP, C.IPCTNL_MSG_EXP_GET), flags: NLM_F_REQUEST | NLM_F_DUMP, seq: 0, pid: 0 },
    nfgen: { family, version: 0, resId: 0 },
    expect: master ? { family, master } : { family },
  };
}

/** Per-CPU expectation counters (replies arrive typed 0x0103). */
export function expectStatsCpuRequest(): Message {
  return bare(NFNL_SUBSYS_CTNETLINK_EXP, C.IPCTNL_MSG_EXP_GET_STATS_CPU, NLM_F_DUMP);
}
