/**
 * The client against the real kernel, beside conntrack-tools on the same events and the
 * same table, in throwaway network namespaces. Skipped (with the reason printed) when not
 * root.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConntrackClient, type ConntrackEvent, type EventItem } from '../src/client/index.js';
import type { Conntrack, Tuple } from '../src/ctnetlink/model.js';
import { IPS_ASSURED, IPS_SEEN_REPLY, IPPROTO_ICMP, IPPROTO_ICMPV6, IPPROTO_TCP, IPPROTO_UDP } from '../src/ctnetlink/constants.js';
import { tcpStateName } from '../src/ctnetlink/status.js';
import { NetlinkEncodeError, NetlinkError } from '../src/netlink/errors.js';
import { ErrnoError } from '../src/socket/errno.js';
import {
  conntrackListener,
  createNetns,
  liveSkipReason,
  parseConntrackLine,
  ping,
  tcpConnection,
  udpExchange,
  udpFlows,
  type Netns,
} from './helpers/live.js';

const skip = liveSkipReason();
if (skip) console.warn(`client.live.test.ts: ${skip}`);

/** Our event or entry in the shape parseConntrackLine gives conntrack's. */
function comparable(ct: Conntrack, event?: string): Record<string, string> {
  const out: Record<string, string> = {};
  if (event) out.event = event;
  out.protoNum = String(ct.orig?.proto);
  if (ct.timeout !== undefined) out.timeout = String(ct.timeout);
  if (ct.protoinfo?.tcp?.state !== undefined) out.state = tcpStateName(ct.protoinfo.tcp.state);
  const tuple = (t: Tuple | undefined, p: string) => {
    if (!t) return;
    out[`${p}src`] = t.src!;
    out[`${p}dst`] = t.dst!;
    if (t.srcPort !== undefined) out[`${p}sport`] = String(t.srcPort);
    if (t.dstPort !== undefined) out[`${p}dport`] = String(t.dstPort);
    if (t.icmpType !== undefined) out[`${p}type`] = String(t.icmpType);
    if (t.icmpCode !== undefined) out[`${p}code`] = String(t.icmpCode);
    if (t.icmpId !== undefined) out[p === '' ? 'icmpid' : 'r.id'] = String(t.icmpId);
  };
  tuple(ct.orig, '');
  tuple(ct.reply, 'r.');
  if (ct.status !== undefined && !(ct.status & IPS_SEEN_REPLY)) out['[UNREPLIED]'] = 'flag';
  if (ct.status !== undefined && ct.status & IPS_ASSURED) out['[ASSURED]'] = 'flag';
  if (ct.mark !== undefined) out.mark = String(ct.mark);
  if (ct.id !== undefined) out.ctid = String(ct.id);
  return out;
}

const FIELDS = ['event', 'protoNum', 'timeout', 'state', 'src', 'dst', 'sport', 'dport', 'type', 'code', 'icmpid',
  'r.src', 'r.dst', 'r.sport', 'r.dport', 'r.type', 'r.code', 'r.id', '[UNREPLIED]', '[ASSURED]', 'ctid'];

function pick(r: Record<string, string>, extra: string[] = []): Record<string, string> {
  const out: Record<string, string> = {};
  for (const k of [...FIELDS, ...extra]) if (r[k] !== undefined) out[k] = r[k]!;
  return out;
}

async function collect(items: AsyncIterable<EventItem>, until: (evs: ConntrackEvent[]) => boolean, ms = 5000): Promise<EventItem[]> {
  const got: EventItem[] = [];
  const timer = new Promise<'timeout'>((res) => setTimeout(() => res('timeout'), ms));
  const it = items[Symbol.asyncIterator]();
  for (;;) {
    const next = await Promise.race([it.next(), timer]);
    if (next === 'timeout' || next.done) break;
    got.push(next.value);
    if (until(got.filter((g): g is ConntrackEvent => g.kind === 'event'))) break;
  }
  return got;
}

