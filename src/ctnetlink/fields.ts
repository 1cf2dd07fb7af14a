/**
 * Wire-level checks of a request model: every value the encoder would put is of the
 * right type and fits its attribute, so that nothing is wrapped, truncated or coerced
 * (port 70000 -> 4464, timeout -5 -> 4294967291, family "ipv4" -> 0, a NUL-cut string).
 * encodeMessageInto runs checkRequestFields on every message with NLM_F_REQUEST, whoever
 * built it; the request builders add the semantic rules on top (src/ctnetlink/validate.ts).
 *
 * What is checked, with the attribute names of a violation's path:
 *
 *   nlmsghdr        nlmsg_type u16, nlmsg_flags u16, nlmsg_seq u32, nlmsg_pid u32
 *   nfgenmsg        nfgen_family u8, version u8, res_id u16
 *   tuples          CTA_TUPLE_IP > CTA_IP_V4_SRC/V6_SRC...: an address string that parses
 *                   CTA_TUPLE_PROTO > CTA_PROTO_NUM u8, *_PORT u16, ICMP(V6)_ID u16,
 *                   ICMP(V6)_TYPE/CODE u8;  CTA_TUPLE_ZONE u16
 *   conntrack       u32: STATUS TIMEOUT MARK SECMARK USE ID MARK_MASK STATUS_MASK;
 *                   CTA_ZONE u16; CTA_TIMESTAMP_EVENT u64; LABELS(_MASK) bytes; the nests
 *                   (PROTOINFO, COUNTERS, TIMESTAMP, SEQ_ADJ, SYNPROXY, HELP, SECCTX, NAT,
 *                   FILTER) field by field
 *   expectations    the tuples, TIMEOUT ID FLAGS CLASS u32, ZONE u16, HELP_NAME FN strings,
 *                   NAT > DIR u32, NAT_TUPLE
 *   unknown         raw attributes: type u16, data Uint8Array
 *
 * These are representability rules only: anything the decoder produces passes them, so
 * decoded requests (conntrack-tools', malformed ones from captures) re-encode unchanged.
 */
import {
  checkBytes,
  checkObject,
  checkRawAttributes,
  checkString,
  checkU16,
  checkU32,
  checkU64,
  checkU8,
  fail,
  showValue,
} from '../netlink/check.js';
import { checkRequestHeader } from '../netlink/control-message.js';
import { parseIpv4, parseIpv6 } from './address.js';
import { IPPROTO_ICMPV6 } from './constants.js';
import type { Conntrack, Expectation, Message, Tuple } from './model.js';

type Obj = Record<string, unknown>;

const NFGENMSG = ['nfgenmsg'];
const TOP: readonly string[] = [];

/**
 * An address string that parses as IPv4 or IPv6. `family` 2 or 10 also requires that
 * kind; any other family accepts both. Returns its length in bytes (4 or 16).
 */
export function checkAddress(v: unknown, field: string, base: readonly string[], v4Name: string, v6Name: string, family = 0): number {
  if (typeof v !== 'string') {
    return fail(`${showValue(v)} is not an IP address string`, field, base, family === 10 ? v6Name : v4Name, v);
  }
  const v6 = v.includes(':');
  const name = v6 ? v6Name : v4Name;
  if ((v6 ? parseIpv6(v) : parseIpv4(v)) === undefined) fail(`${showValue(v)} is not an IP address`, field, base, name, v);
  if (family === 2 && v6) fail(`${showValue(v)} is an IPv6 address in an AF_INET (2) request`, field, base, name, v);
  if (family === 10 && !v6) fail(`${showValue(v)} is an IPv4 address in an AF_INET6 (10) request`, field, base, name, v);
  return v6 ? 16 : 4;
}

