/**
 * ctnetlink request builders (src/ctnetlink/requests.ts): they produce what conntrack-tools
 * sends for the same operation.
 */
import { describe, expect, it } from 'vitest';
import { NLM_F_ACK, NLM_F_REQUEST } from '../src/netlink/constants.js';
import { decodeDatagram, decodeMessage, encodeMessage } from '../src/ctnetlink/message.js';
import type { Conntrack, Message } from '../src/ctnetlink/model.js';
import * as R from '../src/ctnetlink/requests.js';
import { fromHex, toHex } from './helpers/hex.js';
import { CORPUS, line } from './helpers/ctnetlink-corpus.js';

describe('request builders', () => {
  const key = { family: 2, orig: { src: '192.0.2.1', dst: '192.0.2.2', proto: 17, srcPort: 1111, dstPort: 2222 } };
  const builders: { name: string; m: Message }[] = [
    { name: 'dump', m: R.dumpRequest() },
    { name: 'dump, all filters', m: R.dumpRequest({ family: 10, mark: 1, markMask: 0xff, status: 4, zone: 3, orig: { src: '2001:db8::1', proto: 58, icmpType: 128 }, reply: { src: '2001:db8::2', proto: 58, icmpId: 80 } }) },
    { name: 'dump and zero', m: R.dumpRequest({ family: 2 }, { zero: true }) },
    { name: 'get', m: R.getRequest({ ...key, zone: 4, id: 77 }) },
    { name: 'get by reply tuple', m: R.getRequest({ family: 2, reply: key.orig }) },
    { name: 'get and zero', m: R.getRequest(key, { zero: true }) },
    {
      name: 'create',
      m: R.createRequest({
        family: 10,
        orig: { src: '2001:db8::1', dst: '2001:db8::2', proto: 6, srcPort: 1, dstPort: 2, zone: 1 },
        reply: { src: '2001:db8::2', dst: '2001:db8::1', proto: 6, srcPort: 2, dstPort: 1 },
        timeout: 60,
        status: 0x0e,
        mark: 5,
        labels: fromHex('01000000000000000000000000000000'),
        protoinfo: { tcp: { state: 3, flagsOriginal: { flags: 0x0a, mask: 0x0a } } },
        helper: { name: 'ftp' },
        natDst: { minIp: '2001:db8::9', minPort: 80 },
        seqAdjOrig: { correctionPos: 1, offsetBefore: 2, offsetAfter: 3 },
        synproxy: { isn: 1, its: 2, tsoff: 3 },
        master: { src: '2001:db8::1', dst: '2001:db8::2', proto: 6, srcPort: 3, dstPort: 21 },
      }),
    },
    { name: 'create or update', m: R.createRequest({ ...key, reply: { src: '192.0.2.2', dst: '192.0.2.1', proto: 17, srcPort: 2222, dstPort: 1111 }, timeout: 1 }, { orUpdate: true }) },
    { name: 'update', m: R.updateRequest({ ...key, mark: 0x100, markMask: 0xff00, labels: new Uint8Array(16), labelsMask: new Uint8Array(16) }) },
    { name: 'delete', m: R.deleteRequest({ ...key, id: 9 }) },
    { name: 'flush', m: R.flushRequest() },
    { name: 'flush one family', m: R.flushRequest({ family: 10 }) },
    { name: 'flush by mark', m: R.flushRequest({ mark: 1 }) },
    { name: 'per-CPU stats', m: R.statsCpuRequest() },
    { name: 'stats', m: R.statsRequest() },
    { name: 'dying', m: R.dyingRequest() },
    { name: 'unconfirmed', m: R.unconfirmedRequest(10) },
    { name: 'expectation dump', m: R.expectDumpRequest() },
    { name: 'expectation dump of one master', m: R.expectDumpRequest(2, key.orig) },
    { name: 'expectation per-CPU stats', m: R.expectStatsCpuRequest() },
  ];

  it.each(builders)('$name: encodes and decodes back to itself', ({ m }) => {
    expect(m.header.flags & NLM_F_REQUEST).toBe(NLM_F_REQUEST);
    const b = encodeMessage(m);
    expect(decodeMessage(b)).toStrictEqual(m);
    expect(encodeMessage(decodeMessage(b))).toEqual(b);
  });

  /** A builder's message with conntrack(8)'s seq, for byte comparison. */
  const withSeq = (m: Message, seq: number, flags = m.header.flags): Message => ({ ...m, header: { ...m.header, seq, flags } });

  it.each([
    { n: 75, what: 'conntrack -L (dump)', m: R.dumpRequest() },
    { n: 76, what: 'conntrack -L -f ipv6', m: R.dumpRequest({ family: 10 }) },
    { n: 77, what: 'conntrack -L -m 5', m: R.dumpRequest({ mark: 5 }) },
    { n: 79, what: 'conntrack -L -u ASSURED', m: R.dumpRequest({ status: 4 }) },
    { n: 81, what: 'conntrack -S (per-cpu stats)', m: R.statsCpuRequest() },
    { n: 82, what: 'conntrack -C', m: R.statsRequest() },
    { n: 83, what: 'conntrack -L dying', m: R.dyingRequest() },
    { n: 84, what: 'conntrack -L unconfirmed', m: R.unconfirmedRequest() },
    { n: 138, what: 'conntrack -L expect', m: R.expectDumpRequest(2) },
    { n: 142, what: 'conntrack -S expect', m: R.expectStatsCpuRequest() },
    // conntrack(8) asks for the ACK of a flush itself; our connection adds it to non-dumps.
    { n: 202, what: 'conntrack -F (flush)', m: R.flushRequest(), ack: true },
  ])('same bytes as $what', ({ n, what, m, ack }) => {
    const ct = line(n, what);
    expect(ct.source).toBe('conntrack-tools');
    const seq = decodeMessage(ct.bytes).header.seq;
    expect(toHex(encodeMessage(withSeq(m, seq, m.header.flags | (ack ? NLM_F_ACK : 0))))).toBe(toHex(ct.bytes));
  });

  /** conntrack(8) asks for an ACK itself; our connection adds NLM_F_ACK to non-dump requests. */
  const sameModel = (n: number, what: string, m: Message) => {
    const ct = decodeMessage(line(n, what).bytes);
    const ours = decodeMessage(encodeMessage(withSeq(m, ct.header.seq, m.header.flags | NLM_F_ACK)));
    if (ct.kind === 'conntrack' && ours.kind === 'conntrack') {
      const { attrOrder: _ignored, ...rest } = ct.conntrack;
      expect(ours.conntrack).toStrictEqual(rest as Conntrack);
    }
    expect({ ...ours, conntrack: undefined }).toStrictEqual({ ...ct, conntrack: undefined });
  };

  it('same information as conntrack -I (udp, mark, zone)', () => {
    sameModel(59, 'conntrack -I -p udp', R.createRequest({
      family: 2,
      orig: { src: '192.0.2.1', dst: '192.0.2.2', proto: 17, srcPort: 1111, dstPort: 2222 },
      reply: { src: '192.0.2.2', dst: '192.0.2.1', proto: 17, srcPort: 2222, dstPort: 1111 },
      timeout: 100,
      mark: 3,
      zone: 9,
    }));
  });

  it('same information as conntrack -I (tcp, orig-zone, state, status)', () => {
    sameModel(61, 'conntrack -I -p tcp -s 192.0.2.1', R.createRequest({
      family: 2,
      orig: { src: '192.0.2.1', dst: '192.0.2.2', proto: 6, srcPort: 1111, dstPort: 2222, zone: 4 },
      reply: { src: '192.0.2.2', dst: '192.0.2.1', proto: 6, srcPort: 2222, dstPort: 1111 },
      status: 0x0c,
      timeout: 100,
      protoinfo: { tcp: { state: 3, flagsOriginal: { flags: 0x0a, mask: 0x0a }, flagsReply: { flags: 0x0a, mask: 0x0a } } },
    }));
  });

  it('same information as conntrack -I (icmp, icmpv6)', () => {
    sameModel(65, 'conntrack -I -p icmp', R.createRequest({
      family: 2,
      orig: { src: '192.0.2.1', dst: '192.0.2.2', proto: 1, icmpType: 8, icmpCode: 0, icmpId: 77 },
      reply: { src: '192.0.2.2', dst: '192.0.2.1', proto: 1, icmpType: 0, icmpCode: 0, icmpId: 77 },
      timeout: 30,
    }));
    sameModel(67, 'conntrack -I -p icmpv6', R.createRequest({
      family: 10,
      orig: { src: '2001:db8::1', dst: '2001:db8::2', proto: 58, icmpType: 128, icmpCode: 0, icmpId: 78 },
      reply: { src: '2001:db8::2', dst: '2001:db8::1', proto: 58, icmpType: 129, icmpCode: 0, icmpId: 78 },
      timeout: 30,
    }));
  });

  it('same information as conntrack -G and conntrack -U', () => {
    const icmp = { src: '192.0.2.1', dst: '192.0.2.2', proto: 1, icmpType: 8, icmpCode: 0, icmpId: 77 };
    sameModel(74, 'conntrack -G -p icmp', R.getRequest({ family: 2, orig: icmp }));
    sameModel(72, 'conntrack -U -p udp', R.updateRequest({ ...key, mark: 5 }));
  });

  it('conntrack -D sends the whole object it listed; deleteRequest sends the key', () => {
    const ct = decodeMessage(line(86, 'conntrack -D -p icmp').bytes);
    const ours = R.deleteRequest({ family: 2, orig: { src: '192.0.2.1', dst: '192.0.2.2', proto: 1, icmpType: 8, icmpCode: 0, icmpId: 77 } });
    expect(ct.header.type).toBe(ours.header.type);
    expect(ct.header.flags).toBe(ours.header.flags | NLM_F_ACK);
    if (ct.kind !== 'conntrack' || ours.kind !== 'conntrack') throw new Error('not conntrack');
    expect(ct.conntrack.orig).toStrictEqual(ours.conntrack.orig);
  });

  it('conntrack -F -f ipv6 (1.4.7) sends version 0, which flushes every family; flushRequest sends version 1', () => {
    const ct = decodeMessage(line(195, 'conntrack -F -f ipv6').bytes);
    expect(ct).toMatchObject({ nfgen: { family: 10, version: 0 } });
    expect(R.flushRequest({ family: 10 })).toMatchObject({ nfgen: { family: 10, version: 1 } });
    // The recorded flush indeed destroyed IPv4 entries too.
    const destroyed = CORPUS.filter((e) => e.what.startsWith('flush: DESTROY events')).flatMap((e) => decodeDatagram(e.bytes));
    expect(destroyed.some((m) => m.kind === 'conntrack' && m.conntrack.family === 2)).toBe(true);
  });
});