describe.skipIf(skip !== undefined)('client, live kernel', () => {
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

  it('receives the same events as conntrack -E, attribute by attribute (TCP, UDP, ICMP, IPv6)', async () => {
    const sub = ct.events({ types: ['new', 'update', 'destroy'] });
    const tool = conntrackListener(ns, ['-E', '-o', 'id']);
    await tool.ready;
    tcpConnection(ns, '127.0.0.1', 8080);
    udpExchange(ns, '127.0.0.1', 5353);
    udpFlows(ns, 9000, 3);
    ping(ns, '127.0.0.1');
    tcpConnection(ns, '::1', 8081);
    ping(ns, '::1');
    await ct.flush(); // DESTROY for everything
    const lines = await tool.stop();
    const items = await collect(sub, (evs) => evs.length >= lines.length, 3000);
    sub.close();
    const ours = items.filter((i): i is ConntrackEvent => i.kind === 'event').map((e) => pick(comparable(e.conntrack, e.type)));
    const theirs = lines.map((l) => pick(parseConntrackLine(l)));
    expect(theirs.length).toBeGreaterThan(15);
    expect(ours).toEqual(theirs);
    const protos = new Set(ours.map((o) => o.protoNum));
    for (const p of [IPPROTO_TCP, IPPROTO_UDP, IPPROTO_ICMP, IPPROTO_ICMPV6]) expect(protos).toContain(String(p));
  });

  it('dumps the same table as conntrack -L, entry by entry', async () => {
    udpFlows(ns, 20000, 300);
    tcpConnection(ns, '127.0.0.1', 8082);
    const lines = ns.exec('conntrack', ['-L', '-o', 'id']).split('\n').filter(Boolean);
    const entries: Conntrack[] = [];
    for await (const e of ct.dump()) entries.push(e);
    const key = (r: Record<string, string>) => r.ctid!;
    // timeouts tick between the two reads; compare everything else
    const strip = (r: Record<string, string>) => {
      const { timeout: _t, ...rest } = r;
      return rest;
    };
    const theirs = new Map(lines.map((l) => [key(parseConntrackLine(l)), strip(pick(parseConntrackLine(l), ['mark']))]));
    const ours = new Map(entries.map((e) => [String(e.id), strip(pick(comparable(e), ['mark']))]));
    expect(ours.size).toBeGreaterThanOrEqual(300);
    expect(ours).toEqual(theirs);
    const kernelCount = (await ct.stats()).entries;
    expect(kernelCount).toBe(entries.length);
    expect(Number(ns.exec('conntrack', ['-C']).trim())).toBe(entries.length);
    await ct.flush();
  });

  it('creates, gets, updates and deletes entries; kernel errors are typed with errno names and ext-ack text', async () => {
    const entry: Conntrack = {
      family: 2,
      orig: { src: '192.0.2.1', dst: '192.0.2.2', proto: 6, srcPort: 1234, dstPort: 80 },
      reply: { src: '192.0.2.2', dst: '192.0.2.1', proto: 6, srcPort: 80, dstPort: 1234 },
      timeout: 100,
      mark: 7,
      status: IPS_ASSURED | IPS_SEEN_REPLY,
      protoinfo: { tcp: { state: 3 } },
    };
    await ct.create(entry);
    const err = await ct.create(entry).catch((e) => e);
    expect(err).toBeInstanceOf(NetlinkError);
    expect(err.code).toBe('EEXIST');

    const got = await ct.get({ family: 2, orig: entry.orig! });
    expect(got.mark).toBe(7);
    expect(got.protoinfo?.tcp?.state).toBe(3);
    const line = ns.exec('conntrack', ['-L', '-o', 'id', '-s', '192.0.2.1']).trim();
    expect(parseConntrackLine(line).ctid).toBe(String(got.id));
    expect(parseConntrackLine(line).mark).toBe('7');

    await ct.update({ family: 2, orig: entry.orig!, timeout: 500, mark: 9 });
    const upd = await ct.get({ family: 2, orig: entry.orig! });
    expect(upd.mark).toBe(9);
    expect(upd.timeout).toBeGreaterThan(400);

    const zeroed = await ct.get({ family: 2, orig: entry.orig! }, { zero: true });
    expect(zeroed.id).toBe(got.id);

    await ct.delete({ family: 2, orig: entry.orig! });
    const missing = await ct.get({ family: 2, orig: entry.orig! }).catch((e) => e);
    expect(missing).toBeInstanceOf(NetlinkError);
    expect(missing.code).toBe('ENOENT');
    expect(ns.exec('conntrack', ['-L', '-s', '192.0.2.1'], undefined).trim()).toBe('');

    // A tuple without a reply direction (the kernel would say EINVAL): refused before sending.
    const bad = await ct.create({ family: 2, orig: entry.orig!, timeout: 10 }).catch((e) => e);
    expect(bad).toBeInstanceOf(NetlinkEncodeError);
    expect(bad.field).toBe('reply');
  });

  it('reports the kernel extended-ACK message', async () => {
    // CTA_TIMESTAMP_EVENT is NLA_REJECT in requests: policy validation fails with ext-ack text.
    const { dumpRequest } = await import('../src/ctnetlink/requests.js');
    const req = dumpRequest({ family: 2 });
    if (req.kind !== 'conntrack') throw new Error('unreachable');
    req.conntrack.eventTimestamp = 1n;
    const err = await (async () => {
      for await (const _ of ct.dumpMessages(req, 'dump')) { /* */ }
    })().catch((e) => e);
    expect(err).toBeInstanceOf(NetlinkError);
    expect(err.code).toBe('EINVAL');
    expect(err.extAckMessage).toBe('Attribute failed policy validation');
    expect(err.extAckOffset).toBe(20);
    expect(err.message).toContain('Attribute failed policy validation');
    // Unknown CTA_FILTER flag bits are refused too (NLA_POLICY_MASK), without text.
    const req2 = dumpRequest({ family: 2, orig: { proto: 6 } });
    if (req2.kind !== 'conntrack') throw new Error('unreachable');
    req2.conntrack.filter = { origFlags: 0x80000000 };
    const err2 = await (async () => {
      for await (const _ of ct.dumpMessages(req2, 'dump')) { /* */ }
    })().catch((e) => e);
    expect(err2).toBeInstanceOf(NetlinkError);
    expect(err2.code).toBe('EINVAL');
  });

  it('filters dumps and flushes in the kernel', async () => {
    await ct.create({ family: 2, orig: { src: '192.0.2.10', dst: '192.0.2.20', proto: 17, srcPort: 1, dstPort: 2 }, reply: { src: '192.0.2.20', dst: '192.0.2.10', proto: 17, srcPort: 2, dstPort: 1 }, timeout: 60, mark: 0x10 });
    await ct.create({ family: 2, orig: { src: '192.0.2.11', dst: '192.0.2.20', proto: 17, srcPort: 1, dstPort: 2 }, reply: { src: '192.0.2.20', dst: '192.0.2.11', proto: 17, srcPort: 2, dstPort: 1 }, timeout: 60, mark: 0x20 });
    await ct.create({ family: 10, orig: { src: '2001:db8::1', dst: '2001:db8::2', proto: 6, srcPort: 3, dstPort: 4 }, reply: { src: '2001:db8::2', dst: '2001:db8::1', proto: 6, srcPort: 4, dstPort: 3 }, timeout: 60, protoinfo: { tcp: { state: 3 } } });
    const byMark: Conntrack[] = [];
    for await (const e of ct.dump({ mark: 0x10 })) byMark.push(e);
    expect(byMark.map((e) => e.orig?.src)).toEqual(['192.0.2.10']);
    const bySrc: Conntrack[] = [];
    for await (const e of ct.dump({ family: 2, orig: { src: '192.0.2.11' } })) bySrc.push(e);
    expect(bySrc.map((e) => e.mark)).toEqual([0x20]);
    const v6: Conntrack[] = [];
    for await (const e of ct.dump({ family: 10 })) v6.push(e);
    expect(v6.map((e) => e.orig?.src)).toEqual(['2001:db8::1']);
    await ct.flush({ family: 10 });
    const rest: Conntrack[] = [];
    for await (const e of ct.dump()) rest.push(e);
    expect(rest.map((e) => e.family).sort()).toEqual([2, 2]);
    await ct.flush({ mark: 0x20 });
    const rest2: Conntrack[] = [];
    for await (const e of ct.dump()) rest2.push(e);
    expect(rest2.map((e) => e.mark)).toEqual([0x10]);
    await ct.flush();
  });

  it('runs many requests in flight at once, with events and a dump on the same client', async () => {
    const sub = ct.events({ types: ['new'] });
    const creates = Array.from({ length: 100 }, (_, i) =>
      ct.create({ family: 2, orig: { src: '198.51.100.1', dst: '198.51.100.2', proto: 17, srcPort: 1000 + i, dstPort: 53 }, reply: { src: '198.51.100.2', dst: '198.51.100.1', proto: 17, srcPort: 53, dstPort: 1000 + i }, timeout: 60 }),
    );
    const dumpDuring = (async () => {
      let n = 0;
      for await (const _ of ct.dump()) n++;
      return n;
    })();
    await Promise.all(creates);
    await dumpDuring;
    const items = await collect(sub, (evs) => evs.length >= 100);
    sub.close();
    expect(items.filter((i) => i.kind === 'event').length).toBe(100);
    expect((await ct.stats()).entries).toBe(100);
    const cpus = await ct.statsPerCpu();
    expect(cpus.length).toBeGreaterThanOrEqual(1);
    expect(cpus.every((c) => typeof c.insertFailed === 'number' && typeof c.chainTooLong === 'number')).toBe(true);
    await ct.flush();
  });

  it('reports an overrun with the number lost, goes on, and a dump resyncs the true table', async () => {
    const sub = ct.events({ types: ['new'], receiveBufferSize: 4096, highWater: 10 });
    udpFlows(ns, 30000, 2000); // while the consumer is not reading
    const items = await collect(sub, (evs) => evs.length >= 2000, 2000);
    const overruns = items.filter((i) => i.kind === 'overrun');
    const events = items.filter((i) => i.kind === 'event');
    expect(overruns.length).toBeGreaterThan(0);
    const lost = overruns.reduce((a, o) => a + (o.kind === 'overrun' ? o.lost ?? 0 : 0), 0);
    expect(lost).toBeGreaterThan(0);
    expect(events.length + lost).toBe(2000);
    // The stream goes on after the overrun.
    udpFlows(ns, 40000, 3);
    const more = await collect(sub, (evs) => evs.length >= 3, 3000);
    expect(more.filter((i) => i.kind === 'event').length).toBe(3);
    sub.close();
    let n = 0;
    for await (const _ of ct.dump()) n++;
    expect(n).toBe(2003);
    expect(Number(ns.exec('conntrack', ['-C']).trim())).toBe(n);
    await ct.flush();
  });

  it('stops dumps early (break, abort, close) while a read-ahead is in flight, many times over', async () => {
    udpFlows(ns, 50000, 3000);
    for (let round = 0; round < 20; round++) {
      let n = 0;
      for await (const _ of ct.dump()) if (++n === 10 + round) break;
      expect(n).toBe(10 + round);
      const ac = new AbortController();
      let m = 0;
      const aborted = await (async () => {
        for await (const _ of ct.dump(undefined, { signal: ac.signal })) if (++m === 50) ac.abort();
      })().catch((e) => e);
      expect(aborted).toBeInstanceOf(Error);
    }
    const c3 = await ConntrackClient.open({ netns: ns.name });
    const it = c3.dump()[Symbol.asyncIterator]();
    await it.next();
    await c3.close();
    let full = 0;
    for await (const _ of ct.dump()) full++;
    expect(full).toBe(3000);
    await ct.flush();
  });

  it('ends a pending iteration and rejects nothing silently on close', async () => {
    const c2 = await ConntrackClient.open({ netns: ns.name });
    const sub = c2.events();
    const pending = (async () => {
      const got: EventItem[] = [];
      for await (const i of sub) got.push(i);
      return got;
    })();
    setTimeout(() => void c2.close(), 50);
    await expect(pending).resolves.toEqual([]);
  });

  it('says which namespace is missing', async () => {
    const err = await ConntrackClient.open({ netns: 'ctev-does-not-exist' }).catch((e) => e);
    expect(err).toBeInstanceOf(ErrnoError);
    expect(err.code).toBe('ENOENT');
  });
});
