/**
 * The decoded ctnetlink model: what every conntrack, expectation and stats message
 * carries, with friendly field names. Each field notes the attribute it comes from.
 *
 * Conventions
 * - A field is absent (undefined) when its attribute was absent: absence is information
 *   (e.g. DESTROY events carry no CTA_USE; CTA_MARK is omitted when 0 in events).
 * - Integers that fit in 32 bits are numbers; 64-bit counters and timestamps are bigint.
 * - Addresses are strings as inet_ntop(3) writes them ("192.0.2.1", "2001:db8::1",
 *   "::ffff:192.0.2.1"); a ':' means IPv6.
 * - Unknown attributes (newer kernels) are kept in `unknown` and re-encoded as they came.
 * - Byte arrays (labels, helper info) are copies, never views of a receive buffer.
 */
import type { RawAttribute } from '../netlink/attribute.js';
import type { DonePayload, ErrorPayload } from '../netlink/control.js';
import type { NlMsgHeader } from '../netlink/message.js';
import type { NfGenMsg } from '../nfnetlink/header.js';

/** One direction of a connection (enum ctattr_tuple). */
export interface Tuple {
  /** CTA_IP_V4_SRC / CTA_IP_V6_SRC */
  src?: string;
  /** CTA_IP_V4_DST / CTA_IP_V6_DST */
  dst?: string;
  /** CTA_PROTO_NUM: IP protocol number (6 TCP, 17 UDP, 1 ICMP, 58 ICMPv6, ...). */
  proto?: number;
  /** CTA_PROTO_SRC_PORT: TCP/UDP/UDP-Lite/SCTP/DCCP port, or GRE key (PPTP call id). */
  srcPort?: number;
  /** CTA_PROTO_DST_PORT */
  dstPort?: number;
  /** CTA_PROTO_ICMP_ID or CTA_PROTO_ICMPV6_ID (chosen by proto on encode: 58 = ICMPv6). */
  icmpId?: number;
  /** CTA_PROTO_ICMP_TYPE / CTA_PROTO_ICMPV6_TYPE */
  icmpType?: number;
  /** CTA_PROTO_ICMP_CODE / CTA_PROTO_ICMPV6_CODE */
  icmpCode?: number;
  /** CTA_TUPLE_ZONE: a zone that applies to this direction only. */
  zone?: number;
  /** Unknown attributes of CTA_TUPLE_* itself. */
  unknown?: RawAttribute[];
  /** Unknown attributes inside CTA_TUPLE_IP. */
  unknownIp?: RawAttribute[];
  /** Unknown attributes inside CTA_TUPLE_PROTO. */
  unknownProto?: RawAttribute[];
}

/** struct nf_ct_tcp_flags: the kernel sends mask 0; requests use mask to select bits. */
export interface TcpFlags {
  flags: number;
  mask: number;
}

/** CTA_PROTOINFO_TCP */
export interface TcpInfo {
  /** enum tcp_conntrack (TCP_STATE_NAMES) */
  state?: number;
  wscaleOriginal?: number;
  wscaleReply?: number;
  flagsOriginal?: TcpFlags;
  flagsReply?: TcpFlags;
  unknown?: RawAttribute[];
}

/** CTA_PROTOINFO_SCTP */
export interface SctpInfo {
  state?: number;
  vtagOriginal?: number;
  vtagReply?: number;
  unknown?: RawAttribute[];
}

/** CTA_PROTOINFO_DCCP (kernels up to 6.16) */
export interface DccpInfo {
  state?: number;
  /** Role of the original direction: 0 client, 1 server. */
  role?: number;
  handshakeSeq?: bigint;
  unknown?: RawAttribute[];
}

export interface ProtoInfo {
  tcp?: TcpInfo;
  dccp?: DccpInfo;
  sctp?: SctpInfo;
  unknown?: RawAttribute[];
}

