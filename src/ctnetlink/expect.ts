/**
 * Expectations (subsystem NFNL_SUBSYS_CTNETLINK_EXP, enum ctattr_expect).
 *
 * Emitted order (ctnetlink_exp_dump_expect): TUPLE, MASK, MASTER, [NAT], TIMEOUT, ID,
 * FLAGS, CLASS, [HELP_NAME], [FN]. Tuples reuse enum ctattr_tuple. The MASK tuple holds
 * the source address/port mask and an all-ones destination.
 *   CTA_EXPECT_NAT > CTA_EXPECT_NAT_DIR u32 BE, CTA_EXPECT_NAT_TUPLE (tuple nest)
 */
import { keepUnknown, putUnknown } from '../netlink/attribute.js';
import { NLA_HDRLEN } from '../netlink/constants.js';
import type { Builder } from '../netlink/builder.js';
import { rethrowIn } from '../netlink/errors.js';
import { type Reader, attrLen, attrType, getStringz, getU16be, getU32be, nextAttr } from '../netlink/reader.js';
import * as C from './constants.js';
import type { Expectation, Tuple } from './model.js';
import { decodeTuple, encodeTuple } from './tuple.js';

function tupleIn(r: Reader, name: string, off: number, p: number, n: number): Tuple {
  try {
    return decodeTuple(r, p, p + n);
  } catch (e) {
    return rethrowIn(name, e, off);
  }
}

export function decodeExpectation(r: Reader, family: number, start: number, end: number): Expectation {
  const x: Expectation = { family };
  for (let off = start; off < end; ) {
    const len = attrLen(r, off, end);
    const p = off + NLA_HDRLEN;
    const n = len - NLA_HDRLEN;
    switch (attrType(r, off)) {
      case C.CTA_EXPECT_MASTER: x.master = tupleIn(r, 'CTA_EXPECT_MASTER', off, p, n); break;
      case C.CTA_EXPECT_TUPLE: x.tuple = tupleIn(r, 'CTA_EXPECT_TUPLE', off, p, n); break;
      case C.CTA_EXPECT_MASK: x.mask = tupleIn(r, 'CTA_EXPECT_MASK', off, p, n); break;
      case C.CTA_EXPECT_TIMEOUT: x.timeout = getU32be(r, p, n, 'CTA_EXPECT_TIMEOUT'); break;
      case C.CTA_EXPECT_ID: x.id = getU32be(r, p, n, 'CTA_EXPECT_ID'); break;
      case C.CTA_EXPECT_HELP_NAME: x.helpName = getStringz(r, p, n, 'CTA_EXPECT_HELP_NAME'); break;
      case C.CTA_EXPECT_ZONE: x.zone = getU16be(r, p, n, 'CTA_EXPECT_ZONE'); break;
      case C.CTA_EXPECT_FLAGS: x.flags = getU32be(r, p, n, 'CTA_EXPECT_FLAGS'); break;
      case C.CTA_EXPECT_CLASS: x.class = getU32be(r, p, n, 'CTA_EXPECT_CLASS'); break;
      case C.CTA_EXPECT_FN: x.fn = getStringz(r, p, n, 'CTA_EXPECT_FN'); break;
      case C.CTA_EXPECT_NAT: {
        const nat: NonNullable<Expectation['nat']> = {};
        try {
          for (let o2 = p; o2 < p + n; ) {
            const l2 = attrLen(r, o2, p + n);
            switch (attrType(r, o2)) {
              case C.CTA_EXPECT_NAT_DIR: nat.dir = getU32be(r, o2 + NLA_HDRLEN, l2 - NLA_HDRLEN, 'CTA_EXPECT_NAT_DIR'); break;
              case C.CTA_EXPECT_NAT_TUPLE: nat.tuple = tupleIn(r, 'CTA_EXPECT_NAT_TUPLE', o2, o2 + NLA_HDRLEN, l2 - NLA_HDRLEN); break;
              default: nat.unknown = keepUnknown(nat.unknown, r, o2, l2);
            }
            o2 = nextAttr(o2, l2, p + n);
          }
        } catch (e) {
          rethrowIn('CTA_EXPECT_NAT', e, off);
        }
        x.nat = nat;
        break;
      }
      default: x.unknown = keepUnknown(x.unknown, r, off, len);
    }
    off = nextAttr(off, len, end);
  }
  return x;
}

export function encodeExpectation(b: Builder, x: Expectation): void {
  if (x.tuple) encodeTuple(b, C.CTA_EXPECT_TUPLE, x.tuple, 'CTA_EXPECT_TUPLE');
  if (x.mask) encodeTuple(b, C.CTA_EXPECT_MASK, x.mask, 'CTA_EXPECT_MASK');
  if (x.master) encodeTuple(b, C.CTA_EXPECT_MASTER, x.master, 'CTA_EXPECT_MASTER');
  if (x.nat) {
    const n = b.nestStart(C.CTA_EXPECT_NAT);
    if (x.nat.dir !== undefined) b.putU32be(C.CTA_EXPECT_NAT_DIR, x.nat.dir);
    if (x.nat.tuple) encodeTuple(b, C.CTA_EXPECT_NAT_TUPLE, x.nat.tuple, 'CTA_EXPECT_NAT_TUPLE');
    putUnknown(b, x.nat.unknown);
    b.nestEnd(n);
  }
  if (x.timeout !== undefined) b.putU32be(C.CTA_EXPECT_TIMEOUT, x.timeout);
  if (x.id !== undefined) b.putU32be(C.CTA_EXPECT_ID, x.id);
  if (x.flags !== undefined) b.putU32be(C.CTA_EXPECT_FLAGS, x.flags);
  if (x.class !== undefined) b.putU32be(C.CTA_EXPECT_CLASS, x.class);
  if (x.helpName !== undefined) b.putStringz(C.CTA_EXPECT_HELP_NAME, x.helpName);
  if (x.fn !== undefined) b.putStringz(C.CTA_EXPECT_FN, x.fn);
  if (x.zone !== undefined) b.putU16be(C.CTA_EXPECT_ZONE, x.zone);
  putUnknown(b, x.unknown);
}
