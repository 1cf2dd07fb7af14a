/**
 * The JSON format's object builder: toJson(m) is the reference form of every line (schema
 * in json.ts); the fast path (json-line.ts) writes the same text directly for conntrack
 * messages.
 */
import { messageTypeName } from '../ctnetlink/message.js';
import type { Conntrack, Expectation, Message, NatRange, SeqAdj, TcpFlags, Tuple } from '../ctnetlink/model.js';
import { CPU_STATS_FIELDS } from '../ctnetlink/stats.js';
import { dccpStateName, sctpStateName, statusNames, tcpStateName } from '../ctnetlink/status.js';
import type { RawAttribute } from '../netlink/attribute.js';
import type { ErrorPayload, ExtAck, PolicyInfo } from '../netlink/control.js';
import { NLM_F_REQUEST } from '../netlink/constants.js';
import { errnoName } from '../netlink/errno.js';
import type { NlMsgHeader } from '../netlink/message.js';
import { familyName, protoName } from './conntrack.js';
import type { FormatContext } from './index.js';
import { CPU_NAMES } from './names.js';
import { isoTime } from './json-time.js';

/** A JSON value as this module builds it (no bigint: 64-bit values are strings already). */
export type JsonValue = string | number | boolean | JsonValue[] | { [key: string]: JsonValue };
export type JsonObject = { [key: string]: JsonValue };
export type Obj = JsonObject;

export function hex(b: Uint8Array): string {
  let s = '';
  for (const x of b) s += (x < 16 ? '0' : '') + x.toString(16);
  return s;
}

/** Set `o[k] = v` unless v is undefined (absent attributes are omitted). */
export function put(o: Obj, k: string, v: JsonValue | undefined): void {
  if (v !== undefined) o[k] = v;
}

export function str(v: bigint | undefined): string | undefined {
  return v === undefined ? undefined : v.toString();
}

function nonEmpty(o: Obj): Obj | undefined {
  return Object.keys(o).length > 0 ? o : undefined;
}

export function unknownList(list: RawAttribute[] | undefined, nest?: string): Obj[] {
  return (list ?? []).map((a) => {
    const o: Obj = { type: a.type, hex: hex(a.data) };
    if (nest !== undefined) o.nest = nest;
    return o;
  });
}

export function putUnknown(o: Obj, ...lists: Obj[][]): void {
  const all = lists.flat();
  if (all.length > 0) o.unknown = all;
}

function family(f: number): JsonValue {
  return f === 2 || f === 10 ? familyName(f) : f;
}

export function tuple(t: Tuple, topProto: number | undefined): Obj {
  const o: Obj = {};
  put(o, 'src', t.src);
  put(o, 'dst', t.dst);
  put(o, 'sport', t.srcPort);
  put(o, 'dport', t.dstPort);
  put(o, 'type', t.icmpType);
  put(o, 'code', t.icmpCode);
  put(o, 'id', t.icmpId);
  put(o, 'zone', t.zone);
  if (t.proto !== undefined && t.proto !== topProto) o.protoNum = t.proto;
  putUnknown(o, unknownList(t.unknown), unknownList(t.unknownIp, 'ip'), unknownList(t.unknownProto, 'proto'));
  return o;
}

export function tcpFlags(f: TcpFlags): Obj {
  return { flags: f.flags, mask: f.mask };
}

export function seqAdj(s: SeqAdj): Obj {
  const o: Obj = {};
  put(o, 'correctionPos', s.correctionPos);
  put(o, 'offsetBefore', s.offsetBefore === undefined ? undefined : s.offsetBefore | 0);
  put(o, 'offsetAfter', s.offsetAfter === undefined ? undefined : s.offsetAfter | 0);
  putUnknown(o, unknownList(s.unknown));
  return o;
}

export function natRange(n: NatRange): Obj {
  const o: Obj = {};
  put(o, 'minIp', n.minIp);
  put(o, 'maxIp', n.maxIp);
  put(o, 'minPort', n.minPort);
  put(o, 'maxPort', n.maxPort);
  putUnknown(o, unknownList(n.unknown), unknownList(n.unknownProto, 'proto'));
  return o;
}

