/**
 * Request validation (issue 12, "the library must refuse before anything reaches the
 * kernel"): every finding of the issue as a test, then seeded property tests over the
 * whole request surface:
 *   - random VALID arguments of every builder encode, and decode back to the same values;
 *   - one random INVALID value at one random field makes the builder throw a
 *     NetlinkEncodeError naming that field (and no message, so no bytes), and the encoder
 *     alone refuses the same value put straight into a built message.
 *
 *   CTEV_VALIDATE_SEED=<u32>        reproduce a run (the seed is printed)
 *   CTEV_VALIDATE_ITERATIONS=<n>    more cases per property (default 3,000)
 */
import { describe, expect, it } from 'vitest';
import { ConntrackClient } from '../src/client/index.js';
import type { ReceiveItem, Transport } from '../src/client/transport.js';
import { labelBitmap, labelNumbers } from '../src/ctnetlink/labels.js';
import { decodeMessage, encodeMessage } from '../src/ctnetlink/message.js';
import type { Conntrack, Message } from '../src/ctnetlink/model.js';
import * as R from '../src/ctnetlink/requests.js';
import { NetlinkEncodeError } from '../src/netlink/errors.js';
import { Prng, seedFromEnv } from './helpers/prng.js';
import {
  type Leaf,
  createEntry,
  entryKey,
  getAt,
  invalidValue,
  kernelFilter,
  keyTuple,
  leaves,
  setAt,
  updateEntry,
} from './helpers/request-gen.js';

const SEED = seedFromEnv('CTEV_VALIDATE_SEED');
const ITERATIONS = Number(process.env.CTEV_VALIDATE_ITERATIONS ?? 3000);

/** The NetlinkEncodeError `fn` throws (fails the test if it returns or throws anything else). */
function refusal(fn: () => unknown): NetlinkEncodeError {
  let out: unknown;
  try {
    out = fn();
  } catch (e) {
    if (e instanceof NetlinkEncodeError) return e;
    throw new Error(`expected NetlinkEncodeError, got ${String(e)}`);
  }
  throw new Error(`expected NetlinkEncodeError, got a result: ${JSON.stringify(out, (_k, v) => (typeof v === 'bigint' ? `${v}n` : v))}`);
}

function expectRefusal(fn: () => unknown, field: string, path: string[] | undefined, value?: unknown): NetlinkEncodeError {
  const e = refusal(fn);
  expect(e.field).toBe(field);
  if (path) expect(e.path).toEqual(path);
  if (arguments.length >= 4) expect(Object.is(e.value, value) || e.value === value).toBe(true);
  expect(e.message).toContain(field);
  return e;
}

const v4 = { src: '192.0.2.1', dst: '192.0.2.2', proto: 6, srcPort: 1234, dstPort: 80 };
const v4r = { src: '192.0.2.2', dst: '192.0.2.1', proto: 6, srcPort: 80, dstPort: 1234 };
const entry = (over: Partial<Conntrack> = {}): Conntrack => ({ family: 2, orig: { ...v4 }, reply: { ...v4r }, timeout: 120, ...over });
const ORIG_PROTO = ['CTA_TUPLE_ORIG', 'CTA_TUPLE_PROTO'];

