/**
 * The CLI executable users run (`npx ctevents`, package.json `bin`): dist/cli/ctevents.cjs,
 * made from dist/ by tools/bundle.mjs (issue 14, start-up).
 *
 * - It is built from the current dist/: `node tools/bundle.mjs --check` regenerates it in
 *   memory and compares (a stale bundle is a clear failure naming the fix, never silent).
 * - Its V8 code cache is accepted by this Node (every module), so the start-up figures are
 *   the cached ones.
 * - It behaves as the ESM entry dist/cli/ctevents.js, byte for byte: offline (help,
 *   version, completion, usage errors, `read` in every format, from a file and from stdin)
 *   and live (as root, in a throwaway namespace with entries in it: dump in every format,
 *   stats, get, create/update/delete, top and watch), with only times normalised.
 * - Modules stay lazy: `--version` evaluates none of the live, read or format modules.
 */
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createNetns, liveSkipReason, tcpConnection, udpFlows, type Netns } from './helpers/live.js';

const root = new URL('..', import.meta.url).pathname;
const BUNDLE = join(root, 'dist/cli/ctevents.cjs');
const ESM = join(root, 'dist/cli/ctevents.js');
const capture = join(root, 'captures', readdirSync(join(root, 'captures')).find((f) => f.endsWith('tcp-ipv4.pcap'))!);

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function run(bin: string, args: string[], input?: Buffer): Run {
  const r = spawnSync(process.execPath, [bin, ...args], { input, encoding: 'utf8', maxBuffer: 1 << 26, timeout: 60_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Elapsed times and rates in the summary line differ from run to run. */
function normalise(r: Run): Run {
  const t = (s: string) => s.replace(/\d+(\.\d+)? s\b/g, 'T s').replace(/\d+ (events|messages|entries)\/s/g, 'R $1/s');
  return { code: r.code, stdout: r.stdout, stderr: t(r.stderr) };
}

/** Live output also differs in what time changes between two runs: clocks, timeouts ticking down, sequence numbers and port ids. */
function normaliseLive(r: Run): Run {
  const t = (s: string) =>
    s
      .replace(/\d\d:\d\d:\d\d\.\d{6}/g, 'HH:MM:SS.US')
      .replace(/"time":"[^"]*"/g, '"time":"T"')
      .replace(/"(timestampNs|seq|pid|timeout)":"?\d+"?/g, '"$1":N')
      .replace(/timeout=\d+/g, 'timeout=N')
      .replace(/<timeout>\d+<\/timeout>/g, '<timeout>N</timeout>')
      .replace(/^((?:\[[A-Z]+\]\s+)?(?:ipv[46]\s+\d+\s+)?\w+\s+\d+ )\d+ /gm, '$1N ');
  const n = normalise(r);
  return { code: n.code, stdout: t(n.stdout), stderr: t(n.stderr) };
}

function same(args: string[], input?: Buffer): Run {
  const live = args.includes('--netns');
  const b = (live ? normaliseLive : normalise)(run(BUNDLE, args, input));
  const e = (live ? normaliseLive : normalise)(run(ESM, args, input));
  expect(b, `ctevents ${args.join(' ')}: the bundle and the ESM entry differ`).toEqual(e);
  return b;
}

describe('the bundled executable', () => {
  it('is built from the current dist/ (else: npm run build)', () => {
    const r = spawnSync(process.execPath, [join(root, 'tools/bundle.mjs'), '--check'], { encoding: 'utf8' });
    expect(r.stderr, 'dist/cli/ctevents.cjs is stale: run npm run build').toBe('');
    expect(r.status).toBe(0);
  });

  it('package.json bin points to it', () => {
    const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { bin: Record<string, string>; files: string[] };
    expect(pkg.bin.ctevents).toBe('./dist/cli/ctevents.cjs');
    for (const f of ['dist/cli/ctevents.cjs', 'dist/cli/ctevents.bundle', 'dist/cli/ctevents.v8cache']) expect(pkg.files).toContain(f);
  });

  it('its V8 code cache is accepted by this Node for every module', () => {
    // What the loader does, module by module, reporting V8's verdict.
    const script = `
      const fs = require('node:fs'), vm = require('node:vm'), path = require('node:path');
      const dir = ${JSON.stringify(join(root, 'dist/cli'))};
      const cjs = fs.readFileSync(path.join(dir, 'ctevents.cjs'), 'utf8');
      const keys = JSON.parse(cjs.match(/^const KEYS = (.*);$/m)[1]);
      const index = JSON.parse(cjs.match(/^const INDEX = (.*);$/m)[1]);
      const text = fs.readFileSync(path.join(dir, 'ctevents.bundle'));
      const c = fs.readFileSync(path.join(dir, 'ctevents.v8cache'));
      const rejected = []; let end = 0;
      if (c.latin1Slice(0, 8) !== 'CTEVV8C2' || c.readUInt32LE(72) !== keys.length) throw new Error('not a CTEVV8C2 cache for these keys');
      for (const [i, k] of keys.entries()) {
        if (index[k][2] !== i) throw new Error('INDEX position of ' + k);
        const off = c.readUInt32LE(76 + 8 * i), n = c.readUInt32LE(80 + 8 * i);
        const s = new vm.Script(text.utf8Slice(index[k][0], index[k][0] + index[k][1]), { filename: k, cachedData: c.subarray(off, off + n) });
        if (s.cachedDataRejected) rejected.push(k);
        end = Math.max(end, off + n);
      }
      console.log(JSON.stringify({ modules: keys.length, rejected, end: end === c.length }));`;
    const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8' });
    expect(r.stderr).toBe('');
    const out = JSON.parse(r.stdout) as { modules: number; rejected: string[]; end: boolean };
    expect(out.modules).toBeGreaterThan(50);
    expect(out.rejected).toEqual([]);
    expect(out.end).toBe(true);
  });

  it('--version evaluates only what it needs (lazy modules stay lazy)', () => {
    // Count the module texts the loader compiles: vm.Script is its only compiler.
    const probe = `
      const vm = require('node:vm'); const seen = [];
      const S = vm.Script; vm.Script = class extends S { constructor(src, o) { super(src, o); seen.push(o.filename); } };
      process.on('exit', () => process.stderr.write(JSON.stringify(seen.map((f) => f.split('/dist/')[1]))));
      require(${JSON.stringify(BUNDLE)});`;
    // argv: [node, 'x', '--version'] (-e has no script path), so main() sees ['--version'].
    const r = spawnSync(process.execPath, ['-e', probe, 'x', '--version'], { encoding: 'utf8', timeout: 30_000 });
    expect(r.stdout).toMatch(/^ctevents \d+\.\d+\.\d+/);
    const loaded = JSON.parse(r.stderr) as string[];
    expect(loaded).toContain('cli/main.js');
    for (const lazy of ['cli/session.js', 'cli/live.js', 'cli/read.js', 'format/index.js', 'pcap/reader.js', 'cli/top.js']) expect(loaded).not.toContain(lazy);
  });

  it('loads every module of ours from the bundle, never a file of dist/ beside it', () => {
    // A relative require the bundle missed would load the ESM file (Node 20 can require ESM):
    // a second copy of its modules, with its own classes (instanceof UsageError fails).
    const probe = (args: string[]) => `
      process.on('exit', () => process.stderr.write('\\nCACHE ' + JSON.stringify(Object.keys(require.cache))));
      require(${JSON.stringify(BUNDLE)});`;
    for (const args of [['help', 'top'], ['top', '--bogus'], ['guard', '--bogus'], ['delete', '--bogus'], ['metrics', '--bogus'], ['completion', 'bash'], ['read', capture, '--format', 'xml']]) {
      const r = spawnSync(process.execPath, ['-e', probe(args), 'x', ...args], { encoding: 'utf8', timeout: 30_000 });
      const cache = JSON.parse(/\nCACHE (.*)$/.exec(r.stderr)![1]!) as string[];
      expect(cache, args.join(' ')).toEqual([BUNDLE]);
    }
  });

  describe('behaves as the ESM entry, offline', () => {
    const cases: string[][] = [
      ['--version'],
      ['--help'],
      ['help', 'dump'],
      ['help', 'top'],
      ['help', 'metrics'],
      ['completion', 'bash'],
      ['completion', 'zsh'],
      ['--nope'],
      ['dump', '--format', 'nope'],
      ['top', '--bogus'],
      ['guard', '--bogus'],
      ['delete', '--bogus'],
      ['metrics', '--listen', 'nope'],
      ['help', 'flush'],
      ['read'],
      ['read', '/nonexistent.pcap'],
      ['read', capture],
      ['read', capture, '--format', 'json'],
      ['read', capture, '--format', 'conntrack'],
      ['read', capture, '--format', 'xml'],
      ['read', capture, '--count', '2', '--proto', 'tcp'],
    ];
    for (const args of cases) it(`ctevents ${args.join(' ')}`, () => void same(args));

    it('ctevents read - (from stdin)', () => {
      const r = same(['read', '-', '--format', 'json'], readFileSync(capture));
      expect(r.code).toBe(0);
      expect(r.stdout.length).toBeGreaterThan(0);
    });
  });
});

const skip = liveSkipReason();
if (skip) console.log(`cli.bundle live: skipped (${skip})`);

describe.skipIf(skip !== undefined)('behaves as the ESM entry, live', () => {
  let ns: Netns;
  beforeAll(() => {
    ns = createNetns({ prefix: 'ctev-bundle' });
    udpFlows(ns, 40000, 5);
    tcpConnection(ns);
    const made = run(ESM, ['create', '--netns', ns.name, ...KNOWN, '--timeout', '300']);
    if (made.code !== 0) throw new Error(`create failed: ${made.stderr}`);
  });
  afterAll(() => ns?.remove());

  const n = () => ['--netns', ns.name];
  /** An entry created by the test, so that get has a tuple to ask for. */
  const KNOWN = ['--proto', 'udp', '--src', '10.1.1.1', '--dst', '10.1.1.2', '--sport', '1000', '--dport', '2000'];
  for (const format of ['text', 'json', 'conntrack', 'xml']) {
    it(`dump --format ${format}`, () => {
      const r = same(['dump', ...n(), '--format', format]);
      expect(r.code).toBe(0);
      if (format !== 'xml') expect(r.stdout.trim().split('\n').length).toBeGreaterThanOrEqual(6);
    });
  }

  it('dump with kernel filters, --output extended,id', () => void same(['dump', ...n(), '--proto', 'udp', '--dport', '40001', '--format', 'conntrack', '-o', 'extended,id']));
  it('stats --format conntrack', () => void same(['stats', ...n(), '--format', 'conntrack']));
  it('stats (text)', () => void same(['stats', ...n()]));
  it('get', () => {
    const r = same(['get', ...n(), ...KNOWN, '--format', 'json']);
    expect(r.code, r.stderr).toBe(0);
  });
  it('get of a missing entry (the error line)', () => {
    const r = same(['get', ...n(), '--proto', 'udp', '--src', '127.0.0.9', '--dst', '127.0.0.9', '--sport', '1', '--dport', '2']);
    expect(r.code).toBe(1);
  });
  it('create, update, delete --dry-run, delete', () => {
    const tuple = ['--proto', 'udp', '--src', '10.9.9.9', '--dst', '10.9.9.8', '--sport', '7', '--dport', '8'];
    const b = normalise(run(BUNDLE, ['create', ...n(), ...tuple, '--timeout', '100']));
    expect(b.code, b.stderr).toBe(0);
    expect(normalise(run(ESM, ['create', ...n(), ...tuple, '--timeout', '100']))).toEqual({ ...b, code: 1, stdout: expect.any(String), stderr: expect.stringMatching(/exist/i) });
    same(['update', ...n(), ...tuple, '--mark', '5']);
    same(['delete', ...n(), '--mark', '5', '--dry-run']);
    const del = normalise(run(BUNDLE, ['delete', ...n(), '--mark', '5']));
    expect(del.code, del.stderr).toBe(0);
    expect(run(ESM, ['get', ...n(), ...tuple]).code).toBe(1);
  });
  it('top --count 1 --format json', () => {
    const b = run(BUNDLE, ['top', ...n(), '--count', '1', '--format', 'json']);
    const e = run(ESM, ['top', ...n(), '--count', '1', '--format', 'json']);
    expect(b.code, b.stderr).toBe(e.code);
    const keys = (s: string) => s.trim().split('\n').map((l) => Object.keys(JSON.parse(l) as object).sort().join(','));
    expect(keys(b.stdout)).toEqual(keys(e.stdout));
  });

  it('watch: the same events', async () => {
    const watch = (bin: string) => {
      const p = spawn(process.execPath, [bin, ...n(), '--events', 'new', '--format', 'conntrack', '--count', '3'], { stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      let err = '';
      p.stdout.on('data', (d: Buffer) => (out += d.toString()));
      p.stderr.on('data', (d: Buffer) => (err += d.toString()));
      return { done: new Promise<Run>((resolve) => p.on('close', (code) => resolve({ code, stdout: out, stderr: err }))) };
    };
    const a = watch(BUNDLE);
    const b = watch(ESM);
    // Both subscribe before the traffic (a NEW event is not queued for a later subscriber): wait until the sockets exist.
    await new Promise((r) => setTimeout(r, 1500));
    udpFlows(ns, 41000, 3);
    const [ra, rb] = await Promise.all([a.done, b.done]);
    expect(ra.code, ra.stderr).toBe(0);
    expect(normalise(ra)).toEqual(normalise(rb));
    expect(ra.stdout.trim().split('\n')).toHaveLength(3);
  });
});
