/**
 * The capture scenarios. Each gets a context (see record.ts) with a Recorder, a namespace
 * factory and the oracle collector, and makes the kernel produce one kind of traffic.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, rmdirSync, unlinkSync, writeFileSync } from 'node:fs';
import {
  createRequest,
  deleteRequest,
  dumpRequest,
  expectDumpRequest,
  expectStatsCpuRequest,
  getRequest,
  statsCpuRequest,
  statsRequest,
  updateRequest,
} from '../../src/ctnetlink/requests.js';
import type { Conntrack, Message } from '../../src/ctnetlink/model.js';
import { type Channel, type Cleanup, type Netns, type Oracles, type Recorder, sleep, waitForLine } from './harness.js';

/** What record.ts hands each scenario. */
export interface ScenarioContext {
  name: string;
  rec: Recorder;
  cleanup: Cleanup;
  notes: string[];
  /** Extra manifest fields a scenario wants to record. */
  extra: Record<string, unknown>;
  oracles: Oracles | undefined;
  sysctls: Record<string, string> | undefined;
  namespaces: Netns[];
  netns(short: string): Netns;
  /** The oracle collector of this scenario (one, bound to the namespace given first). */
  oraclesIn(ns: Netns): Oracles;
  note(text: string): void;
}
type S = ScenarioContext;
type CtPred = (c: Conntrack) => boolean;

/** Tracking on: any ct expression makes conntrack register its hooks in the namespace. */
const TRACK = `
table inet capture {
  chain output { type filter hook output priority filter; ct state new counter; }
  chain prerouting { type filter hook prerouting priority filter; ct state new counter; }
}
`;

const XML_EVENTS = ['-E', '-e', 'ALL', '-o', 'xml,id,ktimestamp'];
const TXT_EVENTS = ['-E', '-e', 'ALL', '-o', 'extended,id,ktimestamp'];
const XML_LIST = ['-L', '-o', 'xml,id,ktimestamp'];
const TXT_LIST = ['-L', '-o', 'extended,id,ktimestamp'];
const LISTENER_READY_MS = 400;

const isEvent = (type: string, pred: CtPred = () => true) => (m: Message): boolean => m.kind === 'conntrack' && m.event === type && pred(m.conntrack);

/** Opens the event socket and both conntrack -E listeners, before any traffic. */
async function listenEvents(
  s: S,
  ns: Netns,
  { groups = [1, 2, 3], label = 'events', xml = XML_EVENTS, txt = TXT_EVENTS }: { groups?: number[]; label?: string; xml?: string[]; txt?: string[] | undefined } = {},
): Promise<{ ch: Channel; o: Oracles }> {
  const ch = s.rec.open(label, { netns: ns.name, groups });
  const o = s.oraclesIn(ns);
  await o.listen(xml);
  if (txt) await o.listen(txt);
  await sleep(LISTENER_READY_MS);
  return { ch, o };
}

async function tcpLifecycle(s: S, short: string, host: string): Promise<void> {
  const ns = s.netns(short);
  ns.nft(TRACK);
  ns.sysctl({ 'net.netfilter.nf_conntrack_tcp_timeout_time_wait': 1 });
  const { o } = await listenEvents(s, ns);
  ns.traffic('tcp', host, 8080);
  s.note(`traffic: TCP echo on ${host}:8080, client closes first`);
  await waitDestroys(s, ns, 'TIME_WAIT timeout (1 s)', (c) => c.orig?.proto === 6);
  await sleep(300);
  await o.stopListeners();
}


const IPS_ASSURED = 0x4;
const LO4 = '127.0.0.1';

/**
 * Waits for `count` DESTROY events matching `pred`. Expired entries are reaped by the
 * conntrack GC worker, which can take a minute on an idle namespace; after NUDGE_AFTER_MS a
 * `conntrack -L` (not recorded) is run every few seconds: a ctnetlink dump evicts the expired
 * entries it walks over, which sends the same DESTROY (pid 0) a bit sooner.
 */
