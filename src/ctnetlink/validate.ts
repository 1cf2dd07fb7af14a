/**
 * Request validation: what each request builder (requests.ts) checks before it builds a
 * message, so that nothing a caller passes wipes a table or silently changes a value.
 * Every violation is a NetlinkEncodeError with the attribute path, the field and the
 * value; fields.ts checks type and range, this module adds what the kernel needs and
 * what it would otherwise do silently (kernel: net/netfilter/nf_conntrack_netlink.c).
 *
 *   family        AF_INET (2) or AF_INET6 (10); AF_UNSPEC (0) only where it means "all"
 *                 for a read (dump, dying, unconfirmed, expectation dump)
 *   entry key     (get, get-and-zero, delete, update, create) a COMPLETE tuple: src and dst
 *                 of the family, proto, and the protocol's own fields (both ports for TCP
 *                 and UDP; both or neither for UDP-Lite, SCTP, DCCP, GRE, whose trackers
 *                 may be absent; type, code and id for ICMP/ICMPv6); none of another
 *                 protocol's. A CT_DELETE without a tuple is a flush of every
 *                 family, so delete refuses a missing, null or partial key.
 *   flush         flushRequest() with no argument is the only whole-table flush (an explicit
 *                 undefined is refused: it is a filter variable that was never set). A filter
 *                 must hold at least one criterion the kernel applies, family must be 2 or
 *                 10, and nothing in it may be something the kernel ignores (markMask
 *                 without mark, a per-direction zone, ports of a protocol it cannot match).
 *   dump filters  the same rules, family 0 allowed; tuple filters need family 2 or 10
 *                 (the kernel refuses them otherwise) and proto for ports / ICMP fields.
 *   create        orig and reply complete with the same proto, timeout; update: a key.
 *   status        only defined IPS_* bits (0..15); statusMask non-zero, covering status.
 *   labels        Uint8Array of 4, 8, 12 or 16 bytes; labelsMask the same length.
 *   helper        name of at most 15 bytes (NF_CT_HELPER_NAME_LEN - 1).
 */
import { checkBoolean, checkU16, checkU32, fail, showValue } from '../netlink/check.js';
import { AF_INET, AF_INET6, AF_UNSPEC } from '../nfnetlink/constants.js';
import * as C from './constants.js';
import { checkConntrackFields, checkTupleFields } from './fields.js';
import type { Conntrack, Tuple } from './model.js';

type Obj = Record<string, unknown>;

/** Every status bit the kernel defines (IPS_EXPECTED .. IPS_HW_OFFLOAD). */
export const IPS_KNOWN_MASK = 0xffff;
/** NF_CT_LABELS_MAX_SIZE: 128 labels. */
export const NF_CT_LABELS_MAX_SIZE = 16;
/** enum tcp_conntrack: NONE .. SYN_SENT2 (the kernel refuses larger states). */
const TCP_CONNTRACK_MAX = 10;
/** NF_CT_HELPER_NAME_LEN - 1 */
const HELPER_NAME_MAX = 15;

const NFGENMSG = ['nfgenmsg'];

/** Protocols whose tuple always has ports (built-in trackers): both are required. */
const PORT_PROTOS = new Set([C.IPPROTO_TCP, C.IPPROTO_UDP]);
/**
 * Protocols whose tracker may be absent (config option, or removed: DCCP in 6.16): their
 * entries then have no ports, so ports are accepted but not required.
 */
const OPTIONAL_PORT_PROTOS = new Set([C.IPPROTO_UDPLITE, C.IPPROTO_SCTP, C.IPPROTO_DCCP, C.IPPROTO_GRE]);
const ICMP_PROTOS = new Set([C.IPPROTO_ICMP, C.IPPROTO_ICMPV6]);
/** Protocols whose ports the kernel's tuple filter matches (ctnetlink_filter_match_tuple). */
const FILTER_PORT_PROTOS = new Set([C.IPPROTO_TCP, C.IPPROTO_UDP]);

const TUPLE_ATTR: Record<string, string> = {
  orig: 'CTA_TUPLE_ORIG',
  reply: 'CTA_TUPLE_REPLY',
  master: 'CTA_TUPLE_MASTER',
};

