/**
 * The `json` format: one JSON object per message, one per line. Stable schema, version 1.
 *
 * ## Conventions
 * - A key is omitted when its attribute was absent from the message; no key is ever null.
 * - 64-bit values are JSON strings of decimal digits so that every JSON parser keeps them
 *   exact: counters (`packets`, `bytes`), nanosecond timestamps (`timestampNs`, `start`,
 *   `stop`, `event`), the DCCP `handshakeSeq` and 64-bit ext-ack policy bounds. Every other
 *   number fits in 32 bits (unsigned, except the signed `seqAdj` offsets and `errno`).
 * - Byte strings (`hex`, `helperInfo`, `payload`, ...) are lowercase hex.
 * - Keys come in the order listed here. New keys may be added in later versions; existing
 *   keys keep their meaning.
 *
 * ## Keys on every line
 * - `type`: `"new"` | `"update"` | `"destroy"` (conntrack events), `"entry"` (conntrack dump
 *   entry or GET reply), `"expect-new"` | `"expect-destroy"` (expectation events),
 *   `"expect"` (expectation entry), `"stats-cpu"`, `"expect-stats-cpu"`, `"stats"`,
 *   `"request"`, `"error"`, `"ack"`, `"done"`, `"overrun"`, `"other"`.
 * - `time`: receive or capture time, ISO-8601 UTC with microseconds
 *   (`"2026-11-24T15:07:01.745528Z"`); `timestampNs`: the same in ns since the epoch
 *   (string). Both absent when the time is unknown.
 * - Netlink header: `msgType` (kernel name, e.g. `"IPCTNL_MSG_CT_NEW"`, `"NLMSG_ERROR"`, or
 *   `"0x0a01"`), `seq`, `pid`, `flags` (nlmsg_flags as a number). Events (conntrack and
 *   expectation) carry only `pid`, and only when it is non-zero: the netlink port id of
 *   the process whose request caused the event (`[USERSPACE] portid=` in conntrack -E).
 *
 * ## Conntrack: `new`, `update`, `destroy`, `entry` (and the body of conntrack requests)
 * - `family`: `"ipv4"` | `"ipv6"` | number (nfgen_family; 0 in some requests).
 * - `proto`: `"tcp"` `"udp"` `"udplite"` `"icmp"` `"icmpv6"` `"sctp"` `"gre"` `"dccp"` or
 *   `"unknown"`; `protoNum`: the IP protocol number. Both from the original tuple.
 * - `state`: TCP / SCTP / DCCP state name (`"ESTABLISHED"`).
 * - `orig`, `reply`, `master`: tuples `{src, dst, sport, dport, type, code, id, zone,
 *   protoNum, unknown}`: addresses as inet_ntop writes them; `sport`/`dport` for TCP, UDP,
 *   UDP-Lite, SCTP, DCCP and GRE (where they hold the GRE keys); `type`/`code`/`id` for
 *   ICMP and ICMPv6; `zone` = CTA_TUPLE_ZONE; `protoNum` only when it differs from the
 *   top-level one.
 * - `status`: array of IPS_* names without the prefix (`["SEEN_REPLY","ASSURED",
 *   "CONFIRMED"]`), `"BIT_<n>"` for bits this version does not know.
 * - `timeout` (seconds), `mark`, `secmark`, `zone`, `id`, `use`.
 * - `counters`: `{orig: {packets, bytes}, reply: {packets, bytes}}` (strings).
 * - `timestamps`: `{start, stop, event}` ns since the epoch (strings); `event` is
 *   CTA_TIMESTAMP_EVENT.
 * - `labels`: array of the set label bit numbers (`[1, 5]`).
 * - `helper`: helper name; `helperInfo`: CTA_HELP_INFO bytes (hex).
 * - `secctx`: security context.
 * - `seqAdj`: `{orig: {correctionPos, offsetBefore, offsetAfter}, reply: {...}}`.
 * - `synproxy`: `{isn, its, tsoff}`.
 * - `protoinfo`: `{tcp: {state, stateName, wscaleOriginal, wscaleReply, flagsOriginal:
 *   {flags, mask}, flagsReply}, sctp: {state, stateName, vtagOriginal, vtagReply},
 *   dccp: {state, stateName, role, handshakeSeq}}`.
 * - Request-only: `natSrc`/`natDst`: `{minIp, maxIp, minPort, maxPort}`, `markMask`,
 *   `statusMask`, `labelsMask` (bit numbers), `filter`: `{origFlags, replyFlags}`.
 * - `unknown`: `[{type, hex}]`, attributes this version does not decode (`type` with its
 *   NLA_F_* bits); nested objects carry their own `unknown` (tuples add `nest: "ip" |
 *   "proto"` for those found inside CTA_TUPLE_IP / CTA_TUPLE_PROTO).
 *
 * ## Expectations: `expect-new`, `expect-destroy`, `expect`
 * `family`, `proto`, `protoNum` (of the expected tuple), `tuple` (the expected connection),
 * `mask`, `master` (tuples as above), `timeout`, `id`, `helper`, `zone`, `expectFlags`
 * (`["PERMANENT","INACTIVE","USERSPACE"]`, `"BIT_<n>"` otherwise), `class`,
 * `nat`: `{dir: "orig" | "reply" | number, tuple}`, `fn`, `unknown`.
 *
 * ## Statistics
 * - `stats-cpu`: `cpu` then the counters present, named as `conntrack -S` names them:
 *   `searched`, `found`, `new`, `invalid`, `ignore`, `delete`, `delete_list`, `insert`,
 *   `insert_failed`, `drop`, `early_drop`, `error`, `search_restart`, `clash_resolve`,
 *   `chaintoolong`; `unknown` for newer counters.
 * - `expect-stats-cpu`: `cpu`, `expect_new`, `expect_create`, `expect_delete`.
 * - `stats`: `entries`, `max` (nf_conntrack_max).
 *
 * ## Control messages and the rest
 * - `error`: `errno` (positive), `code` (`"ENOENT"`), `message` (ext-ack text), `extAck`
 *   `{offset, missingType, missingNest, cookie, policy, unknown}`, `request` (the echoed
 *   header `{msgType, len, flags, seq, pid}` and `payload` hex when not capped).
 * - `ack`: `request` as for errors.
 * - `done`: `errno`, `code`, `message` when the dump ended with an error.
 * - `request`: `family` and the request's body (conntrack or expectation keys above, or
 *   `unknown`).
 * - `overrun`: no further keys (ctevents adds `lost` when it knows how many).
 * - `other`: `payload` (hex) of a message this version does not decode (`NLMSG_NOOP`,
 *   other subsystems).
 */