// ---------------------------------------------------------------------------------------
describe('issue 12 findings: destructive requests need a complete key', () => {
  it('delete with orig: null is refused (it was a CT_DELETE without a tuple: a flush of every family)', () => {
    expectRefusal(() => R.deleteRequest({ family: 2, orig: null as never }), 'orig', ['CTA_TUPLE_ORIG'], null);
  });

  it('delete with reply: null is refused', () => {
    expectRefusal(() => R.deleteRequest({ family: 2, reply: null as never }), 'reply', ['CTA_TUPLE_REPLY'], null);
  });

  it('delete without a tuple, with undefined tuples, with no key at all is refused', () => {
    expectRefusal(() => R.deleteRequest({ family: 2 }), 'orig', ['CTA_TUPLE_ORIG']);
    expectRefusal(() => R.deleteRequest({ family: 2, orig: undefined, reply: undefined }), 'orig', ['CTA_TUPLE_ORIG']);
    expectRefusal(() => R.deleteRequest({ family: 2, id: 7, zone: 1 }), 'orig', ['CTA_TUPLE_ORIG']);
    expectRefusal(() => R.deleteRequest(undefined as never), 'key', []);
    expectRefusal(() => R.deleteRequest(null as never), 'key', [], null);
  });

  it('delete with a partial tuple is refused, naming the missing field', () => {
    expectRefusal(() => R.deleteRequest({ family: 2, orig: { src: '192.0.2.1' } }), 'orig.dst', ['CTA_TUPLE_ORIG', 'CTA_TUPLE_IP', 'CTA_IP_V4_DST']);
    expectRefusal(() => R.deleteRequest({ family: 2, orig: { src: '192.0.2.1', dst: '192.0.2.2' } }), 'orig.proto', [...ORIG_PROTO, 'CTA_PROTO_NUM']);
    expectRefusal(() => R.deleteRequest({ family: 2, orig: { ...v4, dstPort: undefined } }), 'orig.dstPort', [...ORIG_PROTO, 'CTA_PROTO_DST_PORT']);
    expectRefusal(() => R.deleteRequest({ family: 10, orig: { src: '2001:db8::1', dst: '2001:db8::2', proto: 58, icmpType: 128, icmpCode: 0 } }), 'orig.icmpId', [...ORIG_PROTO, 'CTA_PROTO_ICMPV6_ID']);
    expectRefusal(() => R.deleteRequest({ family: 2, orig: {} }), 'orig.src', ['CTA_TUPLE_ORIG', 'CTA_TUPLE_IP', 'CTA_IP_V4_SRC']);
    // Trackers that may be absent (SCTP, GRE, UDP-Lite, DCCP): both ports or neither.
    const sctp = { src: '192.0.2.1', dst: '192.0.2.2', proto: 132 };
    expect(() => R.deleteRequest({ family: 2, orig: sctp })).not.toThrow();
    expect(() => R.deleteRequest({ family: 2, orig: { ...sctp, srcPort: 1, dstPort: 2 } })).not.toThrow();
    expectRefusal(() => R.deleteRequest({ family: 2, orig: { ...sctp, srcPort: 1 } }), 'orig.dstPort', [...ORIG_PROTO, 'CTA_PROTO_DST_PORT']);
    // A protocol without ports (generic tracker): a port would be ignored by the kernel.
    expectRefusal(() => R.deleteRequest({ family: 2, orig: { ...sctp, proto: 50, srcPort: 1, dstPort: 2 } }), 'orig.srcPort', [...ORIG_PROTO, 'CTA_PROTO_SRC_PORT'], 1);
  });

  it('delete with a bad family is refused (family "ipv4" became 0)', () => {
    expectRefusal(() => R.deleteRequest({ family: 'ipv4' as never, orig: v4 }), 'family', ['nfgenmsg', 'nfgen_family'], 'ipv4');
    expectRefusal(() => R.deleteRequest({ family: 0, orig: v4 }), 'family', ['nfgenmsg', 'nfgen_family'], 0);
    expectRefusal(() => R.deleteRequest({ family: 10, orig: v4 }), 'orig.src', ['CTA_TUPLE_ORIG', 'CTA_TUPLE_IP', 'CTA_IP_V4_SRC'], '192.0.2.1');
  });

  it('get, get-and-zero and update need a complete key too', () => {
    expectRefusal(() => R.getRequest({ family: 2, orig: null as never }), 'orig', ['CTA_TUPLE_ORIG'], null);
    expectRefusal(() => R.getRequest({ family: 2, orig: { src: '192.0.2.1' } }, { zero: true }), 'orig.dst', undefined);
    expectRefusal(() => R.getRequest({ family: 2, orig: v4 }, { zero: 'yes' as never }), 'opts.zero', [], 'yes');
    expectRefusal(() => R.updateRequest({ family: 2, mark: 1 }), 'orig', ['CTA_TUPLE_ORIG']);
    expectRefusal(() => R.updateRequest({ family: 2, reply: null as never, mark: 1 }), 'reply', ['CTA_TUPLE_REPLY'], null);
  });

  it('flush({family: "ipv4"}) is refused (it flushed IPv6 too: family became 0)', () => {
    expectRefusal(() => R.flushRequest({ family: 'ipv4' as never }), 'family', ['nfgenmsg', 'nfgen_family'], 'ipv4');
    expectRefusal(() => R.flushRequest({ family: 999 }), 'family', ['nfgenmsg', 'nfgen_family'], 999);
  });

  it('a flush filter never degrades into a whole-table flush', () => {
    expectRefusal(() => R.flushRequest({}), 'filter', []);
    expectRefusal(() => R.flushRequest(undefined), 'filter', [], undefined);
    expectRefusal(() => R.flushRequest(null as never), 'filter', [], null);
    expectRefusal(() => R.flushRequest({ family: 0 }), 'family', ['nfgenmsg', 'nfgen_family'], 0);
    expectRefusal(() => R.flushRequest({ family: undefined }), 'filter', []);
    expectRefusal(() => R.flushRequest({ markMask: 0xff }), 'markMask', ['CTA_MARK_MASK'], 0xff);
    expectRefusal(() => R.flushRequest({ statusMask: 4 }), 'statusMask', ['CTA_STATUS_MASK'], 4);
    expectRefusal(() => R.flushRequest({ mark: 0, markMask: 0 }), 'markMask', ['CTA_MARK_MASK'], 0);
    // The kernel ignores a per-direction zone in a filter, and ports of protocols other than TCP/UDP.
    expectRefusal(() => R.flushRequest({ family: 2, orig: { zone: 3 } }), 'orig.zone', ['CTA_TUPLE_ORIG', 'CTA_TUPLE_ZONE'], 3);
    expectRefusal(() => R.flushRequest({ family: 2, orig: { proto: 132, dstPort: 5 } }), 'orig.dstPort', [...ORIG_PROTO, 'CTA_PROTO_DST_PORT'], 5);
    expectRefusal(() => R.flushRequest({ family: 2, orig: { dstPort: 5 } }), 'orig.dstPort', [...ORIG_PROTO, 'CTA_PROTO_DST_PORT'], 5);
    // A tuple filter without a family: the kernel cannot match addresses of family 0.
    expectRefusal(() => R.flushRequest({ orig: { src: '10.0.0.1' } }), 'family', ['nfgenmsg', 'nfgen_family']);
    expectRefusal(() => R.flushRequest({ family: 2, orig: {} }), 'orig', ['CTA_TUPLE_ORIG']);
    expectRefusal(() => R.flushRequest({ family: 2, reply: { src: '2001:db8::1' } }), 'reply.src', ['CTA_TUPLE_REPLY', 'CTA_TUPLE_IP', 'CTA_IP_V6_SRC'], '2001:db8::1');
  });

  it('a field the model does not have is refused, not dropped (the flush would widen)', () => {
    expectRefusal(() => R.flushRequest({ family: 2, src: '10.0.0.1' } as never), 'src', [], '10.0.0.1');
    expectRefusal(() => R.flushRequest({ family: 2, orig: { proto: 6, sport: 80 } as never }), 'orig.sport', ['CTA_TUPLE_ORIG'], 80);
    expectRefusal(() => R.dumpRequest({ family: 2, dport: 80 } as never), 'dport', [], 80);
    expectRefusal(() => R.updateRequest({ family: 2, orig: v4, timout: 5 } as never), 'timout', [], 5);
    expectRefusal(() => R.createRequest(entry({ reply: { ...v4r, sport: 1 } as never })), 'reply.sport', ['CTA_TUPLE_REPLY'], 1);
    expectRefusal(() => R.deleteRequest({ family: 2, orig: v4, mask: 1 } as never), 'mask', [], 1);
    // A whole entry (as a dump returns it) is a valid key; undefined-valued extras are ignored.
    expect(() => R.deleteRequest({ ...entry(), id: 5, use: 1, mark: 0, countersOrig: { packets: 1n } })).not.toThrow();
    expect(() => R.flushRequest({ family: 2, extra: undefined } as never)).not.toThrow();
  });

  it('flush() with no argument is the whole-table flush, and filters keep narrowing it', () => {
    const all = R.flushRequest();
    expect(all.kind === 'conntrack' && all.nfgen).toEqual({ family: 0, version: 0, resId: 0 });
    const v6 = R.flushRequest({ family: 10 });
    expect(v6.kind === 'conntrack' && v6.nfgen).toEqual({ family: 10, version: 1, resId: 0 });
    const byMark = decodeMessage(encodeMessage(R.flushRequest({ mark: 5 })));
    expect(byMark.kind === 'conntrack' && byMark.conntrack).toMatchObject({ mark: 5, markMask: 0xffffffff });
  });
});