/** The model's keys (model.ts): anything else is a typo whose value would be dropped. */
const TUPLE_KEYS = new Set(['src', 'dst', 'proto', 'srcPort', 'dstPort', 'icmpId', 'icmpType', 'icmpCode', 'zone', 'unknown', 'unknownIp', 'unknownProto']);
const FILTER_KEYS = new Set(['family', 'mark', 'markMask', 'status', 'statusMask', 'zone', 'orig', 'reply']);
const CONNTRACK_KEYS = new Set([
  'family', 'orig', 'reply', 'master', 'status', 'timeout', 'mark', 'secmark', 'use', 'id', 'zone', 'labels',
  'labelsMask', 'countersOrig', 'countersReply', 'timestamp', 'eventTimestamp', 'protoinfo', 'helper', 'secctx',
  'secctxUnknown', 'seqAdjOrig', 'seqAdjReply', 'synproxy', 'natSrc', 'natDst', 'markMask', 'statusMask', 'filter',
  'unknown', 'attrOrder',
]);

/**
 * Refuse a key the model does not have (`sport` for srcPort, `timout`): its value would
 * be dropped without a word, and in a flush filter the flush would widen. Keys holding
 * undefined are ignored.
 */
function checkKnownKeys(o: object, known: ReadonlySet<string>, field: string, base: readonly string[]): void {
  for (const k of Object.keys(o)) {
    const v = (o as Obj)[k];
    if (known.has(k) || v === undefined) continue;
    const f = field === '' ? k : `${field}.${k}`;
    fail(`unknown field ${JSON.stringify(k)} (its value would be ignored)`, f, base, undefined, v);
  }
}

/** nfgen_family: 2 or 10, or also 0 when `unspec` is allowed. */
export function checkFamily(v: unknown, unspec: boolean, field = 'family'): asserts v is number {
  if (v === AF_INET || v === AF_INET6 || (unspec && v === AF_UNSPEC)) return;
  const allowed = unspec ? 'AF_UNSPEC (0), AF_INET (2) or AF_INET6 (10)' : 'AF_INET (2) or AF_INET6 (10)';
  fail(`${showValue(v)} is not a family this request accepts: ${allowed}`, field, NFGENMSG, 'nfgen_family', v);
}

/** An argument that must be an object (or absent): null, arrays, numbers are refused. */
function checkArgObject(v: unknown, field: string, what: string): asserts v is Obj {
  if (typeof v !== 'object' || v === null || Array.isArray(v) || v instanceof Uint8Array) {
    fail(`${what} must be an object, got ${showValue(v)}`, field, [], undefined, v);
  }
}

function checkOptions(opts: unknown, keys: readonly string[]): void {
  if (opts === undefined) return;
  checkArgObject(opts, 'opts', 'the options');
  for (const k of keys) if (opts[k] !== undefined) checkBoolean(opts[k], `opts.${k}`);
}

function l4Names(proto: number): { id: string; type: string; code: string } {
  const v6 = proto === C.IPPROTO_ICMPV6 ? 'V6' : '';
  return { id: `CTA_PROTO_ICMP${v6}_ID`, type: `CTA_PROTO_ICMP${v6}_TYPE`, code: `CTA_PROTO_ICMP${v6}_CODE` };
}

/**
 * A tuple that identifies one entry (ctnetlink_parse_tuple with every flag): src, dst,
 * proto, and exactly the layer-4 fields of that protocol.
 */
