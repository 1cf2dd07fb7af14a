/**
 * cli/stdio.ts: the executable's stdout and stderr, with Node's stream made only when it
 * must be (start-up, issue 14).
 *
 * - StdioOut writes a file and /dev/null directly (no stream), any fd directly where asked
 *   (stderr's lines), and hands the unwritten rest of a failed or short direct write to
 *   Node's stream (EAGAIN on a full non-blocking pipe), which then keeps every later write.
 * - The built executable: output identical whether stdout and stderr are files, pipes or
 *   /dev/null; a closed stdout pipe still ends the run quietly (exit 0); `--version` and
 *   `read` to files never load Node's stream modules; live (as root): an empty dump loads
 *   none either and prints its summary, a dump to a file equals the dump to a pipe.
 */
import { spawnSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, readSync, readdirSync, rmSync, writeFileSync, writeSync, constants as FS } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StdioOut, stdioKind } from '../src/cli/stdio.js';
import { CTEVENTS_BIN } from './helpers/cli.js';
import { createNetns, liveSkipReason, udpFlows, type Netns } from './helpers/live.js';

const root = new URL('..', import.meta.url).pathname;
const capture = join(root, 'captures', readdirSync(join(root, 'captures')).find((f) => f.endsWith('tcp-ipv4.pcap'))!);
const dir = mkdtempSync(join(tmpdir(), 'ctevents-stdio-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A stand-in for Node's stream: records what it is given. */
function fakeStream() {
  const got: Buffer[] = [];
  const listeners: Record<string, ((...a: unknown[]) => void)[]> = {};
  const s = {
    made: 0,
    isTTY: false,
    got,
    listeners,
    write(chunk: string | Uint8Array, cb?: (e?: Error | null) => void) {
      got.push(Buffer.from(chunk as Uint8Array));
      if (cb) process.nextTick(cb, null);
      return true;
    },
    on(ev: string, cb: (...a: unknown[]) => void) {
      (listeners[ev] ??= []).push(cb);
      return s;
    },
    once(ev: string, cb: (...a: unknown[]) => void) {
      return s.on(ev, cb);
    },
    removeListener() {
      return s;
    },
  };
  return s;
}

function outFor(fd: number, lines = false) {
  const fake = fakeStream();
  const out = new StdioOut(fd, () => {
    fake.made++;
    return fake as unknown as NodeJS.WriteStream;
  }, { lines });
  return { out, fake };
}

describe('StdioOut', () => {
  it('writes a regular file directly, strings and bytes, and never makes the stream', async () => {
    const file = join(dir, 'direct.txt');
    const fd = openSync(file, 'w');
    try {
      const { out, fake } = outFor(fd);
      const errors: unknown[] = [];
      out.on('error', (e) => errors.push(e));
      expect(out.isTTY).toBe(false);
      let called = 0;
      expect(out.write('héllo\n', () => called++)).toBe(true);
      expect(out.write(Buffer.from('bytes\n'))).toBe(true);
      expect(out.write('')).toBe(true);
      await new Promise((r) => process.nextTick(r));
      expect(called).toBe(1);
      expect(fake.made).toBe(0);
      expect(out.streamMade).toBe(false);
      expect(errors).toEqual([]);
      expect(readFileSync(file, 'utf8')).toBe('héllo\nbytes\n');
    } finally {
      closeSync(fd);
    }
  });

  it('writes /dev/null directly', () => {
    const fd = openSync('/dev/null', 'w');
    try {
      expect(stdioKind(fd, false)).toBe('file');
      const { out, fake } = outFor(fd);
      out.write('x\n');
      expect(fake.made).toBe(0);
    } finally {
      closeSync(fd);
    }
  });

  it('gives a pipe to the stream unless asked to write it directly', () => {
    const fifo = join(dir, 'fifo1');
    expect(spawnSync('mkfifo', [fifo]).status).toBe(0);
    // O_RDWR: a FIFO opened for both ends never blocks the open and never gets EPIPE.
    const fd = openSync(fifo, FS.O_RDWR | FS.O_NONBLOCK);
    try {
      expect(stdioKind(fd, false)).toBe('stream');
      expect(stdioKind(fd, true)).toBe('pipe');
      const a = outFor(fd);
      expect(a.out.isTTY).toBe(false);
      expect(a.fake.made).toBe(0); // a pipe is never a terminal: no stream just to ask
      a.out.write('to the stream\n');
      expect(a.fake.made).toBe(1);
      expect(Buffer.concat(a.fake.got).toString()).toBe('to the stream\n');
      const b = outFor(fd, true);
      b.out.write('direct\n');
      expect(b.fake.made).toBe(0);
      const back = Buffer.alloc(100);
      expect(back.toString('utf8', 0, readSyncAll(fd, back))).toBe('direct\n');
    } finally {
      closeSync(fd);
    }
  });

  it('hands the rest of a short or refused pipe write (EAGAIN: full, non-blocking) to the stream, and keeps it', async () => {
    const fifo = join(dir, 'fifo2');
    expect(spawnSync('mkfifo', [fifo]).status).toBe(0);
    const fd = openSync(fifo, FS.O_RDWR | FS.O_NONBLOCK);
    try {
      // Fill the pipe but for 100 bytes.
      let used = 0;
      const block = Buffer.alloc(4096, 0x61);
      for (;;) {
        try {
          used += writeSync(fd, block);
        } catch {
          break;
        }
      }
      const room = 100;
      const take = Buffer.alloc(room);
      // Read `room` bytes back out, so the pipe has exactly that much room.
      expect(readSyncAll(fd, take)).toBe(room);
      const { out, fake } = outFor(fd, true);
      const errors: unknown[] = [];
      const onError = (e: unknown) => errors.push(e);
      out.on('error', onError);
      const line = Buffer.alloc(5000, 0x62); // more than the room: a short write
      let cbErr: unknown = 'not called';
      expect(out.write(line.toString('latin1'), (e) => (cbErr = e))).toBe(true);
      expect(fake.made).toBe(1);
      const rest = Buffer.concat(fake.got);
      expect(rest.length).toBeGreaterThan(0);
      expect(rest.length).toBeLessThanOrEqual(line.length);
      expect(rest.every((c) => c === 0x62)).toBe(true);
      // The 'error' listener added before the stream existed was moved onto it.
      expect(fake.listeners.error).toEqual([onError]);
      // Everything after goes through the stream, in order.
      out.write('after\n');
      expect(Buffer.concat(fake.got).subarray(rest.length).toString()).toBe('after\n');
      await new Promise((r) => process.nextTick(r));
      expect(cbErr).toBe(null);
      expect(errors).toEqual([]);
      expect(used).toBeGreaterThan(0);
    } finally {
      closeSync(fd);
    }
  });

  it('writes any fd directly in lines mode (stderr), a character device through the stream otherwise', () => {
    const fd = openSync('/dev/zero', 'w');
    try {
      expect(stdioKind(fd, true)).toBe('tty');
      const a = outFor(fd);
      a.out.write('x\n');
      expect(a.fake.made).toBe(1);
      const b = outFor(fd, true);
      b.out.write('x\n');
      expect(b.fake.made).toBe(0);
      // Only a character device can be a terminal: isTTY asks Node's stream, which then takes every write.
      expect(b.out.isTTY).toBe(false);
      expect(b.fake.made).toBe(1);
      b.out.write('y\n');
      expect(Buffer.concat(b.fake.got).toString()).toBe('y\n');
    } finally {
      closeSync(fd);
    }
  });

  it('hands a failed direct write (EBADF) to the stream, which reports it', () => {
    const fd = openSync(join(dir, 'closed.txt'), 'w');
    const { out, fake } = outFor(fd);
    out.write('first\n'); // decides: a file
    closeSync(fd);
    out.write('lost\n');
    expect(fake.made).toBe(1);
    expect(Buffer.concat(fake.got).toString()).toBe('lost\n');
  });
});

/** Read what is in a non-blocking fd, up to b.length. */
function readSyncAll(fd: number, b: Buffer): number {
  let n = 0;
  while (n < b.length) {
    let k: number;
    try {
      k = readSync(fd, b, n, b.length - n, null);
    } catch {
      break;
    }
    if (k <= 0) break;
    n += k;
  }
  return n;
}

/** Node's stream modules, as listed in process.moduleLoadList. */
const STREAM_MODULES = ['NativeModule net', 'NativeModule internal/fs/sync_write_stream', 'NativeModule tty'];
const probe = join(dir, 'probe.cjs');
writeFileSync(
  probe,
  `process.on('exit', () => { const l = process.moduleLoadList; require('fs').writeFileSync(process.env.CTEV_PROBE_OUT, JSON.stringify(${JSON.stringify(STREAM_MODULES)}.filter((m) => l.includes(m)))); });\n`,
);

/** Run the executable with stdout and stderr to files; with the probe, the stream modules it loaded. */
function runToFiles(args: string[], name: string, prefix: string[] = []): { code: number | null; stdout: string; stderr: string; streams: string[] } {
  const o = join(dir, `${name}.out`);
  const e = join(dir, `${name}.err`);
  const p = join(dir, `${name}.probe`);
  const ofd = openSync(o, 'w');
  const efd = openSync(e, 'w');
  try {
    const r = spawnSync(prefix[0] ?? process.execPath, [...(prefix.length ? [...prefix.slice(1), process.execPath] : []), '-r', probe, CTEVENTS_BIN, ...args], {
      stdio: ['ignore', ofd, efd],
      env: { ...process.env, CTEV_PROBE_OUT: p },
      timeout: 60_000,
    });
    return { code: r.status, stdout: readFileSync(o, 'utf8'), stderr: readFileSync(e, 'utf8'), streams: JSON.parse(readFileSync(p, 'utf8')) as string[] };
  } finally {
    closeSync(ofd);
    closeSync(efd);
  }
}

function runToPipes(args: string[], prefix: string[] = []) {
  const r = spawnSync(prefix[0] ?? process.execPath, [...(prefix.length ? [...prefix.slice(1), process.execPath] : []), CTEVENTS_BIN, ...args], { encoding: 'utf8', maxBuffer: 1 << 26, timeout: 60_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const times = (s: string) => s.replace(/\d+(\.\d+)? s\b/g, 'T s');

describe('the executable with lazy stdio', () => {
  it('--version to a file: the same text, no stream module loaded', () => {
    const f = runToFiles(['--version'], 'version');
    expect(f.code).toBe(0);
    expect(f.stdout).toMatch(/^ctevents \d+\.\d+\.\d+\n$/);
    expect(f.streams).toEqual([]);
    expect(runToPipes(['--version']).stdout).toBe(f.stdout);
  });

  it('read in every format: files and pipes give the same bytes; files load no stream module', () => {
    for (const format of ['text', 'json', 'conntrack', 'xml']) {
      const f = runToFiles(['read', capture, '--format', format], `read-${format}`);
      const p = runToPipes(['read', capture, '--format', format]);
      expect(f.code).toBe(0);
      expect(p.code).toBe(0);
      expect(f.stdout.length).toBeGreaterThan(0);
      expect(f.stdout).toBe(p.stdout);
      expect(times(f.stderr)).toBe(times(p.stderr));
      expect(f.streams, format).toEqual([]);
    }
  });

  it('a usage error goes to stderr (a file, a pipe) with exit code 2', () => {
    const f = runToFiles(['--no-such-option'], 'usage');
    const p = runToPipes(['--no-such-option']);
    expect(f.code).toBe(2);
    expect(p.code).toBe(2);
    expect(f.stderr).toMatch(/^ctevents: /);
    expect(f.stderr).toBe(p.stderr);
    expect(f.streams).toEqual([]);
  });

  it('a closed stdout pipe still ends the run quietly (exit 0, no EPIPE)', () => {
    const r = spawnSync('bash', ['-c', `${process.execPath} ${CTEVENTS_BIN} read ${capture} --format json | head -n 1; echo "rc=\${PIPESTATUS[0]}"`], { encoding: 'utf8' });
    const out = r.stdout.split('\n').filter(Boolean);
    expect(out).toHaveLength(2);
    expect(out[1]).toBe('rc=0');
    expect(r.stderr).not.toMatch(/EPIPE|Error|\n\s+at /);
    const empty = spawnSync('bash', ['-c', `${process.execPath} ${CTEVENTS_BIN} read ${capture} | true; echo "rc=\${PIPESTATUS[0]}"`], { encoding: 'utf8' });
    expect(empty.stdout).toBe('rc=0\n');
    expect(empty.stderr).not.toMatch(/EPIPE|Error|\n\s+at /);
  });
});

const skip = liveSkipReason();
describe.skipIf(skip !== undefined)('the executable with lazy stdio, live (root)', () => {
  let ns: Netns;
  beforeAll(() => {
    ns = createNetns('stdio');
  });
  afterAll(() => ns?.remove());

  it('an empty dump writes nothing to stdout, its summary to stderr, and loads no stream module', () => {
    const f = runToFiles(['dump', '--netns', ns.name], 'dump-empty');
    expect(f.code).toBe(0);
    expect(f.stdout).toBe('');
    expect(f.stderr).toMatch(/^ctevents: 0 entries in \d+\.\d\d s\n$/);
    expect(f.streams).toEqual([]);
    // stderr a socket (spawn's pipe): the same line, written directly.
    const p = runToPipes(['dump', '--netns', ns.name]);
    expect(p.code).toBe(0);
    expect(times(p.stderr)).toBe(times(f.stderr));
  });

  it('stats to a file equals stats to a pipe', () => {
    const f = runToFiles(['stats', '--netns', ns.name, '--format', 'json'], 'stats');
    const p = runToPipes(['stats', '--netns', ns.name, '--format', 'json']);
    expect(f.code).toBe(0);
    const norm = (s: string) => s.replace(/"time":"[^"]*"|"timestampNs":"\d+"|"seq":\d+|"pid":\d+/g, 'T').replace(/"(found|invalid|insert|insert_failed|drop|early_drop|error|search_restart|clash_resolve|chaintoolong|entries)":\d+/g, '"$1":N');
    expect(norm(f.stdout)).toBe(norm(p.stdout));
    expect(f.stdout).toMatch(/"type":"stats"/);
    expect(f.streams).toEqual([]);
  });

  it('a dump with entries: a file gets what a pipe gets, in every format', () => {
    udpFlows(ns, 34000, 300);
    for (const format of ['text', 'json', 'conntrack', 'xml']) {
      const f = runToFiles(['dump', '--netns', ns.name, '--format', format, '--proto', 'udp'], `dump-${format}`);
      const p = runToPipes(['dump', '--netns', ns.name, '--format', format, '--proto', 'udp']);
      expect(f.code).toBe(0);
      expect(p.code).toBe(0);
      const norm = (s: string) =>
        s
          .replace(/\d\d:\d\d:\d\d\.\d{6}/g, 'HH:MM:SS.US')
          .replace(/timeout=\d+|"timeout":\d+|<timeout>\d+<\/timeout>/g, 'TIMEOUT')
          .replace(/"time":"[^"]*"|"timestampNs":"\d+"|"seq":\d+|"pid":\d+/g, 'X')
          .replace(/^(udp\s+17 )\d+ /gm, '$1N ')
          .split('\n')
          .sort()
          .join('\n');
      expect(norm(f.stdout), format).toBe(norm(p.stdout));
      expect(times(f.stderr)).toBe(times(p.stderr));
      expect(f.stderr).toMatch(/ctevents: 300 entries/);
      expect(f.streams, format).toEqual([]);
    }
  });
});
