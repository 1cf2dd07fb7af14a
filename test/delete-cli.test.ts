/**
 * delete / flush / guard command lines without a kernel: what is refused, what a
 * kernel-side flush may be trusted with, and --protect specs.
 */
import { describe, expect, it } from 'vitest';
import { groupOf, kernelExact, parseDeleteCommandLine } from '../src/cli/delete.js';
import { parseProtect, runGuard } from '../src/cli/guard.js';

describe('delete / flush command line', () => {
  it('takes the dump filters and its own options', () => {
    const o = parseDeleteCommandLine(['delete', '--src', '10.0.0.1', '--idle-over', '600', '--dry-run', '--netns', 'x', '--remaining-under=5']);
    expect(o.base.filters.src).toBe('10.0.0.1');
    expect(o).toMatchObject({ command: 'delete', dryRun: true, idleOver: 600, remainingUnder: 5, yes: false, method: 'auto' });
    expect(o.base.netns).toBe('x');
    expect(parseDeleteCommandLine(['flush', '-y']).yes).toBe(true);
  });
  it('refuses what does not apply', () => {
    for (const bad of [['--follow'], ['--count', '3'], ['--duration', '1'], ['--events', 'new'], ['--format', 'conntrack'], ['--idle-over', '-1'], ['--method', 'x'], ['--idle-over']]) {
      expect(() => parseDeleteCommandLine(['delete', '--src', '10.0.0.1', ...bad]), bad.join(' ')).toThrow();
    }
  });
  it('trusts the kernel only with filters it evaluates exactly', () => {
    expect(kernelExact({ src: '10.0.0.1' })).toBe(true);
    expect(kernelExact({ src: '10.0.0.1/32', proto: 'tcp', dport: '80' })).toBe(true);
    expect(kernelExact({ src: '10.0.0.0/24' })).toBe(false);
    expect(kernelExact({ proto: 'tcp' })).toBe(false); // no family: the kernel tuple filter needs one
    expect(kernelExact({ family: 'ipv4', proto: 'icmp', dport: '1' })).toBe(false);
    expect(kernelExact({ state: 'ESTABLISHED' })).toBe(false);
    expect(kernelExact({ mark: '7', status: 'ASSURED' })).toBe(true);
  });
  it('groups for --dry-run', () => {
    expect(groupOf({ family: 2, orig: { proto: 6 }, protoinfo: { tcp: { state: 3 } }, status: 4 })).toBe('tcp ESTABLISHED ASSURED');
    expect(groupOf({ family: 2, orig: { proto: 17 }, status: 0 })).toBe('udp not-assured');
  });
});

describe('guard --protect', () => {
  it('key=value specs of the dump filters', () => {
    const p = parseProtect('src=10.1.0.0/16,proto=tcp,dport=22');
    expect(p({ family: 2, orig: { src: '10.1.2.3', proto: 6, dstPort: 22 } })).toBe(true);
    expect(p({ family: 2, orig: { src: '10.1.2.3', proto: 6, dstPort: 23 } })).toBe(false);
    expect(p({ family: 2, orig: { src: '10.2.2.3', proto: 6, dstPort: 22 } })).toBe(false);
    expect(parseProtect('status=ASSURED+SEEN_REPLY')({ family: 2, status: 6 })).toBe(true);
    expect(() => parseProtect('bogus=1')).toThrow(/--protect/);
    expect(() => parseProtect('src')).toThrow(/--protect/);
  });
});

describe('guard --nice and --no-flood-events', () => {
  function io() {
    let err = '';
    let out = '';
    const stream = (w: (s: string) => void) => ({ write: (s: string) => (w(s), true), once: () => undefined, on: () => undefined, removeListener: () => undefined });
    return {
      io: { stdout: stream((s) => (out += s)), stderr: stream((s) => (err += s)), stdin: process.stdin } as unknown as Parameters<typeof runGuard>[1],
      err: () => err,
      out: () => out,
    };
  }
  it('refuses values outside -20..19 and non-integers before opening anything', async () => {
    for (const bad of ['--nice=-21', '--nice=20', '--nice=1.5', '--nice=x']) {
      const t = io();
      expect(await runGuard(['guard', bad], t.io), bad).toBe(2);
      expect(t.err()).toMatch(/--nice needs an integer from -20 to 19/);
    }
  });
  it('documents both in --help', async () => {
    const t = io();
    expect(await runGuard(['guard', '--help'], t.io)).toBe(0);
    expect(t.out()).toMatch(/--nice N/);
    expect(t.out()).toMatch(/--no-flood-events/);
  });
});