const NUDGE_AFTER_MS = 20_000;
async function waitDestroys(s: S, ns: Netns, what: string, pred: CtPred, count = 1, timeoutMs = 90_000): Promise<void> {
  const t0 = Date.now();
  const done = s.rec.waitFor(what, isEvent('destroy', pred), { timeoutMs, count });
  let finished = false;
  done.then(() => (finished = true), () => (finished = true));
  let nudges = 0;
  const nudger = (async () => {
    for (let waited = 0; !finished; waited += 250) {
      if (waited >= NUDGE_AFTER_MS && (waited - NUDGE_AFTER_MS) % 3000 === 0) {
        ns.execStatus('conntrack', ['-L']);
        nudges++;
      }
      await sleep(250);
    }
  })();
  await done;
  await nudger;
  const how = nudges > 0 ? `, GC nudged by ${nudges} unrecorded conntrack -L` : ' (GC worker)';
  s.note(`${what}: ${count} DESTROY event(s) after ${Date.now() - t0} ms${how}`);
}

/** Our dump, then conntrack's view of the same table at once. */
async function dumpWithOracle(s: S, ch: Channel, o: Oracles, request: Message, what: string, ctArgs: string[] = XML_LIST, textArgs: string[] | undefined = undefined): Promise<Message[]> {
  const replies = await ch.request(request, what);
  const seq = request.header.seq;
  o.snapshot(ctArgs, { seq });
  if (textArgs) o.snapshot(textArgs, { seq });
  const n = replies.filter((m) => m.kind === 'conntrack' || m.kind === 'expect').length;
  s.note(`seq ${seq} ${what}: ${n} object(s); oracle: conntrack ${ctArgs.join(' ')}`);
  return replies;
}

async function udp(s: S): Promise<void> {
  const ns = s.netns('udp');
  ns.nft(TRACK);
  ns.sysctl({ 'net.netfilter.nf_conntrack_udp_timeout': 4, 'net.netfilter.nf_conntrack_udp_timeout_stream': 5 });
  const { ch, o } = await listenEvents(s, ns);
  ns.traffic('udp', LO4, 5300);
  s.note('traffic: UDP 127.0.0.1 -> :5300 answered, -> :5301 not answered (a bound socket that stays silent)');
  await dumpWithOracle(s, ch, o, dumpRequest(), 'dump while both flows are alive', XML_LIST, TXT_LIST);
  await waitDestroys(s, ns, 'UDP timeouts (udp_timeout 4 s, udp_timeout_stream 5 s)', (c) => c.orig?.proto === 17, 2);
  await sleep(300);
  await o.stopListeners();
}

async function icmp(s: S): Promise<void> {
  const ns = s.netns('icmp');
  ns.nft(TRACK);
  ns.sysctl({ 'net.netfilter.nf_conntrack_icmp_timeout': 3, 'net.netfilter.nf_conntrack_icmpv6_timeout': 3 });
  const { ch, o } = await listenEvents(s, ns);
  ns.exec('ping', ['-c', '2', '-i', '0.2', '-W', '1', LO4]);
  ns.exec('ping', ['-6', '-c', '2', '-i', '0.2', '-W', '1', '::1']);
  s.note('traffic: ping -c 2 127.0.0.1, ping -6 -c 2 ::1');
  await dumpWithOracle(s, ch, o, dumpRequest(), 'dump of the echo entries', XML_LIST, TXT_LIST);
  await waitDestroys(s, ns, 'ICMP timeouts (3 s)', (c) => c.orig?.proto === 1 || c.orig?.proto === 58, 2);
  await sleep(300);
  await o.stopListeners();
}