describe('issue 12 findings: no value is wrapped or coerced', () => {
  it.each([70000, -1, NaN, 'http', 1.9, Infinity, 2 ** 53, 80n])('port %s is refused, naming CTA_PROTO_SRC_PORT', (port) => {
    expectRefusal(() => R.createRequest(entry({ orig: { ...v4, srcPort: port as never } })), 'orig.srcPort', [...ORIG_PROTO, 'CTA_PROTO_SRC_PORT'], port);
  });

  it('protocol 300 is refused', () => {
    expectRefusal(() => R.createRequest(entry({ orig: { ...v4, proto: 300 } })), 'orig.proto', [...ORIG_PROTO, 'CTA_PROTO_NUM'], 300);
  });

  it.each([-5, 2 ** 33 + 7, 1.5, '60'])('timeout %s is refused', (t) => {
    expectRefusal(() => R.createRequest(entry({ timeout: t as never })), 'timeout', ['CTA_TIMEOUT'], t);
    expectRefusal(() => R.updateRequest({ family: 2, orig: v4, timeout: t as never }), 'timeout', ['CTA_TIMEOUT'], t);
  });

  it('mark 2^40 and zone 70000 are refused', () => {
    expectRefusal(() => R.updateRequest({ family: 2, orig: v4, mark: 2 ** 40 }), 'mark', ['CTA_MARK'], 2 ** 40);
    expectRefusal(() => R.createRequest(entry({ zone: 70000 })), 'zone', ['CTA_ZONE'], 70000);
    expectRefusal(() => R.dumpRequest({ zone: 70000 }), 'zone', ['CTA_ZONE'], 70000);
    expectRefusal(() => R.dumpRequest({ mark: 2 ** 40 }), 'mark', ['CTA_MARK'], 2 ** 40);
  });

  it('family "ipv4" and 999 are refused everywhere', () => {
    for (const family of ['ipv4', 999, 2.5, -1, null]) {
      expectRefusal(() => R.dumpRequest({ family: family as never }), 'family', ['nfgenmsg', 'nfgen_family'], family);
      expectRefusal(() => R.createRequest(entry({ family: family as never })), 'family', ['nfgenmsg', 'nfgen_family'], family);
      expectRefusal(() => R.dyingRequest(family as never), 'family', ['nfgenmsg', 'nfgen_family'], family);
      expectRefusal(() => R.unconfirmedRequest(family as never), 'family', ['nfgenmsg', 'nfgen_family'], family);
      expectRefusal(() => R.expectDumpRequest(family as never), 'family', ['nfgenmsg', 'nfgen_family'], family);
    }
  });

  it('label bit 100000 is refused (it became a wrong byte)', () => {
    expectRefusal(() => labelBitmap([100000]), 'labels[0]', ['CTA_LABELS'], 100000);
    expectRefusal(() => labelBitmap([1, -1]), 'labels[1]', ['CTA_LABELS'], -1);
    expectRefusal(() => labelBitmap([1.5]), 'labels[0]', ['CTA_LABELS'], 1.5);
    // Label numbers where the bitmap belongs: refused, not written as bytes mod 256.
    expectRefusal(() => R.updateRequest({ family: 2, orig: v4, labels: [100000] as never }), 'labels', ['CTA_LABELS']);
    expectRefusal(() => R.updateRequest({ family: 2, orig: v4, labels: new Uint8Array(17) }), 'labels', ['CTA_LABELS']);
    expectRefusal(() => R.updateRequest({ family: 2, orig: v4, labels: new Uint8Array(16), labelsMask: new Uint8Array(8) }), 'labelsMask', ['CTA_LABELS_MASK']);
    const bm = labelBitmap([0, 9, 127]);
    expect(bm.length).toBe(16);
    expect(labelNumbers(bm)).toEqual([0, 9, 127]);
    expect(labelNumbers(labelBitmap([3, 64, 100], false), false)).toEqual([3, 64, 100]);
  });

  it('ICMP type 256 is refused', () => {
    const icmp = { src: '192.0.2.1', dst: '192.0.2.2', proto: 1, icmpType: 256, icmpCode: 0, icmpId: 1 };
    expectRefusal(() => R.createRequest(entry({ orig: icmp, reply: { ...icmp, icmpType: 0 } })), 'orig.icmpType', [...ORIG_PROTO, 'CTA_PROTO_ICMP_TYPE'], 256);
  });

  it('src: 12345 and createRequest(null) are typed errors, not bare TypeErrors', () => {
    expectRefusal(() => R.createRequest(entry({ orig: { ...v4, src: 12345 as never } })), 'orig.src', ['CTA_TUPLE_ORIG', 'CTA_TUPLE_IP', 'CTA_IP_V4_SRC'], 12345);
    expectRefusal(() => R.createRequest(null as never), 'entry', [], null);
    expectRefusal(() => encodeMessage(null as never), 'message', [], null);
    expectRefusal(() => R.createRequest(undefined as never), 'entry', []);
    expectRefusal(() => R.updateRequest(null as never), 'entry', [], null);
    expectRefusal(() => R.getRequest(null as never), 'key', [], null);
    expectRefusal(() => R.createRequest(entry({ orig: 'x' as never })), 'orig', ['CTA_TUPLE_ORIG'], 'x');
  });

  it('create needs orig, reply (same protocol) and timeout; no field of another protocol', () => {
    expectRefusal(() => R.createRequest({ family: 2, orig: v4, timeout: 10 }), 'reply', ['CTA_TUPLE_REPLY']);
    expectRefusal(() => R.createRequest(entry({ timeout: undefined })), 'timeout', ['CTA_TIMEOUT']);
    expectRefusal(() => R.createRequest(entry({ reply: { ...v4r, proto: 17 } })), 'reply.proto', ['CTA_TUPLE_REPLY', 'CTA_TUPLE_PROTO', 'CTA_PROTO_NUM'], 17);
    expectRefusal(() => R.createRequest(entry({ orig: { ...v4, icmpType: 8 } })), 'orig.icmpType', [...ORIG_PROTO, 'CTA_PROTO_ICMP_TYPE'], 8);
    expectRefusal(() => R.createRequest(entry(), { orUpdate: 1 as never }), 'opts.orUpdate', [], 1);
  });

  it('status bits, masks, ids, helper names, protoinfo, NAT, seqadj, counters', () => {
    expectRefusal(() => R.createRequest(entry({ status: 1 << 20 })), 'status', ['CTA_STATUS'], 1 << 20);
    expectRefusal(() => R.createRequest(entry({ status: -1 })), 'status', ['CTA_STATUS'], -1);
    expectRefusal(() => R.dumpRequest({ status: 0 }), 'statusMask', ['CTA_STATUS_MASK'], 0);
    expectRefusal(() => R.dumpRequest({ status: 4, statusMask: 2 }), 'statusMask', ['CTA_STATUS_MASK'], 2);
    expectRefusal(() => R.dumpRequest({ mark: 0x100, markMask: 0xff }), 'markMask', ['CTA_MARK_MASK'], 0xff);
    expectRefusal(() => R.updateRequest({ family: 2, orig: v4, markMask: 0xff }), 'markMask', ['CTA_MARK_MASK'], 0xff);
    expectRefusal(() => R.deleteRequest({ family: 2, orig: v4, id: 2 ** 32 }), 'id', ['CTA_ID'], 2 ** 32);
    expectRefusal(() => R.deleteRequest({ family: 2, orig: v4, id: -1 }), 'id', ['CTA_ID'], -1);
    expectRefusal(() => R.createRequest(entry({ helper: { name: 'a-very-long-helper' } })), 'helper.name', ['CTA_HELP', 'CTA_HELP_NAME']);
    expectRefusal(() => R.createRequest(entry({ helper: { name: 'ft\0p' } })), 'helper.name', ['CTA_HELP', 'CTA_HELP_NAME']);
    expectRefusal(() => R.createRequest(entry({ protoinfo: { tcp: { state: 10 } } })), 'protoinfo.tcp.state', ['CTA_PROTOINFO', 'CTA_PROTOINFO_TCP', 'CTA_PROTOINFO_TCP_STATE'], 10);
    expectRefusal(() => R.createRequest(entry({ protoinfo: { tcp: { flagsOriginal: { flags: 256, mask: 0 } } } })), 'protoinfo.tcp.flagsOriginal.flags', undefined, 256);
    expectRefusal(() => R.createRequest(entry({ natSrc: { minIp: '2001:db8::1' } })), 'natSrc.minIp', ['CTA_NAT_SRC', 'CTA_NAT_V6_MINIP']);
    expectRefusal(() => R.createRequest(entry({ natDst: { minPort: 65536 } })), 'natDst.minPort', ['CTA_NAT_DST', 'CTA_NAT_PROTO', 'CTA_PROTONAT_PORT_MIN'], 65536);
    expectRefusal(() => R.createRequest(entry({ seqAdjOrig: { offsetBefore: -5 } })), 'seqAdjOrig.offsetBefore', ['CTA_SEQ_ADJ_ORIG', 'CTA_SEQADJ_OFFSET_BEFORE'], -5);
    expectRefusal(() => R.updateRequest({ family: 2, orig: v4, countersOrig: { packets: 5 as never } }), 'countersOrig.packets', ['CTA_COUNTERS_ORIG', 'CTA_COUNTERS_PACKETS'], 5);
    expectRefusal(() => R.updateRequest({ family: 2, orig: v4, eventTimestamp: 1n }), 'eventTimestamp', ['CTA_TIMESTAMP_EVENT'], 1n);
    expectRefusal(() => R.updateRequest({ family: 2, orig: v4, unknown: [{ type: 70000, data: new Uint8Array(1) }] }), 'unknown[0].type', ['nla_type'], 70000);
  });

  it('addresses that do not parse or do not match the family', () => {
    for (const bad of ['999.1.1.1', '1.2.3', 'fe80::1::2', '', 'localhost']) {
      expectRefusal(() => R.createRequest(entry({ orig: { ...v4, dst: bad } })), 'orig.dst', undefined, bad);
    }
    expectRefusal(() => R.createRequest(entry({ family: 10 })), 'orig.src', ['CTA_TUPLE_ORIG', 'CTA_TUPLE_IP', 'CTA_IP_V4_SRC'], '192.0.2.1');
  });

  it('dump filters (CTA_FILTER) and expectation / list / stats requests', () => {
    expectRefusal(() => R.dumpRequest({ orig: { proto: 6 } }), 'family', ['nfgenmsg', 'nfgen_family']);
    expectRefusal(() => R.dumpRequest({ family: 2, reply: { dstPort: 80 } }), 'reply.dstPort', ['CTA_TUPLE_REPLY', 'CTA_TUPLE_PROTO', 'CTA_PROTO_DST_PORT'], 80);
    expectRefusal(() => R.dumpRequest({ family: 2, orig: { proto: 6, icmpType: 8 } }), 'orig.icmpType', [...ORIG_PROTO, 'CTA_PROTO_ICMP_TYPE'], 8);
    expectRefusal(() => R.dumpRequest(null as never), 'filter', [], null);
    expectRefusal(() => R.dumpRequest({}, { zero: 1 as never }), 'opts.zero', [], 1);
    expectRefusal(() => R.expectDumpRequest(0, keyTuple(new Prng(1), 2)), 'family', ['nfgenmsg', 'nfgen_family'], 0);
    expectRefusal(() => R.expectDumpRequest(2, { src: '192.0.2.1' }), 'master.dst', ['CTA_EXPECT_MASTER', 'CTA_TUPLE_IP', 'CTA_IP_V4_DST']);
    expectRefusal(() => R.expectDumpRequest(2, null as never), 'master', ['CTA_EXPECT_MASTER'], null);
    // Stats requests take no arguments; the encoder still checks what they carry.
    const s = R.statsRequest();
    if (s.kind !== 'request') throw new Error('unreachable');
    s.unknown = [{ type: 1, data: 'x' as never }];
    expectRefusal(() => encodeMessage(s), 'unknown[0].data', [], 'x');
    expect(() => encodeMessage(R.statsCpuRequest())).not.toThrow();
    expect(() => encodeMessage(R.expectStatsCpuRequest())).not.toThrow();
  });
});