export function labelBits(b: Uint8Array): number[] {
  const out: number[] = [];
  for (let i = 0; i < b.length * 8; i++) if (b[i >> 3]! & (1 << (i & 7))) out.push(i);
  return out;
}

export function protoinfo(ct: Conntrack): Obj | undefined {
  const pi = ct.protoinfo;
  if (pi === undefined) return undefined;
  const o: Obj = {};
  if (pi.tcp) {
    const t: Obj = {};
    put(t, 'state', pi.tcp.state);
    put(t, 'stateName', pi.tcp.state === undefined ? undefined : tcpStateName(pi.tcp.state));
    put(t, 'wscaleOriginal', pi.tcp.wscaleOriginal);
    put(t, 'wscaleReply', pi.tcp.wscaleReply);
    put(t, 'flagsOriginal', pi.tcp.flagsOriginal && tcpFlags(pi.tcp.flagsOriginal));
    put(t, 'flagsReply', pi.tcp.flagsReply && tcpFlags(pi.tcp.flagsReply));
    putUnknown(t, unknownList(pi.tcp.unknown));
    o.tcp = t;
  }
  if (pi.sctp) {
    const t: Obj = {};
    put(t, 'state', pi.sctp.state);
    put(t, 'stateName', pi.sctp.state === undefined ? undefined : sctpStateName(pi.sctp.state));
    put(t, 'vtagOriginal', pi.sctp.vtagOriginal);
    put(t, 'vtagReply', pi.sctp.vtagReply);
    putUnknown(t, unknownList(pi.sctp.unknown));
    o.sctp = t;
  }
  if (pi.dccp) {
    const t: Obj = {};
    put(t, 'state', pi.dccp.state);
    put(t, 'stateName', pi.dccp.state === undefined ? undefined : dccpStateName(pi.dccp.state));
    put(t, 'role', pi.dccp.role);
    put(t, 'handshakeSeq', str(pi.dccp.handshakeSeq));
    putUnknown(t, unknownList(pi.dccp.unknown));
    o.dccp = t;
  }
  putUnknown(o, unknownList(pi.unknown));
  return o;
}

export function stateOf(ct: Conntrack): string | undefined {
  const pi = ct.protoinfo;
  if (pi?.tcp?.state !== undefined) return tcpStateName(pi.tcp.state);
  if (pi?.sctp?.state !== undefined) return sctpStateName(pi.sctp.state);
  if (pi?.dccp?.state !== undefined) return dccpStateName(pi.dccp.state);
  return undefined;
}

