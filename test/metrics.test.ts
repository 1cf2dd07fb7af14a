/**
 * The exporter without a kernel: the exposition writer (both formats, escaping, naming
 * rules, errors), content negotiation, the families rendered from a fake MetricsSource
 * (checked by `promtool check metrics` when promtool is installed), the pressure analysis'
 * diagnoses as gauge labels, the HTTP server's routes and limits, and the command line.
 * (The table mirror behind the live source has its own tests: table-*.test.ts.)
 */
import { spawnSync } from 'node:child_process';
import { request } from 'node:http';
import { connect } from 'node:net';
import { describe, expect, it } from 'vitest';
import type { CpuStats } from '../src/ctnetlink/model.js';
import { ExpositionError, ExpositionWriter, escapeLabelValue, formatValue, negotiate } from '../src/metrics/exposition.js';
import { renderMetrics } from '../src/metrics/render.js';
import { MetricsServer } from '../src/metrics/server.js';
import { DIAGNOSES, type KernelSample, type MetricsSource } from '../src/metrics/source.js';
import { diagnosisLabels } from '../src/metrics/table-source.js';
import { analyze, zeroTotals, type CpuTotals, type MirrorCounters, type PressureSample } from '../src/pressure/analyze.js';
import { parseListen, parseMetricsArgs } from '../src/cli/metrics.js';
import { UsageError } from '../src/cli/args.js';

const hasPromtool = spawnSync('promtool', ['--version']).status === 0;

function promtoolCheck(body: string): { ok: boolean; output: string } {
  const r = spawnSync('promtool', ['check', 'metrics'], { input: body, encoding: 'utf8' });
  return { ok: r.status === 0, output: `${r.stdout}${r.stderr}` };
}

describe('exposition writer', () => {
  it('writes the text format 0.0.4: HELP and TYPE on the sample name, no UNIT, no EOF', () => {
    const w = new ExpositionWriter('prometheus');
    w.family({ name: 'x_events', type: 'counter', help: 'Events.' }).sample({ type: 'new' }, 3).sample({ type: 'destroy' }, 2n ** 64n - 1n);
    w.family({ name: 'x_memory_bytes', type: 'gauge', unit: 'bytes', help: 'Memory.' }).sample(undefined, 1.5);
    expect(w.finish()).toBe(
      '# HELP x_events_total Events.\n# TYPE x_events_total counter\nx_events_total{type="new"} 3\nx_events_total{type="destroy"} 18446744073709551615\n' +
        '# HELP x_memory_bytes Memory.\n# TYPE x_memory_bytes gauge\nx_memory_bytes 1.5\n',
    );
  });

  it('writes OpenMetrics 1.0: family name without _total, UNIT, # EOF', () => {
    const w = new ExpositionWriter('openmetrics');
    w.family({ name: 'x_events', type: 'counter', help: 'Events "new".' }).sample({ type: 'new' }, 3);
    w.family({ name: 'x_memory_bytes', type: 'gauge', unit: 'bytes', help: 'Memory.' }).sample(undefined, 7);
    expect(w.finish()).toBe(
      '# HELP x_events Events \\"new\\".\n# TYPE x_events counter\nx_events_total{type="new"} 3\n' +
        '# HELP x_memory_bytes Memory.\n# TYPE x_memory_bytes gauge\n# UNIT x_memory_bytes bytes\nx_memory_bytes 7\n# EOF\n',
    );
  });

  it('escapes label values and help text', () => {
    expect(escapeLabelValue('a\\b"c\nd')).toBe('a\\\\b\\"c\\nd');
    expect(escapeLabelValue('plain')).toBe('plain');
    const w = new ExpositionWriter('prometheus');
    w.family({ name: 'x', type: 'gauge', help: 'back\\slash\nnewline "quotes"' }).sample({ l: 'v"\n\\' }, 1);
    expect(w.finish()).toBe('# HELP x back\\\\slash\\nnewline "quotes"\n# TYPE x gauge\nx{l="v\\"\\n\\\\"} 1\n');
  });

  it('formats special values', () => {
    expect(formatValue(NaN)).toBe('NaN');
    expect(formatValue(Infinity)).toBe('+Inf');
    expect(formatValue(-Infinity)).toBe('-Inf');
    expect(formatValue(123456789012n)).toBe('123456789012');
    expect(formatValue(0.25)).toBe('0.25');
  });

  it('refuses bad names, labels, units, duplicates and negative counters with ExpositionError', () => {
    const bad: (() => unknown)[] = [
      () => new ExpositionWriter('prometheus').family({ name: '1x', type: 'gauge', help: '' }),
      () => new ExpositionWriter('prometheus').family({ name: 'x-y', type: 'gauge', help: '' }),
      () => new ExpositionWriter('prometheus').family({ name: 'x_total', type: 'counter', help: '' }),
      () => new ExpositionWriter('prometheus').family({ name: 'x_seconds', type: 'gauge', unit: 'bytes', help: '' }),
      () => new ExpositionWriter('prometheus').family({ name: 'x', type: 'gauge', help: '' }).sample({ 'bad-label': '1' }, 1),
      () => new ExpositionWriter('prometheus').family({ name: 'x', type: 'gauge', help: '' }).sample({ __reserved: '1' }, 1),
      () => new ExpositionWriter('prometheus').family({ name: 'x', type: 'counter', help: '' }).sample(undefined, -1),
      () => new ExpositionWriter('prometheus').sample(undefined, 1),
      () => {
        const w = new ExpositionWriter('prometheus');
        w.family({ name: 'x', type: 'gauge', help: '' });
        w.family({ name: 'x', type: 'gauge', help: '' });
      },
    ];
    for (const f of bad) expect(f).toThrow(ExpositionError);
  });
});