export function checkKeyTuple(t: unknown, family: number, field: string, nest = TUPLE_ATTR[field] ?? field): asserts t is Tuple {
  const base = [nest];
  if (t === undefined || t === null) fail(`a complete tuple is required, got ${showValue(t)}`, field, base, undefined, t);
  checkTupleFields(t, field, base, family);
  checkKnownKeys(t, TUPLE_KEYS, field, base);
  const ip = [...base, 'CTA_TUPLE_IP'];
  const v6 = family === AF_INET6 ? 'V6' : 'V4';
  if (t.src === undefined) fail('the source address is required', `${field}.src`, ip, `CTA_IP_${v6}_SRC`);
  if (t.dst === undefined) fail('the destination address is required', `${field}.dst`, ip, `CTA_IP_${v6}_DST`);
  const pr = [...base, 'CTA_TUPLE_PROTO'];
  if (t.proto === undefined) fail('the protocol number is required', `${field}.proto`, pr, 'CTA_PROTO_NUM');
  const proto = t.proto;
  const names = l4Names(proto);
  const ports = PORT_PROTOS.has(proto);
  const icmp = ICMP_PROTOS.has(proto);
  const need = (v: unknown, f: string, attr: string, what: string) => {
    if (v === undefined) fail(`${what} is required for protocol ${proto}`, `${field}.${f}`, pr, attr);
  };
  const refuse = (v: unknown, f: string, attr: string) => {
    if (v !== undefined) fail(`protocol ${proto} has no such field (the kernel would ignore ${showValue(v)})`, `${field}.${f}`, pr, attr, v);
  };
  if (ports) {
    need(t.srcPort, 'srcPort', 'CTA_PROTO_SRC_PORT', 'the source port');
    need(t.dstPort, 'dstPort', 'CTA_PROTO_DST_PORT', 'the destination port');
  } else if (OPTIONAL_PORT_PROTOS.has(proto)) {
    if ((t.srcPort === undefined) !== (t.dstPort === undefined)) {
      const f = t.srcPort === undefined ? 'srcPort' : 'dstPort';
      fail(`protocol ${proto} needs both ports or neither`, `${field}.${f}`, pr, f === 'srcPort' ? 'CTA_PROTO_SRC_PORT' : 'CTA_PROTO_DST_PORT');
    }
  } else {
    refuse(t.srcPort, 'srcPort', 'CTA_PROTO_SRC_PORT');
    refuse(t.dstPort, 'dstPort', 'CTA_PROTO_DST_PORT');
  }
  if (icmp) {
    need(t.icmpType, 'icmpType', names.type, 'the ICMP type');
    need(t.icmpCode, 'icmpCode', names.code, 'the ICMP code');
    need(t.icmpId, 'icmpId', names.id, 'the ICMP id');
  } else {
    refuse(t.icmpType, 'icmpType', names.type);
    refuse(t.icmpCode, 'icmpCode', names.code);
    refuse(t.icmpId, 'icmpId', names.id);
  }
}

/**
 * A partial tuple of a dump or flush filter (CTA_FILTER): at least one field, only fields
 * the kernel's filter matches, with the proto they depend on.
 */
function checkFilterTuple(t: unknown, family: number, field: 'orig' | 'reply'): asserts t is Tuple {
  const base = [TUPLE_ATTR[field]!];
  checkTupleFields(t, field, base, family);
  checkKnownKeys(t, TUPLE_KEYS, field, base);
  if (family !== AF_INET && family !== AF_INET6) {
    fail(`a tuple filter needs family AF_INET (2) or AF_INET6 (10), got ${showValue(family)} (the kernel refuses it otherwise)`, 'family', NFGENMSG, 'nfgen_family', family);
  }
  const pr = [...base, 'CTA_TUPLE_PROTO'];
  if (t.zone !== undefined) {
    fail('the kernel ignores a per-direction zone in a filter; use the filter\'s zone', `${field}.zone`, base, 'CTA_TUPLE_ZONE', t.zone);
  }
  for (const k of ['unknown', 'unknownIp', 'unknownProto'] as const) {
    if (t[k] !== undefined) fail('raw attributes cannot be part of a filter', `${field}.${k}`, base);
  }
  const proto = t.proto;
  const names = l4Names(proto ?? 0);
  const portsOk = proto !== undefined && FILTER_PORT_PROTOS.has(proto);
  const icmpOk = proto !== undefined && ICMP_PROTOS.has(proto);
  const why = proto === undefined ? 'needs proto' : `cannot be matched by the kernel for protocol ${proto}`;
  if (t.srcPort !== undefined && !portsOk) fail(`a port filter ${why}`, `${field}.srcPort`, pr, 'CTA_PROTO_SRC_PORT', t.srcPort);
  if (t.dstPort !== undefined && !portsOk) fail(`a port filter ${why}`, `${field}.dstPort`, pr, 'CTA_PROTO_DST_PORT', t.dstPort);
  if (t.icmpType !== undefined && !icmpOk) fail(`an ICMP filter ${why}`, `${field}.icmpType`, pr, names.type, t.icmpType);
  if (t.icmpCode !== undefined && !icmpOk) fail(`an ICMP filter ${why}`, `${field}.icmpCode`, pr, names.code, t.icmpCode);
  if (t.icmpId !== undefined && !icmpOk) fail(`an ICMP filter ${why}`, `${field}.icmpId`, pr, names.id, t.icmpId);
  if (t.src === undefined && t.dst === undefined && proto === undefined) {
    fail('an empty tuple filter matches every entry; leave it out', field, base, undefined, t);
  }
}

