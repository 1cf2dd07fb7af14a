/**
 * cttimeout golden tests on bytes recorded from this kernel (test/fixtures/cttimeout/nfct.json,
 * recorded by tools/record-cttimeout.ts): the requests nfct and nft made and the kernel's
 * replies decode field by field and re-encode byte for byte; the request builders write
 * what nfct writes; the nftables subsystem (not registered) stays raw.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import '../src/ctnetlink/subsystem.js';
import { CTTIMEOUT_REGISTRY, policyStates, timeoutDefaultGetRequest, timeoutDefaultSetRequest, timeoutDeleteRequest, timeoutGetRequest, timeoutNewRequest } from '../src/cttimeout/index.js';
import type { TimeoutMessage } from '../src/cttimeout/model.js';
import { decodeDatagram, encodeMessages } from '../src/ctnetlink/message.js';
import { NLM_F_ACK, NLM_F_CREATE, NLM_F_DUMP, NLM_F_MULTI, NLM_F_REQUEST } from '../src/netlink/constants.js';
import { NetlinkDecodeError, NetlinkEncodeError } from '../src/netlink/errors.js';
import { type NfnlMessage, decodeNfnlDatagram, encodeNfnlMessages, nfnlTypeName } from '../src/nfnetlink/codec.js';
import { nfnlSubsystems } from '../src/nfnetlink/registry.js';

interface Fixture {
  kernel: string;
  exchanges: { command: string; status: number; datagrams: { dir: 'send' | 'recv'; hex: string }[] }[];
}

const fx = JSON.parse(readFileSync(new URL('./fixtures/cttimeout/nfct.json', import.meta.url), 'utf8')) as Fixture;
const bytes = (hex: string) => Uint8Array.from(Buffer.from(hex, 'hex'));
const hexOf = (b: Uint8Array) => Buffer.from(b).toString('hex');
const exchange = (command: string, nth = 0) => fx.exchanges.filter((e) => e.command === command)[nth]!;
const decode = (hex: string) => decodeNfnlDatagram(bytes(hex)) as NfnlMessage<TimeoutMessage>[];
const one = (hex: string) => {
  const ms = decode(hex);
  expect(ms).toHaveLength(1);
  return ms[0]!;
};
const timeoutOf = (m: NfnlMessage<TimeoutMessage>) => {
  if (m.kind !== 'timeout') throw new Error(`expected a timeout message, got ${m.kind}`);
  return m;
};

describe('cttimeout: recorded nfct / nft exchanges', () => {
  it('the fixture comes from a real run', () => {
    expect(fx.kernel).toMatch(/^\d+\.\d+/);
    expect(fx.exchanges.length).toBeGreaterThanOrEqual(19);
  });

  it('every datagram decodes and re-encodes byte for byte (shared registry)', () => {
    let n = 0;
    for (const e of fx.exchanges) {
      for (const d of e.datagrams) {
        const ms = decode(d.hex);
        expect(hexOf(encodeNfnlMessages(ms)), `${e.command} (${d.dir})`).toBe(d.hex);
        n += ms.length;
      }
    }
    expect(n).toBeGreaterThan(50);
  });

  it('decodeDatagram (the ctnetlink view) keeps them raw and byte-identical, as before', () => {
    for (const e of fx.exchanges) {
      for (const d of e.datagrams) {
        const ms = decodeDatagram(bytes(d.hex));
        for (const m of ms) expect(['other', 'error', 'done']).toContain(m.kind);
        expect(hexOf(encodeMessages(ms))).toBe(d.hex);
      }
    }
  });

  it('nfct add timeout (tcp): request fields and the ACK', () => {
    const e = exchange('nfct add timeout t-tcp inet tcp established 100 syn_sent 10');
    const req = timeoutOf(one(e.datagrams[0]!.hex));
    expect(nfnlTypeName(req.header.type)).toBe('IPCTNL_MSG_TIMEOUT_NEW');
    expect(req.header.flags).toBe(NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE);
    expect(req.nfgen).toEqual({ family: 0, version: 0, resId: 0 });
    expect(req.timeout).toEqual({ name: 't-tcp', l3proto: 2, l4proto: 6, policy: { syn_sent: 10, established: 100 } });
    const ack = one(e.datagrams[1]!.hex);
    expect(ack.kind).toBe('error');
    if (ack.kind === 'error') {
      expect(ack.error.error).toBe(0);
      expect(ack.error.request.seq).toBe(req.header.seq);
    }
  });

  it('every protocol policy nest, as nfct sent it', () => {
    const want: [string, number, number, Record<string, number>][] = [
      ['nfct add timeout t-udp inet udp unreplied 11 replied 22', 2, 17, { unreplied: 11, replied: 22 }],
      ['nfct add timeout t-udplite inet udplite unreplied 12 replied 23', 2, 136, { unreplied: 12, replied: 23 }],
      ['nfct add timeout t-icmp inet icmp timeout 7', 2, 1, { timeout: 7 }],
      ['nfct add timeout t-icmpv6 inet6 icmpv6 timeout 8', 10, 58, { timeout: 8 }],
      ['nfct add timeout t-sctp inet sctp established 500 closed 9', 2, 132, { closed: 9, established: 500 }],
      ['nfct add timeout t-dccp inet dccp open 600 request 13', 2, 33, { request: 13, open: 600 }],
      ['nfct add timeout t-gre inet gre unreplied 14 replied 25', 2, 47, { unreplied: 14, replied: 25 }],
      ['nfct add timeout t-gen inet generic timeout 333', 2, 255, { timeout: 333 }],
    ];
    for (const [command, l3proto, l4proto, policy] of want) {
      const req = timeoutOf(one(exchange(command).datagrams[0]!.hex));
      expect(req.timeout, command).toEqual({ name: command.split(' ')[3], l3proto, l4proto, policy });
    }
  });

  it('a refused request: DCCP is gone from this kernel (EOPNOTSUPP, request echoed)', () => {
    const e = exchange('nfct add timeout t-dccp inet dccp open 600 request 13');
    expect(e.status).not.toBe(0);
    const err = one(e.datagrams[1]!.hex);
    expect(err.kind).toBe('error');
    if (err.kind !== 'error') return;
    expect(err.error.error).toBe(-95);
    const echoed = timeoutOf(one(e.datagrams[0]!.hex));
    expect(err.error.request.type).toBe(echoed.header.type);
    expect(hexOf(err.error.requestPayload!)).toBe(e.datagrams[0]!.hex.slice(32));
  });

  it('get: the reply (IPCTNL_MSG_TIMEOUT_NEW, NLM_F_MULTI) with use count, then the ACK', () => {
    const e = exchange('nfct get timeout t-udp');
    const req = timeoutOf(one(e.datagrams[0]!.hex));
    expect(nfnlTypeName(req.header.type)).toBe('IPCTNL_MSG_TIMEOUT_GET');
    expect(req.timeout).toEqual({ name: 't-udp' });
    const rep = timeoutOf(one(e.datagrams[1]!.hex));
    expect(nfnlTypeName(rep.header.type)).toBe('IPCTNL_MSG_TIMEOUT_NEW');
    expect(rep.header.flags).toBe(NLM_F_MULTI);
    expect(rep.timeout).toEqual({ name: 't-udp', l3proto: 2, l4proto: 17, use: 1, policy: { unreplied: 11, replied: 22 } });
    expect(one(e.datagrams[2]!.hex).kind).toBe('error');
  });

  it('list: a dump of every policy with all their states, then NLMSG_DONE', () => {
    const e = exchange('nfct list timeout');
    const req = timeoutOf(one(e.datagrams[0]!.hex));
    expect(req.header.flags).toBe(NLM_F_REQUEST | NLM_F_DUMP);
    const replies = decode(e.datagrams[1]!.hex).map(timeoutOf);
    expect(replies.map((m) => m.timeout.name)).toEqual(['t-tcp', 't-udp', 't-udplite', 't-icmp', 't-icmpv6', 't-sctp', 't-gre', 't-gen']);
    const tcp = replies[0]!.timeout;
    expect(Object.keys(tcp.policy!)).toEqual(policyStates(6)!.filter((s) => s !== undefined));
    expect(tcp.policy).toMatchObject({ syn_sent: 10, established: 100, syn_recv: 60, time_wait: 120, unack: 300 });
    expect(replies[5]!.timeout.policy).toMatchObject({ closed: 9, established: 500 });
    const done = one(e.datagrams[2]!.hex);
    expect(done.kind).toBe('done');
  });

  it('delete, then get gives ENOENT', () => {
    const del = timeoutOf(one(exchange('nfct delete timeout t-udp').datagrams[0]!.hex));
    expect(nfnlTypeName(del.header.type)).toBe('IPCTNL_MSG_TIMEOUT_DELETE');
    const after = exchange('nfct get timeout t-udp', 1);
    const err = one(after.datagrams[1]!.hex);
    expect(err.kind === 'error' && err.error.error).toBe(-2);
  });

  it('default-get / default-set: the netns defaults (the reply comes as IPCTNL_MSG_TIMEOUT_DEFAULT_SET)', () => {
    const tcp = exchange('nfct default-get timeout inet tcp');
    const req = timeoutOf(one(tcp.datagrams[0]!.hex));
    expect(nfnlTypeName(req.header.type)).toBe('IPCTNL_MSG_TIMEOUT_DEFAULT_GET');
    expect(req.timeout).toEqual({ l3proto: 2, l4proto: 6 });
    const rep = timeoutOf(one(tcp.datagrams[1]!.hex));
    expect(nfnlTypeName(rep.header.type)).toBe('IPCTNL_MSG_TIMEOUT_DEFAULT_SET');
    expect(rep.timeout.name).toBeUndefined();
    expect(rep.timeout.policy).toMatchObject({ established: 432000, syn_sent: 120, close: 10 });
    const before = timeoutOf(one(exchange('nfct default-get timeout inet udp', 0).datagrams[1]!.hex));
    expect(before.timeout.policy).toEqual({ unreplied: 30, replied: 120 });
    const set = timeoutOf(one(exchange('nfct default-set timeout inet udp unreplied 31').datagrams[0]!.hex));
    expect(nfnlTypeName(set.header.type)).toBe('IPCTNL_MSG_TIMEOUT_DEFAULT_SET');
    expect(set.timeout).toEqual({ l3proto: 2, l4proto: 17, policy: { unreplied: 31 } });
    const afterSet = timeoutOf(one(exchange('nfct default-get timeout inet udp', 1).datagrams[1]!.hex));
    expect(afterSet.timeout.policy).toEqual({ unreplied: 31, replied: 120 });
    const v6 = timeoutOf(one(exchange('nfct default-get timeout inet6 icmpv6').datagrams[1]!.hex));
    expect(v6.timeout).toEqual({ l3proto: 10, l4proto: 58, policy: { timeout: 30 } });
  });

  it('nft ct timeout objects: the nftables subsystem is not registered, so its messages stay raw', () => {
    const e = fx.exchanges.find((x) => x.command.startsWith('nft '))!;
    expect(e.status).toBe(0);
    const subsystems = new Set<number>();
    for (const d of e.datagrams) {
      for (const m of decode(d.hex)) {
        expect(['other', 'error', 'done']).toContain(m.kind);
        if (m.kind === 'other') subsystems.add(m.header.type >> 8);
      }
    }
    // NFNL_SUBSYS_NONE carries the batch begin/end (NFNL_MSG_BATCH_*), the rest is NFNL_SUBSYS_NFTABLES.
    expect([...subsystems].sort()).toEqual([0, 10]);
  });
});

describe('cttimeout request builders write what nfct writes', () => {
  const sent = (command: string, nth = 0) => exchange(command, nth).datagrams[0]!.hex;
  /** Encode a built request as the client would send it: the recorded seq, NLM_F_ACK (not for dumps). */
  const asSent = (m: TimeoutMessage, hex: string, dump = false) => {
    const seq = Buffer.from(hex, 'hex').readUInt32LE(8);
    const flags = m.header.flags | (dump ? NLM_F_DUMP : NLM_F_ACK);
    return hexOf(encodeNfnlMessages([{ ...m, header: { ...m.header, flags, seq } }], undefined, CTTIMEOUT_REGISTRY));
  };

  it('new, get, delete, dump, default-get, default-set', () => {
    const cases: [string, TimeoutMessage, boolean?][] = [
      ['nfct add timeout t-udp inet udp unreplied 11 replied 22', timeoutNewRequest({ name: 't-udp', l3proto: 2, l4proto: 17, policy: { unreplied: 11, replied: 22 } })],
      ['nfct add timeout t-tcp inet tcp established 100 syn_sent 10', timeoutNewRequest({ name: 't-tcp', l3proto: 2, l4proto: 6, policy: { syn_sent: 10, established: 100 } })],
      ['nfct add timeout t-gen inet generic timeout 333', timeoutNewRequest({ name: 't-gen', l3proto: 2, l4proto: 255, policy: { timeout: 333 } })],
      ['nfct get timeout t-udp', timeoutGetRequest('t-udp')],
      ['nfct delete timeout t-udp', timeoutDeleteRequest('t-udp')],
      ['nfct list timeout', timeoutGetRequest(), true],
      ['nfct default-get timeout inet tcp', timeoutDefaultGetRequest({ l3proto: 2, l4proto: 6 })],
      ['nfct default-set timeout inet udp unreplied 31', timeoutDefaultSetRequest({ l3proto: 2, l4proto: 17, policy: { unreplied: 31 } })],
    ];
    for (const [command, m, dump] of cases) expect(asSent(m, sent(command), dump), command).toBe(sent(command));
  });

  it('bad input is a typed error, never bytes the kernel would misread', () => {
    expect(() => encodeNfnlMessages([timeoutNewRequest({ name: 'x', l3proto: 2, l4proto: 17, policy: { established: 5 } })])).toThrow(NetlinkEncodeError);
    expect(() => encodeNfnlMessages([timeoutNewRequest({ name: 'x'.repeat(32), l3proto: 2, l4proto: 17, policy: {} })])).toThrow(/longer than 31/);
    expect(() => encodeNfnlMessages([timeoutDefaultSetRequest({ l3proto: 2, l4proto: 17, policy: { unreplied: -1 } })])).toThrow(NetlinkEncodeError);
    expect(() => timeoutDefaultGetRequest({ l3proto: 2 } as never)).toThrow(NetlinkEncodeError);
    expect(() => timeoutNewRequest({ name: '', l3proto: 2, l4proto: 6, policy: {} })).toThrow(NetlinkEncodeError);
  });

  it('a malformed policy value names its attribute path', () => {
    // t-udp reply with the UNREPLIED value cut to 2 bytes inside CTA_TIMEOUT_DATA.
    const hex = exchange('nfct get timeout t-udp').datagrams[1]!.hex;
    const b = bytes(hex);
    const m = timeoutOf(one(hex));
    expect(m.timeout.policy).toBeDefined();
    // Find the first u32 timeout attribute (len 8, type 1) after the DATA nest header (type 0x8004).
    let at = -1;
    for (let i = 20; i + 4 <= b.length; i += 4) if (b[i] === 0x14 && b[i + 2] === 0x04 && b[i + 3] === 0x80) at = i + 4;
    expect(at).toBeGreaterThan(0);
    b[at] = 6; // nla_len 6: a 2-byte payload
    try {
      decodeNfnlDatagram(b);
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(NetlinkDecodeError);
      expect((e as NetlinkDecodeError).path).toEqual(['IPCTNL_MSG_TIMEOUT_NEW', 'CTA_TIMEOUT_DATA', 'CTA_TIMEOUT_UDP_UNREPLIED']);
      expect((e as NetlinkDecodeError).offset).toBe(at);
    }
  });

  it('the shared registry lists ctnetlink, ctnetlink_exp and cttimeout', () => {
    expect(nfnlSubsystems.list().map((s) => s.name)).toEqual(['ctnetlink', 'ctnetlink_exp', 'cttimeout']);
  });
});