async function nat(s: S): Promise<void> {
  const a = s.netns('nata');
  const b = s.netns('natb');
  a.exec('ip', ['link', 'add', 'va', 'type', 'veth', 'peer', 'name', 'vb', 'netns', b.name]);
  a.exec('ip', ['addr', 'add', '192.0.2.1/24', 'dev', 'va']);
  a.exec('ip', ['addr', 'add', '2001:db8:1::1/64', 'dev', 'va', 'nodad']);
  a.exec('ip', ['link', 'set', 'va', 'up']);
  b.exec('ip', ['addr', 'add', '192.0.2.2/24', 'dev', 'vb']);
  b.exec('ip', ['addr', 'add', '2001:db8:1::2/64', 'dev', 'vb', 'nodad']);
  b.exec('ip', ['link', 'set', 'vb', 'up']);
  // A reaches the "public" DNAT addresses through B; B answers the SNAT addresses through A.
  a.exec('ip', ['route', 'add', '203.0.113.0/24', 'via', '192.0.2.2']);
  a.exec('ip', ['-6', 'route', 'add', '2001:db8:7::/64', 'via', '2001:db8:1::2']);
  b.exec('ip', ['route', 'add', '198.51.100.0/24', 'via', '192.0.2.1']);
  b.exec('ip', ['-6', 'route', 'add', '2001:db8:5::/64', 'via', '2001:db8:1::1']);
  a.nft(`
table inet capture {
  chain output { type filter hook output priority filter; ct state new counter; }
  chain prerouting { type filter hook prerouting priority filter; ct state new counter; }
  chain nat_output {
    type nat hook output priority -100;
    ip daddr 203.0.113.10 tcp dport 80 dnat ip to 192.0.2.2:8080
    ip6 daddr 2001:db8:7::10 udp dport 53 dnat ip6 to [2001:db8:1::2]:5353
  }
  chain nat_postrouting {
    type nat hook postrouting priority 100;
    oifname "va" ip daddr 192.0.2.2 snat ip to 198.51.100.1
    oifname "va" ip6 daddr 2001:db8:1::2 snat ip6 to 2001:db8:5::1
  }
}
`);
  a.sysctl({
    'net.netfilter.nf_conntrack_tcp_timeout_time_wait': 3,
    'net.netfilter.nf_conntrack_udp_timeout': 4,
    'net.netfilter.nf_conntrack_udp_timeout_stream': 5,
  });
  const tcpServer = b.spawnTraffic('tcp-serve', '192.0.2.2', 8080);
  await waitForLine(tcpServer, 'listening');
  const udpServer = b.spawnTraffic('udp-echo', '2001:db8:1::2', 5353);
  await waitForLine(udpServer, 'listening');
  const { ch, o } = await listenEvents(s, a);
  a.traffic('udp-ask', '2001:db8:7::10', 53);
  a.traffic('tcp-connect', '203.0.113.10', 80);
  s.note('traffic (namespace A): TCP to 203.0.113.10:80 DNAT to 192.0.2.2:8080 and SNAT to 198.51.100.1; UDP to [2001:db8:7::10]:53 DNAT to [2001:db8:1::2]:5353 and SNAT to 2001:db8:5::1');
  await dumpWithOracle(s, ch, o, dumpRequest(), 'dump with both NAT entries', XML_LIST, TXT_LIST);
  await waitDestroys(s, a, 'TCP time_wait (3 s) / UDP timeouts', (c) => c.orig?.proto === 6 || c.orig?.proto === 17, 2);
  await sleep(300);
  await o.stopListeners();
}

const CONNLABEL = '/etc/xtables/connlabel.conf';
const CONNLABEL_TEXT = '# written by ctevents tools/captures/record.ts; removed when it finishes\n1 capture-one\n42 capture-answer\n';

/**
 * conntrack prints label names from connlabel.conf: create it (and /etc/xtables) if absent,
 * remove exactly what we created afterwards. (nft itself is given label numbers.)
 */
