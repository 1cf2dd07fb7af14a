/**
 * CTA_TIMEOUT_DATA: the per-protocol nest of timeouts, one u32 BE (seconds) per state.
 *
 *   CTA_TIMEOUT_DATA (nest, NLA_F_NESTED)
 *     CTA_TIMEOUT_<PROTO>_<STATE>  u32 BE seconds      (enum ctattr_timeout_<proto>)
 *
 * Which enum applies depends on CTA_TIMEOUT_L4PROTO: tcp, udp, udplite, icmp, icmpv6,
 * sctp, dccp, gre, and generic for every other protocol (nfct sends l4proto 255). State
 * names are the kernel's constant names, lowercased after the protocol prefix.
 */
import { keepUnknown, putUnknown, type RawAttribute } from '../netlink/attribute.js';
import type { Builder } from '../netlink/builder.js';
import { NLA_HDRLEN } from '../netlink/constants.js';
import { NetlinkEncodeError } from '../netlink/errors.js';
import { type Reader, attrLen, attrType, getU32be, nextAttr } from '../netlink/reader.js';
import * as C from './constants.js';
import type { TimeoutPolicy } from './model.js';

/** Kernel protocol prefix of the data enum for an l4proto. */
const PREFIX: Record<number, string> = {
  6: 'TCP',
  17: 'UDP',
  136: 'UDPLITE',
  1: 'ICMP',
  58: 'ICMPV6',
  132: 'SCTP',
  33: 'DCCP',
  47: 'GRE',
};

function statesOf(prefix: string): readonly (string | undefined)[] {
  const names: (string | undefined)[] = [];
  const head = `CTA_TIMEOUT_${prefix}_`;
  for (const [k, v] of Object.entries(C)) {
    if (k.startsWith(head) && typeof v === 'number') names[v] = k.slice(head.length).toLowerCase();
  }
  return names;
}

const GENERIC = statesOf('GENERIC');
const BY_PREFIX = new Map(Object.values(PREFIX).map((p) => [p, statesOf(p)]));

/**
 * State names by attribute type for an l4proto ('syn_sent' is index 1 for TCP); the
 * generic policy's for protocols without a tracker of their own.
 */
export function policyStates(l4proto: number | undefined): readonly (string | undefined)[] | undefined {
  if (l4proto === undefined) return undefined;
  const prefix = PREFIX[l4proto];
  return prefix === undefined ? GENERIC : BY_PREFIX.get(prefix);
}

/** Kernel name of a state attribute of an l4proto ("CTA_TIMEOUT_TCP_SYN_SENT"). */
export function policyAttrName(l4proto: number | undefined, type: number): string {
  const prefix = l4proto === undefined ? undefined : (PREFIX[l4proto] ?? 'GENERIC');
  const state = policyStates(l4proto)?.[type];
  return prefix !== undefined && state !== undefined ? `CTA_TIMEOUT_${prefix}_${state.toUpperCase()}` : `CTA_TIMEOUT_DATA type ${type}`;
}

export interface DecodedPolicy {
  policy: TimeoutPolicy;
  unknown?: RawAttribute[];
}

/** Decode the payload [start, end) of CTA_TIMEOUT_DATA for `l4proto`. */
export function decodePolicy(r: Reader, l4proto: number | undefined, start: number, end: number): DecodedPolicy {
  const names = policyStates(l4proto);
  const policy: TimeoutPolicy = {};
  let unknown: RawAttribute[] | undefined;
  for (let off = start; off < end; ) {
    const len = attrLen(r, off, end);
    const type = attrType(r, off);
    const name = names?.[type];
    if (name !== undefined) policy[name] = getU32be(r, off + NLA_HDRLEN, len - NLA_HDRLEN, policyAttrName(l4proto, type));
    else unknown = keepUnknown(unknown, r, off, len);
    off = nextAttr(off, len, end);
  }
  return unknown ? { policy, unknown } : { policy };
}

/** Write CTA_TIMEOUT_DATA: the policy's states in their key order, then unknown attributes. */
export function encodePolicy(b: Builder, l4proto: number | undefined, policy: TimeoutPolicy | undefined, unknown: RawAttribute[] | undefined): void {
  const names = policyStates(l4proto);
  const nest = b.nestStart(C.CTA_TIMEOUT_DATA);
  if (policy !== undefined) {
    for (const [state, seconds] of Object.entries(policy)) {
      const type = names === undefined ? -1 : names.indexOf(state);
      if (type <= 0) {
        const known = names === undefined ? 'set l4proto first' : `known: ${names.filter((n) => n !== undefined).join(', ')}`;
        throw new NetlinkEncodeError(`timeout policy state '${state}' does not exist for l4proto ${l4proto} (${known})`);
      }
      if (!Number.isInteger(seconds) || seconds < 0 || seconds > 0xffffffff) {
        throw new NetlinkEncodeError(`timeout for '${state}' must be an integer number of seconds in [0, 4294967295], got ${seconds}`);
      }
      b.putU32be(type, seconds);
    }
  }
  putUnknown(b, unknown);
  b.nestEnd(nest);
}
