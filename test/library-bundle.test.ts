/**
 * The library's public entries load from one bundle (issue 14, library start-up):
 * package.json "exports" `default` (and "main") point to the ESM façades dist/lib/*.mjs,
 * which re-export the modules of dist/lib/ctevents.bundle through ONE loader,
 * dist/lib/ctevents.cjs (tools/bundle.mjs, tools/bundle-facade.mjs).
 *
 * - Each façade exports exactly what tsc's ESM module of its entry exports (names, and per
 *   name the same kind of value: function or class with the same name, arity and
 *   members; objects with the same tag and keys; primitives equal).
 * - One module registry: a name several entries export is the same object from each.
 * - `import 'ctevents'` loads no file of dist/ but the façade and the loader (the loader
 *   reads the bundle and its V8 cache itself), and the cache is accepted for every module
 *   and trained (a client's open and dump at build time, against a stand-in kernel).
 * - `node tools/bundle.mjs --check` fails on a stale library bundle, façade or
 *   package.json pointer (checked on a copy of the package).
 * - The builtins only cold paths use are not loaded at import, and work when used.
 * - Live (root): a client opened from 'ctevents' dumps a throwaway namespace's entries.
 *
 * Everything runs in a child `node` in the package root, where 'ctevents' resolves by
 * self-reference through package.json "exports", as it does for a user.
 */
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, symlinkSync, unlinkSync, writeFileSync, appendFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createNetns, liveSkipReason, udpFlows, type Netns } from './helpers/live.js';

const root = new URL('..', import.meta.url).pathname;
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
  main: string;
  files: string[];
  exports: Record<string, { types: string; default: string } | string>;
};
const entries = Object.entries(pkg.exports).flatMap(([subpath, c]) => (typeof c === 'string' ? [] : [{ subpath, specifier: subpath === '.' ? 'ctevents' : `ctevents/${subpath.slice(2)}`, types: c.types, facade: c.default }]));

/** Runs an ES module script in a child node in the package root; its stdout parsed as JSON. */
function probe<T>(script: string, args: string[] = []): T {
  const r = spawnSync(process.execPath, [...args, '--input-type=module', '-e', script], { cwd: root, encoding: 'utf8', timeout: 60_000 });
  expect(r.stderr).toBe('');
  expect(r.status).toBe(0);
  return JSON.parse(r.stdout) as T;
}

/** What a value is, comparable between the ESM module and the façade (classes are distinct objects in each). */
const DESCRIBE = `
function describe(v) {
  const t = typeof v;
  if (t === 'function') {
    return { t, class: /^class\\b/.test(Function.prototype.toString.call(v)), name: v.name, length: v.length,
      statics: Object.getOwnPropertyNames(v).sort(), proto: v.prototype ? Object.getOwnPropertyNames(v.prototype).sort() : null };
  }
  if (t === 'object' && v !== null) {
    let json;
    try { json = JSON.stringify(v, (_, x) => (typeof x === 'bigint' ? x + 'n' : x)); } catch { json = null; }
    return { t, tag: Object.prototype.toString.call(v), ctor: v.constructor?.name ?? null, keys: Object.keys(v), frozen: Object.isFrozen(v), json };
  }
  if (t === 'bigint' || t === 'symbol') return { t, v: String(v) };
  return { t, v: v === undefined ? null : v };
}`;

type Described = Record<string, unknown>;

describe('package.json points to the façades', () => {
  it('exports default and main are dist/lib/*.mjs, types stay tsc declarations, files ship the bundle', () => {
    expect(entries.map((e) => e.subpath)).toEqual(['.', './codec', './pcap', './format', './constants']);
    for (const e of entries) {
      expect(e.facade, e.subpath).toMatch(/^\.\/dist\/lib\/[a-z-]+\.mjs$/);
      expect(e.types, e.subpath).toMatch(/^\.\/dist\/(?!lib\/).+\.d\.ts$/);
    }
    expect(pkg.main).toBe('./dist/lib/index.mjs');
    for (const f of ['dist/lib/*.mjs', 'dist/lib/ctevents.cjs', 'dist/lib/ctevents.bundle', 'dist/lib/ctevents.v8cache']) expect(pkg.files).toContain(f);
  });

  it('the library files are built from the current dist/ (else: npm run build)', { timeout: 120_000 }, () => {
    const r = spawnSync(process.execPath, [join(root, 'tools/bundle.mjs'), '--check'], { encoding: 'utf8' });
    expect(r.stderr, 'the bundles are stale: run npm run build').toBe('');
    expect(r.status).toBe(0);
  });
});

