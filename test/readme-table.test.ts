/**
 * The README's ConntrackTable / PressureSampler example (the ```typescript block of "The
 * library: ConntrackTable and PressureSampler") runs as written against the kernel, with
 * only the namespace name substituted, importing the package by its own name.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createNetns, liveSkipReason } from './helpers/live.js';

const root = new URL('..', import.meta.url).pathname;
const readme = readFileSync(join(root, 'README.md'), 'utf8');
const section = readme.slice(readme.indexOf('### The library: ConntrackTable and PressureSampler'));
const block = /```typescript\n([\s\S]*?)```/.exec(section)?.[1];
const dir = join(root, 'dist', 'readme-table-example');
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const skip = liveSkipReason();
if (skip) console.warn(`readme-table.test.ts: ${skip}`);

describe('README table example', () => {
  it('is there', () => expect(block).toContain('ConntrackTable.open'));
  it.skipIf(skip !== undefined)('runs against the kernel', { timeout: 60_000 }, () => {
    const ns = createNetns();
    try {
      ns.exec('conntrack', ['-I', '-s', '198.19.0.7', '-d', '198.18.0.1', '-p', 'udp', '--sport', '1000', '--dport', '53', '-t', '100']);
      const code = block!.replaceAll("'blue'", `'${ns.name}'`);
      mkdirSync(dir, { recursive: true });
      const file = join(dir, 'table.mjs');
      writeFileSync(file, code);
      const out = execFileSync(process.execPath, [file], { cwd: root, encoding: 'utf8', timeout: 60_000 });
      expect(out).toMatch(/^198\.19\.0\.7 53 undefined \d+$/m);
      expect(out).toMatch(/^[\d.]+ \[/m); // fill %, then the diagnosis texts (which depend on the machine)
    } finally {
      ns.remove();
    }
  });
});