function checkStatusBits(v: unknown, field: string, attr: string): asserts v is number {
  checkU32(v, field, [], attr);
  if ((v & ~IPS_KNOWN_MASK) !== 0) {
    fail(`${showValue(v)} has bits the kernel does not define (only IPS_* bits 0..15, mask 0x${IPS_KNOWN_MASK.toString(16)})`, field, [], attr, v);
  }
}

/** The rules shared by dump and flush filters. Returns the number of criteria. */
function checkFilter(f: Obj, op: 'dump' | 'flush'): number {
  checkKnownKeys(f, FILTER_KEYS, '', []);
  let n = 0;
  if (f.family !== undefined) {
    checkFamily(f.family, op === 'dump');
    if (f.family !== AF_UNSPEC) n++;
  }
  const family = (f.family as number | undefined) ?? AF_UNSPEC;
  if (f.mark !== undefined) {
    checkU32(f.mark, 'mark', [], 'CTA_MARK');
    n++;
    if (f.markMask !== undefined) {
      checkU32(f.markMask, 'markMask', [], 'CTA_MARK_MASK');
      if ((f.mark & ~f.markMask) !== 0) fail(`mark 0x${f.mark.toString(16)} has bits outside markMask 0x${f.markMask.toString(16)}: nothing would match`, 'markMask', [], 'CTA_MARK_MASK', f.markMask);
      if (f.markMask === 0 && op === 'flush') fail('markMask 0 matches every entry: use flush() to flush the whole table', 'markMask', [], 'CTA_MARK_MASK', f.markMask);
    }
  } else if (f.markMask !== undefined) {
    fail('markMask without mark: the kernel would ignore it', 'markMask', [], 'CTA_MARK_MASK', f.markMask);
  }
  if (f.status !== undefined) {
    checkStatusBits(f.status, 'status', 'CTA_STATUS');
    n++;
    const mask = f.statusMask ?? f.status;
    if (f.statusMask !== undefined) checkStatusBits(f.statusMask, 'statusMask', 'CTA_STATUS_MASK');
    if (mask === 0) fail('a status filter with mask 0 (status 0 without statusMask) is refused by the kernel', 'statusMask', [], 'CTA_STATUS_MASK', mask);
    if ((f.status & ~(mask as number)) !== 0) fail(`status 0x${f.status.toString(16)} has bits outside statusMask: nothing would match`, 'statusMask', [], 'CTA_STATUS_MASK', mask);
  } else if (f.statusMask !== undefined) {
    fail('statusMask without status: the kernel would ignore it', 'statusMask', [], 'CTA_STATUS_MASK', f.statusMask);
  }
  if (f.zone !== undefined) {
    checkU16(f.zone, 'zone', [], 'CTA_ZONE');
    n++;
  }
  if (f.orig !== undefined) {
    checkFilterTuple(f.orig, family, 'orig');
    n++;
  }
  if (f.reply !== undefined) {
    checkFilterTuple(f.reply, family, 'reply');
    n++;
  }
  return n;
}

/** dumpRequest(filter, opts). */
export function checkDump(filter: unknown, opts: unknown): void {
  if (filter !== undefined) {
    checkArgObject(filter, 'filter', 'a dump filter');
    checkFilter(filter, 'dump');
  }
  checkOptions(opts, ['zero']);
}

/**
 * flushRequest(filter): called with no argument it flushes the whole table; any filter
 * must narrow it. An explicit `undefined` (argCount 1: a variable that was not set) is
 * refused rather than taken as "flush everything".
 */