import { messageTypeName } from '../ctnetlink/message.js';
import type { Conntrack, Counters, Expectation, Message, NatRange, SeqAdj, TcpFlags, Tuple } from '../ctnetlink/model.js';
import { CPU_STATS_FIELDS } from '../ctnetlink/stats.js';
import { dccpStateName, sctpStateName, statusNames, tcpStateName } from '../ctnetlink/status.js';
import type { RawAttribute } from '../netlink/attribute.js';
import type { ErrorPayload, ExtAck, PolicyInfo } from '../netlink/control.js';
import { NLM_F_REQUEST } from '../netlink/constants.js';
import { errnoName } from '../netlink/errno.js';
import type { NlMsgHeader } from '../netlink/message.js';
import { familyName, protoName } from './conntrack.js';
import type { FormatContext } from './index.js';
import { flat, slots, u32 } from './pieces.js';
import { CPU_NAMES } from './names.js';

/** A JSON value as this module builds it (no bigint: 64-bit values are strings already). */
export type JsonValue = string | number | boolean | JsonValue[] | { [key: string]: JsonValue };
export type JsonObject = { [key: string]: JsonValue };
type Obj = JsonObject;

export interface JsonFormatOptions {
  /** Indentation for JSON.stringify (default none: one object per line). */
  space?: number;
}

const NS_PER_S = 1_000_000_000n;