/** CTA_COUNTERS_ORIG / CTA_COUNTERS_REPLY (present when nf_conntrack_acct is on). */
export interface Counters {
  packets?: bigint;
  /** Bytes of L3 packets. */
  bytes?: bigint;
  unknown?: RawAttribute[];
}

/** CTA_TIMESTAMP (present when nf_conntrack_timestamp is on), ns since the epoch. */
export interface Timestamps {
  start?: bigint;
  /** Only once the entry died (DESTROY events). */
  stop?: bigint;
  unknown?: RawAttribute[];
}

/** CTA_SEQ_ADJ_ORIG / CTA_SEQ_ADJ_REPLY */
export interface SeqAdj {
  correctionPos?: number;
  /** Semantically signed; the wire value is a u32. */
  offsetBefore?: number;
  offsetAfter?: number;
  unknown?: RawAttribute[];
}

/** CTA_SYNPROXY */
export interface Synproxy {
  isn?: number;
  its?: number;
  tsoff?: number;
  unknown?: RawAttribute[];
}

/** CTA_HELP */
export interface Helper {
  name?: string;
  /** CTA_HELP_INFO: private data of a userspace (nfnetlink_cthelper) helper. */
  info?: Uint8Array;
  unknown?: RawAttribute[];
}

/** CTA_NAT_SRC / CTA_NAT_DST (requests only: set up NAT on a created entry). */
export interface NatRange {
  minIp?: string;
  maxIp?: string;
  minPort?: number;
  maxPort?: number;
  unknown?: RawAttribute[];
  unknownProto?: RawAttribute[];
}

/** CTA_FILTER (dump/flush requests): CTA_FILTER_F_* bits, host byte order on the wire. */
export interface TupleFilter {
  origFlags?: number;
  replyFlags?: number;
  unknown?: RawAttribute[];
}

/** A conntrack entry (dump, GET reply, event) or the body of a request about one. */
export interface Conntrack {
  /** nfgenmsg.nfgen_family of the message: 2 AF_INET, 10 AF_INET6 (0 in some requests). */
  family: number;
  /** CTA_TUPLE_ORIG */
  orig?: Tuple;
  /** CTA_TUPLE_REPLY (after NAT, this is where the reply comes from) */
  reply?: Tuple;
  /** CTA_TUPLE_MASTER: the master's original tuple of an expected (RELATED) entry. */
  master?: Tuple;
  /** CTA_STATUS: IPS_* bits; unknown bits are kept. See statusNames(). */
  status?: number;
  /** CTA_TIMEOUT: seconds until expiry. */
  timeout?: number;
  /** CTA_MARK */
  mark?: number;
  /** CTA_SECMARK (obsolete) */
  secmark?: number;
  /** CTA_USE: reference count (dumps only). */
  use?: number;
  /** CTA_ID: 32-bit id, read big-endian as conntrack -o id prints it. */
  id?: number;
  /** CTA_ZONE: a zone that applies to both directions. */
  zone?: number;
  /** CTA_LABELS: the label bitmap (label n = byte n>>3, bit n&7 on little-endian hosts). */
  labels?: Uint8Array;
  /** CTA_LABELS_MASK (requests) */
  labelsMask?: Uint8Array;
  countersOrig?: Counters;
  countersReply?: Counters;
  timestamp?: Timestamps;
  /** CTA_TIMESTAMP_EVENT: ns since the epoch at which the event was generated. */
  eventTimestamp?: bigint;
  protoinfo?: ProtoInfo;
  helper?: Helper;
  /** CTA_SECCTX > CTA_SECCTX_NAME */
  secctx?: string;
  /** Unknown attributes inside CTA_SECCTX. */
  secctxUnknown?: RawAttribute[];
  seqAdjOrig?: SeqAdj;
  seqAdjReply?: SeqAdj;
  synproxy?: Synproxy;
  /** CTA_NAT_SRC (requests) */
  natSrc?: NatRange;
  /** CTA_NAT_DST (requests) */
  natDst?: NatRange;
  /** CTA_MARK_MASK (requests) */
  markMask?: number;
  /** CTA_STATUS_MASK (dump/flush filter) */
  statusMask?: number;
  /** CTA_FILTER (dump/flush filter) */
  filter?: TupleFilter;
  unknown?: RawAttribute[];
  /**
   * Top-level attribute types in the order they came, set only when that order differs
   * from the kernel's for this message kind; the encoder then reproduces it.
   */
  attrOrder?: number[];
}