export function checkFlush(filter: unknown, argCount = 1): void {
  if (filter === undefined) {
    if (argCount === 0) return;
    fail('flush(undefined) is refused: call flush() with no argument to flush the whole table', 'filter', [], undefined, filter);
  }
  checkArgObject(filter, 'filter', 'a flush filter (call flush() with no argument to flush the whole table)');
  const n = checkFilter(filter, 'flush');
  if (n === 0) {
    fail('a flush filter without a criterion would flush the whole table: call flush() with no argument for that', 'filter', [], undefined, filter);
  }
}

/** getRequest(key, opts). */
export function checkGet(key: unknown, opts: unknown): void {
  checkOptions(opts, ['zero']);
  checkEntryKey(key, (opts as { zero?: boolean } | undefined)?.zero ? 'get-and-zero' : 'get');
}

/** get, get-and-zero and delete: family, a complete orig or reply tuple, zone, id. */
export function checkEntryKey(key: unknown, op: string): void {
  checkArgObject(key, 'key', `the ${op} key`);
  checkKnownKeys(key, CONNTRACK_KEYS, '', []); // a whole entry (from a dump) is a valid key
  checkFamily(key.family, false);
  const family = key.family;
  if (key.orig === undefined && key.reply === undefined) {
    const why = op === 'delete' ? ' (a CT_DELETE without one flushes the whole table; use flush())' : '';
    fail(`${op} needs a complete orig or reply tuple${why}`, 'orig', ['CTA_TUPLE_ORIG'], undefined, key.orig);
  }
  if (key.orig !== undefined) checkKeyTuple(key.orig, family, 'orig');
  if (key.reply !== undefined) checkKeyTuple(key.reply, family, 'reply');
  if (key.zone !== undefined) checkU16(key.zone, 'zone', [], 'CTA_ZONE');
  if (key.id !== undefined) checkU32(key.id, 'id', [], 'CTA_ID');
}

function checkLabels(ct: Obj): void {
  const labels = ct.labels;
  const mask = ct.labelsMask;
  if (labels !== undefined) {
    if (!(labels instanceof Uint8Array)) {
      fail(`${showValue(labels)} is not a Uint8Array label bitmap (labelBitmap([bit, ...]) builds one)`, 'labels', [], 'CTA_LABELS', labels);
    }
    if (labels.length === 0 || labels.length % 4 !== 0 || labels.length > NF_CT_LABELS_MAX_SIZE) {
      fail(`a label bitmap is 4, 8, 12 or 16 bytes, not ${labels.length}`, 'labels', [], 'CTA_LABELS', labels);
    }
  }
  if (mask !== undefined) {
    if (labels === undefined) fail('labelsMask without labels: the kernel would ignore it', 'labelsMask', [], 'CTA_LABELS_MASK', mask);
    if (!(mask instanceof Uint8Array)) fail(`${showValue(mask)} is not a Uint8Array`, 'labelsMask', [], 'CTA_LABELS_MASK', mask);
    if (mask.length !== (labels as Uint8Array).length) {
      fail(`labelsMask is ${mask.length} bytes, labels ${(labels as Uint8Array).length}: the kernel needs the same length`, 'labelsMask', [], 'CTA_LABELS_MASK', mask);
    }
  }
}