/** Type and range of every field of a tuple nested at `base` (e.g. ["CTA_TUPLE_ORIG"]). */
export function checkTupleFields(t: unknown, field: string, base: readonly string[], family = 0): asserts t is Tuple {
  checkObject(t, field, base);
  if (t.src !== undefined || t.dst !== undefined || t.unknownIp !== undefined) {
    const ip = [...base, 'CTA_TUPLE_IP'];
    if (t.src !== undefined) checkAddress(t.src, `${field}.src`, ip, 'CTA_IP_V4_SRC', 'CTA_IP_V6_SRC', family);
    if (t.dst !== undefined) checkAddress(t.dst, `${field}.dst`, ip, 'CTA_IP_V4_DST', 'CTA_IP_V6_DST', family);
    if (t.unknownIp !== undefined) checkRawAttributes(t.unknownIp, `${field}.unknownIp`, ip);
  }
  const pr = [...base, 'CTA_TUPLE_PROTO'];
  if (t.proto !== undefined) checkU8(t.proto, `${field}.proto`, pr, 'CTA_PROTO_NUM');
  if (t.srcPort !== undefined) checkU16(t.srcPort, `${field}.srcPort`, pr, 'CTA_PROTO_SRC_PORT');
  if (t.dstPort !== undefined) checkU16(t.dstPort, `${field}.dstPort`, pr, 'CTA_PROTO_DST_PORT');
  const v6 = t.proto === IPPROTO_ICMPV6 ? 'V6' : '';
  if (t.icmpId !== undefined) checkU16(t.icmpId, `${field}.icmpId`, pr, `CTA_PROTO_ICMP${v6}_ID`);
  if (t.icmpType !== undefined) checkU8(t.icmpType, `${field}.icmpType`, pr, `CTA_PROTO_ICMP${v6}_TYPE`);
  if (t.icmpCode !== undefined) checkU8(t.icmpCode, `${field}.icmpCode`, pr, `CTA_PROTO_ICMP${v6}_CODE`);
  if (t.unknownProto !== undefined) checkRawAttributes(t.unknownProto, `${field}.unknownProto`, pr);
  if (t.zone !== undefined) checkU16(t.zone, `${field}.zone`, base, 'CTA_TUPLE_ZONE');
  if (t.unknown !== undefined) checkRawAttributes(t.unknown, `${field}.unknown`, base);
}

function nest(v: unknown, field: string, name: string, fields: readonly (readonly [string, string, 'u8' | 'u32' | 'u64'])[]): Obj {
  checkObject(v, field, TOP, name);
  const base = [name];
  for (const [key, attr, kind] of fields) {
    const x = v[key];
    if (x === undefined) continue;
    if (kind === 'u8') checkU8(x, `${field}.${key}`, base, attr);
    else if (kind === 'u32') checkU32(x, `${field}.${key}`, base, attr);
    else checkU64(x, `${field}.${key}`, base, attr);
  }
  if (v.unknown !== undefined) checkRawAttributes(v.unknown, `${field}.unknown`, base);
  return v;
}

const COUNTERS = [['packets', 'CTA_COUNTERS_PACKETS', 'u64'], ['bytes', 'CTA_COUNTERS_BYTES', 'u64']] as const;
const TSTAMP = [['start', 'CTA_TIMESTAMP_START', 'u64'], ['stop', 'CTA_TIMESTAMP_STOP', 'u64']] as const;
const SEQADJ = [
  ['correctionPos', 'CTA_SEQADJ_CORRECTION_POS', 'u32'],
  ['offsetBefore', 'CTA_SEQADJ_OFFSET_BEFORE', 'u32'],
  ['offsetAfter', 'CTA_SEQADJ_OFFSET_AFTER', 'u32'],
] as const;
const SYNPROXY = [['isn', 'CTA_SYNPROXY_ISN', 'u32'], ['its', 'CTA_SYNPROXY_ITS', 'u32'], ['tsoff', 'CTA_SYNPROXY_TSOFF', 'u32']] as const;
const FILTER = [['origFlags', 'CTA_FILTER_ORIG_FLAGS', 'u32'], ['replyFlags', 'CTA_FILTER_REPLY_FLAGS', 'u32']] as const;

function checkTcpFlags(v: unknown, field: string, base: readonly string[], attr: string): void {
  checkObject(v, field, base, attr);
  checkU8(v.flags, `${field}.flags`, base, attr);
  checkU8(v.mask, `${field}.mask`, base, attr);
}

