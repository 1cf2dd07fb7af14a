/**
 * The CLI's filters: one parsed form used two ways. `kernel` holds what a dump request can
 * ask the kernel to filter (family, mark/mask, status bits, zone, exact addresses, protocol
 * and ports via CTA_FILTER); `match` applies every filter in the tool, so a filter gives
 * the same result in every mode (dump, events, offline read) whatever the kernel did.
 */
import { formatIpv4, formatIpv6, parseIpv4, parseIpv6 } from '../ctnetlink/address.js';
import { IPPROTO_ICMP, IPPROTO_ICMPV6, IPPROTO_TCP, IPPROTO_UDP, IPS_DST_NAT_DONE, IPS_SRC_NAT_DONE } from '../ctnetlink/constants.js';
import type { Conntrack, Expectation, Tuple } from '../ctnetlink/model.js';
import type { KernelFilter } from '../ctnetlink/requests.js';
import { parseStatus, parseTcpState } from '../ctnetlink/status.js';
import { CONNLABEL_CONF, loadConnlabels } from '../host/connlabel.js';
import { UsageError, type FilterOptions } from './args.js';

export const PROTO_NUMBERS: Record<string, number> = {
  icmp: IPPROTO_ICMP, tcp: IPPROTO_TCP, udp: IPPROTO_UDP, dccp: 33, gre: 47, icmpv6: IPPROTO_ICMPV6,
  'ipv6-icmp': IPPROTO_ICMPV6, sctp: 132, udplite: 136,
};

interface AddressMatch {
  family: number;
  bytes: Uint8Array;
  prefix: number;
  /** Canonical text when it is a whole address (exact match by string). */
  exact?: string;
}

export interface CompiledFilter {
  kernel: KernelFilter;
  /** True when no filter was given. */
  empty: boolean;
  match(ct: Conntrack): boolean;
  /** Expectations: the filters on the original tuple apply to the expected tuple (args.ts allows only those with --expect). */
  matchExpect(x: Expectation): boolean;
}

function parseAddress(opt: string, s: string): AddressMatch {
  const [addr, len, ...rest] = s.split('/');
  if (rest.length > 0 || addr === undefined) throw new UsageError(`--${opt}: not an address or CIDR: ${JSON.stringify(s)}`);
  const v6 = addr.includes(':');
  const bytes = v6 ? parseIpv6(addr) : parseIpv4(addr);
  if (!bytes) throw new UsageError(`--${opt}: not an IP address: ${JSON.stringify(addr)}`);
  const full = bytes.length * 8;
  let prefix = full;
  if (len !== undefined) {
    if (!/^\d{1,3}$/.test(len) || Number(len) > full) throw new UsageError(`--${opt}: bad prefix length /${len} (0..${full})`);
    prefix = Number(len);
  }
  const m: AddressMatch = { family: v6 ? 10 : 2, bytes, prefix };
  if (prefix === full) m.exact = canonical(bytes);
  return m;
}

/** The text the decoder produces for these bytes, so exact matches compare strings. */
function canonical(bytes: Uint8Array): string {
  return bytes.length === 4 ? formatIpv4(bytes, 0) : formatIpv6(bytes, 0);
}

/** Whether the address `text` (as the decoder writes it) lies in the prefix of `a`. */
function inPrefix(a: AddressMatch, text: string | undefined): boolean {
  if (text === undefined) return false;
  const b = text.includes(':') ? parseIpv6(text) : parseIpv4(text);
  if (!b || b.length !== a.bytes.length) return false;
  let bits = a.prefix;
  for (let i = 0; bits > 0; i++, bits -= 8) {
    const mask = bits >= 8 ? 0xff : (0xff << (8 - bits)) & 0xff;
    if ((b[i]! & mask) !== (a.bytes[i]! & mask)) return false;
  }
  return true;
}

/** Distinct addresses remembered per CIDR filter before the memo starts over. */
const MEMO_LIMIT = 65536;

