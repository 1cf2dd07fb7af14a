/**
 * deploy/: the Prometheus alert rules pass `promtool check rules` and their unit tests
 * (`promtool test rules`), and every series the rules and the Grafana dashboard query is
 * one `ctevents metrics` serves.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { renderMetrics } from '../src/metrics/render.js';
import type { MetricsSource } from '../src/metrics/source.js';

const root = new URL('..', import.meta.url).pathname;
const rulesDir = join(root, 'deploy/prometheus');
const hasPromtool = spawnSync('promtool', ['--version']).status === 0;
if (!hasPromtool) console.warn('metrics-deploy.test.ts: promtool not installed (Debian package prometheus): rule checks skipped');

/** Every sample name we serve (with a guard hook, so every family is present). */
function servedNames(): Set<string> {
  const src: MetricsSource = {
    netns: undefined,
    inSync: () => true,
    mirrorEntries: () => 1,
    resyncs: () => 0,
    counts: () => ({ protocol: new Map([['tcp', 1]]), tcpState: new Map([['ESTABLISHED', 1]]), assured: 1, notAssured: 0, zone: new Map([['0', 1]]) }),
    topSources: () => [{ key: '10.0.0.1', entries: 1 }],
    topDestinationPorts: () => [{ key: '80', protocol: 'tcp', entries: 1 }],
    events: () => ({ new: 1, update: 0, destroy: 0, lost: 0, overruns: 0 }),
    kernel: () => ({ entries: 1, max: 10, cpus: [{ cpu: 0 }], buckets: 10, entryBytes: 256, sampledAt: Date.now() }),
    diagnoses: () => ['ok'],
    guardActions: () => new Map([['evict', 1]]),
  };
  const names = new Set<string>();
  for (const line of renderMetrics([src], 'prometheus').split('\n')) if (line && !line.startsWith('#')) names.add(line.split(/[{ ]/, 1)[0]!);
  return names;
}

function referenced(text: string): string[] {
  return [...new Set(text.match(/\b(?:ctevents_[a-z_]+|node_nf_conntrack_[a-z_]+)\b/g) ?? [])];
}

describe('deploy/', () => {
  it.skipIf(!hasPromtool)('alert rules pass promtool check rules and their unit tests', () => {
    const check = spawnSync('promtool', ['check', 'rules', 'ctevents-alerts.yml'], { cwd: rulesDir, encoding: 'utf8' });
    expect(check.stdout + check.stderr).toContain('SUCCESS: 6 rules found');
    expect(check.status).toBe(0);
    const test = spawnSync('promtool', ['test', 'rules', 'ctevents-alerts.test.yml'], { cwd: rulesDir, encoding: 'utf8' });
    expect(test.stdout + test.stderr).toContain('SUCCESS');
    expect(test.status).toBe(0);
  });

  it('the rules cover the four conditions and query only served series', () => {
    const text = readFileSync(join(rulesDir, 'ctevents-alerts.yml'), 'utf8');
    for (const a of ['ConntrackTableAbove90Percent', 'ConntrackDropsRising', 'ConntrackFullNoEarlyDrop', 'ConntrackEventsLost']) expect(text).toContain(`alert: ${a}`);
    const served = servedNames();
    for (const name of referenced(text.replace(/^\s*#.*$/gm, ''))) expect(served, name).toContain(name);
  });

  it('the Grafana dashboard is valid JSON with unique panel ids and queries only served series', () => {
    const d = JSON.parse(readFileSync(join(root, 'deploy/grafana/ctevents-dashboard.json'), 'utf8')) as {
      title: string;
      uid: string;
      panels: { id: number; type: string; gridPos: object; targets?: { expr: string }[] }[];
    };
    expect(d.uid).toBe('ctevents-conntrack');
    const ids = d.panels.map((p) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
    const served = servedNames();
    let exprs = 0;
    for (const p of d.panels) {
      expect(p.gridPos).toBeDefined();
      for (const t of p.targets ?? []) {
        exprs++;
        for (const name of referenced(t.expr)) expect(served, `${p.type} panel: ${name}`).toContain(name);
      }
    }
    expect(exprs).toBeGreaterThan(10);
  });
});