describe('each façade exports what its ESM module exports', () => {
  for (const e of entries) {
    it(e.specifier, { timeout: 60_000 }, () => {
      const esm = `./${e.types.slice(2).replace(/\.d\.ts$/, '.js')}`;
      const out = probe<{ esm: Record<string, Described>; facade: Record<string, Described>; resolved: string }>(`
        ${DESCRIBE}
        const d = (ns) => Object.fromEntries(Object.keys(ns).map((k) => [k, describe(ns[k])]));
        const esm = await import(${JSON.stringify(esm)});
        const facade = await import(${JSON.stringify(e.specifier)});
        process.stdout.write(JSON.stringify({ esm: d(esm), facade: d(facade), resolved: import.meta.resolve(${JSON.stringify(e.specifier)}) }));`);
      expect(out.resolved).toBe(new URL(e.facade, `file://${root}`).href);
      expect(Object.keys(out.facade)).toEqual(Object.keys(out.esm));
      expect(Object.keys(out.esm).length).toBeGreaterThan(5);
      for (const name of Object.keys(out.esm)) expect(out.facade[name], `${e.specifier} ${name}`).toEqual(out.esm[name]);
    });
  }
});

describe('one module registry for every entry', () => {
  it('a name several entries export is the same object from each, as with the ESM modules (classes included)', { timeout: 60_000 }, () => {
    const out = probe<Record<'esm' | 'facade', { shared: Record<string, string[]>; different: string[] }>>(`
      const pairs = ${JSON.stringify(entries.map((e) => [e.specifier, `./${e.types.slice(2).replace(/\.d\.ts$/, '.js')}`]))};
      async function compare(which) {
        const mods = await Promise.all(pairs.map((p) => import(p[which])));
        const shared = {}; const different = [];
        for (const [i, m] of mods.entries()) for (const k of Object.keys(m)) {
          for (let j = 0; j < i; j++) if (k in mods[j]) {
            (shared[k] ??= [pairs[j][0]]).push(pairs[i][0]);
            if (mods[j][k] !== m[k]) different.push(k + ': ' + pairs[j][0] + ' vs ' + pairs[i][0]);
          }
        }
        return { shared, different };
      }
      process.stdout.write(JSON.stringify({ facade: await compare(0), esm: await compare(1) }));`);
    expect(out.facade).toEqual(out.esm);
    // Two different functions under one name (table's protoName and the formats' protoName) stay two.
    expect(out.facade.different).toEqual(['protoName: ctevents vs ctevents/format']);
    expect(out.facade.shared.NetlinkError).toEqual(['ctevents', 'ctevents/codec']);
    expect(out.facade.shared.PcapError).toEqual(['ctevents', 'ctevents/pcap']);
    expect(Object.keys(out.facade.shared).length).toBeGreaterThan(20);
  });

  it('an error thrown by the codec is an instance of the class the main entry exports', { timeout: 60_000 }, () => {
    const out = probe<{ same: boolean; name: string }>(`
      import { NetlinkDecodeError } from 'ctevents';
      import { decodeDatagram } from 'ctevents/codec';
      try { decodeDatagram(new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17])); process.stdout.write('{}'); }
      catch (e) { process.stdout.write(JSON.stringify({ same: e instanceof NetlinkDecodeError, name: e.constructor.name })); }`);
    expect(out).toEqual({ same: true, name: 'NetlinkDecodeError' });
  });
});

