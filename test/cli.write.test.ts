/**
 * `--write` (issue 12): the capture is created only after the sockets are open, an
 * existing file is replaced only with --force (through a temporary name renamed into
 * place), `--write -` puts the pcap on stdout, and a SIGKILL never loses from the pcap an
 * event that was already printed. Runs the built dist/cli/ctevents.cjs (the bin); the live parts as
 * root in a throwaway namespace (skipped with the reason printed otherwise).
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createNetns, liveSkipReason, udpFlows, type Netns } from './helpers/live.js';

const bin = join(import.meta.dirname, '..', 'dist/cli/ctevents.cjs');
const skip = liveSkipReason();
if (skip) console.warn(`cli.write.test.ts: ${skip}`);
const dir = mkdtempSync(join(tmpdir(), 'ctev-write-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function run(args: string[], input?: Uint8Array) {
  return spawnSync(process.execPath, [bin, ...args], { input, maxBuffer: 64 << 20, timeout: 60_000 });
}

const OLD = 'an earlier capture\n';

describe('--write checks before it touches anything', () => {
  it('a missing namespace leaves an existing capture as it was, even with --force', () => {
    const f = join(dir, 'keep.pcap');
    writeFileSync(f, OLD);
    for (const extra of [[], ['--force']]) {
      const r = run(['--write', f, ...extra, '--netns', 'ctev-no-such-namespace', '--count', '1']);
      expect(r.status).not.toBe(0);
      expect(readFileSync(f, 'utf8')).toBe(OLD);
    }
    expect(readdirSync(dir)).toEqual(['keep.pcap']); // no temporary file left behind
  });

  it('an existing file is refused without --force, naming the option', () => {
    const f = join(dir, 'exists.pcap');
    writeFileSync(f, OLD);
    const r = run(['--write', f, '--netns', 'ctev-no-such-namespace', '--count', '1']);
    expect(r.status).not.toBe(0);
    expect(r.stderr.toString()).toMatch(/exists.pcap exists; add --force to replace it/);
    expect(readFileSync(f, 'utf8')).toBe(OLD);
  });

  it('--force without --write is a usage error', () => {
    const r = run(['--force']);
    expect(r.status).toBe(2);
    expect(r.stderr.toString()).toMatch(/--force applies to --write only/);
  });
});

describe.skipIf(skip !== undefined)('--write, live', () => {
  let ns: Netns;
  beforeAll(() => {
    ns = createNetns();
  });
  afterAll(() => ns?.remove());

  /** Runs ctevents until `count` NEW events were seen, making flows meanwhile. */
  async function recordNew(args: string[], count: number, port: number) {
    const p = spawn(process.execPath, [bin, '--netns', ns.name, '--events', 'new', '--count', String(count), ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    let stderr = '';
    p.stdout.on('data', (d: Buffer) => out.push(d));
    p.stderr.on('data', (d) => (stderr += d));
    const code = new Promise<number>((res) => p.on('close', (c) => res(c ?? -1)));
    await new Promise((r) => setTimeout(r, 700));
    udpFlows(ns, port, count);
    return { code: await code, stdout: Buffer.concat(out), stderr };
  }

  it('--force replaces an existing file once the run has started, leaving no temporary file', async () => {
    const sub = mkdtempSync(join(dir, 'force-'));
    const f = join(sub, 'cap.pcap');
    writeFileSync(f, OLD);
    const r = await recordNew(['--write', f, '--force', '--format', 'json'], 3, 31000);
    expect(r.code, r.stderr).toBe(0);
    expect(readdirSync(sub)).toEqual(['cap.pcap']);
    const back = run(['read', f, '--format', 'json']);
    expect(back.status).toBe(0);
    // The capture holds microseconds (pcap as nlmon + libpcap write it); live lines carry the
    // shim's nanoseconds.
    const us = (t: string) => t.replace(/"timestampNs":"(\d+)\d{3}"/g, '"timestampNs":"$1000"');
    expect(back.stdout.toString()).toBe(us(r.stdout.toString()));
  });

  it('--write - puts the pcap on stdout (and no lines); read - decodes it', async () => {
    const r = await recordNew(['--write', '-', '--format', 'json'], 3, 32000);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.readUInt32LE(0)).toBe(0xa1b2c3d4);
    const back = run(['read', '-', '--format', 'json'], r.stdout);
    expect(back.status).toBe(0);
    const lines = back.stdout.toString().trim().split('\n').map((l) => JSON.parse(l) as { type: string; orig: { dport: number } });
    expect(lines.map((l) => l.type)).toEqual(['new', 'new', 'new']);
    expect(lines.map((l) => l.orig.dport).sort()).toEqual([32000, 32001, 32002]);
  });

  it('SIGKILL right after events are printed: every printed event is in the pcap', async () => {
    for (let round = 0; round < 3; round++) {
      const f = join(dir, `kill-${round}.pcap`);
      const p = spawn(process.execPath, [bin, '--netns', ns.name, '--events', 'new', '--format', 'json', '--write', f], { stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      const printed = new Promise<void>((res) =>
        p.stdout.on('data', (d) => {
          stdout += d;
          // Killed the moment the first lines arrive: before any timer could flush.
          p.kill('SIGKILL');
          res();
        }),
      );
      const exited = new Promise<void>((res) => p.on('close', () => res()));
      await new Promise((r) => setTimeout(r, 700));
      udpFlows(ns, 33000 + round * 100, 20);
      await printed;
      await exited;
      const shown = stdout.split('\n').filter((l) => l.endsWith('}')).map((l) => (JSON.parse(l) as { id: number }).id);
      expect(shown.length).toBeGreaterThan(0);
      const back = run(['read', f, '--format', 'json']);
      const recorded = new Set(back.stdout.toString().trim().split('\n').filter(Boolean).map((l) => (JSON.parse(l) as { id?: number }).id));
      for (const id of shown) expect(recorded.has(id), `event ${id} printed but not in the pcap (round ${round})`).toBe(true);
    }
  });
});
