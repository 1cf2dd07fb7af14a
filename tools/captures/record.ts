/**
 * Records the capture scenarios, as root, after `npm install` (the socket addon):
 *
 *   npx tsc -p bench && sudo node build/tools/captures/record.js [--out DIR] [scenario...]
 *
 * Without scenario names every scenario is recorded. Each scenario runs in its own
 * throwaway network namespace(s) (tools/netns.ts), writes DIR/NAME.pcap, its oracles
 * (NAME.conntrack.xml / .txt, NAME.tshark.json) and its entry in DIR/manifest.json; DIR is
 * captures/ unless --out says otherwise. See captures/README.md.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Cleanup, Oracles, Recorder, Netns, removeStaleNamespaces, run, writeTshark, fileSize, conntrackSysctls } from './harness.js';
import { SCENARIOS, type ScenarioContext } from './scenarios.js';

/** The checkout: this file runs as build/tools/captures/record.js. */
const ROOT = resolve(import.meta.dirname, '..', '..', '..');
const args = process.argv.slice(2);
const outAt = args.indexOf('--out');
const DIR = outAt >= 0 ? resolve(args[outAt + 1] ?? '.') : join(ROOT, 'captures');
if (outAt >= 0) args.splice(outAt, 2);
const MANIFEST = join(DIR, 'manifest.json');

if (process.getuid?.() !== 0) {
  console.error('record.js must run as root (network namespaces, nftables, netlink groups)');
  process.exit(2);
}

const wanted = args;
for (const w of wanted) {
  if (!(w in SCENARIOS)) {
    console.error(`unknown scenario ${w}; known: ${Object.keys(SCENARIOS).join(' ')}`);
    process.exit(2);
  }
}
const names = wanted.length > 0 ? wanted : Object.keys(SCENARIOS);

let current: Cleanup | undefined;
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, async () => {
    console.error(`\n${sig}: cleaning up`);
    if (current) for (const e of await current.runAll()) console.error(`cleanup: ${e}`);
    process.exit(130);
  });
}

removeStaleNamespaces();
const manifest: { captures: Record<string, unknown>; recordedWith?: string } = existsSync(MANIFEST)
  ? JSON.parse(readFileSync(MANIFEST, 'utf8'))
  : { captures: {} };
const kernel = run('uname', ['-r']).trim();
let failed = 0;

for (const name of names) {
  const cleanup = new Cleanup();
  current = cleanup;
  const started = new Date();
  console.log(`== ${name}`);
  const rec = await Recorder.create(DIR, name);
  const ctx: ScenarioContext = {
    name,
    rec,
    cleanup,
    notes: [],
    /** Extra manifest fields a scenario wants to record. */
    extra: {},
    oracles: undefined,
    sysctls: undefined,
    namespaces: [],
    netns(short: string) {
      const ns = new Netns(cleanup, short);
      this.namespaces.push(ns);
      return ns;
    },
    /** The oracle collector of this scenario (one, bound to the namespace given first). */
    oraclesIn(ns: Netns) {
      this.oracles ??= new Oracles(ns);
      return this.oracles;
    },
    note(text: string) {
      this.notes.push(text);
      console.log(`   ${text}`);
    },
  };
  let error: unknown;
  try {
    await SCENARIOS[name]!.run(ctx);
  } catch (err) {
    error = err;
  }
  try {
    if (ctx.oracles) await ctx.oracles.stopListeners();
  } catch (err) {
    error ??= err;
  }
  await rec.close();
  // Read the sysctls before the namespaces go away.
  if (!ctx.sysctls && ctx.namespaces[0]) {
    try {
      ctx.sysctls = conntrackSysctls(ctx.namespaces[0]);
    } catch {
      // namespace already gone
    }
  }
  const cleanupErrors = await cleanup.runAll();
  current = undefined;
  for (const e of cleanupErrors) console.error(`   cleanup: ${e}`);
  if (error) {
    failed++;
    console.error(`   FAILED: ${(error as Error).stack ?? String(error)}`);
    continue;
  }
  const files = [`${name}.pcap`, ...(ctx.oracles?.write(DIR, name) ?? [])];
  const tshark = writeTshark(DIR, name);
  files.push(tshark.file);
  const messages = rec.messages.length;
  const entry = {
    pcap: `${name}.pcap`,
    bytes: fileSize(join(DIR, `${name}.pcap`)),
    records: rec.records,
    messages,
    description: SCENARIOS[name]!.description,
    command: `node build/tools/captures/record.js ${name}`,
    date: started.toISOString(),
    kernel,
    conntrackTools: run('conntrack', ['--version']).trim(),
    tshark: tshark.version,
    sysctls: ctx.sysctls,
    namespaces: ctx.namespaces.map((n) => n.name),
    overrun: rec.overruns.length > 0
      ? rec.overruns.map((o) => ({
        ...o,
        text: o.afterRecords === 0
          ? 'overrun before record 0: the first recvmsg failed with ENOBUFS; every record came after it (the datagrams queued before the drops)'
          : `overrun after record ${o.afterRecords - 1} (records 0..${o.afterRecords - 1} came before it, ${o.afterRecords}.. after it)`,
      }))
      : null,
    truncatedRecords: rec.truncated,
    decodeErrors: rec.decodeErrors,
    requests: rec.requests,
    oracles: ctx.oracles?.commands ?? [],
    files,
    notes: ctx.notes,
    ...ctx.extra,
  };
  manifest.captures[name] = entry;
  console.log(`   ${rec.records} records, ${messages} messages, ${entry.bytes} bytes`);
}

const ordered: Record<string, unknown> = {};
for (const k of Object.keys(SCENARIOS)) if (manifest.captures[k]) ordered[k] = manifest.captures[k];
manifest.captures = ordered;
manifest.recordedWith = 'node build/tools/captures/record.js (socket-level recording through NetlinkSocket; no nlmon on this machine)';
writeFileSync(MANIFEST, `${JSON.stringify(manifest, null, 2)}\n`);
process.exit(failed > 0 ? 1 : 0);