function ensureConnlabel(s: S): void {
  if (existsSync(CONNLABEL)) {
    s.note(`${CONNLABEL} exists; used as is`);
    return;
  }
  if (!existsSync('/etc/xtables')) {
    mkdirSync('/etc/xtables');
    s.cleanup.add('rmdir /etc/xtables', () => {
      if (existsSync('/etc/xtables') && readdirSync('/etc/xtables').length === 0) rmdirSync('/etc/xtables');
    });
  }
  writeFileSync(CONNLABEL, CONNLABEL_TEXT, { flag: 'wx' });
  s.note(`created ${CONNLABEL} (labels 1 capture-one, 42 capture-answer); removed afterwards`);
  s.cleanup.add(`rm ${CONNLABEL}`, () => {
    if (existsSync(CONNLABEL) && readFileSync(CONNLABEL, 'utf8') === CONNLABEL_TEXT) unlinkSync(CONNLABEL);
  });
}

async function zonesMarksLabels(s: S): Promise<void> {
  ensureConnlabel(s);
  const ns = s.netns('zml');
  // Loopback packets keep the conntrack they got in output, so output rules are enough.
  ns.nft(`
table inet capture {
  chain raw_output {
    type filter hook output priority raw;
    udp dport 5400 ct zone set 7
    udp sport 5400 ct zone set 7
    udp dport 5401 ct original zone set 9
  }
  chain output {
    type filter hook output priority filter;
    ct state new counter
    udp dport 5400 ct mark set 0x7
    udp dport 5402 ct mark set 0x2a ct label set 1 ct label set 42
  }
  chain prerouting { type filter hook prerouting priority filter; ct state new counter; }
}
`);
  ns.sysctl({ 'net.netfilter.nf_conntrack_udp_timeout': 4, 'net.netfilter.nf_conntrack_udp_timeout_stream': 5 });
  const servers: unknown[] = [];
  for (const port of [5400, 5401, 5402]) {
    const srv = ns.spawnTraffic('udp-echo', LO4, port);
    await waitForLine(srv, 'listening');
    servers.push(srv);
  }
  const { ch, o } = await listenEvents(s, ns, {
    xml: ['-E', '-e', 'ALL', '-o', 'xml,id,ktimestamp,labels'],
    txt: ['-E', '-e', 'ALL', '-o', 'extended,id,ktimestamp,labels'],
  });
  s.extra.connlabelConf = existsSync(CONNLABEL) ? readFileSync(CONNLABEL, 'utf8') : null;
  for (const port of [5400, 5401, 5402]) ns.traffic('udp-ask', LO4, port);
  s.note('traffic: UDP :5400 in zone 7 (both directions) with mark 7, :5401 in original-direction zone 9, :5402 with mark 0x2a and labels 1 and 42');
  await dumpWithOracle(s, ch, o, dumpRequest(), 'full dump', ['-L', '-o', 'xml,id,ktimestamp,labels'], ['-L', '-o', 'extended,id,ktimestamp,labels']);
  await dumpWithOracle(s, ch, o, dumpRequest({ zone: 7 }), 'dump filtered by zone 7', ['-L', '-w', '7', '-o', 'xml,id,ktimestamp,labels']);
  await dumpWithOracle(s, ch, o, dumpRequest({ mark: 0x2a }), 'dump filtered by mark 0x2a', ['-L', '-m', '42', '-o', 'xml,id,ktimestamp,labels']);
  await waitDestroys(s, ns, 'UDP timeouts', (c) => c.orig?.proto === 17, 3);
  const after = existsSync(CONNLABEL) ? readFileSync(CONNLABEL, 'utf8') : null;
  if (after !== s.extra.connlabelConf) s.note(`${CONNLABEL} changed during the scenario (another process?): label names may not match`);
  await sleep(300);
  await o.stopListeners();
}