describe('the encoder refuses unchecked request values, whoever built the message', () => {
  const built = () => R.createRequest(entry()) as Extract<Message, { kind: 'conntrack' }>;

  it('a tuple field, the header, the nfgenmsg', () => {
    const m = built();
    m.conntrack.orig!.srcPort = 70000;
    expectRefusal(() => encodeMessage(m), 'orig.srcPort', [...ORIG_PROTO, 'CTA_PROTO_SRC_PORT'], 70000);
    const h = built();
    h.header.seq = -1;
    expectRefusal(() => encodeMessage(h), 'header.seq', ['nlmsghdr', 'nlmsg_seq'], -1);
    const g = built();
    g.nfgen.family = 'ipv4' as never;
    expectRefusal(() => encodeMessage(g), 'nfgen.family', ['nfgenmsg', 'nfgen_family'], 'ipv4');
    const t = built();
    t.conntrack.timeout = -5;
    expectRefusal(() => encodeMessage(t), 'timeout', ['CTA_TIMEOUT'], -5);
    const o = built();
    o.conntrack.orig = null as never;
    expectRefusal(() => encodeMessage(o), 'orig', ['CTA_TUPLE_ORIG'], null);
  });

  it('leaves kernel messages (no NLM_F_REQUEST) alone', () => {
    const m = built();
    m.header.flags = 0; // an event
    m.header.seq = 0;
    expect(() => encodeMessage(m)).not.toThrow();
  });
});

