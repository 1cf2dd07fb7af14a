/**
 * The JSON line of the lean record (ctnetlink/lean.ts) written as bytes straight into an
 * output chunk: the same text as lean-json.ts's leanJsonLine (and so as the full path's
 * JSON line), newline included, without building a string per field. Every piece is
 * ASCII: constant pieces are pre-encoded (the common ones as u32 words, words.ts), IPv4
 * octets are written a word each, other numbers digit by digit, the rest (line start per
 * second, status names, family/proto) is encoded once and kept; an event's line start is
 * kept from the last line while its inputs are the same (leanJsonBytesAt).
 *
 *   leanJsonBytes(e, ns, chunk, pos) -> the position after the line's '\n'
 *
 * The caller provides at least LEAN_JSON_MAX_BYTES free bytes at `pos`.
 */
import {
  LEAN_ENTRY,
  L_CO,
  L_CO_BYTES,
  L_CO_PKTS,
  L_CR,
  L_CR_BYTES,
  L_CR_PKTS,
  L_ID,
  L_MARK,
  L_PROTOINFO,
  L_SECMARK,
  L_STATUS,
  L_TCP_FLAGS_ORIG,
  L_TCP_FLAGS_REPLY,
  L_TCP_STATE,
  L_TCP_WS_ORIG,
  L_TCP_WS_REPLY,
  L_TIMEOUT,
  L_TS,
  L_TS_EVENT,
  L_TS_START,
  L_TS_STOP,
  L_USE,
  L_ZONE,
  type LeanConntrack,
} from '../ctnetlink/lean.js';
import { statusNames, tcpStateName } from '../ctnetlink/status.js';
import { familyProtoText, q, timedStart, typePrefix } from './json-line.js';
import { lineStart } from './lean-json.js';
import { addr, dec, enc, lit, padded, str, u64 } from './bytes.js';
import { ipv4w, litw, words, type Words } from './words.js';
import { statusMemo } from './pieces.js';

/** The longest line this writer produces for a record the lean decoder accepts, with room to spare. */
export const LEAN_JSON_MAX_BYTES = 4096;


const PID = enc(',"pid":');
const COUNTERS = enc(',"counters":{');
const C_ORIG = enc('"orig":{');
const C_REPLY = enc('"reply":{');
const PACKETS = enc('"packets":"');
const BYTES = enc('"bytes":"');
const TS_MID = enc('Z","timestampNs":"');
const PROTOINFO = enc(',"protoinfo":{"tcp":{');
const STATE = enc('"state":');
const STATE_NAME = enc(',"stateName":"');
const WS_ORIG = enc('"wscaleOriginal":');
const WS_REPLY = enc('"wscaleReply":');
const FLAGS_ORIG = enc('"flagsOriginal":{"flags":');
const FLAGS_REPLY = enc('"flagsReply":{"flags":');
const MASK = enc(',"mask":');
/** leanJsonBody's common pieces as u32 words (words.ts: four bytes a store). */
const W_ORIG = words(',"orig":{"src":"');
const W_REPLY = words('},"reply":{"src":"');
const W_DST = words('","dst":"');
const W_SPORT = words('","sport":');
const W_DPORT = words(',"dport":');
const W_TIMEOUT = words(',"timeout":');
const W_MARK = words(',"mark":');
const W_SECMARK = words(',"secmark":');
const W_ZONE = words(',"zone":');
const W_ID = words(',"id":');
const W_USE = words(',"use":');

/** A DataView over the last chunk leanJsonBody wrote into. */
let viewOf: Uint8Array | undefined;
let view: DataView = new DataView(new ArrayBuffer(0));

function viewFor(b: Uint8Array): DataView {
  if (b !== viewOf) {
    view = new DataView(b.buffer, b.byteOffset, b.byteLength);
    viewOf = b;
  }
  return view;
}

/** An address: IPv4 four bytes per octet store, IPv6 through inet_ntop's text. */
function addrw(v: DataView, b: Uint8Array, p: number, src: Uint8Array, o: number, len: number): number {
  return len === 4 ? ipv4w(v, p, src, o) : addr(b, p, src, o, len);
}

/** The second of the last line's time: [secNs, secNs + 1e9) and its digits. */
let secNs = -1n;
let secEnd = -1n;
let secDigits = '';
/** Per event type: the line start up to the '.' of the time, for that second. */
const timed: { type: string; secNs: bigint; prefix: Uint8Array }[] = [];