/** The conntrack keys, in schema order, added to `o`. */
function conntrackInto(o: Obj, ct: Conntrack): void {
  o.family = family(ct.family);
  const p = ct.orig?.proto;
  if (p !== undefined) {
    o.proto = protoName(p);
    o.protoNum = p;
  }
  put(o, 'state', stateOf(ct));
  put(o, 'orig', ct.orig && tuple(ct.orig, p));
  put(o, 'reply', ct.reply && tuple(ct.reply, p));
  put(o, 'master', ct.master && tuple(ct.master, p));
  put(o, 'status', ct.status === undefined ? undefined : statusNames(ct.status));
  put(o, 'timeout', ct.timeout);
  put(o, 'mark', ct.mark);
  put(o, 'secmark', ct.secmark);
  put(o, 'zone', ct.zone);
  put(o, 'id', ct.id);
  put(o, 'use', ct.use);
  const counters: Obj = {};
  for (const [k, c] of [['orig', ct.countersOrig], ['reply', ct.countersReply]] as const) {
    if (c === undefined) continue;
    const d: Obj = {};
    put(d, 'packets', str(c.packets));
    put(d, 'bytes', str(c.bytes));
    putUnknown(d, unknownList(c.unknown));
    counters[k] = d;
  }
  put(o, 'counters', nonEmpty(counters));
  const ts: Obj = {};
  put(ts, 'start', str(ct.timestamp?.start));
  put(ts, 'stop', str(ct.timestamp?.stop));
  put(ts, 'event', str(ct.eventTimestamp));
  if (ct.timestamp?.unknown) putUnknown(ts, unknownList(ct.timestamp.unknown));
  put(o, 'timestamps', nonEmpty(ts));
  put(o, 'labels', ct.labels && labelBits(ct.labels));
  put(o, 'helper', ct.helper?.name);
  put(o, 'helperInfo', ct.helper?.info && hex(ct.helper.info));
  if (ct.helper?.unknown) o.helperUnknown = unknownList(ct.helper.unknown);
  put(o, 'secctx', ct.secctx);
  if (ct.secctxUnknown) o.secctxUnknown = unknownList(ct.secctxUnknown);
  const sa: Obj = {};
  put(sa, 'orig', ct.seqAdjOrig && seqAdj(ct.seqAdjOrig));
  put(sa, 'reply', ct.seqAdjReply && seqAdj(ct.seqAdjReply));
  put(o, 'seqAdj', nonEmpty(sa));
  if (ct.synproxy) {
    const s: Obj = {};
    put(s, 'isn', ct.synproxy.isn);
    put(s, 'its', ct.synproxy.its);
    put(s, 'tsoff', ct.synproxy.tsoff);
    putUnknown(s, unknownList(ct.synproxy.unknown));
    o.synproxy = s;
  }
  put(o, 'protoinfo', protoinfo(ct));
  put(o, 'natSrc', ct.natSrc && natRange(ct.natSrc));
  put(o, 'natDst', ct.natDst && natRange(ct.natDst));
  put(o, 'markMask', ct.markMask);
  put(o, 'statusMask', ct.statusMask);
  put(o, 'labelsMask', ct.labelsMask && labelBits(ct.labelsMask));
  if (ct.filter) {
    const f: Obj = {};
    put(f, 'origFlags', ct.filter.origFlags);
    put(f, 'replyFlags', ct.filter.replyFlags);
    putUnknown(f, unknownList(ct.filter.unknown));
    o.filter = f;
  }
  putUnknown(o, unknownList(ct.unknown));
}

const EXP_FLAG_NAMES = ['PERMANENT', 'INACTIVE', 'USERSPACE'];

function expectInto(o: Obj, x: Expectation): void {
  o.family = family(x.family);
  const p = x.tuple?.proto;
  if (p !== undefined) {
    o.proto = protoName(p);
    o.protoNum = p;
  }
  put(o, 'tuple', x.tuple && tuple(x.tuple, p));
  put(o, 'mask', x.mask && tuple(x.mask, p));
  put(o, 'master', x.master && tuple(x.master, p));
  put(o, 'timeout', x.timeout);
  put(o, 'id', x.id);
  put(o, 'helper', x.helpName);
  put(o, 'zone', x.zone);
  if (x.flags !== undefined) {
    const names: string[] = [];
    for (let b = 0; b < 32; b++) if (x.flags & (1 << b)) names.push(EXP_FLAG_NAMES[b] ?? `BIT_${b}`);
    o.expectFlags = names;
  }
  put(o, 'class', x.class);
  if (x.nat) {
    const n: Obj = {};
    put(n, 'dir', x.nat.dir === 0 ? 'orig' : x.nat.dir === 1 ? 'reply' : x.nat.dir);
    put(n, 'tuple', x.nat.tuple && tuple(x.nat.tuple, p));
    putUnknown(n, unknownList(x.nat.unknown));
    o.nat = n;
  }
  put(o, 'fn', x.fn);
  putUnknown(o, unknownList(x.unknown));
}

function header(o: Obj, h: NlMsgHeader): void {
  o.msgType = messageTypeName(h.type);
  o.seq = h.seq >>> 0;
  o.pid = h.pid >>> 0;
  o.flags = h.flags;
}

function policy(p: PolicyInfo): Obj {
  const o: Obj = {};
  put(o, 'type', p.type);
  put(o, 'minValueS', str(p.minValueS));
  put(o, 'maxValueS', str(p.maxValueS));
  put(o, 'minValueU', str(p.minValueU));
  put(o, 'maxValueU', str(p.maxValueU));
  put(o, 'minLength', p.minLength);
  put(o, 'maxLength', p.maxLength);
  put(o, 'policyIdx', p.policyIdx);
  put(o, 'policyMaxType', p.policyMaxType);
  put(o, 'bitfield32Mask', p.bitfield32Mask);
  put(o, 'mask', str(p.mask));
  putUnknown(o, unknownList(p.unknown));
  return o;
}

