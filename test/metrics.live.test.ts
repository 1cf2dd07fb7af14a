/**
 * `ctevents metrics` against the real kernel, in throwaway namespaces (root only):
 *   - every scrape passes `promtool check metrics`;
 *   - the mirror's counts equal `conntrack -L` on the same table;
 *   - prometheus-node-exporter (conntrack collector only) run in the same namespace and
 *     scraped at the same moment gives the same values for the shared names;
 *   - a real Prometheus server (1 s scrape interval) scrapes us (it asks for OpenMetrics)
 *     and its HTTP API returns our series with the expected values;
 *   - abusive clients (oversized headers, slowloris, 500 concurrent connections) do not
 *     stop the server answering nor the events being followed;
 *   - several namespaces at once (netns label), and the built CLI stops cleanly on SIGTERM.
 * Every process, namespace and temporary directory is removed at the end.
 */
import { execFile, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { connect, createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { metrics } from '../src/cli/metrics.js';
import { createNetns, liveSkipReason, tcpConnection, udpExchange, udpFlows, type Netns } from './helpers/live.js';

const skip = liveSkipReason();
if (skip) console.warn(`metrics.live.test.ts: ${skip}`);
const has = (cmd: string) => spawnSync(cmd, ['--version']).status === 0;
const hasPromtool = !skip && has('promtool');
const hasNodeExporter = !skip && has('prometheus-node-exporter');
const hasPrometheus = !skip && has('prometheus');
const root = new URL('..', import.meta.url).pathname;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function httpGet(port: number, path: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string; type: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, headers, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, type: String(res.headers['content-type']) }));
      res.on('error', reject);
    });
    req.setTimeout(10_000, () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
}

/** name{labels} -> value, from either format. */
function parse(body: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of body.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const sp = line.lastIndexOf(' ');
    out.set(line.slice(0, sp), Number(line.slice(sp + 1)));
  }
  return out;
}

async function waitFor<T>(what: string, f: () => Promise<T | undefined> | T | undefined, ms = 20_000): Promise<T> {
  const end = Date.now() + ms;
  let last: unknown;
  for (;;) {
    try {
      const v = await f();
      if (v !== undefined && v !== false) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await sleep(200);
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => resolve(p));
    });
  });
}

/** The exporter in this process; stop() aborts it and resolves its exit code. */
async function startExporter(args: string[]): Promise<{ port: number; stop(): Promise<number>; stderr: () => string }> {
  const stderr = new PassThrough();
  let text = '';
  stderr.on('data', (d: Buffer) => (text += d.toString()));
  const abort = new AbortController();
  const done = metrics([...args, '--listen', '127.0.0.1:0', '--interval', '0.5'], { stdout: new PassThrough(), stderr, stdin: Readable.from([]) }, abort.signal);
  const port = await waitFor('the exporter to listen', async () => {
    const m = /serving http:\/\/127\.0\.0\.1:(\d+)\//.exec(text);
    if (!m) {
      const early = await Promise.race([done, sleep(50).then(() => undefined)]);
      if (early !== undefined) throw new Error(`exporter exited ${early}: ${text}`);
      return undefined;
    }
    return Number(m[1]);
  });
  return { port, stderr: () => text, stop: async () => (abort.abort(), done) };
}

function conntrackCount(ns: Netns, args: string[] = []): number {
  const out = ns.exec('conntrack', ['-L', ...args], '');
  return out.split('\n').filter((l) => l.trim() !== '').length;
}