/**
 * `{"type":"new","time":"...","timestampNs":"..."` as json-line.ts's timedStart writes it,
 * without converting the bigint to text per line: the second is kept, the nanoseconds in
 * it are one subtraction.
 */
function timedPrefix(b: Uint8Array, p: number, type: string, ns: bigint): number {
  if (!(ns >= secNs && ns < secEnd)) {
    if (ns < 1_000_000_000n) return str(b, p, timedStart(type, ns));
    const sec = ns / 1_000_000_000n;
    secNs = sec * 1_000_000_000n;
    secEnd = secNs + 1_000_000_000n;
    secDigits = sec.toString();
  }
  let c: { type: string; secNs: bigint; prefix: Uint8Array } | undefined;
  for (let i = 0; i < timed.length; i++) if (timed[i]!.type === type) c = timed[i];
  if (c === undefined) timed.push((c = { type, secNs: -1n, prefix: new Uint8Array(0) }));
  if (c.secNs !== secNs) {
    // `...,"time":"2026-11-30T09:00:20.` from the string writer's own text.
    const full = timedStart(type, ns);
    c.prefix = enc(full.slice(0, full.lastIndexOf('","timestampNs":"') - 7));
    c.secNs = secNs;
  }
  const nsec = Number(ns - secNs);
  p = lit(b, p, c.prefix);
  p = padded(b, p, Math.floor(nsec / 1000), 6);
  p = lit(b, p, TS_MID);
  p = str(b, p, secDigits);
  p = padded(b, p, nsec, 9);
  b[p] = 34;
  return p + 1;
}

const EVENT_TYPES = ['entry', 'new', 'update', 'destroy'];

/** `,"family":...,"proto":...,"protoNum":N` by family (2, 10) and protocol. */
const familyProto: (Uint8Array | undefined)[] = new Array<Uint8Array | undefined>(512).fill(undefined);

function familyProtoBytes(b: Uint8Array, p: number, f: number, pr: number): number {
  const slot = f === 2 ? pr : f === 10 ? 256 + pr : -1;
  if (slot < 0) return str(b, p, familyProtoText(f, pr));
  return lit(b, p, familyProto[slot] ??= enc(familyProtoText(f, pr)));
}

/** The entry line start (see lean-json.ts lineStart), encoded once per distinct text. */
let entryText = '';
let entryBytes: Uint8Array = new Uint8Array(0);

const states: (Words | undefined)[] = new Array<Words | undefined>(256).fill(undefined);

const statusWords = statusMemo((status) => words(',"status":' + JSON.stringify(statusNames(status))));

function statusBytes(v: DataView, p: number, status: number): number {
  return litw(v, p, statusWords(status));
}

/** The second (as a number) of the last line written by leanJsonBytesAt, and `Z","timestampNs":"SECONDS`. */
let atSec = -1;
let atMid: Uint8Array = new Uint8Array(0);
/** Per event type: the line start up to the '.' of the time, for second `sec`. */
const timedAt: { type: string; sec: number; prefix: Uint8Array }[] = [];

/**
 * timedPrefix for a time given as seconds and nanoseconds (numbers: no bigint per line).
 * The nanosecond digits are written once; the microseconds are their first six.
 */
function timedPrefixAt(b: Uint8Array, p: number, type: string, times: Uint32Array, at: number): number {
  // (read here, not passed in: seconds are past the small-integer range, a boxed number per call)
  const sec = times[at]!;
  const nsec = times[at + 1]!;
  if (!(sec > 0 && nsec >= 0 && nsec < 1_000_000_000)) return timedPrefix(b, p, type, BigInt(sec) * 1_000_000_000n + BigInt(nsec));
  if (sec !== atSec) {
    atSec = sec;
    atMid = enc('Z","timestampNs":"' + sec);
  }
  let c: { type: string; sec: number; prefix: Uint8Array } | undefined;
  for (let i = 0; i < timedAt.length; i++) if (timedAt[i]!.type === type) c = timedAt[i];
  if (c === undefined) timedAt.push((c = { type, sec: -1, prefix: new Uint8Array(0) }));
  if (c.sec !== sec) {
    const full = timedStart(type, BigInt(sec) * 1_000_000_000n + BigInt(nsec));
    c.prefix = enc(full.slice(0, full.lastIndexOf('","timestampNs":"') - 7));
    c.sec = sec;
  }
  p = lit(b, p, c.prefix);
  const us = p;
  p = lit(b, p + 6, atMid);
  p = padded(b, p, nsec, 9);
  for (let i = 0; i < 6; i++) b[us + i] = b[p - 9 + i]!;
  b[p] = 34;
  return p + 1;
}

