/**
 * ctnetlink decode errors: malformed variants of real datagrams give NetlinkDecodeError
 * with the byte offset and the attribute path of the culprit.
 */
import { describe, expect, it } from 'vitest';
import { decodeDatagram, decodeMessage, encodeMessage } from '../src/ctnetlink/message.js';
import * as R from '../src/ctnetlink/requests.js';
import { locate, walkDatagram } from './helpers/corpus.js';
import { catchDecodeError, line } from './helpers/ctnetlink-corpus.js';

describe('decode errors on malformed variants of real datagrams: offset and path', () => {
  const setLen = (b: Uint8Array, off: number, len: number): void => new DataView(b.buffer, b.byteOffset).setUint16(off, len, true);
  const grow = (d: number) => (b: Uint8Array, off: number) => setLen(b, off, new DataView(b.buffer, b.byteOffset).getUint16(off, true) + d);
  const breakNul = (b: Uint8Array, off: number) => {
    const len = new DataView(b.buffer, b.byteOffset).getUint16(off, true);
    b[off + len - 1] = 0x78;
  };
  type Edit = (b: Uint8Array, off: number) => void;
  const rows: { name: string; line: number; what: string; at: number[]; msg?: number; edit: Edit; path: string[]; reason: RegExp }[] = [
    { name: '3-byte source port', line: 1, what: 'tcp4', at: [1, 2, 2], edit: grow(1), path: ['IPCTNL_MSG_CT_NEW', 'CTA_TUPLE_ORIG', 'CTA_TUPLE_PROTO', 'CTA_PROTO_SRC_PORT'], reason: /expected 2-byte payload, got 3 bytes/ },
    { name: '3-byte IPv4 address', line: 1, what: 'tcp4', at: [2, 1, 1], edit: grow(-1), path: ['IPCTNL_MSG_CT_NEW', 'CTA_TUPLE_REPLY', 'CTA_TUPLE_IP', 'CTA_IP_V4_SRC'], reason: /expected 4-byte address, got 3 bytes/ },
    { name: '15-byte IPv6 address', line: 7, what: 'tcp6', at: [1, 1, 3], edit: grow(-1), path: ['IPCTNL_MSG_CT_NEW', 'CTA_TUPLE_ORIG', 'CTA_TUPLE_IP', 'CTA_IP_V6_SRC'], reason: /expected 16-byte address, got 15/ },
    { name: 'nest longer than its parent', line: 1, what: 'tcp4', at: [1, 2], edit: grow(8), path: ['IPCTNL_MSG_CT_NEW', 'CTA_TUPLE_ORIG'], reason: /attribute type 2 length 36 exceeds the 28 bytes left/ },
    { name: '2-byte ICMPv6 type', line: 22, what: 'icmpv6', at: [1, 2, 8], edit: grow(1), path: ['IPCTNL_MSG_CT_NEW', 'CTA_TUPLE_ORIG', 'CTA_TUPLE_PROTO', 'CTA_PROTO_ICMPV6_TYPE'], reason: /expected 1-byte payload, got 2/ },
    { name: '2-byte TCP state', line: 1, what: 'tcp4', at: [4, 1, 1], edit: grow(1), path: ['IPCTNL_MSG_CT_NEW', 'CTA_PROTOINFO', 'CTA_PROTOINFO_TCP', 'CTA_PROTOINFO_TCP_STATE'], reason: /got 2 bytes/ },
    { name: '1-byte TCP flags', line: 1, what: 'tcp4', at: [4, 1, 4], edit: grow(-1), path: ['IPCTNL_MSG_CT_NEW', 'CTA_PROTOINFO', 'CTA_PROTOINFO_TCP', 'CTA_PROTOINFO_TCP_FLAGS_ORIGINAL'], reason: /expected 2-byte payload, got 1/ },
    { name: '3-byte SCTP vtag', line: 70, what: 'sctp', at: [4, 3, 2], edit: grow(-1), path: ['IPCTNL_MSG_CT_NEW', 'CTA_PROTOINFO', 'CTA_PROTOINFO_SCTP', 'CTA_PROTOINFO_SCTP_VTAG_ORIGINAL'], reason: /expected 4-byte payload, got 3/ },
    { name: '4-byte packet counter', line: 41, what: 'acct+ts', at: [9, 1], edit: grow(-4), path: ['IPCTNL_MSG_CT_DELETE', 'CTA_COUNTERS_ORIG', 'CTA_COUNTERS_PACKETS'], reason: /expected 8-byte payload, got 4/ },
    { name: '7-byte stop timestamp', line: 41, what: 'acct+ts', at: [20, 2], edit: grow(-1), path: ['IPCTNL_MSG_CT_DELETE', 'CTA_TIMESTAMP', 'CTA_TIMESTAMP_STOP'], reason: /got 7 bytes/ },
    { name: '4-byte CTA_TIMESTAMP_EVENT', line: 41, what: 'acct+ts', at: [27], edit: grow(-4), path: ['IPCTNL_MSG_CT_DELETE', 'CTA_TIMESTAMP_EVENT'], reason: /got 4 bytes/ },
    { name: '2-byte CTA_ID', line: 1, what: 'tcp4', at: [12], edit: grow(-2), path: ['IPCTNL_MSG_CT_NEW', 'CTA_ID'], reason: /expected 4-byte payload, got 2/ },
    { name: '4-byte CTA_ZONE', line: 60, what: 'conntrack -I -p udp', at: [18], edit: grow(2), path: ['IPCTNL_MSG_CT_NEW', 'CTA_ZONE'], reason: /expected 2-byte payload, got 4/ },
    { name: '1-byte CTA_TUPLE_ZONE', line: 62, what: 'conntrack -I -p tcp -s 192.0.2.1', at: [1, 3], edit: grow(-1), path: ['IPCTNL_MSG_CT_NEW', 'CTA_TUPLE_ORIG', 'CTA_TUPLE_ZONE'], reason: /got 1 bytes/ },
    { name: '2-byte synproxy ISN', line: 60, what: 'conntrack -I -p udp', at: [24, 1], edit: grow(-2), path: ['IPCTNL_MSG_CT_NEW', 'CTA_SYNPROXY', 'CTA_SYNPROXY_ISN'], reason: /got 2 bytes/ },
    { name: 'helper name without NUL', line: 129, what: 'ftp', at: [5, 1], edit: breakNul, path: ['IPCTNL_MSG_CT_NEW', 'CTA_HELP', 'CTA_HELP_NAME'], reason: /not NUL-terminated/ },
    { name: '1-byte port in the master tuple', line: 143, what: 'related', at: [14, 2, 3], edit: grow(-1), path: ['IPCTNL_MSG_CT_NEW', 'CTA_TUPLE_MASTER', 'CTA_TUPLE_PROTO', 'CTA_PROTO_DST_PORT'], reason: /got 1 bytes/ },
    { name: '2-byte expectation timeout', line: 132, what: 'expectation', at: [4], edit: grow(-2), path: ['IPCTNL_MSG_EXP_NEW', 'CTA_EXPECT_TIMEOUT'], reason: /got 2 bytes/ },
    { name: '3-byte port in the expectation mask', line: 132, what: 'expectation', at: [3, 2, 3], edit: grow(1), path: ['IPCTNL_MSG_EXP_NEW', 'CTA_EXPECT_MASK', 'CTA_TUPLE_PROTO', 'CTA_PROTO_DST_PORT'], reason: /got 3 bytes/ },
    { name: 'expectation helper name without NUL', line: 132, what: 'expectation', at: [6], edit: breakNul, path: ['IPCTNL_MSG_EXP_NEW', 'CTA_EXPECT_HELP_NAME'], reason: /not NUL-terminated/ },
    { name: '2-byte per-CPU counter in the second message', line: 183, what: 'per-cpu stats', msg: 1, at: [2], edit: grow(-2), path: ['IPCTNL_MSG_CT_GET_STATS_CPU', 'CTA_STATS_FOUND'], reason: /got 2 bytes/ },
    { name: '8-byte global entries', line: 186, what: 'global stats', at: [1], edit: grow(4), path: ['IPCTNL_MSG_CT_GET_STATS', 'CTA_STATS_GLOBAL_ENTRIES'], reason: /got 8 bytes/ },
    // 0x0103 is the name of the type the kernel uses for expectation stats replies.
    { name: '2-byte expectation per-CPU counter', line: 140, what: 'expectation per-cpu stats', msg: 1, at: [2], edit: grow(-2), path: ['IPCTNL_MSG_CT_GET_CTRZERO', 'CTA_STATS_EXP_CREATE'], reason: /got 2 bytes/ },
    { name: '3-byte port in the 3rd object of a dump datagram', line: 165, what: 'dump all', msg: 2, at: [1, 2, 2], edit: grow(1), path: ['IPCTNL_MSG_CT_NEW', 'CTA_TUPLE_ORIG', 'CTA_TUPLE_PROTO', 'CTA_PROTO_SRC_PORT'], reason: /got 3 bytes/ },
    { name: '2-byte CTA_FILTER flags in a request', line: 179, what: 'dump with CTA_FILTER', at: [25, 1], edit: grow(-2), path: ['IPCTNL_MSG_CT_GET', 'CTA_FILTER', 'CTA_FILTER_ORIG_FLAGS'], reason: /got 2 bytes/ },
    { name: '3-byte NLMSGERR_ATTR_OFFS', line: 116, what: 'EINVAL with ext-ack', at: [2], edit: grow(-1), path: ['NLMSG_ERROR', 'nlmsgerr ext-ack', 'NLMSGERR_ATTR_OFFS'], reason: /got 3 bytes/ },
    { name: '4-byte policy maximum', line: 124, what: 'EINVAL with policy', at: [4, 5], edit: grow(-4), path: ['NLMSG_ERROR', 'nlmsgerr ext-ack', 'NLMSGERR_ATTR_POLICY', 'NL_POLICY_TYPE_ATTR_MAX_VALUE_U'], reason: /got 4 bytes/ },
  ];
  it.each(rows)('$name', ({ line: n, what, at, msg = 0, edit, path, reason }) => {
    const b = line(n, what).bytes.slice();
    const off = locate(b, at, msg);
    edit(b, off);
    const err = catchDecodeError(() => decodeDatagram(b));
    expect({ offset: err.offset, path: err.path }).toEqual({ offset: off, path });
    expect(err.reason).toMatch(reason);
  });

  it('a broken nlmsg_len in the middle of a dump datagram', () => {
    const b = line(165, 'dump all').bytes.slice();
    const m = walkDatagram(b).messages[4]!;
    new DataView(b.buffer).setUint32(m.off, 0xffff, true);
    const err = catchDecodeError(() => decodeDatagram(b));
    expect({ offset: err.offset, path: err.path }).toEqual({ offset: m.off, path: ['nlmsghdr'] });
    expect(err.reason).toMatch(/nlmsg_len 65535 exceeds/);
  });

  it('nfgenmsg cut short', () => {
    const b = line(1, 'tcp4').bytes.slice(0, 18);
    new DataView(b.buffer).setUint32(0, 18, true);
    const err = catchDecodeError(() => decodeDatagram(b));
    expect({ offset: err.offset, path: err.path }).toEqual({ offset: 16, path: ['IPCTNL_MSG_CT_NEW', 'nfgenmsg'] });
  });

  it('NAT ranges in a create request (hand-built): bad port, bad attribute header', () => {
    const create = R.createRequest({
      family: 2,
      orig: { src: '192.0.2.1', dst: '192.0.2.2', proto: 6, srcPort: 1, dstPort: 2 },
      reply: { src: '192.0.2.2', dst: '203.0.113.1', proto: 6, srcPort: 2, dstPort: 1 },
      timeout: 10,
      natSrc: { minIp: '203.0.113.1', maxIp: '203.0.113.1', minPort: 1024, maxPort: 2048 },
    });
    const good = encodeMessage(create);
    expect(decodeMessage(good)).toStrictEqual(create);
    const b1 = good.slice();
    const port = locate(b1, [6, 3, 1]);
    new DataView(b1.buffer).setUint16(port, 5, true);
    let err = catchDecodeError(() => decodeDatagram(b1));
    expect({ offset: err.offset, path: err.path }).toEqual({ offset: port, path: ['IPCTNL_MSG_CT_NEW', 'CTA_NAT_SRC', 'CTA_NAT_PROTO', 'CTA_PROTONAT_PORT_MIN'] });
    const b2 = good.slice();
    const max = locate(b2, [6, 3, 2]);
    new DataView(b2.buffer).setUint16(max, 2, true);
    err = catchDecodeError(() => decodeDatagram(b2));
    expect({ offset: err.offset, path: err.path }).toEqual({ offset: max, path: ['IPCTNL_MSG_CT_NEW', 'CTA_NAT_SRC', 'CTA_NAT_PROTO'] });
    expect(err.reason).toMatch(/length 2 is shorter than its header/);
  });
});