describe("import 'ctevents' loads only the bundle", () => {
  it('no file of dist/ but the façades and the loader; every module from the bundle, its V8 cache accepted and trained', { timeout: 60_000 }, () => {
    const dir = mkdtempSync(join(tmpdir(), 'ctev-libload-'));
    try {
      const log = join(dir, 'loads.txt');
      writeFileSync(join(dir, 'hooks.mjs'), `import { appendFileSync } from 'node:fs';\nexport async function load(url, context, next) { appendFileSync(${JSON.stringify(log)}, url + '\\n'); return next(url, context); }\n`);
      writeFileSync(join(dir, 'register.mjs'), `import { register } from 'node:module';\nregister(${JSON.stringify(`file://${join(dir, 'hooks.mjs')}`)});\n`);
      const out = probe<{ cache: string[]; compiled: number; rejected: string[]; untrained: string[] }>(
        `
        import { createRequire } from 'node:module';
        const require = createRequire(import.meta.url);
        const vm = require('node:vm'); const compiled = []; const rejected = []; const untrained = [];
        // Trained: the cache of a module a client's open and dump run holds its inner functions
        // too, well over the top-level code a compile alone caches (~2x here; untrained ~1.03x).
        const TRAINED = ['client/client.js', 'socket/netlink-socket.js', 'netlink/request-channel.js'];
        const S = vm.Script; vm.Script = class extends S { constructor(src, o) {
          super(src, o); compiled.push(o.filename);
          if (o.cachedData === undefined || this.cachedDataRejected) rejected.push(o.filename);
          const key = o.filename.split('/dist/')[1];
          if (TRAINED.includes(key) && !(o.cachedData?.length > 1.5 * new S(src, { filename: o.filename }).createCachedData().length)) untrained.push(key);
        } };
        const all = await Promise.all(${JSON.stringify(entries.map((e) => e.specifier))}.map((s) => import(s)));
        if (typeof all[0].ConntrackClient !== 'function') throw new Error('no ConntrackClient');
        process.stdout.write(JSON.stringify({ cache: Object.keys(require.cache), compiled: compiled.length, rejected, untrained }));`,
        ['--import', `file://${join(dir, 'register.mjs')}`],
      );
      const ours = readFileSync(log, 'utf8').trim().split('\n').filter((u) => u.startsWith(`file://${root}`));
      // The -e script's own URL is the package root's; then only the façades.
      expect(ours.filter((u) => !u.endsWith('/[eval1]')).sort()).toEqual(entries.map((e) => new URL(e.facade, `file://${root}`).href).sort());
      expect(out.cache).toEqual([join(root, 'dist/lib/ctevents.cjs')]);
      expect(out.compiled).toBeGreaterThan(50);
      expect(out.rejected).toEqual([]);
      expect(out.untrained).toEqual([]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('deferred builtins (tools/bundle.mjs DEFERRED_BUILTINS)', () => {
  it('importing every entry loads none of them; the metrics server (http) and a capture read (fs/promises) load theirs on use', { timeout: 60_000 }, () => {
    const capture = join(root, 'captures', 'tcp-ipv4.pcap');
    const out = probe<{ atImport: string[]; port: number; datagrams: number; afterUse: string[] }>(`
      const deferred = ['child_process', 'http', 'fs/promises', 'stream/promises'];
      const loaded = () => deferred.filter((m) => process.moduleLoadList.includes('NativeModule ' + m));
      const [{ MetricsServer }, , { readNetlinkDatagrams }] = await Promise.all(${JSON.stringify(entries.map((e) => e.specifier))}.map((s) => import(s)));
      const atImport = loaded();
      const server = new MetricsServer([]);
      const { port } = await server.listen('127.0.0.1', 0);
      await server.close();
      let datagrams = 0;
      for await (const d of readNetlinkDatagrams(${JSON.stringify(capture)})) datagrams++;
      process.stdout.write(JSON.stringify({ atImport, port, datagrams, afterUse: loaded() }));`);
    expect(out.atImport).toEqual([]);
    expect(out.port).toBeGreaterThan(0);
    expect(out.datagrams).toBeGreaterThan(0);
    expect(out.afterUse).toEqual(expect.arrayContaining(['http', 'fs/promises']));
  });
});

describe('node tools/bundle.mjs --check on a copy of the package', () => {
  let copy: string;
  beforeAll(() => {
    copy = mkdtempSync(join(tmpdir(), 'ctev-libcheck-'));
    for (const d of ['tools', 'dist']) cpSync(join(root, d), join(copy, d), { recursive: true, filter: (f) => !f.endsWith('.map') && !f.includes('readme-examples') });
    cpSync(join(root, 'package.json'), join(copy, 'package.json'));
    symlinkSync(join(root, 'node_modules'), join(copy, 'node_modules'));
  });
  afterAll(() => rmSync(copy, { recursive: true, force: true }));
  const check = () => spawnSync(process.execPath, [join(copy, 'tools/bundle.mjs'), '--check'], { encoding: 'utf8', timeout: 120_000 });

  it('is clean as copied', { timeout: 120_000 }, () => {
    const r = check();
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
  });

  it('names the library bundle when a module only the library has changed', { timeout: 120_000 }, () => {
    const file = join(copy, 'dist/codec.js');
    const before = readFileSync(file);
    appendFileSync(file, '\nexport const ADDED_AFTER_THE_BUILD = 1;\n');
    try {
      const r = check();
      expect(r.status).toBe(1);
      expect(r.stderr).toContain(`${join(copy, 'dist/lib/ctevents.cjs')} is missing or stale: run npm run build`);
      expect(r.stderr).toContain(`${join(copy, 'dist/lib/ctevents.bundle')} is missing or stale`);
      expect(r.stderr).toContain(`${join(copy, 'dist/lib/codec.mjs')} is missing or stale`);
      expect(r.stderr).not.toContain('dist/cli/');
    } finally {
      writeFileSync(file, before);
    }
  });

  it('refuses a library module that exports a binding it may reassign (a façade would keep its first value)', { timeout: 120_000 }, () => {
    const file = join(copy, 'dist/codec.js');
    const before = readFileSync(file);
    appendFileSync(file, '\nexport let mutable = 1;\n');
    try {
      const r = check();
      expect(r.status).toBe(1);
      expect(r.stderr).toContain('tools/bundle.mjs: codec.js: `export let mutable`');
    } finally {
      writeFileSync(file, before);
    }
  });

  it('names a missing façade and a package.json entry that does not point to its façade', { timeout: 120_000 }, () => {
    const facade = join(copy, 'dist/lib/pcap.mjs');
    const text = readFileSync(facade);
    const pj = join(copy, 'package.json');
    const pjText = readFileSync(pj, 'utf8');
    unlinkSync(facade);
    writeFileSync(pj, pjText.replace('"./dist/lib/format.mjs"', '"./dist/format/index.js"'));
    try {
      const r = check();
      expect(r.status).toBe(1);
      expect(r.stderr).toContain(`${facade} is missing or stale`);
      expect(r.stderr).toContain('package.json exports["./format"].default is "./dist/format/index.js", not "./dist/lib/format.mjs"');
    } finally {
      writeFileSync(facade, text);
      writeFileSync(pj, pjText);
    }
  });
});

const skip = liveSkipReason();
if (skip) console.log(`library-bundle live: skipped (${skip})`);

describe.skipIf(skip !== undefined)("a client from 'ctevents', live", () => {
  let ns: Netns;
  beforeAll(() => {
    ns = createNetns({ prefix: 'ctev-libb' });
    udpFlows(ns, 42000, 4);
  });
  afterAll(() => ns?.remove());

  it('dumps the namespace (entry by entry and in batches) and closes', { timeout: 60_000 }, () => {
    const out = probe<{ entries: number; batched: number; ports: number[] }>(`
      import { ConntrackClient, IPPROTO_UDP } from 'ctevents';
      const ct = await ConntrackClient.open({ netns: ${JSON.stringify(ns.name)} });
      const ports = [];
      for await (const e of ct.dump()) if (e.orig?.proto === IPPROTO_UDP) ports.push(e.orig.dstPort);
      let batched = 0;
      for await (const b of ct.dumpBatches()) batched += b.length;
      await ct.close();
      process.stdout.write(JSON.stringify({ entries: ports.length, batched, ports: ports.sort((a, b) => a - b) }));`);
    expect(out.ports).toEqual([42000, 42001, 42002, 42003]);
    expect(out.batched).toBeGreaterThanOrEqual(4);
  });
});
