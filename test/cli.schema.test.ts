/**
 * schema/ctevents.schema.json, the one documented schema of `--format json`, validated
 * (with the small validator in helpers/jsonschema.ts) against every kind of line ctevents
 * prints: every message of every recorded capture (`read`), the overrun markers, the
 * `stats` report, and the get/dump output of the same formatter. The live `stats`,
 * `dump` and `watch` output is validated in cli.ops.live.test.ts.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { overrunLine, statsLines } from '../src/cli/formats.js';
import type { CpuStats } from '../src/ctnetlink/model.js';
import { validate } from './helpers/jsonschema.js';
import { runCli } from './helpers/cli.js';

const root = new URL('..', import.meta.url).pathname;
export const schema = JSON.parse(readFileSync(join(root, 'schema/ctevents.schema.json'), 'utf8'));
const captures = readdirSync(join(root, 'captures')).filter((f) => f.endsWith('.pcap')).map((f) => join(root, 'captures', f));

describe('schema/ctevents.schema.json', () => {
  it('ships with the package', () => {
    const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
    expect(pkg.files).toContain('schema');
  });

  it('the validator rejects what the schema forbids', () => {
    expect(validate(schema, { type: 'new', orig: { src: '1.2.3.4', sport: 1 } })).toEqual([]);
    expect(validate(schema, { type: 'new', bogus: 1 })).toEqual(['$: unexpected key bogus']);
    expect(validate(schema, { type: 'stats-summary' }).length).toBeGreaterThan(0);
    expect(validate(schema, { type: 'destroy', counters: { orig: { packets: 5, bytes: '1' } } })).toEqual(['$.counters.orig.packets: expected string, got integer']);
    expect(validate(schema, { type: 'entry', timestampNs: '12x' }).length).toBe(1);
  });

  it('every line read prints from every capture is valid', async () => {
    const kinds = new Set<string>();
    for (const file of captures) {
      const r = await runCli(['read', file, '--format', 'json']);
      expect(r.code).toBe(0);
      for (const line of r.stdout.split('\n').filter(Boolean)) {
        const o = JSON.parse(line);
        kinds.add(o.type);
        expect(validate(schema, o), `${file}: ${line.slice(0, 300)}`).toEqual([]);
      }
    }
    // The captures cover (nearly) every kind of line.
    for (const k of ['new', 'update', 'destroy', 'entry', 'expect-new', 'expect-destroy', 'expect', 'stats-cpu', 'expect-stats-cpu', 'stats', 'request', 'error', 'ack', 'done']) expect(kinds).toContain(k);
  });

  it('overrun markers and the stats report are valid, and stats uses the same kinds as read', () => {
    for (const lost of [undefined, 0, 12345]) {
      const l = overrunLine('json', lost, 1795532864922001000n).stdout!;
      expect(validate(schema, JSON.parse(l))).toEqual([]);
    }
    // Kernel replies as ConntrackClient.statsMessages() returns them (headers of a real exchange).
    const header = (type: number, seq: number) => ({ type, flags: 0, seq, pid: 4242 });
    const cpu = (stats: CpuStats) => ({ kind: 'stats-cpu' as const, header: { ...header(0x104, 7), flags: 2 }, nfgen: { family: 0, version: 0, resId: stats.cpu }, stats });
    const lines = statsLines('json', {
      global: { kind: 'stats', header: header(0x105, 6), nfgen: { family: 0, version: 0, resId: 0 }, stats: { entries: 5, maxEntries: 262144 } },
      cpus: [
        cpu({ cpu: 0, found: 1, invalid: 2, insert: 0, insertFailed: 0, drop: 0, earlyDrop: 0, error: 0, searchRestart: 0, clashResolve: 0, chainTooLong: 0 }),
        cpu({ cpu: 1, found: 0, invalid: 0 }),
      ],
    }, 65536);
    const objs = lines.map((l) => JSON.parse(l));
    for (const o of objs) expect(validate(schema, o)).toEqual([]);
    expect(objs.map((o) => o.type)).toEqual(['stats', 'stats-cpu', 'stats-cpu']);
    expect(objs[0]).toMatchObject({ entries: 5, max: 262144, buckets: 65536, fillPercent: 0 });
    expect(objs[1]).toMatchObject({ cpu: 0, found: 1, invalid: 2 });
  });
});
