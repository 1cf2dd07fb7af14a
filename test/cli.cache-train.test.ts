/**
 * The executable's V8 code cache is trained (tools/bundle-cache.cjs, start-up, issue 14):
 * the functions `--version`, `dump` and `stats` call are compiled into it by runs against a
 * stand-in kernel at build time, so a run does not compile them from source. Checked by
 * size: the cache entry of each module those runs use is larger than V8's cache of the same
 * text compiled without running it (top-level code only). The cache is accepted by this
 * Node for every module (test/cli.bundle.test.ts).
 *
 * The hot blocks at the head of ctevents.bundle (tools/bundle.mjs HOT_BLOCKS, read whole on
 * first use): `--version` evaluates only modules of block 1; `dump` and `stats` (as root,
 * in a throwaway namespace) only modules of blocks 1 and 2, so each reads its text in at
 * most two reads and no module alone.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Script } from 'node:vm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createNetns, liveSkipReason, type Netns } from './helpers/live.js';

const root = new URL('..', import.meta.url).pathname;
const dir = join(root, 'dist/cli');

describe('the trained V8 cache', () => {
  it('holds more than the top-level code of the modules the start-up commands run', () => {
    const cjs = readFileSync(join(dir, 'ctevents.cjs'), 'utf8');
    const keys = JSON.parse(/^const KEYS = (.*);$/m.exec(cjs)![1]!) as string[];
    const index = JSON.parse(/^const INDEX = (.*);$/m.exec(cjs)![1]!) as Record<string, [number, number, number]>;
    const text = readFileSync(join(dir, 'ctevents.bundle'));
    const cache = readFileSync(join(dir, 'ctevents.v8cache'));
    expect(cache.latin1Slice(0, 8)).toBe('CTEVV8C2');
    const trained = ['cli/main.js', 'cli/args.js', 'cli/session.js', 'cli/live.js', 'client/client.js', 'socket/netlink-socket.js', 'netlink/request-channel.js', 'format/text.js'];
    for (const key of trained) {
      const [off, len, i] = index[key]!;
      expect(keys[i]).toBe(key);
      const compiledOnly = new Script(text.utf8Slice(off, off + len), { filename: join(root, 'dist', key) }).createCachedData().length;
      const have = cache.readUInt32LE(80 + 8 * i);
      expect(have, `${key}: ${have} bytes of cache, ${compiledOnly} untrained`).toBeGreaterThan(compiledOnly);
    }
  });
});

/** The modules the bundle compiles for one command (vm.Script is its only compiler). */
function evaluated(args: string[], prefix: string[] = []): string[] {
  const bin = join(dir, 'ctevents.cjs');
  const probe = `
    const vm = require('node:vm'); const seen = [];
    const S = vm.Script; vm.Script = class extends S { constructor(src, o) { super(src, o); seen.push(o.filename); } };
    process.on('exit', () => process.stderr.write('\\nEVALUATED ' + JSON.stringify(seen.map((f) => f.split('/dist/')[1]))));
    require(${JSON.stringify(bin)});`;
  const argv = [...prefix, process.execPath, '-e', probe, 'x', ...args];
  const r = spawnSync(argv[0]!, argv.slice(1), { encoding: 'utf8', timeout: 30_000 });
  const m = /\nEVALUATED (.*)$/.exec(r.stderr);
  expect(m, r.stderr).not.toBeNull();
  return JSON.parse(m![1]!) as string[];
}

function layout(): { index: Record<string, [number, number, number]>; blocks: number[] } {
  const cjs = readFileSync(join(dir, 'ctevents.cjs'), 'utf8');
  return { index: JSON.parse(/^const INDEX = (.*);$/m.exec(cjs)![1]!), blocks: JSON.parse(/^const BLOCKS = (.*);$/m.exec(cjs)![1]!) as number[] };
}

describe('the hot blocks of ctevents.bundle', () => {
  it('--version evaluates modules of block 1 only', () => {
    const { index, blocks } = layout();
    expect(blocks).toHaveLength(2);
    const mods = evaluated(['--version']);
    expect(mods.length).toBeGreaterThan(3);
    for (const k of mods) expect(index[k]![0] + index[k]![1], k).toBeLessThanOrEqual(blocks[0]!);
  });
});

const skip = liveSkipReason();
describe.skipIf(skip !== undefined)('the hot blocks of ctevents.bundle, live (root)', () => {
  let ns: Netns;
  beforeAll(() => {
    ns = createNetns('hotblk');
  });
  afterAll(() => ns?.remove());

  it('dump and stats evaluate modules of blocks 1 and 2 only', () => {
    const { index, blocks } = layout();
    for (const args of [['dump'], ['stats']]) {
      const mods = evaluated(args, ['ip', 'netns', 'exec', ns.name]);
      expect(mods.length, args.join(' ')).toBeGreaterThan(40);
      for (const k of mods) expect(index[k]![0] + index[k]![1], `${args.join(' ')}: ${k}`).toBeLessThanOrEqual(blocks[1]!);
    }
  });
});
