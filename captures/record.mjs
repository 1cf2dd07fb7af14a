#!/usr/bin/env node
/**
 * Records the capture scenarios: `node captures/record.mjs [scenario...]` as root, after
 * `npm install` (which builds dist/ and the socket addon). Without arguments every scenario
 * is recorded. Each scenario runs in its own throwaway network namespace(s), writes
 * captures/NAME.pcap, its oracles (NAME.conntrack.xml / .txt, NAME.tshark.json) and its
 * entry in captures/manifest.json. See captures/README.md.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Cleanup, Oracles, Recorder, Netns, removeStaleNamespaces, run, writeTshark, fileSize, conntrackSysctls } from './scripts/harness.mjs';
import { SCENARIOS } from './scripts/scenarios.mjs';

const DIR = import.meta.dirname;
const MANIFEST = join(DIR, 'manifest.json');

if (process.getuid?.() !== 0) {
  console.error('record.mjs must run as root (network namespaces, nftables, netlink groups)');
  process.exit(2);
}
if (!existsSync(join(DIR, '..', 'dist', 'socket', 'netlink-socket.js'))) {
  console.error('dist/ is missing: run `npm install` (or `npm run build`) first');
  process.exit(2);
}

const wanted = process.argv.slice(2);
for (const w of wanted) {
  if (!(w in SCENARIOS)) {
    console.error(`unknown scenario ${w}; known: ${Object.keys(SCENARIOS).join(' ')}`);
    process.exit(2);
  }
}
const names = wanted.length > 0 ? wanted : Object.keys(SCENARIOS);

let current;
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, async () => {
    console.error(`\n${sig}: cleaning up`);
    if (current) for (const e of await current.runAll()) console.error(`cleanup: ${e}`);
    process.exit(130);
  });
}

removeStaleNamespaces();
const manifest = existsSync(MANIFEST) ? JSON.parse(readFileSync(MANIFEST, 'utf8')) : { captures: {} };
const kernel = run('uname', ['-r']).trim();
let failed = 0;

for (const name of names) {
  const cleanup = new Cleanup();
  current = cleanup;
  const started = new Date();
  console.log(`== ${name}`);
  const rec = await Recorder.create(DIR, name);
  const ctx = {
    name,
    rec,
    cleanup,
    notes: [],
    /** Extra manifest fields a scenario wants to record. */
    extra: {},
    oracles: undefined,
    sysctls: undefined,
    namespaces: [],
    netns(short) {
      const ns = new Netns(cleanup, short);
      this.namespaces.push(ns);
      return ns;
    },
    /** The oracle collector of this scenario (one, bound to the namespace given first). */
    oraclesIn(ns) {
      this.oracles ??= new Oracles(ns);
      return this.oracles;
    },
    note(text) {
      this.notes.push(text);
      console.log(`   ${text}`);
    },
  };
  let error;
  try {
    await SCENARIOS[name].run(ctx);
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
    console.error(`   FAILED: ${error.stack ?? error}`);
    continue;
  }
  const files = [`${name}.pcap`, ...ctx.oracles.write(DIR, name)];
  const tshark = writeTshark(DIR, name);
  files.push(tshark.file);
  const messages = rec.messages.length;
  manifest.captures[name] = {
    pcap: `${name}.pcap`,
    bytes: fileSize(join(DIR, `${name}.pcap`)),
    records: rec.records,
    messages,
    description: SCENARIOS[name].description,
    command: `node captures/record.mjs ${name}`,
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
    oracles: ctx.oracles.commands,
    files,
    notes: ctx.notes,
    ...ctx.extra,
  };
  console.log(`   ${rec.records} records, ${messages} messages, ${manifest.captures[name].bytes} bytes`);
}

const ordered = {};
for (const k of Object.keys(SCENARIOS)) if (manifest.captures[k]) ordered[k] = manifest.captures[k];
manifest.captures = ordered;
manifest.recordedWith = 'node captures/record.mjs (socket-level recording through NetlinkSocket; no nlmon on this machine)';
writeFileSync(MANIFEST, `${JSON.stringify(manifest, null, 2)}\n`);
process.exit(failed > 0 ? 1 : 0);