async function acctTimestamps(s: S): Promise<void> {
  const ns = s.netns('acct');
  ns.nft(TRACK);
  ns.sysctl({
    'net.netfilter.nf_conntrack_acct': 1,
    'net.netfilter.nf_conntrack_timestamp': 1,
    'net.netfilter.nf_conntrack_tcp_timeout_time_wait': 3,
    'net.netfilter.nf_conntrack_udp_timeout': 4,
    'net.netfilter.nf_conntrack_udp_timeout_stream': 5,
  });
  const { ch, o } = await listenEvents(s, ns);
  ns.traffic('tcp', LO4, 8081);
  ns.traffic('udp', LO4, 5500);
  s.note('traffic: UDP pair on :5500/:5501, TCP echo on :8081 (acct and timestamp on)');
  await dumpWithOracle(s, ch, o, dumpRequest(), 'dump with counters and start timestamps', XML_LIST, TXT_LIST);
  await waitDestroys(s, ns, 'TCP time_wait (3 s) and UDP timeouts', (c) => c.orig?.proto === 6 || c.orig?.proto === 17, 3);
  await sleep(300);
  await o.stopListeners();
}

async function helperExpect(s: S): Promise<void> {
  const ns = s.netns('ftp');
  ns.nft(`
table inet capture {
  ct helper ftp-std { type "ftp" protocol tcp; }
  chain output {
    type filter hook output priority filter;
    ct state new counter
    tcp dport 21 ct helper set "ftp-std"
  }
  chain prerouting { type filter hook prerouting priority filter; ct state new counter; }
}
`);
  ns.sysctl({ 'net.netfilter.nf_conntrack_tcp_timeout_time_wait': 1 });
  const { ch, o } = await listenEvents(s, ns, { groups: [1, 2, 3, 4, 6] });
  await o.listen(['-E', 'expect', '-o', 'xml']);
  await o.listen(['-E', 'expect']);
  await sleep(LISTENER_READY_MS);
  const since = s.rec.messages.length;
  const ftp = ns.spawnTraffic('ftp');
  await waitForLine(ftp, 'expect-ready');
  await s.rec.waitFor('the EXP_NEW event', (m) => m.kind === 'expect' && m.event === 'new', { since });
  // Let the delayed ACK of "200 ok" pass: until it does, the master's timeout is the
  // 300 s "unacknowledged data" one, and conntrack -L right after our dump would differ.
  await sleep(500);
  s.note('traffic: FTP control connection 127.0.0.1 -> :21 (ftp helper from an nft ct helper object), PORT 127,0,0,1,39,16');
  await dumpWithOracle(s, ch, o, expectDumpRequest(), 'expectation dump', ['-L', 'expect', '-o', 'xml'], ['-L', 'expect']);
  await dumpWithOracle(s, ch, o, dumpRequest(), 'conntrack dump (master with helper)');
  ftp.stdin!.write('go\n');
  await waitForLine(ftp, 'done');
  s.note('data connection 127.0.0.1:20 -> :10000 opened through the expectation');
  await s.rec.waitFor('the EXP_DELETE event', (m) => m.kind === 'expect' && m.event === 'destroy', { since, timeoutMs: 5000 }).catch((e: Error) => s.note(`no EXP_DELETE: ${e.message}`));
  await waitDestroys(s, ns, 'master and data connection (time_wait 1 s)', (c) => c.orig?.proto === 6, 2);
  await sleep(300);
  await o.stopListeners();
}

