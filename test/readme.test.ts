/**
 * The README's library examples run as written (only the namespace name and the event
 * timeout are substituted), importing the package by its own name. The live example runs
 * as root in a throwaway namespace; the codec example runs everywhere.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createNetns, liveSkipReason } from './helpers/live.js';

const root = new URL('..', import.meta.url).pathname;
const readme = readFileSync(join(root, 'README.md'), 'utf8');
const blocks = [...readme.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]!);
// Inside the package, `import ... from 'ctevents'` resolves to the package itself.
const dir = join(root, 'dist', 'readme-examples');

function runExample(name: string, code: string): string {
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `${name}.mjs`);
  writeFileSync(file, code);
  return execFileSync(process.execPath, [file], { cwd: root, encoding: 'utf8', timeout: 60_000 });
}

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('README examples', () => {
  it('has the two library examples', () => {
    expect(blocks).toHaveLength(2);
  });

  it('the codec example decodes a capture and encodes a request', () => {
    const out = runExample('codec', `${blocks[1]}\nconsole.log('bytes', bytes.length);\n`);
    expect(out).toMatch(/^new \{/m);
    expect(out).toMatch(/^destroy \{/m);
    expect(out).toMatch(/^bytes \d+$/m);
  });

  const skip = liveSkipReason();
  if (skip) console.warn(`readme.test.ts: ${skip}`);
  it.skipIf(skip !== undefined)('the client example runs against the kernel', () => {
    const ns = createNetns();
    try {
      const code = blocks[0]!.replace("netns: 'blue'", `netns: '${ns.name}'`).replace('10_000', '300');
      expect(code).toContain(ns.name);
      const out = runExample('client', `${code}\nconsole.log('done', entries, maxEntries, perCpu.length, entry.mark ?? 0);\n`);
      expect(out).toMatch(/^done 0 \d+ \d+ 0$/m);
    } finally {
      ns.remove();
    }
  });
});
