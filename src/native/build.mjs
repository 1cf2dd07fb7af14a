#!/usr/bin/env node
// Builds the nlsock addon (src/native/build/Release/nlsock.node) with node-gyp.
//
// Run by `npm install` (the "install" script) and by hand: `node src/native/build.mjs`.
// It never fails the install: without the addon only live sockets are missing, so a
// failed build prints one warning line and exits 0. The full node-gyp output is kept
// in src/native/build.log. Nothing is downloaded: the headers come from the installed
// Node (npm's `nodedir`, or <prefix>/include/node next to the running node binary).

import { spawnSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..', '..');
const logFile = join(here, 'build.log');
const addon = join(here, 'build', 'Release', 'nlsock.node');

function warn(reason) {
  console.warn(
    `ctevents: WARNING: native netlink addon not built (${reason}); live sockets are unavailable, ` +
      `decoding and \`ctevents read\` still work. Retry with \`node src/native/build.mjs\` (log: ${relative(process.cwd(), logFile) || logFile}).`,
  );
}

/** The node-gyp command: [executable, ...leading args], or undefined. */
function findNodeGyp() {
  // npm exports its bundled node-gyp to lifecycle scripts.
  const fromNpm = process.env.npm_config_node_gyp;
  if (fromNpm && existsSync(fromNpm)) return [process.execPath, fromNpm];
  const onPath = spawnSync('node-gyp', ['--version'], { stdio: 'ignore' });
  if (!onPath.error && onPath.status === 0) return ['node-gyp'];
  const prefix = dirname(dirname(process.execPath));
  const candidates = [
    join(prefix, 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'),
    join(dirname(process.execPath), 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'),
  ];
  for (const base of [join(prefix, 'lib', 'node_modules', 'npm', 'package.json'), join(root, 'package.json')]) {
    try {
      candidates.push(createRequire(base).resolve('node-gyp/bin/node-gyp.js'));
    } catch {
      // not resolvable from there
    }
  }
  const found = candidates.find((p) => existsSync(p));
  return found ? [process.execPath, found] : undefined;
}

/** --nodedir for an offline build when npm did not pass one. */
function nodedirArgs() {
  if (process.env.npm_config_nodedir) return [];
  const prefix = dirname(dirname(process.execPath));
  if (existsSync(join(prefix, 'include', 'node', 'node_api.h'))) return [`--nodedir=${prefix}`];
  return [];
}

function main() {
  if (process.env.CTEVENTS_SKIP_NATIVE) {
    console.warn('ctevents: CTEVENTS_SKIP_NATIVE is set; not building the native netlink addon.');
    return;
  }
  if (process.platform !== 'linux') {
    warn(`netlink needs Linux, this is ${process.platform}`);
    return;
  }
  const gyp = findNodeGyp();
  if (!gyp) {
    writeFileSync(logFile, 'node-gyp not found (not on PATH, no npm_config_node_gyp, not next to npm)\n');
    warn('node-gyp not found');
    return;
  }
  const [cmd, ...lead] = gyp;
  const args = [...lead, 'rebuild', `--directory=${relative(root, here) || '.'}`, ...nodedirArgs()];
  const r = spawnSync(cmd, args, { cwd: root, encoding: 'utf8', timeout: 300_000, env: process.env });
  const log = [`$ ${cmd} ${args.join(' ')}`, r.stdout ?? '', r.stderr ?? '', r.error ? String(r.error) : ''].join('\n');
  try {
    writeFileSync(logFile, log);
  } catch {
    // the log is a convenience only
  }
  if (r.error || r.status !== 0 || !existsSync(addon)) {
    const why = r.error ? r.error.message : r.status !== 0 ? `node-gyp exited with ${r.status ?? r.signal}` : 'no output file';
    warn(why);
    return;
  }
  console.log(`ctevents: built ${relative(root, addon)}`);
}

try {
  main();
} catch (err) {
  warn(err instanceof Error ? err.message : String(err));
}
process.exitCode = 0;