// ---------------------------------------------------------------------------------------
/** A transport that records what is sent and never answers. */
function recordingTransport(): { sent: Uint8Array[]; factory: () => Transport } {
  const sent: Uint8Array[] = [];
  const factory = (): Transport => ({
    portid: 1,
    send: (d: Uint8Array) => void sent.push(d),
    onReceive: (_cb: (items: ReceiveItem[]) => void) => {},
    pause: () => {},
    resume: () => {},
    close: () => {},
  });
  return { sent, factory };
}

describe('the client refuses before anything is sent', () => {
  it('delete, flush, update, get, create, dump with bad arguments send nothing', async () => {
    const t = recordingTransport();
    const ct = await ConntrackClient.open({ transport: t.factory });
    const refused = [
      () => ct.delete({ family: 2, orig: null as never }),
      () => ct.delete({ family: 2, reply: null as never }),
      () => ct.delete({ family: 2 }),
      () => ct.delete(undefined as never),
      () => ct.delete({ family: 2, orig: { src: '192.0.2.1' } }),
      () => ct.delete({ family: 'ipv4' as never, orig: v4 }),
      () => ct.flush({ family: 'ipv4' as never }),
      () => ct.flush({ family: 0 }),
      () => ct.flush({}),
      () => ct.flush(null as never),
      () => ct.flush(undefined),
      () => ct.update({ family: 2, mark: 1 }),
      () => ct.get({ family: 2, orig: null as never }),
      () => ct.get({ family: 2, orig: v4 }, { zero: 'yes' as never }),
      () => ct.create(entry({ orig: { ...v4, srcPort: 70000 } })),
      () => ct.create(entry({ timeout: -5 })),
      () => ct.create(null as never),
      async () => {
        for await (const _ of ct.dump({ family: 'ipv4' as never })) { /* */ }
      },
    ];
    for (const f of refused) await expect(f()).rejects.toBeInstanceOf(NetlinkEncodeError);
    expect(t.sent.length).toBe(0);
    await ct.close();
  });
});