async function dumpLarge(s: S): Promise<void> {
  const ns = s.netns('dump');
  ns.nft(`
table inet capture {
  chain output {
    type filter hook output priority filter;
    ct state new counter
    udp dport 20000-20049 ct mark set 0x7
  }
  chain prerouting { type filter hook prerouting priority filter; ct state new counter; }
  chain input { type filter hook input priority filter; udp dport 20000-20999 drop; }
}
`);
  const COUNT = 260;
  ns.traffic('udp-send', LO4, 20000, COUNT);
  s.note(`traffic: ${COUNT} UDP datagrams from one socket to 127.0.0.1:20000..${20000 + COUNT - 1} (dropped in input, so no ICMP), marks 7 on 20000..20049`);
  const ch = s.rec.open('dump', { netns: ns.name });
  const o = s.oraclesIn(ns);
  const all = await dumpWithOracle(s, ch, o, dumpRequest(), 'full dump');
  const entries = all.filter((m) => m.kind === 'conntrack');
  if (entries.length < COUNT) throw new Error(`full dump returned ${entries.length} entries, expected ${COUNT}`);
  await dumpWithOracle(s, ch, o, dumpRequest({ mark: 7 }), 'dump filtered by mark 7 (CTA_MARK + CTA_MARK_MASK)', ['-L', '-m', '7', '-o', 'xml,id,ktimestamp']);
  await dumpWithOracle(s, ch, o, dumpRequest({ family: 2, orig: { proto: 17, dstPort: 20100 } }), 'dump filtered by CTA_FILTER (IPv4, udp, dport 20100)', ['-L', '-f', 'ipv4', '-p', 'udp', '--dport', '20100', '-o', 'xml,id,ktimestamp']);
  await dumpWithOracle(s, ch, o, dumpRequest({ status: IPS_ASSURED }), 'dump filtered by status ASSURED (matches nothing)', ['-L', '-u', 'ASSURED', '-o', 'xml,id,ktimestamp']);
  const oneMsg = entries.find((m) => m.kind === 'conntrack' && m.conntrack.orig?.dstPort === 20010);
  if (oneMsg?.kind !== 'conntrack' || !oneMsg.conntrack.orig) throw new Error('no entry to :20010 in the dump');
  const one = oneMsg.conntrack as Conntrack & { orig: NonNullable<Conntrack['orig']> };
  const get = getRequest({ family: 2, orig: one.orig });
  await ch.request(get, 'GET of the entry to :20010');
  const args = ['-G', '-p', 'udp', '-s', String(one.orig.src), '-d', String(one.orig.dst), '--sport', String(one.orig.srcPort), '--dport', '20010', '-o', 'xml,id,ktimestamp'];
  o.snapshot(args, { seq: get.header.seq });
  s.note(`seq ${get.header.seq} GET of one entry; oracle: conntrack ${args.join(' ')}`);
}

/** An ICMP echo reply nobody asked for, from a raw socket: conntrack counts it as invalid. */
const UNSOLICITED_ECHO_REPLY = `
import socket
msg = bytearray([0, 0, 0, 0, 0x12, 0x34, 0, 1]) + b'capture'
total = sum((msg[i] << 8) + (msg[i + 1] if i + 1 < len(msg) else 0) for i in range(0, len(msg), 2))
while total >> 16:
    total = (total & 0xffff) + (total >> 16)
msg[2:4] = (~total & 0xffff).to_bytes(2, 'big')
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
s.sendto(bytes(msg), ('127.0.0.1', 0))
`;

async function stats(s: S): Promise<void> {
  const ns = s.netns('stats');
  ns.nft(`
table inet capture {
  ct helper ftp-std { type "ftp" protocol tcp; }
  chain output { type filter hook output priority filter; ct state new counter; tcp dport 21 ct helper set "ftp-std"; }
  chain prerouting { type filter hook prerouting priority filter; ct state new counter; }
}
`);
  ns.traffic('udp', LO4, 5600);
  ns.exec('ping', ['-c', '1', '-W', '1', LO4]);
  const ftp = ns.spawnTraffic('ftp');
  await waitForLine(ftp, 'expect-ready');
  ftp.stdin!.write('go\n');
  await waitForLine(ftp, 'done');
  const py = ns.execStatus('python3', ['-c', UNSOLICITED_ECHO_REPLY]);
  s.note('traffic: UDP pair on :5600/:5601, one ping, an FTP exchange with an expectation (expect_new/create/delete), '
    + (py.status === 0 ? 'an unsolicited ICMP echo reply from a raw socket (invalid)' : `no raw ICMP (python3 failed: ${py.stderr.trim()})`));
  await sleep(300);
  const ch = s.rec.open('stats', { netns: ns.name });
  const o = s.oraclesIn(ns);
  const cpu = statsCpuRequest();
  await ch.request(cpu, 'per-CPU conntrack stats');
  o.snapshot(['-S'], { seq: cpu.header.seq });
  const glob = statsRequest();
  await ch.request(glob, 'global conntrack stats');
  o.snapshot(['-C'], { seq: glob.header.seq });
  const exp = expectStatsCpuRequest();
  await ch.request(exp, 'per-CPU expectation stats');
  o.snapshot(['-S', 'expect'], { seq: exp.header.seq });
  s.note('oracles: conntrack -S, conntrack -C, conntrack -S expect, each run right after the matching request');
}