/** An event's start: type, time, pid, family and protocol. */
function eventStart(e: LeanConntrack, b: Uint8Array, p: number): number {
  const pid = e.pid >>> 0;
  if (pid !== 0) {
    p = lit(b, p, PID);
    p = dec(b, p, pid);
  }
  return familyProtoBytes(b, p, e.family, e.proto);
}

/**
 * leanJsonBytes for a receive time given as CLOCK_REALTIME seconds `times[at]` and
 * nanoseconds `times[at + 1]` (a receive batch's row, client/receive-batch.ts): the same
 * bytes, no bigint per line.
 */
export function leanJsonBytesAt(e: LeanConntrack, times: Uint32Array, at: number, chunk: Uint8Array, pos: number): number {
  const ev = e.event;
  if (ev === LEAN_ENTRY) return leanJsonBytes(e, BigInt(times[at]!) * 1_000_000_000n + BigInt(times[at + 1]!), chunk, pos);
  const sec = times[at]!;
  const nsec = times[at + 1]!;
  const pid = e.pid;
  const family = e.family;
  const proto = e.proto;
  let p: number;
  if (ev === headEvent && sec === headSec && nsec === headNsec && pid === headPid && family === headFamily && proto === headProto) {
    p = lit(chunk, pos, headBytes);
  } else {
    p = eventStart(e, chunk, timedPrefixAt(chunk, pos, EVENT_TYPES[ev]!, times, at));
    headBytes = chunk.slice(pos, p);
    headEvent = ev;
    headSec = sec;
    headNsec = nsec;
    headPid = pid;
    headFamily = family;
    headProto = proto;
  }
  return leanJsonBody(e, chunk, p);
}

/**
 * The last event line's start (type, time, pid, family, protocol: everything before the
 * state) and what it was made of. The datagrams of one recvmmsg call share one receive
 * time (socket/native.ts), so a run of events of one type and protocol shares the start:
 * one copy instead of ~8 pieces and 15 digits.
 */
let headBytes: Uint8Array = new Uint8Array(0);
let headEvent = -1;
let headSec = -1;
let headNsec = -1;
let headPid = -1;
let headFamily = -1;
let headProto = -1;

/** Write the record's JSON line and its newline into `chunk` at `pos`; returns the end. */
export function leanJsonBytes(e: LeanConntrack, ns: bigint | undefined, chunk: Uint8Array, pos: number): number {
  const b = chunk;
  let p = pos;
  if (e.event !== LEAN_ENTRY) {
    const type = EVENT_TYPES[e.event]!;
    if (ns === undefined) p = str(b, p, typePrefix(type));
    else p = timedPrefix(b, p, type, ns);
    p = eventStart(e, b, p);
  } else {
    const t = lineStart(e, ns);
    if (t !== entryText) {
      entryText = t;
      entryBytes = enc(t);
    }
    p = lit(b, p, entryBytes);
  }
  return leanJsonBody(e, b, p);
}

