/**
 * The client over recorded kernel traffic (no root needed): request/ACK matching, errors,
 * dumps and statistics, and event subscriptions, through a transport that replays
 * captures/*.pcap.
 */
import { describe, expect, it } from 'vitest';
import { ConntrackClient, type EventItem } from '../src/client/index.js';
import { NetlinkEncodeError, NetlinkError } from '../src/netlink/errors.js';
import { Replay } from './helpers/replay.js';

const cap = (name: string) => new URL(`../captures/${name}.pcap`, import.meta.url).pathname;

describe('client over recorded captures', () => {
  it('matches stats replies and ACKs to their requests', async () => {
    const replay = new Replay(cap('stats'));
    const ct = await ConntrackClient.open({ transport: replay.factory });
    const cpus = await ct.statsPerCpu();
    expect(cpus.map((c) => c.cpu)).toEqual([0, 1]);
    expect(cpus[0]).toMatchObject({ found: 0, insertFailed: 0, earlyDrop: 0, chainTooLong: 0 });
    const g = await ct.stats();
    expect(g.entries).toBeGreaterThan(0);
    expect(g.maxEntries).toBe(262144);
    await ct.close();
  });

  it('turns recorded kernel errors into typed errors, and resolves ACKed requests', async () => {
    const replay = new Replay(cap('errors'));
    const ct = await ConntrackClient.open({ transport: replay.factory });
    const entry = {
      family: 2,
      orig: { src: '192.0.2.1', dst: '192.0.2.2', proto: 17, srcPort: 1000, dstPort: 2000 },
      reply: { src: '192.0.2.2', dst: '192.0.2.1', proto: 17, srcPort: 2000, dstPort: 1000 },
      timeout: 60,
      mark: 5,
    };
    await ct.create(entry);
    const dup = await ct.create(entry).catch((e) => e);
    expect(dup).toBeInstanceOf(NetlinkError);
    expect(dup.code).toBe('EEXIST');
    expect(dup.operation).toBe('create');
    await ct.update({ family: 2, orig: entry.orig, timeout: 120, mark: 6 });
    const got = await ct.get({ family: 2, orig: entry.orig });
    expect(got).toMatchObject({ mark: 6, orig: entry.orig });
    await ct.close();
  });

  it('delivers recorded events in order through a subscription', async () => {
    const replay = new Replay(cap('tcp-ipv4'));
    const ct = await ConntrackClient.open({ transport: replay.factory });
    const sub = ct.events();
    const got: EventItem[] = [];
    for await (const item of sub) {
      got.push(item);
      if (got.length === replay.events.length) break;
    }
    const types = got.map((g) => (g.kind === 'event' ? g.type : g.kind));
    expect(types[0]).toBe('new');
    expect(types.at(-1)).toBe('destroy');
    expect(types.filter((t) => t === 'update').length).toBeGreaterThanOrEqual(4);
    await ct.close();
  });

  it('refuses a delete without a tuple (the kernel would flush the table)', async () => {
    const replay = new Replay(cap('errors'));
    const ct = await ConntrackClient.open({ transport: replay.factory });
    const sentBefore = replay.sent.length;
    await expect(ct.delete({ family: 2, id: 1234 })).rejects.toBeInstanceOf(NetlinkEncodeError);
    expect(replay.sent.length).toBe(sentBefore);
    await ct.close();
  });

  it('rejects pending requests when closed', async () => {
    const replay = new Replay(cap('stats'));
    const ct = await ConntrackClient.open({ transport: replay.factory });
    const p = ct.stats();
    await ct.close();
    await expect(p).rejects.toThrow(/closed/);
  });
});
