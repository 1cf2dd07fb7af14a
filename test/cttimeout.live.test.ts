/**
 * cttimeout live (root): DEFAULT_GET / DEFAULT_SET through the client in a throwaway
 * namespace, checked against the namespace's nf_conntrack_udp_timeout sysctl (per netns:
 * nothing global changes; the original value is restored anyway); and a named policy
 * added, read, listed and deleted, checked with nfct.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConntrackClient } from '../src/client/client.js';
import { NetlinkError } from '../src/netlink/errors.js';
import { createNetns, liveSkipReason, type Netns } from './helpers/live.js';

const skip = liveSkipReason();
if (skip) console.log(`cttimeout.live: ${skip}`);

const AF_INET = 2;
const IPPROTO_UDP = 17;
const IPPROTO_TCP = 6;

describe.skipIf(skip !== undefined)('cttimeout through the client (live)', () => {
  let ns: Netns;
  let ct: ConntrackClient;
  beforeAll(async () => {
    ns = createNetns();
    ct = await ConntrackClient.open({ netns: ns.name });
  });
  afterAll(async () => {
    await ct?.close();
    ns?.remove();
  });

  const sysctl = (key: string) => Number(ns.exec('sysctl', ['-n', key]).trim());

  it('DEFAULT_GET reads what the sysctl says; DEFAULT_SET changes it; the old value is restored', async () => {
    const tm = ct.timeouts();
    const before = await tm.defaultGet({ l3proto: AF_INET, l4proto: IPPROTO_UDP });
    const sysUnreplied = sysctl('net.netfilter.nf_conntrack_udp_timeout');
    const sysReplied = sysctl('net.netfilter.nf_conntrack_udp_timeout_stream');
    expect(before).toEqual({ unreplied: sysUnreplied, replied: sysReplied });
    try {
      await tm.defaultSet({ l3proto: AF_INET, l4proto: IPPROTO_UDP, policy: { unreplied: 7 } });
      expect(sysctl('net.netfilter.nf_conntrack_udp_timeout')).toBe(7);
      expect(sysctl('net.netfilter.nf_conntrack_udp_timeout_stream')).toBe(sysReplied);
      expect(await tm.defaultGet({ l3proto: AF_INET, l4proto: IPPROTO_UDP })).toEqual({ unreplied: 7, replied: sysReplied });
    } finally {
      await tm.defaultSet({ l3proto: AF_INET, l4proto: IPPROTO_UDP, policy: { unreplied: before.unreplied! } });
    }
    expect(sysctl('net.netfilter.nf_conntrack_udp_timeout')).toBe(sysUnreplied);
    const tcp = await tm.defaultGet({ l3proto: AF_INET, l4proto: IPPROTO_TCP });
    expect(tcp.established).toBe(sysctl('net.netfilter.nf_conntrack_tcp_timeout_established'));
  });

  it('a named policy: add, get, list (nfct sees it), delete, then ENOENT', async () => {
    const tm = ct.timeouts();
    await tm.add({ name: 'ctev-live', l3proto: AF_INET, l4proto: IPPROTO_TCP, policy: { established: 77, syn_sent: 5 } });
    const got = await tm.get('ctev-live');
    expect(got).toMatchObject({ name: 'ctev-live', l3proto: AF_INET, l4proto: IPPROTO_TCP });
    expect(got.policy).toMatchObject({ established: 77, syn_sent: 5 });
    expect((await tm.list()).map((t) => t.name)).toContain('ctev-live');
    expect(ns.exec('nfct', ['list', 'timeout'])).toMatch(/\.ctev-live = \{[\s\S]*\.ESTABLISHED = 77/);
    await tm.delete('ctev-live');
    const err = await tm.get('ctev-live').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NetlinkError);
    expect((err as NetlinkError).code).toBe('ENOENT');
  });
});