/** The line from the state on (after the start), and its newline. */
function leanJsonBody(e: LeanConntrack, b: Uint8Array, p: number): number {
  const has = e.has;
  const src = e.bytes;
  const v = viewFor(b);
  if (has & L_TCP_STATE) p = litw(v, p, states[e.tcpState] ??= words(',"state":' + q(tcpStateName(e.tcpState))));
  p = litw(v, p, W_ORIG);
  p = addrw(v, b, p, src, e.origSrc, e.origLen);
  p = litw(v, p, W_DST);
  p = addrw(v, b, p, src, e.origDst, e.origLen);
  p = litw(v, p, W_SPORT);
  p = dec(b, p, e.origSport);
  p = litw(v, p, W_DPORT);
  p = dec(b, p, e.origDport);
  p = litw(v, p, W_REPLY);
  p = addrw(v, b, p, src, e.replySrc, e.replyLen);
  p = litw(v, p, W_DST);
  p = addrw(v, b, p, src, e.replyDst, e.replyLen);
  p = litw(v, p, W_SPORT);
  p = dec(b, p, e.replySport);
  p = litw(v, p, W_DPORT);
  p = dec(b, p, e.replyDport);
  b[p++] = 125;
  if (has & L_STATUS) p = statusBytes(v, p, e.status);
  if (has & L_TIMEOUT) {
    p = litw(v, p, W_TIMEOUT);
    p = dec(b, p, e.timeout);
  }
  if (has & L_MARK) {
    p = litw(v, p, W_MARK);
    p = dec(b, p, e.mark);
  }
  if (has & L_SECMARK) {
    p = litw(v, p, W_SECMARK);
    p = dec(b, p, e.secmark);
  }
  if (has & L_ZONE) {
    p = litw(v, p, W_ZONE);
    p = dec(b, p, e.zone);
  }
  if (has & L_ID) {
    p = litw(v, p, W_ID);
    p = dec(b, p, e.id);
  }
  if (has & L_USE) {
    p = litw(v, p, W_USE);
    p = dec(b, p, e.use);
  }
  if (has & (L_CO | L_CR)) {
    p = lit(b, p, COUNTERS);
    if (has & L_CO) {
      p = lit(b, p, C_ORIG);
      p = counters(b, p, e, L_CO_PKTS, L_CO_BYTES, e.coPkts, e.coBytes);
    }
    if (has & L_CR) {
      if (has & L_CO) b[p++] = 44;
      p = lit(b, p, C_REPLY);
      p = counters(b, p, e, L_CR_PKTS, L_CR_BYTES, e.crPkts, e.crBytes);
    }
    b[p++] = 125;
  }
  if (has & (L_TS | L_TS_EVENT)) {
    // (timestamps on: 64-bit nanoseconds, through bigint text)
    const v = e.view;
    let t = '';
    if (has & L_TS_START) t = '"start":"' + v.getBigUint64(e.tsStart, false) + '"';
    if (has & L_TS_STOP) t += (t.length === 0 ? '' : ',') + '"stop":"' + v.getBigUint64(e.tsStop, false) + '"';
    if (has & L_TS_EVENT) t += (t.length === 0 ? '' : ',') + '"event":"' + v.getBigUint64(e.tsEvent, false) + '"';
    if (t.length > 0) p = str(b, p, ',"timestamps":{' + t + '}');
  }
  if (has & L_PROTOINFO) {
    p = lit(b, p, PROTOINFO);
    let sep = false;
    if (has & L_TCP_STATE) {
      p = lit(b, p, STATE);
      p = dec(b, p, e.tcpState);
      p = lit(b, p, STATE_NAME);
      p = str(b, p, tcpStateName(e.tcpState));
      b[p++] = 34;
      sep = true;
    }
    if (has & L_TCP_WS_ORIG) {
      if (sep) b[p++] = 44;
      p = lit(b, p, WS_ORIG);
      p = dec(b, p, e.tcpWsOrig);
      sep = true;
    }
    if (has & L_TCP_WS_REPLY) {
      if (sep) b[p++] = 44;
      p = lit(b, p, WS_REPLY);
      p = dec(b, p, e.tcpWsReply);
      sep = true;
    }
    if (has & L_TCP_FLAGS_ORIG) {
      if (sep) b[p++] = 44;
      p = lit(b, p, FLAGS_ORIG);
      p = dec(b, p, e.tcpFlagsOrig);
      p = lit(b, p, MASK);
      p = dec(b, p, e.tcpMaskOrig);
      b[p++] = 125;
      sep = true;
    }
    if (has & L_TCP_FLAGS_REPLY) {
      if (sep) b[p++] = 44;
      p = lit(b, p, FLAGS_REPLY);
      p = dec(b, p, e.tcpFlagsReply);
      p = lit(b, p, MASK);
      p = dec(b, p, e.tcpMaskReply);
      b[p++] = 125;
    }
    b[p++] = 125;
    b[p++] = 125;
  }
  b[p++] = 125;
  b[p++] = 10;
  return p;
}

function counters(b: Uint8Array, p: number, e: LeanConntrack, pk: number, by: number, pOff: number, bOff: number): number {
  const v = e.view;
  if (e.has & pk) {
    p = lit(b, p, PACKETS);
    p = u64(b, p, v, pOff);
    b[p++] = 34;
  }
  if (e.has & by) {
    if (e.has & pk) b[p++] = 44;
    p = lit(b, p, BYTES);
    p = u64(b, p, v, bOff);
    b[p++] = 34;
  }
  b[p] = 125;
  return p + 1;
}
