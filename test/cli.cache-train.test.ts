/**
 * The executable's V8 code cache is trained (tools/bundle-cache.cjs, start-up, issue 14):
 * the functions `--version`, `dump` and `stats` call are compiled into it by runs against a
 * stand-in kernel at build time, so a run does not compile them from source. Checked by
 * size: the cache entry of each module those runs use is larger than V8's cache of the same
 * text compiled without running it (top-level code only). The cache is accepted by this
 * Node for every module (test/cli.bundle.test.ts).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Script } from 'node:vm';
import { describe, expect, it } from 'vitest';

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