/** Rules shared by create and update on top of checkConntrackFields. */
function checkChange(ct: Obj): void {
  if (ct.status !== undefined) checkStatusBits(ct.status, 'status', 'CTA_STATUS');
  if (ct.markMask !== undefined && ct.mark === undefined) {
    fail('markMask without mark: the kernel would ignore it', 'markMask', [], 'CTA_MARK_MASK', ct.markMask);
  }
  checkLabels(ct);
  const helper = ct.helper as Obj | undefined;
  if (helper !== undefined) {
    if (helper.name === undefined) fail('a helper change needs a name (the kernel refuses CTA_HELP without one)', 'helper.name', ['CTA_HELP'], 'CTA_HELP_NAME');
    if (new TextEncoder().encode(helper.name as string).length > HELPER_NAME_MAX) {
      fail(`${showValue(helper.name)} is longer than ${HELPER_NAME_MAX} bytes`, 'helper.name', ['CTA_HELP'], 'CTA_HELP_NAME', helper.name);
    }
  }
  const tcpState = (ct.protoinfo as { tcp?: { state?: number } } | undefined)?.tcp?.state;
  if (tcpState !== undefined && tcpState >= TCP_CONNTRACK_MAX) {
    fail(`${tcpState} is not a TCP conntrack state (0..${TCP_CONNTRACK_MAX - 1})`, 'protoinfo.tcp.state', ['CTA_PROTOINFO', 'CTA_PROTOINFO_TCP'], 'CTA_PROTOINFO_TCP_STATE', tcpState);
  }
  if (ct.filter !== undefined) fail('CTA_FILTER belongs to dump and flush requests', 'filter', [], 'CTA_FILTER', ct.filter);
  if (ct.statusMask !== undefined) fail('CTA_STATUS_MASK belongs to dump and flush requests', 'statusMask', [], 'CTA_STATUS_MASK', ct.statusMask);
  if (ct.eventTimestamp !== undefined) fail('the kernel rejects CTA_TIMESTAMP_EVENT in requests', 'eventTimestamp', [], 'CTA_TIMESTAMP_EVENT', ct.eventTimestamp);
  if (ct.zone !== undefined && ((ct.orig as Tuple | undefined)?.zone !== undefined || (ct.reply as Tuple | undefined)?.zone !== undefined)) {
    fail('zone and a per-direction tuple zone together are refused by the kernel', 'zone', [], 'CTA_ZONE', ct.zone);
  }
}

/** createRequest(entry, opts): orig, reply (same proto), timeout; master complete. */
export function checkCreate(entry: unknown, opts: unknown): void {
  checkArgObject(entry, 'entry', 'the entry to create');
  checkKnownKeys(entry, CONNTRACK_KEYS, '', []);
  checkFamily(entry.family, false);
  const family = entry.family;
  checkKeyTuple(entry.orig, family, 'orig');
  checkKeyTuple(entry.reply, family, 'reply');
  if (entry.orig.proto !== entry.reply.proto) {
    fail(`reply.proto ${entry.reply.proto} differs from orig.proto ${entry.orig.proto} (the kernel refuses it)`, 'reply.proto', ['CTA_TUPLE_REPLY', 'CTA_TUPLE_PROTO'], 'CTA_PROTO_NUM', entry.reply.proto);
  }
  if (entry.timeout === undefined) fail('a new entry needs a timeout (seconds)', 'timeout', [], 'CTA_TIMEOUT');
  if (entry.master !== undefined) checkKeyTuple(entry.master, family, 'master');
  checkConntrackFields(entry, family, true); // NAT addresses are checked against family there
  checkChange(entry);
  checkOptions(opts, ['orUpdate']);
}

/** updateRequest(entry): a complete key (orig or reply), then the changes. */
export function checkUpdate(entry: unknown): void {
  checkArgObject(entry, 'entry', 'the entry to update');
  checkKnownKeys(entry, CONNTRACK_KEYS, '', []);
  checkFamily(entry.family, false);
  const family = entry.family;
  if (entry.orig === undefined && entry.reply === undefined) {
    fail('update needs a complete orig or reply tuple to find the entry', 'orig', ['CTA_TUPLE_ORIG'], undefined, entry.orig);
  }
  if (entry.orig !== undefined) checkKeyTuple(entry.orig, family, 'orig');
  if (entry.reply !== undefined) checkKeyTuple(entry.reply, family, 'reply');
  if (entry.master !== undefined) checkTupleFields(entry.master, 'master', ['CTA_TUPLE_MASTER'], family);
  checkConntrackFields(entry, family, true);
  checkChange(entry);
}

/** dyingRequest / unconfirmedRequest / expectDumpRequest family. */
export function checkListFamily(family: unknown): void {
  checkFamily(family, true);
}

/** expectDumpRequest(family, master): a master needs a family and a complete tuple. */
export function checkExpectDump(family: unknown, master: unknown): void {
  checkFamily(family, master === undefined);
  if (master !== undefined) {
    const base = ['CTA_EXPECT_MASTER'];
    if (master === null) fail('a master tuple must be an object, got null', 'master', base, undefined, master);
    checkKeyTuple(master, family as number, 'master', 'CTA_EXPECT_MASTER');
  }
}