function checkProtoInfo(v: unknown): void {
  checkObject(v, 'protoinfo', TOP, 'CTA_PROTOINFO');
  const base = ['CTA_PROTOINFO'];
  if (v.tcp !== undefined) {
    const t = v.tcp;
    checkObject(t, 'protoinfo.tcp', base, 'CTA_PROTOINFO_TCP');
    const tb = ['CTA_PROTOINFO', 'CTA_PROTOINFO_TCP'];
    if (t.state !== undefined) checkU8(t.state, 'protoinfo.tcp.state', tb, 'CTA_PROTOINFO_TCP_STATE');
    if (t.wscaleOriginal !== undefined) checkU8(t.wscaleOriginal, 'protoinfo.tcp.wscaleOriginal', tb, 'CTA_PROTOINFO_TCP_WSCALE_ORIGINAL');
    if (t.wscaleReply !== undefined) checkU8(t.wscaleReply, 'protoinfo.tcp.wscaleReply', tb, 'CTA_PROTOINFO_TCP_WSCALE_REPLY');
    if (t.flagsOriginal !== undefined) checkTcpFlags(t.flagsOriginal, 'protoinfo.tcp.flagsOriginal', tb, 'CTA_PROTOINFO_TCP_FLAGS_ORIGINAL');
    if (t.flagsReply !== undefined) checkTcpFlags(t.flagsReply, 'protoinfo.tcp.flagsReply', tb, 'CTA_PROTOINFO_TCP_FLAGS_REPLY');
    if (t.unknown !== undefined) checkRawAttributes(t.unknown, 'protoinfo.tcp.unknown', tb);
  }
  if (v.dccp !== undefined) {
    const d = v.dccp;
    checkObject(d, 'protoinfo.dccp', base, 'CTA_PROTOINFO_DCCP');
    const db = ['CTA_PROTOINFO', 'CTA_PROTOINFO_DCCP'];
    if (d.state !== undefined) checkU8(d.state, 'protoinfo.dccp.state', db, 'CTA_PROTOINFO_DCCP_STATE');
    if (d.role !== undefined) checkU8(d.role, 'protoinfo.dccp.role', db, 'CTA_PROTOINFO_DCCP_ROLE');
    if (d.handshakeSeq !== undefined) checkU64(d.handshakeSeq, 'protoinfo.dccp.handshakeSeq', db, 'CTA_PROTOINFO_DCCP_HANDSHAKE_SEQ');
    if (d.unknown !== undefined) checkRawAttributes(d.unknown, 'protoinfo.dccp.unknown', db);
  }
  if (v.sctp !== undefined) {
    const s = v.sctp;
    checkObject(s, 'protoinfo.sctp', base, 'CTA_PROTOINFO_SCTP');
    const sb = ['CTA_PROTOINFO', 'CTA_PROTOINFO_SCTP'];
    if (s.state !== undefined) checkU8(s.state, 'protoinfo.sctp.state', sb, 'CTA_PROTOINFO_SCTP_STATE');
    if (s.vtagOriginal !== undefined) checkU32(s.vtagOriginal, 'protoinfo.sctp.vtagOriginal', sb, 'CTA_PROTOINFO_SCTP_VTAG_ORIGINAL');
    if (s.vtagReply !== undefined) checkU32(s.vtagReply, 'protoinfo.sctp.vtagReply', sb, 'CTA_PROTOINFO_SCTP_VTAG_REPLY');
    if (s.unknown !== undefined) checkRawAttributes(s.unknown, 'protoinfo.sctp.unknown', sb);
  }
  if (v.unknown !== undefined) checkRawAttributes(v.unknown, 'protoinfo.unknown', base);
}

function checkHelper(v: unknown): void {
  checkObject(v, 'helper', TOP, 'CTA_HELP');
  const base = ['CTA_HELP'];
  if (v.name !== undefined) checkString(v.name, 'helper.name', base, 'CTA_HELP_NAME');
  if (v.info !== undefined) checkBytes(v.info, 'helper.info', base, 'CTA_HELP_INFO');
  if (v.unknown !== undefined) checkRawAttributes(v.unknown, 'helper.unknown', base);
}

/** CTA_NAT_SRC / CTA_NAT_DST. */
export function checkNatFields(v: unknown, field: string, name: string, family = 0): void {
  checkObject(v, field, TOP, name);
  const base = [name];
  if (v.minIp !== undefined) checkAddress(v.minIp, `${field}.minIp`, base, 'CTA_NAT_V4_MINIP', 'CTA_NAT_V6_MINIP', family);
  if (v.maxIp !== undefined) checkAddress(v.maxIp, `${field}.maxIp`, base, 'CTA_NAT_V4_MAXIP', 'CTA_NAT_V6_MAXIP', family);
  const pb = [name, 'CTA_NAT_PROTO'];
  if (v.minPort !== undefined) checkU16(v.minPort, `${field}.minPort`, pb, 'CTA_PROTONAT_PORT_MIN');
  if (v.maxPort !== undefined) checkU16(v.maxPort, `${field}.maxPort`, pb, 'CTA_PROTONAT_PORT_MAX');
  if (v.unknownProto !== undefined) checkRawAttributes(v.unknownProto, `${field}.unknownProto`, pb);
  if (v.unknown !== undefined) checkRawAttributes(v.unknown, `${field}.unknown`, base);
}