describe('content negotiation', () => {
  it.each([
    [undefined, 'prometheus'],
    ['', 'prometheus'],
    ['*/*', 'prometheus'],
    ['text/plain;version=0.0.4', 'prometheus'],
    ['application/openmetrics-text', 'openmetrics'],
    ['application/openmetrics-text; version=1.0.0; charset=utf-8', 'openmetrics'],
    // Prometheus 2.42's scrape header
    ['application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1', 'openmetrics'],
    ['text/plain;version=0.0.4;q=1,application/openmetrics-text;version=1.0.0;q=0.5', 'prometheus'],
    ['application/openmetrics-text;version=2.0.0', 'prometheus'],
    ['application/openmetrics-text;q=0', 'prometheus'],
    ['garbage;;;=,', 'prometheus'],
  ])('Accept %j -> %s', (accept, want) => {
    expect(negotiate(accept)).toBe(want);
  });
});

function cpu(n: number, fields: Partial<CpuStats>): CpuStats {
  return { cpu: n, found: 0, invalid: 0, insert: 0, insertFailed: 0, drop: 0, earlyDrop: 0, error: 0, searchRestart: 0, clashResolve: 0, chainTooLong: 0, ...fields };
}

function fakeSource(netns?: string, over: Partial<MetricsSource> = {}): MetricsSource {
  const kernel: KernelSample = {
    entries: 1500,
    max: 2000,
    cpus: [cpu(0, { found: 5, drop: 3, earlyDrop: 1, clashResolve: 2 }), cpu(1, { found: 7, drop: 4, chainTooLong: 1 })],
    buckets: 1024,
    entryBytes: 256,
    sampledAt: Date.now(),
  };
  return {
    netns,
    inSync: () => true,
    mirrorEntries: () => 1500,
    resyncs: () => 2,
    counts: () => ({
      protocol: new Map([['tcp', 1000], ['udp', 500]]),
      tcpState: new Map([['ESTABLISHED', 900], ['TIME_WAIT', 100]]),
      assured: 950,
      notAssured: 550,
      zone: new Map([['0', 1400], ['7', 100]]),
    }),
    topSources: (n) => [{ key: '10.0.0.1', entries: 700 }, { key: 'fe80::1"odd', entries: 3 }].slice(0, n),
    topDestinationPorts: (n) => [{ key: '443', protocol: 'tcp', entries: 800 }, { key: '53', entries: 90 }].slice(0, n),
    events: () => ({ new: 10, update: 20, destroy: 5, lost: 4, overruns: 1 }),
    kernel: () => kernel,
    diagnoses: () => ['non_assured_flood', 'events_lost'],
    ...over,
  };
}