/** An expectation (subsystem CTNETLINK_EXP). */
export interface Expectation {
  family: number;
  /** CTA_EXPECT_MASTER: the master's original tuple. */
  master?: Tuple;
  /** CTA_EXPECT_TUPLE: the expected connection. */
  tuple?: Tuple;
  /** CTA_EXPECT_MASK */
  mask?: Tuple;
  timeout?: number;
  id?: number;
  helpName?: string;
  zone?: number;
  /** NF_CT_EXPECT_* */
  flags?: number;
  class?: number;
  nat?: { dir?: number; tuple?: Tuple; unknown?: RawAttribute[] };
  fn?: string;
  unknown?: RawAttribute[];
}

/** Per-CPU conntrack counters (IPCTNL_MSG_CT_GET_STATS_CPU reply; res_id = CPU). */
export interface CpuStats {
  cpu: number;
  searched?: number;
  found?: number;
  new?: number;
  invalid?: number;
  ignore?: number;
  delete?: number;
  deleteList?: number;
  insert?: number;
  insertFailed?: number;
  drop?: number;
  earlyDrop?: number;
  error?: number;
  searchRestart?: number;
  clashResolve?: number;
  chainTooLong?: number;
  unknown?: RawAttribute[];
}

/** IPCTNL_MSG_CT_GET_STATS reply. */
export interface GlobalStats {
  entries?: number;
  maxEntries?: number;
  unknown?: RawAttribute[];
}

/** IPCTNL_MSG_EXP_GET_STATS_CPU reply (sent with type 0x0103). */
export interface ExpectCpuStats {
  cpu: number;
  new?: number;
  create?: number;
  delete?: number;
  unknown?: RawAttribute[];
}

export type EventType = 'new' | 'update' | 'destroy';

interface Base {
  header: NlMsgHeader;
}

interface NfBase extends Base {
  nfgen: NfGenMsg;
}

/**
 * Every message the codec knows, discriminated by `kind`. `decodeMessage` produces it;
 * `encodeMessage` writes it back.
 *
 * kind 'conntrack': header type is CTNETLINK NEW / GET / DELETE / GET_CTRZERO / GET_DYING /
 * GET_UNCONFIRMED; `event` is set for kernel events (no NLM_F_REQUEST, no NLM_F_MULTI):
 * 'new' for CT_NEW with CREATE|EXCL, 'update' for other CT_NEW, 'destroy' for CT_DELETE.
 */
export type Message =
  | (NfBase & { kind: 'conntrack'; event?: EventType; conntrack: Conntrack })
  | (NfBase & { kind: 'expect'; event?: 'new' | 'destroy'; expect: Expectation })
  | (NfBase & { kind: 'stats-cpu'; stats: CpuStats })
  | (NfBase & { kind: 'stats'; stats: GlobalStats })
  | (NfBase & { kind: 'expect-stats-cpu'; stats: ExpectCpuStats })
  /** A request without attributes (e.g. stats or dump requests), or an empty nfgenmsg message. */
  | (NfBase & { kind: 'request'; unknown?: RawAttribute[] })
  | (Base & { kind: 'error'; error: ErrorPayload })
  | (Base & { kind: 'done'; done: DonePayload })
  | (Base & { kind: 'noop' })
  | (Base & { kind: 'overrun' })
  /** Anything else (other subsystems, unknown types): kept as raw payload bytes. */
  | (Base & { kind: 'other'; payload: Uint8Array });

/** The nfnetlink kinds of Message (what the ctnetlink subsystems decode to). */
export type CtnetlinkMessage = Extract<Message, { nfgen: NfGenMsg }>;