const CT_U32 = [
  ['status', 'CTA_STATUS'], ['timeout', 'CTA_TIMEOUT'], ['mark', 'CTA_MARK'], ['secmark', 'CTA_SECMARK'],
  ['use', 'CTA_USE'], ['id', 'CTA_ID'], ['markMask', 'CTA_MARK_MASK'], ['statusMask', 'CTA_STATUS_MASK'],
] as const;

/**
 * Type and range of every field of a conntrack body (family: the nfgenmsg's, for
 * addresses). `tuplesChecked`: the caller has already checked orig, reply and master.
 */
export function checkConntrackFields(ct: unknown, family = 0, tuplesChecked = false): asserts ct is Conntrack {
  checkObject(ct, 'conntrack');
  checkU8(ct.family, 'family', NFGENMSG, 'nfgen_family');
  if (!tuplesChecked) {
    if (ct.orig !== undefined) checkTupleFields(ct.orig, 'orig', ['CTA_TUPLE_ORIG'], family);
    if (ct.reply !== undefined) checkTupleFields(ct.reply, 'reply', ['CTA_TUPLE_REPLY'], family);
    if (ct.master !== undefined) checkTupleFields(ct.master, 'master', ['CTA_TUPLE_MASTER'], family);
  }
  for (const [key, attr] of CT_U32) if (ct[key] !== undefined) checkU32(ct[key], key, TOP, attr);
  if (ct.zone !== undefined) checkU16(ct.zone, 'zone', TOP, 'CTA_ZONE');
  if (ct.eventTimestamp !== undefined) checkU64(ct.eventTimestamp, 'eventTimestamp', TOP, 'CTA_TIMESTAMP_EVENT');
  if (ct.labels !== undefined) checkBytes(ct.labels, 'labels', TOP, 'CTA_LABELS');
  if (ct.labelsMask !== undefined) checkBytes(ct.labelsMask, 'labelsMask', TOP, 'CTA_LABELS_MASK');
  if (ct.countersOrig !== undefined) nest(ct.countersOrig, 'countersOrig', 'CTA_COUNTERS_ORIG', COUNTERS);
  if (ct.countersReply !== undefined) nest(ct.countersReply, 'countersReply', 'CTA_COUNTERS_REPLY', COUNTERS);
  if (ct.timestamp !== undefined) nest(ct.timestamp, 'timestamp', 'CTA_TIMESTAMP', TSTAMP);
  if (ct.seqAdjOrig !== undefined) nest(ct.seqAdjOrig, 'seqAdjOrig', 'CTA_SEQ_ADJ_ORIG', SEQADJ);
  if (ct.seqAdjReply !== undefined) nest(ct.seqAdjReply, 'seqAdjReply', 'CTA_SEQ_ADJ_REPLY', SEQADJ);
  if (ct.synproxy !== undefined) nest(ct.synproxy, 'synproxy', 'CTA_SYNPROXY', SYNPROXY);
  if (ct.filter !== undefined) nest(ct.filter, 'filter', 'CTA_FILTER', FILTER);
  if (ct.protoinfo !== undefined) checkProtoInfo(ct.protoinfo);
  if (ct.helper !== undefined) checkHelper(ct.helper);
  if (ct.natSrc !== undefined) checkNatFields(ct.natSrc, 'natSrc', 'CTA_NAT_SRC', family);
  if (ct.natDst !== undefined) checkNatFields(ct.natDst, 'natDst', 'CTA_NAT_DST', family);
  if (ct.secctx !== undefined) checkString(ct.secctx, 'secctx', ['CTA_SECCTX'], 'CTA_SECCTX_NAME');
  if (ct.secctxUnknown !== undefined) checkRawAttributes(ct.secctxUnknown, 'secctxUnknown', ['CTA_SECCTX']);
  if (ct.unknown !== undefined) checkRawAttributes(ct.unknown, 'unknown');
  if (ct.attrOrder !== undefined) {
    const order: unknown = ct.attrOrder;
    if (!Array.isArray(order)) fail(`${showValue(order)} is not an array of attribute types`, 'attrOrder', TOP, undefined, order);
    for (let i = 0; i < order.length; i++) checkU16(order[i], `attrOrder[${i}]`);
  }
}