/** isoTime the long way (any ns, negative included). */
function isoTimeSlow(ns: bigint): string {
  const sec = ns >= 0n ? ns / NS_PER_S : (ns - NS_PER_S + 1n) / NS_PER_S;
  const usec = String((ns - sec * NS_PER_S) / 1000n).padStart(6, '0');
  return new Date(Number(sec) * 1000).toISOString().replace(/\.\d{3}Z$/, `.${usec}Z`);
}

// The last second seen by isoDigits: its decimal digits and "2026-11-24T15:07:01." for it.
let isoSecDigits = '';
let isoSecPrefix = '';

/**
 * isoTime for `digits` = ns.toString(). For times from 1970-01-01T00:00:01Z on, the
 * seconds and microseconds are slices of the digits, and the date part is computed once
 * per second (a flood of events shares a handful of seconds).
 */
function isoDigits(ns: bigint, digits: string): string {
  const n = digits.length;
  if (n <= 9 || digits.charCodeAt(0) === 45 /* '-' */) return isoTimeSlow(ns);
  const sec = digits.slice(0, n - 9);
  if (sec !== isoSecDigits) {
    const iso = new Date(Number(sec) * 1000).toISOString();
    // "...T15:07:01.000Z" -> "...T15:07:01."
    isoSecPrefix = iso.slice(0, iso.length - 4);
    isoSecDigits = sec;
  }
  return isoSecPrefix + digits.slice(n - 9, n - 3) + 'Z';
}

/** "2026-11-24T15:07:01.745528Z" for ns since the epoch (UTC, microseconds, truncated). */
export function isoTime(ns: bigint): string {
  return isoDigits(ns, ns.toString());
}

/** JSON.stringify that writes bigint as a decimal string instead of throwing. */
export function stringifyJson(v: unknown, space?: number): string {
  return JSON.stringify(v, (_k, x: unknown) => (typeof x === 'bigint' ? x.toString() : x), space);
}

function hex(b: Uint8Array): string {
  let s = '';
  for (const x of b) s += (x < 16 ? '0' : '') + x.toString(16);
  return s;
}

/** Set `o[k] = v` unless v is undefined (absent attributes are omitted). */
function put(o: Obj, k: string, v: JsonValue | undefined): void {
  if (v !== undefined) o[k] = v;
}

function str(v: bigint | undefined): string | undefined {
  return v === undefined ? undefined : v.toString();
}

function nonEmpty(o: Obj): Obj | undefined {
  return Object.keys(o).length > 0 ? o : undefined;
}

function unknownList(list: RawAttribute[] | undefined, nest?: string): Obj[] {
  return (list ?? []).map((a) => {
    const o: Obj = { type: a.type, hex: hex(a.data) };
    if (nest !== undefined) o.nest = nest;
    return o;
  });
}

function putUnknown(o: Obj, ...lists: Obj[][]): void {
  const all = lists.flat();
  if (all.length > 0) o.unknown = all;
}

function family(f: number): JsonValue {
  return f === 2 || f === 10 ? familyName(f) : f;
}

