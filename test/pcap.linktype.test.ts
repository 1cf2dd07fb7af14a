/** Netlink payloads of capture records by link type (src/pcap/linktype.ts). */
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import {
  LINKTYPE_LINUX_SLL,
  LINKTYPE_LINUX_SLL2,
  LINKTYPE_NETLINK,
  netlinkPayload,
  readNetlinkDatagrams,
  type CaptureRecord,
} from '../src/pcap/index.js';
import { cooked, cooked2, hex, nlDone, pcapError, twoSectionFile } from './helpers/pcap-fixtures.js';

describe('netlinkPayload', () => {
  const rec = (linktype: number, data: Uint8Array): CaptureRecord => ({ index: 3, fileOffset: 99, timestampNs: 0n, linktype, data, originalLength: data.length });
  it.each([
    { name: 'LINKTYPE_NETLINK', r: rec(LINKTYPE_NETLINK, cooked(12, nlDone(1))), want: { protocol: 12, data: hex(nlDone(1)) } },
    { name: 'LINKTYPE_NETLINK route', r: rec(LINKTYPE_NETLINK, cooked(0, nlDone(1))), want: { protocol: 0, data: hex(nlDone(1)) } },
    { name: 'SLL with ARPHRD_NETLINK', r: rec(LINKTYPE_LINUX_SLL, cooked(16, nlDone(2))), want: { protocol: 16, data: hex(nlDone(2)) } },
    { name: 'SLL2 with ARPHRD_NETLINK', r: rec(LINKTYPE_LINUX_SLL2, cooked2(12, nlDone(3))), want: { protocol: 12, data: hex(nlDone(3)) } },
    { name: 'SLL header only', r: rec(LINKTYPE_LINUX_SLL, cooked(12, new Uint8Array(0))), want: { protocol: 12, data: '' } },
    { name: 'SLL ethernet frame', r: rec(LINKTYPE_LINUX_SLL, cooked(0x0800, new Uint8Array(20), 1)), want: undefined },
    { name: 'SLL2 ethernet frame', r: rec(LINKTYPE_LINUX_SLL2, cooked2(0x0800, new Uint8Array(20), 1)), want: undefined },
    { name: 'Ethernet linktype', r: rec(1, new Uint8Array(60)), want: undefined },
  ])('$name', ({ r, want }) => {
    const got = netlinkPayload(r);
    expect(got && { protocol: got.protocol, data: hex(got.data) }).toEqual(want);
  });

  it.each([
    { name: 'LINKTYPE_NETLINK shorter than cooked header', r: rec(LINKTYPE_NETLINK, cooked(12, nlDone(1)).subarray(0, 15)) },
    { name: 'LINKTYPE_NETLINK of 2 bytes', r: rec(LINKTYPE_NETLINK, Uint8Array.of(0, 4)) },
    { name: 'LINKTYPE_NETLINK without cooked header', r: rec(LINKTYPE_NETLINK, nlDone(1)) },
    { name: 'SLL netlink frame cut short', r: rec(LINKTYPE_LINUX_SLL, cooked(12, nlDone(1)).subarray(0, 12)) },
    { name: 'SLL2 netlink frame cut short', r: rec(LINKTYPE_LINUX_SLL2, cooked2(12, nlDone(1)).subarray(0, 19)) },
  ])('$name → PcapError', ({ r }) => {
    expect(pcapError(() => netlinkPayload(r))).toMatchObject({ offset: 99, recordIndex: 3 });
  });

  it('readNetlinkDatagrams filters by protocol (default NETLINK_NETFILTER)', async () => {
    const src = () => Readable.from([Buffer.from(twoSectionFile())]);
    const got = [];
    for await (const d of readNetlinkDatagrams(src())) got.push({ index: d.index, protocol: d.protocol, data: hex(d.data), ts: d.timestampNs });
    expect(got.map((d) => d.index)).toEqual([0, 1, 3, 4, 5]);
    expect(got[0]).toEqual({ index: 0, protocol: 12, data: hex(nlDone(1)), ts: 1_700_000_000_123_456_789n });
    const route = [];
    for await (const d of readNetlinkDatagrams(src(), { protocol: 0 })) route.push(d.index);
    expect(route).toEqual([2]);
  });
});