// ---------------------------------------------------------------------------------------
interface Case {
  name: string;
  /** Argument object whose leaves are mutated (positional arguments become its keys). */
  args: Record<string, unknown>;
  build(args: Record<string, unknown>): Message;
  /** family 0 is valid here. */
  unspec: boolean;
}

function randomCase(r: Prng): Case {
  switch (r.int(11)) {
    case 0: return { name: 'dump', args: { filter: kernelFilter(r, false), opts: { zero: r.chance(0.5) } }, build: (a) => R.dumpRequest(a.filter as never, a.opts as never), unspec: true };
    case 1: return { name: 'flush', args: { filter: kernelFilter(r, true) }, build: (a) => R.flushRequest(a.filter as never), unspec: false };
    case 2: return { name: 'get', args: { key: entryKey(r), opts: { zero: r.chance(0.5) } }, build: (a) => R.getRequest(a.key as never, a.opts as never), unspec: false };
    case 3: return { name: 'delete', args: { key: entryKey(r) }, build: (a) => R.deleteRequest(a.key as never), unspec: false };
    case 4: return { name: 'create', args: { entry: createEntry(r), opts: { orUpdate: r.chance(0.5) } }, build: (a) => R.createRequest(a.entry as never, a.opts as never), unspec: false };
    case 5: return { name: 'update', args: { entry: updateEntry(r) }, build: (a) => R.updateRequest(a.entry as never), unspec: false };
    case 6: return { name: 'dying', args: { list: { family: r.pick([0, 2, 10]) } }, build: (a) => R.dyingRequest((a.list as { family: number }).family), unspec: true };
    case 7: return { name: 'unconfirmed', args: { list: { family: r.pick([0, 2, 10]) } }, build: (a) => R.unconfirmedRequest((a.list as { family: number }).family), unspec: true };
    case 8: {
      const family = r.pick([2, 10]);
      const x = r.chance(0.5) ? { family, master: keyTuple(r, family, undefined, false) } : { family: r.pick([0, 2, 10]) };
      return { name: 'expect dump', args: { x }, build: (a) => { const v = a.x as { family: number; master?: never }; return R.expectDumpRequest(v.family, v.master); }, unspec: !('master' in x) };
    }
    case 9: return { name: 'stats', args: {}, build: () => (r.chance(0.5) ? R.statsRequest() : R.statsCpuRequest()), unspec: true };
    default: return { name: 'expect stats', args: {}, build: () => R.expectStatsCpuRequest(), unspec: true };
  }
}

