/**
 * The JSON format's line writer (fast path): the text toJson + JSON.stringify would give,
 * written directly for conntrack messages (every event, every dump entry).
 */
import { messageTypeName } from '../ctnetlink/message.js';
import type { Conntrack, Counters, Message, TcpFlags, Tuple } from '../ctnetlink/model.js';
import { statusNames, tcpStateName } from '../ctnetlink/status.js';
import { NLM_F_REQUEST } from '../netlink/constants.js';
import type { NlMsgHeader } from '../netlink/message.js';
import { protoName } from './conntrack.js';
import type { FormatContext } from './index.js';
import { flat, slots, statusMemo, u32 } from './pieces.js';
import { isoDigits, isoTimeSlow } from './json-time.js';
import { toJson, type Obj, hex, labelBits, natRange, protoinfo, put, putUnknown, seqAdj, stateOf, str, tcpFlags, tuple, unknownList } from './json-object.js';

// ------------------------------------------------------------------------------------------
// The line writer. toJson + JSON.stringify is the reference; the functions below write the
// same text directly for conntrack messages (every event, every dump entry), without the
// intermediate objects. Rare parts (unknown attributes, requests' NAT ranges, seqAdj, ...)
// still go through the object builders above and JSON.stringify: only their text matters.

/** A JSON string literal of arbitrary text. */
export function q(s: string): string {
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

/** `,"status":[...]`, remembered per status word. */
const statusText = statusMemo((status) => flat(',"status":' + JSON.stringify(statusNames(status))));

interface StmSlot { status: number | undefined; timeout: number | undefined; mark: number | undefined; text: string; flat: boolean }
const stmSlots: (StmSlot | undefined)[] = new Array<StmSlot | undefined>(64).fill(undefined);

/**
 * `,"status":[...],"timeout":N,"mark":N` (each part when present), from a small table of
 * recent combinations (a dump's neighbours mostly share all three but for a timeout
 * flipping between two values), flattened when first reused.
 */
export function statusTimeoutMarkText(status: number | undefined, timeout: number | undefined, mark: number | undefined): string {
  const i = ((timeout ?? 0) ^ ((status ?? 0) >>> 3) ^ ((mark ?? 0) * 5)) & 63;
  const c = stmSlots[i];
  if (c !== undefined && status === c.status && timeout === c.timeout && mark === c.mark) {
    if (!c.flat) {
      c.text = flat(c.text);
      c.flat = true;
    }
    return c.text;
  }
  let t = status === undefined ? '' : statusText(status);
  if (timeout !== undefined) t += ',"timeout":' + u32(timeout);
  if (mark !== undefined) t += ',"mark":' + u32(mark);
  stmSlots[i] = { status, timeout, mark, text: t, flat: false };
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
export function familyProtoText(f: number, p: number | undefined): string {
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
  return conntrackRest(s + familyProtoText(ct.family, ct.orig?.proto), ct);
}

/** conntrackMembers after `family`, `proto` and `protoNum`. */
function conntrackRest(s: string, ct: Conntrack): string {
  const orig = ct.orig;
  const p = orig?.proto;
  const pi = ct.protoinfo;
  if (pi !== undefined) {
    const st = stateOf(ct);
    if (st !== undefined) s += ',"state":' + q(st);
  }
  if (orig) s = tupleInto(s, ',"orig":{"src":"', 'orig', orig, p);
  if (ct.reply) s = tupleInto(s, ',"reply":{"src":"', 'reply', ct.reply, p);
  if (ct.master) s += ',"master":' + tupleText(ct.master, p);
  s += statusTimeoutMarkText(ct.status, ct.timeout, ct.mark);
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

export function typePrefix(type: string): string {
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
export function headerText(h: NlMsgHeader): string {
  if (h.type !== lastMsgType) {
    lastMsgTypeText = flat(',"msgType":' + q(messageTypeName(h.type)));
    lastMsgType = h.type;
  }
  return lastMsgTypeText + ',"seq":' + u32(h.seq >>> 0) + ',"pid":' + u32(h.pid >>> 0) + ',"flags":' + u32(h.flags);
}

/** Per line type: the second last seen and `{"type":"new","time":"2026-11-24T15:07:01.` for it. */
const timedPrefixes = new Map<string, { sec: string; prefix: string }>();

/** `{"type":"new","time":"...","timestampNs":"..."` */
export function timedStart(type: string, ns: bigint): string {
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
export function conntrackLine(m: Message & { kind: 'conntrack' }, ctx: FormatContext): string {
  const h = m.header;
  const ct = m.conntrack;
  const type = h.flags & NLM_F_REQUEST ? 'request' : (m.event ?? 'entry');
  const ns = ctx.timestampNs;
  const family = ct.family;
  const proto = ct.orig?.proto;
  // The line up to `protoNum` is the same for every entry of a datagram (and of a whole
  // CLI dump, whose lines share one time): kept from the last line, flat once reused.
  const pc = prefixCache;
  if (ns === pc.ns && type === pc.type && h.type === pc.hType && h.seq === pc.seq && h.pid === pc.pid &&
    h.flags === pc.flags && family === pc.family && proto === pc.proto) {
    if (!pc.flat) {
      pc.text = flat(pc.text);
      pc.flat = true;
    }
    return conntrackRest(pc.text, ct) + '}';
  }
  let s = ns === undefined ? typePrefix(type) : timedStart(type, ns);
  if (type === 'new' || type === 'update' || type === 'destroy') {
    const pid = h.pid >>> 0;
    if (pid !== 0) s += ',"pid":' + u32(pid);
  } else {
    s += headerText(h);
  }
  s += familyProtoText(family, proto);
  pc.ns = ns;
  pc.type = type;
  pc.hType = h.type;
  pc.seq = h.seq;
  pc.pid = h.pid;
  pc.flags = h.flags;
  pc.family = family;
  pc.proto = proto;
  pc.text = s;
  pc.flat = false;
  return conntrackRest(s, ct) + '}';
}

/** The last line's start (see conntrackLine) and what it was made of. */
const prefixCache = {
  ns: undefined as bigint | undefined,
  type: '',
  hType: -1,
  seq: -1,
  pid: -1,
  flags: -1,
  family: -1,
  proto: undefined as number | undefined,
  text: '',
  flat: false,
};

export function line(m: Message, ctx: FormatContext): string {
  if (m.kind === 'conntrack') return conntrackLine(m, ctx);
  return JSON.stringify(toJson(m, ctx));
}