describe('rendered families', () => {
  it('has node_exporter names summed over CPUs, our counters per CPU and summed, groups and top-N', () => {
    const body = renderMetrics([fakeSource()], 'prometheus');
    const lines = body.split('\n');
    for (const l of [
      'node_nf_conntrack_entries 1500',
      'node_nf_conntrack_entries_limit 2000',
      'node_nf_conntrack_stat_found 12',
      'node_nf_conntrack_stat_drop 7',
      'node_nf_conntrack_stat_early_drop 1',
      'node_nf_conntrack_stat_ignore 0',
      '# TYPE node_nf_conntrack_stat_drop gauge',
      'ctevents_cpu_stat_drop_total{cpu="0"} 3',
      'ctevents_cpu_stat_drop_total{cpu="1"} 4',
      'ctevents_stat_drop_total 7',
      'ctevents_stat_clash_resolve_total 2',
      'ctevents_stat_chaintoolong_total 1',
      'ctevents_fill_ratio 0.75',
      'ctevents_buckets 1024',
      'ctevents_memory_bytes 392192',
      'ctevents_entries_by_protocol{protocol="tcp"} 1000',
      'ctevents_entries_by_tcp_state{state="TIME_WAIT"} 100',
      'ctevents_entries_by_assured{assured="false"} 550',
      'ctevents_entries_by_zone{zone="7"} 100',
      'ctevents_top_source_entries{rank="2",source="fe80::1\\"odd"} 3',
      'ctevents_top_destination_port_entries{rank="1",protocol="tcp",port="443"} 800',
      'ctevents_events_total{type="update"} 20',
      'ctevents_events_lost_total 4',
      'ctevents_mirror_resyncs_total 2',
      'ctevents_top_destination_port_entries{rank="2",port="53"} 90',
      'ctevents_diagnosis{diagnosis="non_assured_flood"} 1',
      'ctevents_diagnosis{diagnosis="events_lost"} 1',
      'ctevents_diagnosis{diagnosis="ok"} 0',
    ]) {
      expect(lines, l).toContain(l);
    }
    expect(body).not.toContain('ctevents_guard_actions');
    expect(body).not.toContain('netns=');
  });

  it('bounds top-N by the option', () => {
    const body = renderMetrics([fakeSource()], 'prometheus', { top: 1 });
    expect(body.match(/^ctevents_top_source_entries\{/gm)).toHaveLength(1);
  });

  it('labels every sample with netns when there are several namespaces, keeping families contiguous', () => {
    const body = renderMetrics([fakeSource('a'), fakeSource('b')], 'prometheus');
    for (const l of body.split('\n')) if (l && !l.startsWith('#')) expect(l).toMatch(/netns="[ab]"/);
    const names = body.split('\n').filter((l) => l.startsWith('# TYPE ')).map((l) => l.split(' ')[2]);
    expect(new Set(names).size).toBe(names.length);
  });

  it('shows guard actions when a guard hook is present', () => {
    const body = renderMetrics([fakeSource(undefined, { guardActions: () => new Map([['evict', 42]]) })], 'openmetrics');
    expect(body).toContain('# TYPE ctevents_guard_actions counter\nctevents_guard_actions_total{action="evict"} 42\n');
    expect(body.endsWith('# EOF\n')).toBe(true);
  });

  it('renders before the first kernel sample without failing', () => {
    const body = renderMetrics([fakeSource(undefined, { kernel: () => undefined, diagnoses: () => ['unknown'] })], 'prometheus');
    expect(body).toContain('ctevents_up 0\n');
    expect(body).not.toMatch(/^node_nf_conntrack_entries /m);
  });

  it.skipIf(!hasPromtool)('passes promtool check metrics (one and several namespaces)', () => {
    for (const body of [renderMetrics([fakeSource()], 'prometheus'), renderMetrics([fakeSource('a'), fakeSource('b')], 'prometheus')]) {
      const r = promtoolCheck(body);
      expect(r.output).toBe('');
      expect(r.ok).toBe(true);
    }
  });
});

describe('diagnosis labels', () => {
  const sample = (entries: number, f: Partial<CpuTotals>, mirror?: Partial<MirrorCounters>): PressureSample => ({
    timeMs: 0,
    entries,
    max: 1000,
    buckets: 1000,
    stats: { ...zeroTotals(), ...f },
    ...(mirror ? { mirror: { size: entries, new: 0, destroy: 0, lost: 0, destroyedUnexpired: 0, inSync: true, assured: 0, notAssured: entries, ...mirror } } : {}),
  });
  const later = (s: PressureSample): PressureSample => ({ ...s, timeMs: 1000 });
  it.each([
    [undefined, sample(10, {}), ['ok']],
    [undefined, sample(950, {}), ['filling']],
    [sample(10, {}), sample(20, {}), ['ok']],
    [sample(1000, { drop: 5 }), sample(1000, { drop: 9 }), ['full_not_evictable']],
    [sample(1000, { drop: 5, early_drop: 1 }), sample(1000, { drop: 5, early_drop: 40 }), ['non_assured_flood']],
    [sample(100, { chaintoolong: 1 }), sample(100, { chaintoolong: 2 }), ['chains_too_long']],
    [sample(100, { drop: 1 }), sample(100, { drop: 9 }), ['ok']],
    [sample(960, {}), sample(960, {}), ['filling']],
    [sample(990, {}, { destroyedUnexpired: 0 }), sample(990, {}, { destroyedUnexpired: 50 }), ['gc_evicting']],
    [sample(10, {}, { lost: 0 }), sample(10, {}, { lost: 7, inSync: false }), ['events_lost']],
  ] as const)('%#', (prev, cur, want) => {
    expect(diagnosisLabels(analyze(prev, prev ? later(cur) : cur))).toEqual(want);
  });

  it('is unknown before the first analysis, and every label is one of DIAGNOSES', () => {
    expect(diagnosisLabels(undefined)).toEqual(['unknown']);
    const r = analyze(sample(1000, { drop: 1, early_drop: 1, chaintoolong: 1 }), later(sample(1000, { drop: 90, early_drop: 2, chaintoolong: 5 })));
    const labels = diagnosisLabels(r);
    expect(labels.length).toBeGreaterThan(1);
    for (const l of labels) expect(DIAGNOSES).toContain(l);
  });
});

describe('command line', () => {
  it('parses --listen forms', () => {
    expect(parseListen('127.0.0.1:9101')).toEqual({ host: '127.0.0.1', port: 9101 });
    expect(parseListen('[::1]:80')).toEqual({ host: '::1', port: 80 });
    expect(parseListen(':0')).toEqual({ host: '127.0.0.1', port: 0 });
    expect(parseListen('localhost:9')).toEqual({ host: 'localhost', port: 9 });
    for (const bad of ['9101', '1.2.3.4:', '1.2.3.4:70000', '::1:80', '[::1]', 'a:b']) expect(() => parseListen(bad), bad).toThrow(UsageError);
  });

  it('parses options and refuses bad ones', () => {
    const o = parseMetricsArgs(['--netns', 'a', '--netns', 'b', '--top', '3', '--interval', '0.5']);
    expect(o).toMatchObject({ host: '127.0.0.1', port: 9101, netns: ['a', 'b'], top: 3, intervalMs: 500, maxConnections: 512 });
    for (const bad of [['--top', '-1'], ['--top', '5000'], ['--interval', '0'], ['--bogus'], ['extra'], ['--netns', 'a', '--netns', 'a'], ['--max-connections', 'x']]) {
      expect(() => parseMetricsArgs(bad), bad.join(' ')).toThrow(UsageError);
    }
  });
});

// ---------------------------------------------------------------------------------------
// The HTTP server on a fake source (no kernel)

function get(port: number, path: string, opts: { method?: string; headers?: Record<string, string> } = {}): Promise<{ status: number; headers: Record<string, unknown>; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method: opts.method ?? 'GET', headers: opts.headers, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('MetricsServer', () => {
  it('routes, negotiates, refuses methods and unknown paths, reports health', async () => {
    let sync = true;
    const server = new MetricsServer([fakeSource(undefined, { inSync: () => sync })]);
    const { port } = await server.listen('127.0.0.1', 0);
    try {
      const m = await get(port, '/metrics');
      expect(m.status).toBe(200);
      expect(m.headers['content-type']).toBe('text/plain; version=0.0.4; charset=utf-8');
      expect(m.body).toContain('node_nf_conntrack_entries 1500\n');
      const om = await get(port, '/metrics?x=1', { headers: { accept: 'application/openmetrics-text; version=1.0.0' } });
      expect(om.headers['content-type']).toBe('application/openmetrics-text; version=1.0.0; charset=utf-8');
      expect(om.body.endsWith('# EOF\n')).toBe(true);
      const head = await get(port, '/metrics', { method: 'HEAD' });
      expect(head.status).toBe(200);
      expect(head.body).toBe('');
      expect(Number(head.headers['content-length'])).toBe(Buffer.byteLength(m.body));
      const index = await get(port, '/');
      expect(index.headers['content-type']).toContain('text/html');
      expect(index.body).toContain('href="/metrics"');
      expect((await get(port, '/healthz')).status).toBe(200);
      sync = false;
      expect((await get(port, '/healthz')).status).toBe(503);
      expect((await get(port, '/nope')).status).toBe(404);
      for (const method of ['POST', 'PUT', 'DELETE', 'OPTIONS']) {
        const r = await get(port, '/metrics', { method });
        expect(r.status).toBe(405);
        expect(r.headers.allow).toBe('GET, HEAD');
      }
    } finally {
      await server.close();
    }
  });

  it('answers 431 to oversized headers and 500 when rendering fails, and keeps serving', async () => {
    let fail = false;
    const server = new MetricsServer([fakeSource(undefined, { events: () => { if (fail) throw new Error('boom'); return { new: 0, update: 0, destroy: 0, lost: 0, overruns: 0 }; } })], { onError: () => {} });
    const { port } = await server.listen('127.0.0.1', 0);
    try {
      const big = await get(port, '/metrics', { headers: { 'x-big': 'a'.repeat(20_000) } }).catch((e) => ({ status: -1, body: String(e) }));
      expect([431, -1]).toContain(big.status);
      fail = true;
      expect((await get(port, '/metrics')).status).toBe(500);
      fail = false;
      expect((await get(port, '/metrics')).status).toBe(200);
    } finally {
      await server.close();
    }
  });

  it('evicts the oldest idle connection when full, so a scraper always gets in', async () => {
    const server = new MetricsServer([fakeSource()], { maxConnections: 20 });
    const { port } = await server.listen('127.0.0.1', 0);
    const socks = [];
    try {
      for (let i = 0; i < 40; i++) {
        const s = connect(port, '127.0.0.1');
        s.on('error', () => {});
        s.write('GET /metrics HTTP/1.1\r\nHost: x\r\n'); // never finished
        socks.push(s);
      }
      await new Promise((r) => setTimeout(r, 200));
      const r = await get(port, '/metrics');
      expect(r.status).toBe(200);
      expect(server.stats.evicted).toBeGreaterThan(0);
    } finally {
      for (const s of socks) s.destroy();
      await server.close();
    }
  });
});