/** Leaves of every argument; the field an error names is relative to its argument (opts: "opts.x"). */
function caseLeaves(c: Case): (Leaf & { arg: string })[] {
  const out: (Leaf & { arg: string })[] = [];
  for (const [arg, v] of Object.entries(c.args)) {
    if (typeof v !== 'object' || v === null) continue;
    for (const l of leaves(v)) out.push({ ...l, arg, field: arg === 'opts' ? `opts.${l.field}` : l.field });
  }
  return out;
}

/** Input fields that must come back unchanged from the decoded message. */
function inputFields(c: Case): [string, unknown][] {
  const a = c.args;
  const pick = (o: unknown, keys: string[]) => keys.filter((k) => (o as Record<string, unknown>)[k] !== undefined).map((k) => [k, (o as Record<string, unknown>)[k]] as [string, unknown]);
  switch (c.name) {
    case 'create':
    case 'update':
      return Object.entries(a.entry as object).filter(([k, v]) => k !== 'status' && v !== undefined);
    case 'dump':
    case 'flush':
      return pick(a.filter, ['mark', 'markMask', 'status', 'statusMask', 'zone', 'orig', 'reply']);
    case 'get':
    case 'delete': {
      const k = a.key as { orig?: unknown };
      return pick(a.key, k.orig !== undefined ? ['orig', 'zone', 'id', 'family'] : ['reply', 'zone', 'id', 'family']);
    }
    default:
      return [];
  }
}

