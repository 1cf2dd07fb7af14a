/**
 * Makes dist/cli/ctevents.v8cache for tools/bundle.mjs (which runs this in a fresh, plain
 * `node`, with no flags: V8 accepts a code cache only from the same V8 with the same flags).
 * Input on stdin: {"digest", "keys", "index"} as in the executable. Output on stdout, the
 * cache file: "CTEVV8C2", the 64 hex digits of the digest, u32le module count, then per
 * module in `keys` order a u32le file offset and a u32le length (the table the loader reads
 * first, so that it reads only the caches of the modules a run evaluates), then the caches:
 * the bytes of vm.Script#createCachedData() of each module's text (compiled, not run: the module's function is parenthesised, so its
 * top-level code is in the cache; inner functions are compiled lazily, when first called).
 *
 * Usage: node tools/bundle-cache.cjs dist/cli/ctevents.bundle dist < index.json > ctevents.v8cache
 */
'use strict';
const { readFileSync, writeSync } = require('node:fs');
const { Script } = require('node:vm');
const { join } = require('node:path');

const [bundleFile, dist] = process.argv.slice(2);
const { digest, keys, index } = JSON.parse(readFileSync(0, 'utf8'));
const text = readFileSync(bundleFile);
const head = Buffer.alloc(76 + 8 * keys.length);
head.latin1Write(`CTEVV8C2${digest}`, 0);
head.writeUInt32LE(keys.length, 72);
const parts = [head];
let at = head.length;
for (const [i, key] of keys.entries()) {
  const [off, len] = index[key];
  const data = new Script(text.utf8Slice(off, off + len), { filename: join(dist, key) }).createCachedData();
  head.writeUInt32LE(at, 76 + 8 * i);
  head.writeUInt32LE(data.length, 80 + 8 * i);
  parts.push(data);
  at += data.length;
}
const out = Buffer.concat(parts);
for (let at = 0; at < out.length; ) at += writeSync(1, out, at);