async function errors(s: S): Promise<void> {
  const ns = s.netns('err');
  ns.nft(TRACK);
  const { ch, o } = await listenEvents(s, ns);
  const orig = { src: '192.0.2.1', dst: '192.0.2.2', proto: 17, srcPort: 1000, dstPort: 2000 };
  const reply = { src: '192.0.2.2', dst: '192.0.2.1', proto: 17, srcPort: 2000, dstPort: 1000 };
  const results: string[] = [];
  const req = async (m: Message, what: string): Promise<Message[]> => {
    const answers = await ch.request(m, what);
    const err = answers.find((a) => a.kind === 'error');
    results.push(`seq ${m.header.seq} ${what}: ${err?.kind === 'error' ? (err.error.error === 0 ? 'ACK' : `error ${err.error.error}`) : 'no ACK'}`);
    return answers;
  };
  await req(createRequest({ family: 2, orig, reply, timeout: 60, mark: 5 }), 'create (ACK)');
  await req(createRequest({ family: 2, orig, reply, timeout: 60, mark: 5 }), 'create again (EEXIST)');
  await req(updateRequest({ family: 2, orig, timeout: 120, mark: 6 }), 'update timeout and mark (ACK)');
  const get = getRequest({ family: 2, orig });
  await req(get, 'get (reply + ACK)');
  o.snapshot(['-G', '-p', 'udp', '-s', orig.src, '-d', orig.dst, '--sport', '1000', '--dport', '2000', '-o', 'xml,id'], { seq: get.header.seq });
  await req(deleteRequest({ family: 2, orig }), 'delete (ACK)');
  await req(deleteRequest({ family: 2, orig }), 'delete again (ENOENT)');
  await req(getRequest({ family: 2, orig }), 'get missing (ENOENT)');
  const bad = getRequest({ family: 2, orig });
  if (bad.kind === 'conntrack') bad.conntrack.eventTimestamp = 1n; // CTA_TIMESTAMP_EVENT: NLA_REJECT in the request policy
  await req(bad, 'get carrying CTA_TIMESTAMP_EVENT (EINVAL + extended ACK)');
  const filt = dumpRequest({ family: 2, orig: { proto: 17 } });
  if (filt.kind === 'conntrack' && filt.conntrack.filter) filt.conntrack.filter.origFlags = (0x80000000 | (filt.conntrack.filter.origFlags ?? 0)) >>> 0; // a u32 (request checks) // unknown CTA_FILTER_F_* bit
  await req(filt, 'dump with an unknown CTA_FILTER flag bit (EINVAL + extended ACK)');
  for (const r of results) s.note(r);
  // The same operations through conntrack-tools, for its error texts (a different tuple).
  const ct = ['-p', 'udp', '-s', '192.0.2.3', '-d', '192.0.2.4', '--sport', '3000', '--dport', '4000'];
  o.snapshot(['-I', ...ct, '-t', '60', '-m', '9']);
  o.snapshot(['-I', ...ct, '-t', '60', '-m', '9']);
  o.snapshot(['-D', ...ct]);
  o.snapshot(['-D', ...ct]);
  o.snapshot(['-G', ...ct]);
  await s.rec.waitFor('the DESTROY of the conntrack -D entry', isEvent('destroy', (c) => c.orig?.src === '192.0.2.3'));
  await sleep(300);
  await o.stopListeners();
}