const EXP_U32 = [['timeout', 'CTA_EXPECT_TIMEOUT'], ['id', 'CTA_EXPECT_ID'], ['flags', 'CTA_EXPECT_FLAGS'], ['class', 'CTA_EXPECT_CLASS']] as const;

/** Type and range of every field of an expectation body. */
export function checkExpectationFields(x: unknown, family = 0): asserts x is Expectation {
  checkObject(x, 'expect');
  checkU8(x.family, 'family', NFGENMSG, 'nfgen_family');
  if (x.tuple !== undefined) checkTupleFields(x.tuple, 'tuple', ['CTA_EXPECT_TUPLE'], family);
  if (x.mask !== undefined) checkTupleFields(x.mask, 'mask', ['CTA_EXPECT_MASK'], family);
  if (x.master !== undefined) checkTupleFields(x.master, 'master', ['CTA_EXPECT_MASTER'], family);
  for (const [key, attr] of EXP_U32) if (x[key] !== undefined) checkU32(x[key], key, TOP, attr);
  if (x.zone !== undefined) checkU16(x.zone, 'zone', TOP, 'CTA_EXPECT_ZONE');
  if (x.helpName !== undefined) checkString(x.helpName, 'helpName', TOP, 'CTA_EXPECT_HELP_NAME');
  if (x.fn !== undefined) checkString(x.fn, 'fn', TOP, 'CTA_EXPECT_FN');
  if (x.nat !== undefined) {
    const n = x.nat;
    checkObject(n, 'nat', TOP, 'CTA_EXPECT_NAT');
    if (n.dir !== undefined) checkU32(n.dir, 'nat.dir', ['CTA_EXPECT_NAT'], 'CTA_EXPECT_NAT_DIR');
    if (n.tuple !== undefined) checkTupleFields(n.tuple, 'nat.tuple', ['CTA_EXPECT_NAT', 'CTA_EXPECT_NAT_TUPLE'], family);
    if (n.unknown !== undefined) checkRawAttributes(n.unknown, 'nat.unknown', ['CTA_EXPECT_NAT']);
  }
  if (x.unknown !== undefined) checkRawAttributes(x.unknown, 'unknown');
}

const STATS_KINDS = new Set(['stats-cpu', 'stats', 'expect-stats-cpu']);

/**
 * Every field of a message about to be encoded with NLM_F_REQUEST: header, nfgenmsg and
 * body. Throws NetlinkEncodeError before a single byte is written.
 */
export function checkRequestFields(m: unknown): asserts m is Message {
  checkRequestHeader(m);
  const kind = m.kind;
  if (kind === 'conntrack' || kind === 'expect' || kind === 'request' || STATS_KINDS.has(kind as string)) {
    const g = m.nfgen;
    checkObject(g, 'nfgen', NFGENMSG);
    checkU8(g.family, 'nfgen.family', NFGENMSG, 'nfgen_family');
    checkU8(g.version, 'nfgen.version', NFGENMSG, 'version');
    checkU16(g.resId, 'nfgen.resId', NFGENMSG, 'res_id');
    // Addresses are checked to parse, not to match nfgen_family: a decoded request keeps
    // whatever address kind it carried (the builders enforce the match).
    if (kind === 'conntrack') checkConntrackFields(m.conntrack);
    else if (kind === 'expect') checkExpectationFields(m.expect);
    else if (kind === 'request') {
      if (m.unknown !== undefined) checkRawAttributes(m.unknown, 'unknown');
    } else {
      const s = m.stats;
      checkObject(s, 'stats');
      for (const [k, v] of Object.entries(s)) {
        if (k === 'unknown') checkRawAttributes(v, 'stats.unknown');
        else if (v !== undefined) checkU32(v, `stats.${k}`);
      }
    }
  } else if (kind === 'other') {
    checkBytes(m.payload, 'payload');
  }
}