/**
 * The per-entry test of one address filter, built once: a whole address compares the
 * decoder's text with the canonical text computed at parse time; a CIDR prefix parses each
 * distinct address text once and remembers the answer (a table repeats its addresses, and
 * the decoder hands out the same text for the same IPv4 address), so entries are matched
 * without re-parsing strings on the hot path.
 */
function addressTest(a: AddressMatch): (text: string | undefined) => boolean {
  const exact = a.exact;
  if (exact !== undefined) return (text) => text === exact;
  const memo = new Map<string, boolean>();
  return (text) => {
    if (text === undefined) return false;
    let hit = memo.get(text);
    if (hit === undefined) {
      hit = inPrefix(a, text);
      if (memo.size >= MEMO_LIMIT) memo.clear();
      memo.set(text, hit);
    }
    return hit;
  };
}

function u32(opt: string, s: string): number {
  if (!/^(0x[0-9a-fA-F]{1,8}|\d{1,10})$/.test(s) || Number(s) > 0xffffffff) throw new UsageError(`--${opt}: not a 32-bit number: ${JSON.stringify(s)}`);
  return Number(s) >>> 0;
}

function port(opt: string, s: string): number {
  if (!/^\d{1,5}$/.test(s) || Number(s) > 65535) throw new UsageError(`--${opt}: not a port number (0-65535): ${JSON.stringify(s)}`);
  return Number(s);
}

function smallInt(opt: string, s: string, max: number): number {
  if (!/^\d{1,5}$/.test(s) || Number(s) > max) throw new UsageError(`--${opt}: not a number from 0 to ${max}: ${JSON.stringify(s)}`);
  return Number(s);
}

/**
 * Label bits from a list of names (connlabel.conf, as conntrack -l reads it) or bit
 * numbers (0..127).
 */
export function parseLabels(opt: string, list: string): number[] {
  let names: Map<number, string> | undefined;
  const out: number[] = [];
  for (const w of list.split(',').map((x) => x.trim()).filter(Boolean)) {
    if (/^\d+$/.test(w) && Number(w) < 128) {
      out.push(Number(w));
      continue;
    }
    names ??= loadConnlabels() ?? new Map();
    const bit = [...names].find(([, n]) => n === w)?.[0];
    if (bit === undefined) throw new UsageError(`--${opt}: unknown label ${JSON.stringify(w)} (a bit number 0-127 or a name from ${CONNLABEL_CONF})`);
    out.push(bit);
  }
  if (out.length === 0) throw new UsageError(`--${opt} needs at least one label`);
  return out;
}

/**
 * conntrack's NAT filters: source NAT when SRC_NAT_DONE is set and the reply's destination differs from the
 * original source (address or port), destination NAT when the reply's source differs from
 * the original destination; with an address, the NAT address must be it (reply dst for
 * source NAT, reply src for destination NAT).
 */
function natTests(f: FilterOptions): ((ct: Conntrack) => boolean)[] {
  const snat = (ct: Conntrack, a?: AddressMatch) =>
    ((ct.status ?? 0) & IPS_SRC_NAT_DONE) !== 0 && ct.orig !== undefined && ct.reply !== undefined && (ct.orig.src !== ct.reply.dst || ct.orig.srcPort !== ct.reply.dstPort) && (a === undefined || inPrefix(a, ct.reply.dst));
  const dnat = (ct: Conntrack, a?: AddressMatch) =>
    ((ct.status ?? 0) & IPS_DST_NAT_DONE) !== 0 && ct.orig !== undefined && ct.reply !== undefined && (ct.orig.dst !== ct.reply.src || ct.orig.dstPort !== ct.reply.srcPort) && (a === undefined || inPrefix(a, ct.reply.src));
  const addr = (opt: string, v: string) => (v === '' ? undefined : parseAddress(opt, v));
  const tests: ((ct: Conntrack) => boolean)[] = [];
  if (f.srcNat !== undefined) {
    const a = addr('src-nat', f.srcNat);
    tests.push((ct) => snat(ct, a));
  }
  if (f.dstNat !== undefined) {
    const a = addr('dst-nat', f.dstNat);
    tests.push((ct) => dnat(ct, a));
  }
  if (f.anyNat !== undefined) {
    const a = addr('any-nat', f.anyNat);
    tests.push((ct) => snat(ct, a) || dnat(ct, a));
  }
  return tests;
}