function tuple(t: Tuple, topProto: number | undefined): Obj {
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

function tcpFlags(f: TcpFlags): Obj {
  return { flags: f.flags, mask: f.mask };
}

function seqAdj(s: SeqAdj): Obj {
  const o: Obj = {};
  put(o, 'correctionPos', s.correctionPos);
  put(o, 'offsetBefore', s.offsetBefore === undefined ? undefined : s.offsetBefore | 0);
  put(o, 'offsetAfter', s.offsetAfter === undefined ? undefined : s.offsetAfter | 0);
  putUnknown(o, unknownList(s.unknown));
  return o;
}

function natRange(n: NatRange): Obj {
  const o: Obj = {};
  put(o, 'minIp', n.minIp);
  put(o, 'maxIp', n.maxIp);
  put(o, 'minPort', n.minPort);
  put(o, 'maxPort', n.maxPort);
  putUnknown(o, unknownList(n.unknown), unknownList(n.unknownProto, 'proto'));
  return o;
}

function labelBits(b: Uint8Array): number[] {
  const out: number[] = [];
  for (let i = 0; i < b.length * 8; i++) if (b[i >> 3]! & (1 << (i & 7))) out.push(i);
  return out;
}

function protoinfo(ct: Conntrack): Obj | undefined {
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

function stateOf(ct: Conntrack): string | undefined {
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

// ------------------------------------------------------------------------------------------
// The line writer. toJson + JSON.stringify is the reference; the functions below write the
// same text directly for conntrack messages (every event, every dump entry), without the
// intermediate objects. Rare parts (unknown attributes, requests' NAT ranges, seqAdj, ...)
// still go through the object builders above and JSON.stringify: only their text matters.

/** A JSON string literal of arbitrary text. */
function q(s: string): string {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    // '"' 34, '\\' 92, controls, and surrogates (JSON.stringify escapes lone ones).
    if (c < 0x20 || c === 34 || c === 92 || (c >= 0xd800 && c <= 0xdfff)) return JSON.stringify(s);
  }
  return '"' + s + '"';
}

function hasItems(list: readonly unknown[] | undefined): boolean {
  return list !== undefined && list.length > 0;
}

/** `,"key":value` for the members of a JSON object built by the caller after '{'. */
function member(body: string, key: string, value: string): string {
  return body.length === 0 ? '"' + key + '":' + value : body + ',"' + key + '":' + value;
}

/**
 * A tuple object. Addresses are inet_ntop text (digits, hex letters, '.' and ':', see
 * model.ts), so they are written without an escaping pass.
 */
function tupleText(t: Tuple, topProto: number | undefined): string {
  if (t.unknown !== undefined || t.unknownIp !== undefined || t.unknownProto !== undefined) {
    if (hasItems(t.unknown) || hasItems(t.unknownIp) || hasItems(t.unknownProto)) return JSON.stringify(tuple(t, topProto));
  }
  let b = '';
  if (t.src !== undefined) b = '"src":"' + t.src + '"';
  if (t.dst !== undefined) b = member(b, 'dst', '"' + t.dst + '"');
  if (t.srcPort !== undefined) b = member(b, 'sport', u32(t.srcPort));
  if (t.dstPort !== undefined) b = member(b, 'dport', u32(t.dstPort));
  if (t.icmpType !== undefined) b = member(b, 'type', u32(t.icmpType));
  if (t.icmpCode !== undefined) b = member(b, 'code', u32(t.icmpCode));
  if (t.icmpId !== undefined) b = member(b, 'id', u32(t.icmpId));
  if (t.zone !== undefined) b = member(b, 'zone', u32(t.zone));
  if (t.proto !== undefined && t.proto !== topProto) b = member(b, 'protoNum', u32(t.proto));
  return '{' + b + '}';
}

/**
 * `s` + `,"key":` + the tuple object. `open` is `,"key":{"src":"`: for the shape of every
 * TCP / UDP / SCTP / DCCP tuple the literals around the values are merged into few pieces.
 */
function tupleInto(s: string, open: string, key: string, t: Tuple, topProto: number | undefined): string {
  const src = t.src;
  const dst = t.dst;
  const sport = t.srcPort;
  const dport = t.dstPort;
  if (src !== undefined && dst !== undefined && sport !== undefined && dport !== undefined && t.zone === undefined &&
    t.icmpType === undefined && t.icmpCode === undefined && t.icmpId === undefined &&
    (t.proto === undefined || t.proto === topProto) && t.unknown === undefined && t.unknownIp === undefined && t.unknownProto === undefined) {
    return s + open + src + '","dst":"' + dst + '","sport":' + u32(sport) + ',"dport":' + u32(dport) + '}';
  }
  return s + ',"' + key + '":' + tupleText(t, topProto);
}

const statusCache = new Map<number, string>();
let lastStatus = -1;
let lastStatusText = '';

/** `,"status":[...]`, remembered per status word (a table sees few distinct ones). */
function statusText(status: number): string {
  if (status === lastStatus) return lastStatusText;
  let t = statusCache.get(status);
  if (t === undefined) {
    t = flat(',"status":' + JSON.stringify(statusNames(status)));
    if (statusCache.size >= 4096) statusCache.clear();
    statusCache.set(status, t);
  }
  lastStatus = status;
  lastStatusText = t;
  return t;
}

const protoCache = slots(256);

/** `,"proto":"udp","protoNum":17` */
function protoText(p: number): string {
  const hit = p >= 0 && p < 256 && p === (p | 0) ? protoCache[p] : undefined;
  if (hit !== undefined) return hit;
  const t = flat(',"proto":' + q(protoName(p)) + ',"protoNum":' + p);
  if (p >= 0 && p < 256 && p === (p | 0)) protoCache[p] = t;
  return t;
}

function countersText(c: Counters): string {
  if (hasItems(c.unknown)) {
    const d: Obj = {};
    put(d, 'packets', str(c.packets));
    put(d, 'bytes', str(c.bytes));
    putUnknown(d, unknownList(c.unknown));
    return JSON.stringify(d);
  }
  let b = '';
  if (c.packets !== undefined) b = '"packets":"' + c.packets + '"';
  if (c.bytes !== undefined) b = member(b, 'bytes', '"' + c.bytes + '"');
  return '{' + b + '}';
}

function tcpFlagsText(f: TcpFlags): string {
  if (typeof f.flags !== 'number' || typeof f.mask !== 'number') return JSON.stringify(tcpFlags(f));
  return '{"flags":' + f.flags + ',"mask":' + f.mask + '}';
}

/** `protoinfo` for the common shape (TCP only, nothing unknown), else undefined. */
function tcpProtoinfoText(ct: Conntrack): string | undefined {
  const pi = ct.protoinfo!;
  const t = pi.tcp;
  if (t === undefined || pi.sctp !== undefined || pi.dccp !== undefined || hasItems(pi.unknown) || hasItems(t.unknown)) return undefined;
  let b = '';
  if (t.state !== undefined) b = '"state":' + t.state + ',"stateName":"' + tcpStateName(t.state) + '"';
  if (t.wscaleOriginal !== undefined) b = member(b, 'wscaleOriginal', '' + t.wscaleOriginal);
  if (t.wscaleReply !== undefined) b = member(b, 'wscaleReply', '' + t.wscaleReply);
  if (t.flagsOriginal) b = member(b, 'flagsOriginal', tcpFlagsText(t.flagsOriginal));
  if (t.flagsReply) b = member(b, 'flagsReply', tcpFlagsText(t.flagsReply));
  return '{"tcp":{' + b + '}}';
}

const familyProtoCache = slots(512);

/** `,"family":"ipv4","proto":"udp","protoNum":17` (proto part only when known). */
function familyProtoText(f: number, p: number | undefined): string {
  const slot = (f === 2 ? 0 : f === 10 ? 256 : -1) + (p === undefined ? 0 : p);
  const cacheable = f === 2 || f === 10 ? p !== undefined && p >= 0 && p < 256 && p === (p | 0) : false;
  if (cacheable) {
    const hit = familyProtoCache[slot];
    if (hit !== undefined) return hit;
  }
  let t = f === 2 ? ',"family":"ipv4"' : f === 10 ? ',"family":"ipv6"' : ',"family":' + f;
  if (p !== undefined) t += protoText(p);
  if (cacheable) familyProtoCache[slot] = t = flat(t);
  return t;
}

/** `s` + the conntrack members of conntrackInto, each as `,"key":value`. */
function conntrackMembers(s: string, ct: Conntrack): string {
  const orig = ct.orig;
  const p = orig?.proto;
  s += familyProtoText(ct.family, p);
  const pi = ct.protoinfo;
  if (pi !== undefined) {
    const st = stateOf(ct);
    if (st !== undefined) s += ',"state":' + q(st);
  }
  if (orig) s = tupleInto(s, ',"orig":{"src":"', 'orig', orig, p);
  if (ct.reply) s = tupleInto(s, ',"reply":{"src":"', 'reply', ct.reply, p);
  if (ct.master) s += ',"master":' + tupleText(ct.master, p);
  if (ct.status !== undefined) s += statusText(ct.status);
  if (ct.timeout !== undefined) s += ',"timeout":' + u32(ct.timeout);
  if (ct.mark !== undefined) s += ',"mark":' + u32(ct.mark);
  if (ct.secmark !== undefined) s += ',"secmark":' + u32(ct.secmark);
  if (ct.zone !== undefined) s += ',"zone":' + u32(ct.zone);
  if (ct.id !== undefined) s += ',"id":' + u32(ct.id);
  if (ct.use !== undefined) s += ',"use":' + u32(ct.use);
  const co = ct.countersOrig;
  const cr = ct.countersReply;
  if (co !== undefined || cr !== undefined) {
    let b = '';
    if (co !== undefined) b = '"orig":' + countersText(co);
    if (cr !== undefined) b = member(b, 'reply', countersText(cr));
    s += ',"counters":{' + b + '}';
  }
  const ts = ct.timestamp;
  const ev = ct.eventTimestamp;
  if (ts !== undefined || ev !== undefined) {
    let b = '';
    if (ts?.start !== undefined) b = '"start":"' + ts.start + '"';
    if (ts?.stop !== undefined) b = member(b, 'stop', '"' + ts.stop + '"');
    if (ev !== undefined) b = member(b, 'event', '"' + ev + '"');
    if (ts !== undefined && hasItems(ts.unknown)) b = member(b, 'unknown', JSON.stringify(unknownList(ts.unknown)));
    if (b.length > 0) s += ',"timestamps":{' + b + '}';
  }
  // The rest is rare in events and dumps: the object builders' text.
  if (ct.labels) s += ',"labels":' + JSON.stringify(labelBits(ct.labels));
  const h = ct.helper;
  if (h !== undefined) {
    if (h.name !== undefined) s += ',"helper":' + JSON.stringify(h.name);
    if (h.info) s += ',"helperInfo":"' + hex(h.info) + '"';
    if (h.unknown) s += ',"helperUnknown":' + JSON.stringify(unknownList(h.unknown));
  }
  if (ct.secctx !== undefined) s += ',"secctx":' + JSON.stringify(ct.secctx);
  if (ct.secctxUnknown) s += ',"secctxUnknown":' + JSON.stringify(unknownList(ct.secctxUnknown));
  if (ct.seqAdjOrig || ct.seqAdjReply) {
    const sa: Obj = {};
    put(sa, 'orig', ct.seqAdjOrig && seqAdj(ct.seqAdjOrig));
    put(sa, 'reply', ct.seqAdjReply && seqAdj(ct.seqAdjReply));
    s += ',"seqAdj":' + JSON.stringify(sa);
  }
  if (ct.synproxy) {
    const sp: Obj = {};
    put(sp, 'isn', ct.synproxy.isn);
    put(sp, 'its', ct.synproxy.its);
    put(sp, 'tsoff', ct.synproxy.tsoff);
    putUnknown(sp, unknownList(ct.synproxy.unknown));
    s += ',"synproxy":' + JSON.stringify(sp);
  }
  if (pi !== undefined) s += ',"protoinfo":' + (tcpProtoinfoText(ct) ?? JSON.stringify(protoinfo(ct)));
  if (ct.natSrc) s += ',"natSrc":' + JSON.stringify(natRange(ct.natSrc));
  if (ct.natDst) s += ',"natDst":' + JSON.stringify(natRange(ct.natDst));
  if (ct.markMask !== undefined) s += ',"markMask":' + ct.markMask;
  if (ct.statusMask !== undefined) s += ',"statusMask":' + ct.statusMask;
  if (ct.labelsMask) s += ',"labelsMask":' + JSON.stringify(labelBits(ct.labelsMask));
  if (ct.filter) {
    const fo: Obj = {};
    put(fo, 'origFlags', ct.filter.origFlags);
    put(fo, 'replyFlags', ct.filter.replyFlags);
    putUnknown(fo, unknownList(ct.filter.unknown));
    s += ',"filter":' + JSON.stringify(fo);
  }
  if (hasItems(ct.unknown)) s += ',"unknown":' + JSON.stringify(unknownList(ct.unknown));
  return s;
}

function typePrefix(type: string): string {
  switch (type) {
    case 'new': return '{"type":"new"';
    case 'update': return '{"type":"update"';
    case 'destroy': return '{"type":"destroy"';
    case 'entry': return '{"type":"entry"';
    case 'request': return '{"type":"request"';
    default: return '{"type":' + JSON.stringify(type);
  }
}

let lastMsgType = -1;
let lastMsgTypeText = '';

/** `,"msgType":"IPCTNL_MSG_CT_NEW","seq":0,"pid":0,"flags":2` */
function headerText(h: NlMsgHeader): string {
  if (h.type !== lastMsgType) {
    lastMsgTypeText = flat(',"msgType":' + q(messageTypeName(h.type)));
    lastMsgType = h.type;
  }
  return lastMsgTypeText + ',"seq":' + u32(h.seq >>> 0) + ',"pid":' + u32(h.pid >>> 0) + ',"flags":' + u32(h.flags);
}

/** Per line type: the second last seen and `{"type":"new","time":"2026-11-24T15:07:01.` for it. */
const timedPrefixes = new Map<string, { sec: string; prefix: string }>();

/** `{"type":"new","time":"...","timestampNs":"..."` */
function timedStart(type: string, ns: bigint): string {
  const digits = ns.toString();
  const n = digits.length;
  if (n <= 9 || digits.charCodeAt(0) === 45 /* '-' */) {
    return typePrefix(type) + ',"time":"' + isoTimeSlow(ns) + '","timestampNs":"' + digits + '"';
  }
  const sec = digits.slice(0, n - 9);
  let c = timedPrefixes.get(type);
  if (c === undefined) {
    if (timedPrefixes.size >= 16) timedPrefixes.clear();
    c = { sec: '', prefix: '' };
    timedPrefixes.set(type, c);
  }
  if (c.sec !== sec) {
    const iso = isoDigits(ns, digits);
    c.prefix = flat(typePrefix(type) + ',"time":"' + iso.slice(0, iso.length - 7));
    c.sec = sec;
  }
  return c.prefix + digits.slice(n - 9, n - 3) + 'Z","timestampNs":"' + digits + '"';
}

/** The JSON line for a conntrack message: JSON.stringify(toJson(m, ctx)), written directly. */
function conntrackLine(m: Message & { kind: 'conntrack' }, ctx: FormatContext): string {
  const h = m.header;
  const type = h.flags & NLM_F_REQUEST ? 'request' : (m.event ?? 'entry');
  const ns = ctx.timestampNs;
  let s = ns === undefined ? typePrefix(type) : timedStart(type, ns);
  if (type === 'new' || type === 'update' || type === 'destroy') {
    const pid = h.pid >>> 0;
    if (pid !== 0) s += ',"pid":' + u32(pid);
  } else {
    s += headerText(h);
  }
  return conntrackMembers(s, m.conntrack) + '}';
}

function line(m: Message, ctx: FormatContext): string {
  if (m.kind === 'conntrack') return conntrackLine(m, ctx);
  return JSON.stringify(toJson(m, ctx));
}

/** A formatMessage with fixed options. */
export function createJsonFormatter(opts: JsonFormatOptions = {}): (m: Message, ctx?: FormatContext) => string | undefined {
  const space = opts.space;
  // Indented output is for people, not floods: the generic path.
  if (space !== undefined && space > 0) return (m, ctx = {}) => JSON.stringify(toJson(m, ctx), undefined, space);
  return (m, ctx = NO_CONTEXT) => line(m, ctx);
}

const NO_CONTEXT: FormatContext = {};

/** The JSON line for a message (never undefined: every message gets a line). */
export function formatMessage(m: Message, ctx: FormatContext = NO_CONTEXT): string | undefined {
  return line(m, ctx);
}
