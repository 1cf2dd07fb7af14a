/**
 * The body of a cttimeout message: the attributes after nfgenmsg (enum ctattr_timeout).
 *
 *   CTA_TIMEOUT_NAME     NUL-terminated string (< CTNL_TIMEOUT_NAME_MAX = 32 bytes)
 *   CTA_TIMEOUT_L3PROTO  u16 BE family
 *   CTA_TIMEOUT_L4PROTO  u8 protocol
 *   CTA_TIMEOUT_USE      u32 BE references (replies)
 *   CTA_TIMEOUT_DATA     nest of u32 BE seconds per state (policy.ts)
 *
 * The kernel (ctnl_timeout_fill_info, cttimeout_default_fill_info) and nfct write them in
 * this order, NAME L3PROTO L4PROTO USE DATA, each when present; a message in another order
 * keeps it in `attrOrder` and re-encodes the same. DATA is decoded after the loop, since
 * its enum depends on L4PROTO.
 */
import { keepUnknown, putUnknown } from '../netlink/attribute.js';
import type { Builder } from '../netlink/builder.js';
import { NLA_HDRLEN } from '../netlink/constants.js';
import { NetlinkEncodeError, rethrowIn } from '../netlink/errors.js';
import { type Reader, attrLen, attrType, getStringz, getU16be, getU32be, getU8, nextAttr } from '../netlink/reader.js';
import * as C from './constants.js';
import type { CtTimeout } from './model.js';
import { decodePolicy, encodePolicy } from './policy.js';

const ORDER = [C.CTA_TIMEOUT_NAME, C.CTA_TIMEOUT_L3PROTO, C.CTA_TIMEOUT_L4PROTO, C.CTA_TIMEOUT_USE, C.CTA_TIMEOUT_DATA];
const UNKNOWN_RANK = 1000;

function rankOf(type: number): number {
  const i = ORDER.indexOf(type);
  return i < 0 ? UNKNOWN_RANK : i;
}

export function decodeTimeout(r: Reader, start: number, end: number): CtTimeout {
  const t: CtTimeout = {};
  const seen: number[] = [];
  let canonical = true;
  let last = -1;
  let dataAt = -1;
  let dataLen = 0;
  for (let off = start; off < end; ) {
    const len = attrLen(r, off, end);
    const p = off + NLA_HDRLEN;
    const n = len - NLA_HDRLEN;
    const type = attrType(r, off);
    seen.push(type);
    const rank = rankOf(type);
    if (rank <= last && rank !== UNKNOWN_RANK) canonical = false;
    else if (rank < last) canonical = false;
    last = rank;
    switch (type) {
      case C.CTA_TIMEOUT_NAME: t.name = getStringz(r, p, n, 'CTA_TIMEOUT_NAME'); break;
      case C.CTA_TIMEOUT_L3PROTO: t.l3proto = getU16be(r, p, n, 'CTA_TIMEOUT_L3PROTO'); break;
      case C.CTA_TIMEOUT_L4PROTO: t.l4proto = getU8(r, p, n, 'CTA_TIMEOUT_L4PROTO'); break;
      case C.CTA_TIMEOUT_USE: t.use = getU32be(r, p, n, 'CTA_TIMEOUT_USE'); break;
      case C.CTA_TIMEOUT_DATA: dataAt = off; dataLen = len; break;
      default: t.unknown = keepUnknown(t.unknown, r, off, len);
    }
    off = nextAttr(off, len, end);
  }
  if (dataAt >= 0) {
    try {
      const d = decodePolicy(r, t.l4proto, dataAt + NLA_HDRLEN, dataAt + dataLen);
      t.policy = d.policy;
      if (d.unknown) t.policyUnknown = d.unknown;
    } catch (e) {
      rethrowIn('CTA_TIMEOUT_DATA', e, dataAt);
    }
  }
  if (!canonical) t.attrOrder = seen;
  return t;
}

function putKnown(b: Builder, t: CtTimeout, type: number): void {
  switch (type) {
    case C.CTA_TIMEOUT_NAME:
      if (t.name !== undefined) {
        if (new TextEncoder().encode(t.name).length >= C.CTNL_TIMEOUT_NAME_MAX) {
          throw new NetlinkEncodeError(`timeout policy name '${t.name}' is longer than ${C.CTNL_TIMEOUT_NAME_MAX - 1} bytes`);
        }
        b.putStringz(C.CTA_TIMEOUT_NAME, t.name);
      }
      break;
    case C.CTA_TIMEOUT_L3PROTO:
      if (t.l3proto !== undefined) {
        if (!Number.isInteger(t.l3proto) || t.l3proto < 0 || t.l3proto > 0xffff) throw new NetlinkEncodeError(`l3proto must be a u16, got ${t.l3proto}`);
        b.putU16be(C.CTA_TIMEOUT_L3PROTO, t.l3proto);
      }
      break;
    case C.CTA_TIMEOUT_L4PROTO:
      if (t.l4proto !== undefined) {
        if (!Number.isInteger(t.l4proto) || t.l4proto < 0 || t.l4proto > 0xff) throw new NetlinkEncodeError(`l4proto must be a u8, got ${t.l4proto}`);
        b.putU8(C.CTA_TIMEOUT_L4PROTO, t.l4proto);
      }
      break;
    case C.CTA_TIMEOUT_USE:
      if (t.use !== undefined) b.putU32be(C.CTA_TIMEOUT_USE, t.use);
      break;
    case C.CTA_TIMEOUT_DATA:
      if (t.policy !== undefined || t.policyUnknown !== undefined) encodePolicy(b, t.l4proto, t.policy, t.policyUnknown);
      break;
  }
}

export function encodeTimeout(b: Builder, t: CtTimeout): void {
  if (t.attrOrder === undefined) {
    for (const type of ORDER) putKnown(b, t, type);
    putUnknown(b, t.unknown);
    return;
  }
  // The order the message came in: known types where they were, unknown ones in turn.
  const unknown = t.unknown ?? [];
  let u = 0;
  const done = new Set<number>();
  for (const type of t.attrOrder) {
    if (rankOf(type) === UNKNOWN_RANK) {
      const a = unknown[u++];
      if (a !== undefined) b.putAttr(a.type, a.data);
    } else if (!done.has(type)) {
      done.add(type);
      putKnown(b, t, type);
    }
  }
  for (const type of ORDER) if (!done.has(type)) putKnown(b, t, type);
  putUnknown(b, unknown.slice(u));
}
