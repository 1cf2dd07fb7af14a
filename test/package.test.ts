/**
 * The package as a user gets it.
 *
 * - Types: a tiny consumer project imports every public entry point (`ctevents`,
 *   `ctevents/codec`, `ctevents/pcap`, `ctevents/format`, `ctevents/constants`) and is
 *   type-checked with moduleResolution node16, nodenext and bundler (needs dist/: run
 *   `npm run build` first, as for the README test).
 * - Contents: `npm pack --dry-run` lists dist JavaScript and declarations, the addon's C
 *   source, binding.gyp and its build script, and nothing built on the packer's machine.
 * - Install (live, root): `npm install <tarball>` in an empty project builds the addon, and
 *   the README's library examples run there against the kernel.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createNetns, liveSkipReason } from './helpers/live.js';

const root = new URL('..', import.meta.url).pathname;
const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
const temps: string[] = [];
afterAll(() => {
  for (const d of temps) rmSync(d, { recursive: true, force: true });
});

function tempDir(prefix: string): string {
  const d = mkdtempSync(join(tmpdir(), prefix));
  temps.push(d);
  return d;
}

const CONSUMER = `
import { ConntrackClient, NetlinkError, AF_INET, IPS_ASSURED, statusNames, type Conntrack, type EventItem, type CtTimeout } from 'ctevents';
import { decodeDatagram, encodeMessage, dumpRequest, decodeNfnlDatagram, timeoutDefaultGetRequest, type Message } from 'ctevents/codec';
import { readNetlinkDatagrams, PcapWriter, type CaptureSource } from 'ctevents/pcap';
import { createFormatter, type FormatOptions, type LineFormatter } from 'ctevents/format';
import { NLM_F_DUMP, CTA_TIMEOUT_DATA, IPCTNL_MSG_CT_NEW, NFNL_SUBSYS_CTNETLINK_TIMEOUT } from 'ctevents/constants';

export async function use(): Promise<number> {
  const ct: ConntrackClient = await ConntrackClient.open();
  const entry: Conntrack | undefined = await ct.get({ family: AF_INET, orig: { src: '192.0.2.1', dst: '192.0.2.2', proto: 6, srcPort: 1, dstPort: 2 } });
  const names: string[] = statusNames(entry?.status ?? IPS_ASSURED);
  const item: EventItem | undefined = undefined;
  const t: CtTimeout = { name: 'x', l3proto: AF_INET, l4proto: 17, policy: { unreplied: 1 } };
  const ms: Message[] = decodeDatagram(encodeMessage(dumpRequest({ family: AF_INET })));
  const any = decodeNfnlDatagram(new Uint8Array(0));
  const src: CaptureSource = 'x.pcap';
  for await (const rec of readNetlinkDatagrams(src)) void rec.data;
  const opts: FormatOptions = { conntrack: {} };
  const f: LineFormatter = createFormatter('json', opts);
  void [names, item, t, ms, any, f, PcapWriter, NetlinkError, timeoutDefaultGetRequest, NLM_F_DUMP, CTA_TIMEOUT_DATA, IPCTNL_MSG_CT_NEW, NFNL_SUBSYS_CTNETLINK_TIMEOUT];
  await ct.close();
  return ms.length;
}
`;

describe('package types', () => {
  const built = existsSync(join(root, 'dist', 'codec.d.ts'));
  for (const resolution of ['node16', 'nodenext', 'bundler'] as const) {
    it.skipIf(!built)(`resolve under moduleResolution ${resolution}`, { timeout: 120_000 }, () => {
      const dir = tempDir(`ctev-types-${resolution}-`);
      mkdirSync(join(dir, 'node_modules', '@types'), { recursive: true });
      symlinkSync(root, join(dir, 'node_modules', 'ctevents'));
      symlinkSync(join(root, 'node_modules', '@types', 'node'), join(dir, 'node_modules', '@types', 'node'));
      writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'consumer', type: 'module', private: true }));
      const module = resolution === 'bundler' ? 'esnext' : resolution;
      writeFileSync(
        join(dir, 'tsconfig.json'),
        JSON.stringify({ compilerOptions: { target: 'es2022', module, moduleResolution: resolution, strict: true, noEmit: true, skipLibCheck: false }, files: ['index.ts'] }),
      );
      writeFileSync(join(dir, 'index.ts'), CONSUMER);
      let out = '';
      try {
        out = execFileSync(process.execPath, [tsc, '-p', dir], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
      } catch (e) {
        const err = e as { stdout?: string; stderr?: string };
        expect.fail(`tsc (${resolution}) failed:\n${err.stdout ?? ''}${err.stderr ?? ''}`);
      }
      expect(out).toBe('');
    });
  }
  if (!built) console.warn('package.test.ts: dist/ is not built (npm run build): type resolution skipped');
});

describe('package contents', () => {
  it('exports the five entry points and ships only what a user needs', () => {
    const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { exports: Record<string, unknown>; files: string[] };
    expect(Object.keys(pkg.exports).sort()).toEqual(['.', './codec', './constants', './format', './package.json', './pcap']);
    expect(pkg.files.some((f) => f === 'src' || f === 'dist' || f.startsWith('src/native/build/'))).toBe(false);
    expect(existsSync(join(root, 'LICENSE'))).toBe(true);
  });
});

const skip = liveSkipReason();
if (skip) console.warn(`package.test.ts (install): ${skip}`);

describe.skipIf(skip !== undefined)('npm install <tarball> (live)', () => {
  it('packs, installs in an empty project, builds the addon and runs the README examples', { timeout: 600_000 }, () => {
    const packDir = tempDir('ctev-pack-');
    // --ignore-scripts: pack what dist/ holds now instead of rebuilding it under the other tests.
    const json = execFileSync('npm', ['pack', '--json', '--ignore-scripts', '--pack-destination', packDir], { cwd: root, encoding: 'utf8' });
    const info = (JSON.parse(json) as { filename: string; files: { path: string }[] }[])[0]!;
    const paths = info.files.map((f) => f.path);
    expect(paths).toContain('src/native/nlsock.c');
    expect(paths).toContain('src/native/binding.gyp');
    expect(paths).toContain('src/native/build.mjs');
    expect(paths).toContain('LICENSE');
    expect(paths).toContain('dist/index.d.ts');
    expect(paths).toContain('schema/ctevents.schema.json');
    expect(paths).toContain('man/ctevents.1');
    // The executable (bin) and what it loads: the bundled modules and their V8 code cache.
    for (const f of ['dist/cli/ctevents.cjs', 'dist/cli/ctevents.bundle', 'dist/cli/ctevents.v8cache']) expect(paths).toContain(f);
    // The library's entries (package.json exports default): the façades, their loader, the bundle and its cache.
    for (const f of ['index', 'codec', 'pcap', 'format', 'constants']) expect(paths).toContain(`dist/lib/${f}.mjs`);
    for (const f of ['dist/lib/ctevents.cjs', 'dist/lib/ctevents.bundle', 'dist/lib/ctevents.v8cache']) expect(paths).toContain(f);
    for (const p of paths) {
      expect(p, p).not.toMatch(/^src\/native\/build\/|build\.log$|\.map$|^dist\/bench|^bench\/|^test\/|readme-examples|\.node$/);
      expect(p.startsWith('dist/') || p.startsWith('src/native/') || p.startsWith('schema/') || p.startsWith('man/') || ['LICENSE', 'README.md', 'package.json'].includes(p), p).toBe(true);
    }
    const app = tempDir('ctev-app-');
    writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'app', private: true, type: 'module' }));
    execFileSync('npm', ['install', '--no-audit', '--no-fund', '--offline', join(packDir, info.filename)], { cwd: app, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    const installed = join(app, 'node_modules', 'ctevents');
    expect(existsSync(join(installed, 'src', 'native', 'build', 'Release', 'nlsock.node'))).toBe(true);

    const readme = readFileSync(join(root, 'README.md'), 'utf8');
    const blocks = [...readme.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]!);
    const run = (name: string, code: string) => {
      const file = join(app, `${name}.mjs`);
      writeFileSync(file, code);
      return execFileSync(process.execPath, [file], { cwd: app, encoding: 'utf8', timeout: 60_000 });
    };
    const capture = join(root, 'captures', 'tcp-ipv4.pcap');
    const codec = run('codec', `${blocks[1]!.replace("'captures/tcp-ipv4.pcap'", JSON.stringify(capture))}\nconsole.log('bytes', bytes.length);\n`);
    expect(codec).toMatch(/^new \{/m);
    expect(codec).toMatch(/^bytes \d+$/m);
    // The installed bin (what `npx ctevents` runs): its version from the installed package.json, offline decoding.
    const bin = join(app, 'node_modules', '.bin', 'ctevents');
    const version = (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string }).version;
    expect(execFileSync(bin, ['--version'], { cwd: app, encoding: 'utf8' })).toBe(`ctevents ${version}\n`);
    expect(execFileSync(bin, ['read', capture, '--format', 'conntrack'], { cwd: app, encoding: 'utf8' })).toBe(
      execFileSync(process.execPath, [join(root, 'dist/cli/ctevents.js'), 'read', capture, '--format', 'conntrack'], { encoding: 'utf8' }),
    );
    const ns = createNetns();
    try {
      // ... and live, through the addon the install built (found from the bundle's place in the package).
      expect(execFileSync(bin, ['dump', '--netns', ns.name], { cwd: app, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] })).toBe('');
      const code = blocks[0]!.replace("netns: 'blue'", `netns: '${ns.name}'`).replace('10_000', '300');
      const out = run('client', `${code}\nconsole.log('done', entries, maxEntries, perCpu.length, entry.mark ?? 0);\n`);
      expect(out).toMatch(/^done 0 \d+ \d+ 0$/m);
    } finally {
      ns.remove();
    }
  });
});