async function overrun(s: S): Promise<void> {
  const ns = s.netns('ovr');
  ns.nft(TRACK);
  const small = s.rec.open('small', { netns: ns.name, groups: [1, 2, 3], receiveBufferSize: 4096 });
  s.note(`subscriber socket: receiveBufferSize 4096 (effective SO_RCVBUF ${small.sock.receiveBufferSize})`);
  const o = s.oraclesIn(ns);
  await o.listen(['-E', '-e', 'ALL', '-b', '8388608', '-o', 'xml,id']);
  await sleep(LISTENER_READY_MS);
  small.pause();
  const COUNT = 200;
  ns.traffic('udp-send', LO4, 30000, COUNT);
  s.note(`paused; burst of ${COUNT} new UDP flows to 127.0.0.1:30000..${30000 + COUNT - 1}; resumed`);
  await sleep(300);
  small.resume();
  await sleep(500);
  ns.traffic('udp-send', LO4, 31000, 3);
  s.note('after the resume: 3 more new flows to 127.0.0.1:31000..31002 (their events follow the queued ones)');
  await sleep(500);
  s.note(`drops counted by the kernel (SK_MEMINFO_DROPS): ${small.sock.drops()}`);
  await o.stopListeners();
}

export const SCENARIOS: Record<string, { description: string; run(s: S): Promise<void> }> = {
  'tcp-ipv4': {
    description: 'TCP lifecycle over 127.0.0.1 from SYN to TIME_WAIT, then the DESTROY after the 1 s time_wait timeout',
    run: (s) => tcpLifecycle(s, 'tcp4', LO4),
  },
  'tcp-ipv6': {
    description: 'TCP lifecycle over ::1 from SYN to TIME_WAIT, then the DESTROY',
    run: (s) => tcpLifecycle(s, 'tcp6', '::1'),
  },
  udp: {
    description: 'UDP: one flow answered, one not; a dump; both DESTROYs after short UDP timeouts',
    run: udp,
  },
  icmp: {
    description: 'ICMP echo (ping 127.0.0.1) and ICMPv6 echo (ping -6 ::1): events, a dump, DESTROYs',
    run: icmp,
  },
  nat: {
    description: 'SNAT + DNAT between two namespaces joined by a veth pair (IPv4 TCP and IPv6 UDP): reply tuples differ from the original',
    run: nat,
  },
  'zones-marks-labels': {
    description: 'ct zone (both directions and original only), ct mark and ct label set by nftables: events and dumps (full, zone and mark filters)',
    run: zonesMarksLabels,
  },
  'acct-timestamps': {
    description: 'nf_conntrack_acct=1 and nf_conntrack_timestamp=1: counters, start/stop, CTA_TIMESTAMP_EVENT',
    run: acctTimestamps,
  },
  'helper-expect': {
    description: 'FTP helper (nft ct helper object) creating an expectation: EXP_NEW/EXP_DELETE events, expectation dump, RELATED data connection',
    run: helperExpect,
  },
  'dump-large': {
    description: 'A dump spanning several datagrams (260 entries), filtered dumps (mark, CTA_FILTER, status) and a GET of one entry',
    run: dumpLarge,
  },
  stats: {
    description: 'Per-CPU stats, global stats and per-CPU expectation stats replies',
    run: stats,
  },
  errors: {
    description: 'Requests answered by errors (EEXIST, ENOENT, EINVAL with extended ACK) and successful create/update/get/delete with ACKs',
    run: errors,
  },
  overrun: {
    description: 'A 4 KiB receive buffer, paused during a burst of 200 new flows: the datagrams that still arrive and the overrun position',
    run: overrun,
  },
};