export function compileFilter(f: FilterOptions): CompiledFilter {
  const kernel: KernelFilter = {};
  const tests: ((ct: Conntrack) => boolean)[] = [];
  let family: number | undefined;
  if (f.family !== undefined) {
    const fam = ({ ipv4: 2, inet: 2, '4': 2, '2': 2, ipv6: 10, inet6: 10, '6': 10, '10': 10 } as Record<string, number>)[f.family.toLowerCase()];
    if (fam === undefined) throw new UsageError(`--family must be ipv4 or ipv6, not ${JSON.stringify(f.family)}`);
    family = fam;
  }
  const addrs: [string, string | undefined, 'orig' | 'reply', 'src' | 'dst'][] = [
    ['src', f.src, 'orig', 'src'], ['dst', f.dst, 'orig', 'dst'], ['reply-src', f.replySrc, 'reply', 'src'], ['reply-dst', f.replyDst, 'reply', 'dst'],
  ];
  const parsedAddrs: [AddressMatch, 'orig' | 'reply', 'src' | 'dst'][] = [];
  for (const [opt, val, dir, side] of addrs) {
    if (val === undefined) continue;
    const a = parseAddress(opt, val);
    if (family !== undefined && a.family !== family) throw new UsageError(`--${opt} ${val} is not an ${family === 2 ? 'IPv4' : 'IPv6'} address (--family)`);
    family = a.family;
    parsedAddrs.push([a, dir, side]);
  }
  let proto: number | undefined;
  if (f.proto !== undefined) {
    const p = f.proto.toLowerCase();
    proto = PROTO_NUMBERS[p] ?? (/^\d{1,3}$/.test(p) && Number(p) <= 255 ? Number(p) : undefined);
    if (proto === undefined) throw new UsageError(`--proto: unknown protocol ${JSON.stringify(f.proto)} (tcp, udp, icmp, icmpv6, sctp, udplite, gre, dccp, or a number)`);
  }
  const sport = f.sport !== undefined ? port('sport', f.sport) : undefined;
  const dport = f.dport !== undefined ? port('dport', f.dport) : undefined;

  if (family !== undefined) {
    const fam = family;
    kernel.family = fam;
    tests.push((ct) => ct.family === fam);
  }
  if (proto !== undefined) {
    const p = proto;
    tests.push((ct) => ct.orig?.proto === p);
  }
  if (sport !== undefined) tests.push((ct) => ct.orig?.srcPort === sport);
  if (dport !== undefined) tests.push((ct) => ct.orig?.dstPort === dport);
  for (const [a, dir, side] of parsedAddrs) {
    const test = addressTest(a);
    tests.push((ct) => test(ct[dir]?.[side]));
  }

  // The kernel's tuple filter (CTA_FILTER) matches exact addresses, the protocol, and
  // ports of TCP and UDP; anything else stays in the tool.
  if (family !== undefined) {
    const orig: Tuple = {};
    const reply: Tuple = {};
    for (const [a, dir, side] of parsedAddrs) if (a.exact !== undefined) (dir === 'orig' ? orig : reply)[side] = a.exact;
    if (proto !== undefined) {
      orig.proto = proto;
      if (proto === IPPROTO_TCP || proto === IPPROTO_UDP) {
        if (sport !== undefined) orig.srcPort = sport;
        if (dport !== undefined) orig.dstPort = dport;
      }
    }
    if (Object.keys(orig).length > 0) kernel.orig = orig;
    if (Object.keys(reply).length > 0) {
      if (proto !== undefined) reply.proto = proto;
      kernel.reply = reply;
    }
  }
  const rsport = f.replySport !== undefined ? port('reply-port-src', f.replySport) : undefined;
  const rdport = f.replyDport !== undefined ? port('reply-port-dst', f.replyDport) : undefined;
  if (rsport !== undefined) tests.push((ct) => ct.reply?.srcPort === rsport);
  if (rdport !== undefined) tests.push((ct) => ct.reply?.dstPort === rdport);
  for (const [opt, val, key] of [['icmp-type', f.icmpType, 'icmpType'], ['icmp-code', f.icmpCode, 'icmpCode'], ['icmp-id', f.icmpId, 'icmpId']] as const) {
    if (val === undefined) continue;
    const n = smallInt(opt, val, key === 'icmpId' ? 65535 : 255);
    tests.push((ct) => ct.orig?.[key] === n);
  }
  for (const [opt, val, dir] of [['orig-zone', f.origZone, 'orig'], ['reply-zone', f.replyZone, 'reply']] as const) {
    if (val === undefined) continue;
    const z = smallInt(opt, val, 65535);
    tests.push((ct) => (ct[dir]?.zone ?? 0) === z);
  }
  tests.push(...natTests(f));
  if (f.label !== undefined) {
    const bits = parseLabels('label', f.label);
    tests.push((ct) => bits.every((b) => ct.labels !== undefined && ((ct.labels[b >> 3] ?? 0) & (1 << (b & 7))) !== 0));
  }
  if (f.zone !== undefined) {
    if (!/^\d{1,5}$/.test(f.zone) || Number(f.zone) > 65535) throw new UsageError(`--zone: not a zone number (0-65535): ${JSON.stringify(f.zone)}`);
    const z = Number(f.zone);
    kernel.zone = z;
    // As conntrack -w: the zone of both directions (CTA_ZONE); per-direction zones are --orig-zone / --reply-zone.
    tests.push((ct) => (ct.zone ?? 0) === z);
  }
  if (f.mark !== undefined) {
    const [val, mask, ...rest] = f.mark.split('/');
    if (rest.length > 0 || val === undefined) throw new UsageError(`--mark: expected VALUE[/MASK], not ${JSON.stringify(f.mark)}`);
    const m = u32('mark', val);
    const k = mask !== undefined ? u32('mark', mask) : 0xffffffff;
    kernel.mark = (m & k) >>> 0;
    kernel.markMask = k;
    tests.push((ct) => ((ct.mark ?? 0) & k) >>> 0 === (m & k) >>> 0);
  }
  if (f.status !== undefined) {
    let bits: number;
    try {
      bits = parseStatus(f.status.split(',').filter(Boolean));
    } catch (e) {
      throw new UsageError(`--status: ${(e as Error).message} (EXPECTED, SEEN_REPLY, ASSURED, CONFIRMED, SRC_NAT, DST_NAT, SEQ_ADJUST, SRC_NAT_DONE, DST_NAT_DONE, DYING, FIXED_TIMEOUT, TEMPLATE, HELPER, OFFLOAD, HW_OFFLOAD)`);
    }
    if (bits === 0) throw new UsageError('--status needs at least one flag');
    kernel.status = bits;
    kernel.statusMask = bits;
    tests.push((ct) => ((ct.status ?? 0) & bits) >>> 0 === bits);
  }
  if (f.state !== undefined) {
    const states = new Set<number>();
    for (const s of f.state.split(',').filter(Boolean)) {
      const n = parseTcpState(s);
      if (n === undefined) throw new UsageError(`--state: unknown TCP state ${JSON.stringify(s)} (SYN_SENT, SYN_RECV, ESTABLISHED, FIN_WAIT, CLOSE_WAIT, LAST_ACK, TIME_WAIT, CLOSE, SYN_SENT2, NONE)`);
      states.add(n);
    }
    tests.push((ct) => ct.protoinfo?.tcp?.state !== undefined && states.has(ct.protoinfo.tcp.state));
  }
  const match = (ct: Conntrack): boolean => {
    for (const t of tests) if (!t(ct)) return false;
    return true;
  };
  return {
    kernel,
    empty: tests.length === 0,
    match,
    matchExpect: (x) => match({ family: x.family, ...(x.tuple ? { orig: x.tuple } : {}), ...(x.zone !== undefined ? { zone: x.zone } : {}) }),
  };
}