describe(`property tests over the request surface (seed ${SEED}, CTEV_VALIDATE_SEED to reproduce)`, () => {
  it(`${ITERATIONS} random valid requests encode and decode back to the same values`, () => {
    const r = new Prng(SEED);
    const counts: Record<string, number> = {};
    for (let i = 0; i < ITERATIONS; i++) {
      const c = randomCase(r);
      counts[c.name] = (counts[c.name] ?? 0) + 1;
      const where = `seed ${SEED}, iteration ${i}, ${c.name}`;
      let m: Message;
      try {
        m = c.build(c.args);
      } catch (e) {
        throw new Error(`${where}: a valid request was refused: ${String(e)}\n${JSON.stringify(c.args, (_k, v) => (typeof v === 'bigint' ? `${v}n` : v instanceof Uint8Array ? [...v] : v))}`);
      }
      const back = decodeMessage(encodeMessage(m));
      expect(back, where).toStrictEqual(m);
      if (back.kind === 'conntrack') {
        for (const [k, v] of inputFields(c)) expect((back.conntrack as unknown as Record<string, unknown>)[k], `${where}: ${k}`).toStrictEqual(v);
        if (c.name === 'create' || c.name === 'update') {
          const status = (c.args.entry as Conntrack).status;
          if (status !== undefined) expect(back.conntrack.status, where).toBe((status | 8) >>> 0);
        }
      }
      if (c.name === 'expect dump' && back.kind === 'expect') {
        expect(back.expect.master, where).toStrictEqual((c.args.x as { master?: unknown }).master);
      }
    }
    console.log(`validate: seed ${SEED}, ${ITERATIONS} valid requests: ${JSON.stringify(counts)}`);
  }, 120_000);

  it(`${ITERATIONS} random requests with one invalid field are refused, naming the field`, () => {
    const r = new Prng(SEED ^ 0x5bd1e995);
    let wireChecked = 0;
    const kinds: Record<string, number> = {};
    for (let i = 0; i < ITERATIONS; i++) {
      let c = randomCase(r);
      let ls = caseLeaves(c);
      while (ls.length === 0) {
        c = randomCase(r);
        ls = caseLeaves(c);
      }
      let leaf = r.pick(ls);
      // Every case has a family: pick it less often so the other fields get more turns.
      if (leaf.kind === 'family' && ls.length > 1 && r.chance(0.7)) leaf = r.pick(ls);
      const family = (getAt(c.args, [leaf.arg, 'family']) as number | undefined) ?? 2;
      const { value, wire } = invalidValue(r, leaf.kind, family, c.unspec);
      kinds[leaf.kind] = (kinds[leaf.kind] ?? 0) + 1;
      const valid = c.build(c.args);
      const bad = structuredClone(c.args);
      setAt(bad, [leaf.arg, ...leaf.path], value);
      const where = `seed ${SEED}, iteration ${i}, ${c.name}: ${leaf.field} = ${String(typeof value === 'bigint' ? `${value}n` : JSON.stringify(value))}`;
      let err: NetlinkEncodeError;
      try {
        err = refusal(() => c.build(bad));
      } catch (e) {
        throw new Error(`${where}: ${(e as Error).message}`);
      }
      expect(err.field, `${where}: ${err.message}`).toBe(leaf.field);
      expect(err.path.length > 0 || ['entry', 'key', 'filter'].includes(leaf.field) || leaf.field.startsWith('opts.'), where).toBe(true);
      // The same value put straight into the built message: the encoder alone refuses it.
      if (wire && leaf.kind !== 'family' && leaf.kind !== 'bool' && valid.kind === 'conntrack') {
        const parent = getAt(valid.conntrack, leaf.path.slice(0, -1));
        if (typeof parent === 'object' && parent !== null && getAt(valid.conntrack, leaf.path) !== undefined) {
          setAt(valid.conntrack, leaf.path, value);
          const e2 = refusal(() => encodeMessage(valid));
          expect(e2.field, `${where} (encoder): ${e2.message}`).toBe(leaf.field);
          wireChecked++;
        }
      }
    }
    expect(wireChecked).toBeGreaterThan(ITERATIONS / 10);
    console.log(`validate: seed ${SEED}, ${ITERATIONS} invalid requests refused (${wireChecked} also by the encoder alone): ${JSON.stringify(kinds)}`);
  }, 120_000);
});