function extAck(x: ExtAck): Obj | undefined {
  const o: Obj = {};
  put(o, 'offset', x.offset);
  put(o, 'missingType', x.missingType);
  put(o, 'missingNest', x.missingNest);
  put(o, 'cookie', x.cookie && hex(x.cookie));
  put(o, 'policy', x.policy && policy(x.policy));
  putUnknown(o, unknownList(x.unknown));
  return nonEmpty(o);
}

function echoed(e: ErrorPayload): Obj {
  const r = e.request;
  const o: Obj = { msgType: messageTypeName(r.type), len: r.len >>> 0, flags: r.flags, seq: r.seq >>> 0, pid: r.pid >>> 0 };
  put(o, 'payload', e.requestPayload && hex(e.requestPayload));
  return o;
}

function typeOf(m: Message): string {
  switch (m.kind) {
    case 'conntrack':
      return m.header.flags & NLM_F_REQUEST ? 'request' : (m.event ?? 'entry');
    case 'expect':
      return m.header.flags & NLM_F_REQUEST ? 'request' : m.event === undefined ? 'expect' : `expect-${m.event}`;
    case 'error':
      return m.error.error === 0 ? 'ack' : 'error';
    case 'noop':
      return 'other';
    default:
      return m.kind;
  }
}

/** The JSON object for a message (see the schema above). */
export function toJson(m: Message, ctx: FormatContext = {}): JsonObject {
  const type = typeOf(m);
  const o: Obj = { type };
  if (ctx.timestampNs !== undefined) {
    o.time = isoTime(ctx.timestampNs);
    o.timestampNs = ctx.timestampNs.toString();
  }
  const isEvent = type === 'new' || type === 'update' || type === 'destroy' || type === 'expect-new' || type === 'expect-destroy';
  if (isEvent) {
    if (m.header.pid >>> 0 !== 0) o.pid = m.header.pid >>> 0;
  } else if (m.kind !== 'overrun') {
    header(o, m.header);
  }
  switch (m.kind) {
    case 'conntrack':
      conntrackInto(o, m.conntrack);
      break;
    case 'expect':
      expectInto(o, m.expect);
      break;
    case 'stats-cpu': {
      o.cpu = m.stats.cpu;
      for (const [, key] of CPU_STATS_FIELDS) put(o, CPU_NAMES[key]!, m.stats[key]);
      putUnknown(o, unknownList(m.stats.unknown));
      break;
    }
    case 'expect-stats-cpu':
      o.cpu = m.stats.cpu;
      put(o, 'expect_new', m.stats.new);
      put(o, 'expect_create', m.stats.create);
      put(o, 'expect_delete', m.stats.delete);
      putUnknown(o, unknownList(m.stats.unknown));
      break;
    case 'stats':
      put(o, 'entries', m.stats.entries);
      put(o, 'max', m.stats.maxEntries);
      putUnknown(o, unknownList(m.stats.unknown));
      break;
    case 'request':
      o.family = family(m.nfgen.family);
      putUnknown(o, unknownList(m.unknown));
      break;
    case 'error': {
      const e = m.error;
      if (e.error !== 0) {
        o.errno = -e.error;
        o.code = errnoName(e.error);
      }
      put(o, 'message', e.extAck?.message);
      put(o, 'extAck', e.extAck && extAck(e.extAck));
      o.request = echoed(e);
      break;
    }
    case 'done':
      if (m.done.error !== 0) {
        o.errno = -m.done.error;
        o.code = errnoName(m.done.error);
      }
      put(o, 'message', m.done.extAck?.message);
      put(o, 'extAck', m.done.extAck && extAck(m.done.extAck));
      break;
    case 'other':
      o.payload = hex(m.payload);
      break;
    case 'noop':
    case 'overrun':
      break;
  }
  return o;
}