describe.skipIf(skip)('ctevents metrics (live)', () => {
  let ns: Netns;
  let exp: Awaited<ReturnType<typeof startExporter>>;
  const children: ChildProcess[] = [];
  const dirs: string[] = [];

  async function scrape(accept?: string): Promise<{ body: string; m: Map<string, number> }> {
    const r = await httpGet(exp.port, '/metrics', accept ? { accept } : {});
    expect(r.status).toBe(200);
    if (hasPromtool && !accept) {
      const check = spawnSync('promtool', ['check', 'metrics'], { input: r.body, encoding: 'utf8' });
      expect(`${check.stdout}${check.stderr}`).toBe('');
      expect(check.status).toBe(0);
    }
    return { body: r.body, m: parse(r.body) };
  }

  beforeAll(async () => {
    ns = createNetns();
    exp = await startExporter(['--netns', ns.name, '--top', '5']);
    await waitFor('in sync', async () => (await httpGet(exp.port, '/healthz')).status === 200);
  });

  afterAll(async () => {
    for (const c of children) c.kill('SIGKILL');
    if (exp) expect(await exp.stop()).toBe(0);
    ns?.remove();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  it('mirrors the table: counts by protocol, state, assured, source and port equal conntrack -L', async () => {
    udpFlows(ns, 7000, 20);
    udpExchange(ns, '127.0.0.1', 5353);
    tcpConnection(ns, '127.0.0.1', 8080);
    const want = { udp: conntrackCount(ns, ['-p', 'udp']), tcp: conntrackCount(ns, ['-p', 'tcp']), all: conntrackCount(ns) };
    expect(want.udp).toBeGreaterThanOrEqual(21);
    const { m } = await waitFor('the mirror to follow', async () => {
      const s = await scrape();
      return s.m.get('ctevents_mirror_entries') === want.all && s.m.get('ctevents_entries') === want.all ? s : undefined;
    });
    expect(m.get('ctevents_entries_by_protocol{protocol="udp"}')).toBe(want.udp);
    expect(m.get('ctevents_entries_by_protocol{protocol="tcp"}')).toBe(want.tcp);
    expect(m.get('ctevents_entries_by_tcp_state{state="TIME_WAIT"}')).toBe(conntrackCount(ns, ['-p', 'tcp', '--state', 'TIME_WAIT']));
    const assured = conntrackCount(ns, ['-u', 'ASSURED']);
    expect(m.get('ctevents_entries_by_assured{assured="true"}')).toBe(assured);
    expect(m.get('ctevents_entries_by_assured{assured="false"}')).toBe(want.all - assured);
    expect(m.get('ctevents_entries_by_zone{zone="0"}')).toBe(want.all);
    expect(m.get('ctevents_top_source_entries{rank="1",source="127.0.0.1"}')).toBe(want.all);
    expect([...m.keys()].filter((k) => k.startsWith('ctevents_top_destination_port_entries{')).length).toBe(5);
    expect(m.get('ctevents_events_total{type="new"}')).toBeGreaterThanOrEqual(want.all);
    expect(m.get('ctevents_mirror_in_sync')).toBe(1);
    expect(m.get('ctevents_up')).toBe(1);
    expect(m.get('ctevents_entry_size_bytes')).toBeGreaterThan(0);
    expect(m.get('ctevents_diagnosis{diagnosis="ok"}')).toBe(1);
    // OpenMetrics on request.
    const om = await httpGet(exp.port, '/metrics', { accept: 'application/openmetrics-text; version=1.0.0' });
    expect(om.type).toContain('application/openmetrics-text');
    expect(om.body.endsWith('# EOF\n')).toBe(true);
    expect(om.body).toContain('# TYPE ctevents_events counter\n');
  });

  it.skipIf(!hasNodeExporter)('gives the same values as prometheus-node-exporter for the shared names', async () => {
    const nePort = 19100;
    // Our own scrapes of node_exporter must not add entries to the table it counts.
    ns.exec('nft', ['-f', '-'], `table inet ctevne {
  chain pre { type filter hook prerouting priority -300; tcp dport ${nePort} notrack; tcp sport ${nePort} notrack; }
  chain out { type filter hook output priority -300; tcp dport ${nePort} notrack; tcp sport ${nePort} notrack; }
}
`);
    const ne = ns.spawn('prometheus-node-exporter', [`--web.listen-address=127.0.0.1:${nePort}`, '--collector.disable-defaults', '--collector.conntrack']);
    children.push(ne);
    const theirs = () =>
      new Promise<string>((resolve, reject) =>
        execFile('ip', ['netns', 'exec', ns.name, 'curl', '-sf', `http://127.0.0.1:${nePort}/metrics`], (err, out) => (err ? reject(err) : resolve(out))),
      );
    await waitFor('node_exporter', theirs);
    await sleep(1200); // a fresh kernel sample on our side
    const shared = ['node_nf_conntrack_entries', 'node_nf_conntrack_entries_limit', ...['found', 'invalid', 'ignore', 'insert', 'insert_failed', 'drop', 'early_drop', 'search_restart'].map((s) => `node_nf_conntrack_stat_${s}`)];
    let last = '';
    await waitFor(
      'equal values',
      async () => {
        const [a, b] = await Promise.all([scrape(), theirs()]); // the same moment
        const n = parse(b);
        const diffs: string[] = [];
        for (const name of shared) {
          const ours = a.m.get(name);
          const them = n.get(name);
          expect(them, `node_exporter has ${name}`).toBeDefined();
          // Counters may move between the two reads (ours is at most one interval old).
          const ok = name.includes('_stat_') ? Math.abs((ours ?? NaN) - them!) <= 2 : ours === them;
          if (!ok) diffs.push(`${name}: ours ${ours}, node_exporter ${them}`);
          // Same type as node_exporter.
          expect(a.body).toContain(`# TYPE ${name} gauge\n`);
          expect(b).toContain(`# TYPE ${name} gauge\n`);
        }
        last = diffs.join('; ');
        return diffs.length === 0;
      },
      15_000,
    ).catch((e) => {
      throw new Error(`${String(e)}: ${last}`);
    });
    ne.kill('SIGTERM');
  });

  it.skipIf(!hasPrometheus)('is scraped by a real Prometheus server whose API returns our series', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ctev-prom-'));
    dirs.push(dir);
    const promPort = await freePort();
    writeFileSync(
      join(dir, 'prometheus.yml'),
      `global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\nscrape_configs:\n  - job_name: ctevents\n    static_configs:\n      - targets: ['127.0.0.1:${exp.port}']\n`,
    );
    const prom = spawn('prometheus', [`--config.file=${join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${promPort}`], { stdio: ['ignore', 'ignore', 'pipe'] });
    children.push(prom);
    let log = '';
    prom.stderr!.on('data', (d) => (log = (log + d).slice(-4000)));
    const query = async (q: string): Promise<{ metric: Record<string, string>; value: [number, string] }[]> => {
      const r = await httpGet(promPort, `/api/v1/query?query=${encodeURIComponent(q)}`);
      const j = JSON.parse(r.body) as { status: string; data: { result: { metric: Record<string, string>; value: [number, string] }[] } };
      if (j.status !== 'success') throw new Error(r.body);
      return j.data.result;
    };
    try {
      const ours = (await scrape()).m;
      await waitFor('Prometheus to scrape us', async () => (await query('up{job="ctevents"}'))[0]?.value[1] === '1', 60_000).catch((e) => {
        throw new Error(`${String(e)}\n${log}`);
      });
      const entries = await waitFor('our series in Prometheus', async () => {
        const r = await query('ctevents_mirror_entries');
        return r.length === 1 ? Number(r[0]!.value[1]) : undefined;
      });
      expect(entries).toBe(ours.get('ctevents_mirror_entries'));
      expect(Number((await query('node_nf_conntrack_entries_limit'))[0]!.value[1])).toBe(ours.get('node_nf_conntrack_entries_limit'));
      expect(Number((await query('ctevents_entries_by_protocol{protocol="udp"}'))[0]!.value[1])).toBe(ours.get('ctevents_entries_by_protocol{protocol="udp"}'));
      const news = await query('ctevents_events_total{type="new"}');
      expect(news).toHaveLength(1);
      expect(Number(news[0]!.value[1])).toBeGreaterThanOrEqual(ours.get('ctevents_events_total{type="new"}')!);
      expect((await query('ctevents_cpu_stat_drop_total')).length).toBeGreaterThanOrEqual(1);
      expect((await query('ctevents_diagnosis{diagnosis="ok"}'))[0]!.value[1]).toBe('1');
      // Prometheus asked for OpenMetrics (2.x does by default): its scrape went through our OM writer.
      expect((await query('scrape_samples_scraped{job="ctevents"}'))[0]!.value[1]).not.toBe('0');
    } finally {
      prom.kill('SIGTERM');
      await new Promise((r) => (prom.exitCode !== null ? r(null) : prom.once('exit', r)));
    }
  }, 120_000);

  it('keeps answering and following events under abusive clients', async () => {
    const before = (await scrape()).m.get('ctevents_events_total{type="new"}')!;
    const open: Socket[] = [];
    const opened = (payload?: string) =>
      new Promise<Socket>((resolve) => {
        const s = connect(exp.port, '127.0.0.1', () => {
          if (payload) s.write(payload);
          resolve(s);
        });
        s.on('error', () => {});
        open.push(s);
      });
    try {
      // Oversized headers: refused with 431, nothing buffered.
      const big = await opened();
      const reply = new Promise<string>((resolve) => {
        let t = '';
        big.on('data', (d) => (t += d));
        big.on('close', () => resolve(t));
      });
      big.write(`GET /metrics HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(200_000)}\r\n\r\n`);
      expect(await reply).toMatch(/^HTTP\/1\.1 431/);

      // Slowloris: 100 requests that never finish their headers, a byte every 200 ms.
      const slow: Socket[] = [];
      for (let i = 0; i < 100; i++) slow.push(await opened('GET /metrics HTTP/1.1\r\n'));
      let slowClosed = 0;
      for (const s of slow) s.on('close', () => slowClosed++);
      const drip = setInterval(() => {
        for (const s of slow) if (!s.destroyed) s.write('X');
      }, 200);
      // 500 more connections, idle.
      await Promise.all(Array.from({ length: 500 }, () => opened()));
      // New flows while all of that is open; the server still answers a real scrape.
      udpFlows(ns, 20000, 50);
      const during = await waitFor('events followed under attack', async () => {
        const s = await scrape();
        return s.m.get('ctevents_events_total{type="new"}')! >= before + 50 ? s : undefined;
      });
      expect(during.m.get('ctevents_mirror_in_sync')).toBe(1);
      expect((await httpGet(exp.port, '/healthz')).status).toBe(200);
      // The slowloris sockets are cut by the header timeout (5 s) or evicted.
      await waitFor('slowloris sockets closed', () => slowClosed === 100, 15_000);
      clearInterval(drip);
      for (const s of open) s.destroy();
      open.length = 0;

      // 500 concurrent scrapes: all answered.
      const results = await Promise.all(Array.from({ length: 500 }, () => httpGet(exp.port, '/metrics').then((r) => r.status, () => -1)));
      expect(results.filter((s) => s === 200).length).toBe(500);
      // The mirror still equals the kernel's count (nf_conntrack_count: conntrack -L hides
      // expired entries the GC has not reaped yet, the count and the events do not).
      await waitFor('mirror = kernel count', async () => {
        const m = (await scrape()).m;
        return m.get('ctevents_mirror_entries') === m.get('ctevents_entries');
      });
    } finally {
      for (const s of open) s.destroy();
    }
  }, 90_000);

  it('follows several namespaces at once, with a netns label', async () => {
    const other = createNetns();
    let second: Awaited<ReturnType<typeof startExporter>> | undefined;
    try {
      udpFlows(other, 6000, 7);
      second = await startExporter(['--netns', ns.name, '--netns', other.name]);
      const port = second.port;
      const m = await waitFor('both in sync', async () => {
        const r = await httpGet(port, '/metrics');
        const p = parse(r.body);
        return p.get(`ctevents_mirror_entries{netns="${other.name}"}`) === 7 && p.get(`ctevents_mirror_in_sync{netns="${ns.name}"}`) === 1 ? { p, body: r.body } : undefined;
      });
      expect(m.p.get(`node_nf_conntrack_entries{netns="${other.name}"}`)).toBe(7);
      expect(m.p.get(`node_nf_conntrack_entries{netns="${ns.name}"}`)).toBe(conntrackCount(ns));
      if (hasPromtool) expect(spawnSync('promtool', ['check', 'metrics'], { input: m.body }).status).toBe(0);
    } finally {
      if (second) expect(await second.stop()).toBe(0);
      other.remove();
    }
  });

  it('detects lost events, resyncs with a dump and comes back in sync', async () => {
    const { ConntrackClient } = await import('../src/client/client.js');
    const { TableSource } = await import('../src/metrics/table-source.js');
    const client = await ConntrackClient.open({ netns: ns.name, receiveBufferSize: 8192, receiveThreadBuffer: 0 });
    const src = new TableSource(client, { netns: ns.name, sampleIntervalMs: 200, onError: () => {} });
    try {
      await src.start();
      expect(src.inSync()).toBe(true);
      udpFlows(ns, 30000, 3000); // this process is blocked meanwhile: the 8 KiB queue overflows
      await waitFor('a loss', () => src.events().lost > 0 || undefined);
      await waitFor('back in sync', () => (src.inSync() && src.resyncs() >= 1 && src.mirrorEntries() === src.kernel()?.entries) || undefined, 30_000);
      expect(src.counts().protocol.get('udp')).toBeGreaterThanOrEqual(3000);
    } finally {
      src.stop();
      await client.close();
    }
  });

  it('answers scrapes from memory: no dump per scrape (every dump is a counted resync)', async () => {
    const { ConntrackClient } = await import('../src/client/client.js');
    const { TableSource } = await import('../src/metrics/table-source.js');
    const { MetricsServer } = await import('../src/metrics/server.js');
    const client = await ConntrackClient.open({ netns: ns.name });
    const src = new TableSource(client, { netns: ns.name, onError: () => {} });
    let server: InstanceType<typeof MetricsServer> | undefined;
    try {
      await src.start();
      server = new MetricsServer([src], { top: 3 });
      const { port } = await server.listen('127.0.0.1', 0);
      let dumps = 0;
      const open = client.openTransport.bind(client);
      client.openTransport = ((o: Parameters<typeof client.openTransport>[0]) => {
        if (!o.groups) dumps++; // a dump socket (the event socket has multicast groups)
        return open(o);
      }) as typeof client.openTransport;
      const resyncs0 = src.resyncs();
      for (let i = 0; i < 30; i++) {
        const r = await httpGet(port, '/metrics');
        expect(r.status).toBe(200);
        expect(r.body.match(/^ctevents_top_source_entries\{/gm)?.length ?? 0).toBeLessThanOrEqual(3);
      }
      expect(dumps).toBe(src.resyncs() - resyncs0);
      expect(dumps).toBeLessThan(30);
      // The spy does see the table's dumps.
      await src.mirror!.resync('manual');
      expect(dumps).toBeGreaterThanOrEqual(1);
      expect(dumps).toBe(src.resyncs() - resyncs0);
    } finally {
      await server?.close();
      src.stop();
      await client.close();
    }
  });

  it('the built CLI serves and stops cleanly on SIGTERM; bad options exit 2', async () => {
    const bin = join(root, 'dist/cli/ctevents.cjs');
    const p = spawn(process.execPath, [bin, 'metrics', '--netns', ns.name, '--listen', '127.0.0.1:0'], { stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(p);
    let err = '';
    p.stderr.on('data', (d) => (err += d));
    const exited = new Promise<number>((res) => p.on('close', (c) => res(c ?? -1)));
    const port = await waitFor('the CLI to listen', () => {
      const m = /serving http:\/\/127\.0\.0\.1:(\d+)\//.exec(err);
      return m ? Number(m[1]) : undefined;
    });
    expect((await httpGet(port, '/metrics')).status).toBe(200);
    p.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(err).toContain('stopped after 1 scrapes');
    const bad = spawnSync(process.execPath, [bin, 'metrics', '--listen', 'nope'], { encoding: 'utf8' });
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/^ctevents: --listen: /);
    const missing = spawnSync(process.execPath, [bin, 'metrics', '--netns', 'ctev-no-such-ns'], { encoding: 'utf8' });
    expect(missing.status).toBe(1);
    expect(missing.stderr).toContain('no such network namespace');
  });
});
