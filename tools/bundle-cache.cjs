/**
 * Makes a bundle's V8 cache (dist/cli/ or dist/lib/ctevents.v8cache) for tools/bundle.mjs (which runs this in a fresh, plain
 * `node`, with no flags: V8 accepts a code cache only from the same V8 with the same flags).
 * Input on stdin: {"digest", "keys", "index"} as in the executable, "train" ("cli" or "lib")
 * and "entries" (the library's). Output on stdout, the cache file: "CTEVV8C2", the 64 hex digits of the digest, u32le module count, then per
 * module in `keys` order a u32le file offset and a u32le length (the table the loader reads
 * first, so that it reads only the caches of the modules a run evaluates), then the caches:
 * the bytes of vm.Script#createCachedData() of each module's text.
 *
 * Trained cache (start-up, issue 14): a module's function is parenthesised, so its top-level
 * code is always in the cache, but an inner function is in it only if it was compiled when
 * the cache was made; every other function V8 compiles from source at its first call,
 * during the run (~3 ms of an empty `ctevents dump`). So the modules are first loaded the
 * way the executable loads them and the commands whose start-up matters are run through
 * cli/main.ts's main() against a stand-in for the addon that never touches the kernel
 * (TRAINING below: `--version`, `dump` in every format, `stats`; output to /dev/null): the
 * functions those runs call are compiled and go into the cache. A run never waits more than
 * 3 s; anything that fails during training only leaves functions out of the cache (V8
 * checks the source of every cache entry, so a cache can be slower, never wrong). Modules
 * the training does not load are compiled, not run.
 *
 * The library bundle (dist/lib/, input "train": "lib", "entries": its public entries'
 * modules, `.` first): every entry is loaded, then, against the same stand-in,
 * ConntrackClient.open(), dumpBatches(), dump() and close() of the `.` entry run (what a
 * library dump starts with).
 *
 * Usage: node tools/bundle-cache.cjs dist/cli/ctevents.bundle dist < index.json > ctevents.v8cache
 *        (CTEVENTS_CACHE_UNTRAINED=1: compile only, no training run)
 */
'use strict';
const { closeSync, openSync, readFileSync, writeSync } = require('node:fs');
const { Script } = require('node:vm');
const { dirname, join } = require('node:path');
const { pathToFileURL } = require('node:url');

const [bundleFile, dist] = process.argv.slice(2);
const { digest, keys, index, train: kind = 'cli', entries = [] } = JSON.parse(readFileSync(0, 'utf8'));
const text = readFileSync(bundleFile);

/** The commands whose start-up is measured (bench/startup.ts), as main() gets them. */
const TRAINING = [
  ['--version'],
  ['dump'],
  ['dump', '--format', 'json'],
  ['dump', '--format', 'conntrack'],
  ['dump', '--format', 'xml'],
  ['stats'],
  ['stats', '--format', 'json'],
];

const scripts = new Map();
function compile(key) {
  const [off, len] = index[key];
  const s = new Script(text.utf8Slice(off, off + len), { filename: join(dist, key) });
  scripts.set(key, s);
  return s;
}

/** The executable's loader (tools/bundle.mjs LOADER), for the training runs. */
const loaded = new Map();
function load(key) {
  let mod = loaded.get(key);
  if (mod !== undefined) return mod.exports;
  if (index[key] === undefined) throw new Error(`${key} is not in the bundle`);
  const factory = compile(key).runInThisContext();
  mod = { exports: {} };
  loaded.set(key, mod);
  const filename = join(dist, key);
  const meta = { get url() { return pathToFileURL(filename).href; }, dirname: dirname(filename) };
  // "?node:x" (a deferred builtin) is required at once here: training calls what it calls.
  const local = (spec) => (spec.charCodeAt(0) === 126 /* ~ */ ? load(spec.slice(1)) : require(spec.replace(/^\?/, '')));
  const done = factory.call(undefined, mod.exports, local, mod, meta);
  if (done !== undefined) done.then(undefined, () => {});
  return mod.exports;
}

/** One netlink message: header (host order), then `body` (nfgenmsg and attributes, big-endian payloads). */
function message(type, flags, seq, portid, body) {
  const b = new Uint8Array(16 + body.length);
  const v = new DataView(b.buffer);
  v.setUint32(0, b.length, true);
  v.setUint16(4, type, true);
  v.setUint16(6, flags, true);
  v.setUint32(8, seq, true);
  v.setUint32(12, portid, true);
  b.set(body, 16);
  return b;
}

/** nfgenmsg (AF_UNSPEC, version 0, res_id) and u32 attributes [type, value]. */
function nfBody(resId, attrs) {
  const b = new Uint8Array(4 + 8 * attrs.length);
  const v = new DataView(b.buffer);
  v.setUint16(2, resId, false);
  attrs.forEach(([t, x], i) => {
    v.setUint16(4 + 8 * i, 8, true);
    v.setUint16(6 + 8 * i, t, true);
    v.setUint32(8 + 8 * i, x, false);
  });
  return b;
}

/**
 * What the stand-in kernel answers to one request: the counters for the stats requests
 * (IPCTNL_MSG_CT_GET_STATS_CPU: one CPU; IPCTNL_MSG_CT_GET_STATS: entries and max), then
 * NLMSG_DONE for a dump, an ACK (NLMSG_ERROR 0, header only) for anything else.
 */
function answers(req, portid) {
  const v = new DataView(req.buffer, req.byteOffset, 16);
  const type = v.getUint16(4, true);
  const flags = v.getUint16(6, true);
  const seq = v.getUint32(8, true);
  const out = [];
  if (type === 0x0104) out.push(message(0x0104, 2, seq, portid, nfBody(0, [[2, 7], [8, 3]])));
  if (type === 0x0105) out.push(message(0x0105, 0, seq, portid, nfBody(0, [[1, 0], [2, 262144]])));
  if ((flags & 0x300) !== 0) out.push(message(3 /* NLMSG_DONE */, 2 /* NLM_F_MULTI */, seq, portid, new Uint8Array(4)));
  else out.push(message(2 /* NLMSG_ERROR */, 0x100 /* NLM_F_CAPPED */, seq, portid, new Uint8Array([0, 0, 0, 0, ...req.subarray(0, 16)])));
  return out;
}

/**
 * The addon's API (src/socket/native.ts NativeBinding) on a stand-in kernel (answers()):
 * the JS of a live run without a socket.
 */
function fakeBinding() {
  const META_STRIDE = 6;
  class NlSocket {
    constructor() {
      this.fd = 1000;
      this.netnsInode = 0;
      this.portid = 4242;
      this.queue = [];
      this.onBatch = undefined;
      this.closed = false;
    }
    bind() { return this.portid; }
    setsockopt() {}
    getsockopt() { return 1 << 20; }
    getsockoptBytes(_l, _n, size) { return new ArrayBuffer(size); }
    setBatchBytes() {}
    setReadAhead() {}
    setReceiveThread() {}
    receiveStats() { return {}; }
    setProgramNames() {}
    programName() { return undefined; }
    programNameStats() { return { lookups: 0, found: 0, dropped: 0 }; }
    send(d) {
      const v = new DataView(d.buffer, d.byteOffset, d.byteLength);
      for (let off = 0; off + 16 <= d.byteLength; ) {
        const len = v.getUint32(off, true);
        // One datagram per answer, as the kernel sends a reply and its ACK or DONE.
        this.queue.push(...answers(d.subarray(off, off + 16), this.portid));
        if (len < 16) break;
        off += (len + 3) & ~3;
      }
      this.deliver();
      return d.byteLength;
    }
    deliver() {
      if (this.onBatch === undefined || this.queue.length === 0) return;
      setImmediate(() => {
        if (this.closed || this.queue.length === 0) return;
        const items = this.queue.splice(0);
        const size = items.reduce((a, b) => a + b.byteLength, 0);
        const data = new Uint8Array(size);
        const meta = new Uint32Array(items.length * META_STRIDE);
        const now = Date.now();
        let at = 0;
        items.forEach((b, i) => {
          data.set(b, at);
          at += b.byteLength;
          meta.set([b.byteLength, 0, 0, 0, Math.floor(now / 1000), (now % 1000) * 1e6], i * META_STRIDE);
        });
        this.onBatch(data.buffer, meta);
      });
    }
    start(onBatch) {
      this.onBatch = onBatch;
      this.deliver();
    }
    pause() {}
    resume() { this.deliver(); }
    ref() {}
    unref() {}
    close() { this.closed = true; this.fd = -1; }
  }
  return {
    NlSocket,
    readFileInNetns() { throw Object.assign(new Error('no namespaces in training'), { errno: 2, syscall: 'open' }); },
    _fault() { return 0; },
    RECV_FLAG_TRUNCATED: 1,
    RECV_FLAG_OVERRUN: 2,
    RECV_FLAG_LOCAL_DROP: 4,
    META_STRIDE,
  };
}

/** `work`, given at most 3 s (a training run never waits longer); its failure only leaves functions out of the cache. */
async function bounded(work) {
  let timer;
  await Promise.race([work.catch(() => undefined), new Promise((res) => (timer = setTimeout(res, 3000)))]);
  clearTimeout(timer);
}

/** The CLI: TRAINING through cli/main.ts's main(), output to /dev/null. */
async function trainCli(devnull) {
  const { StdioOut } = load('cli/stdio.js');
  const never = () => {
    throw new Error('training: no stream');
  };
  const { main } = load('cli/main.js');
  for (const argv of TRAINING) {
    const io = { stdout: new StdioOut(devnull, never), stderr: new StdioOut(devnull, never, { lines: true }), stdin: undefined, signals: false };
    await bounded(main(argv, io));
  }
}

/** The library: every entry loaded, then a client's open, dumps and close. */
async function trainLibrary() {
  for (const key of entries) load(key);
  const { ConntrackClient } = load(entries[0]);
  const drain = async (it) => {
    for await (const x of it) void x;
  };
  await bounded(
    (async () => {
      const ct = await ConntrackClient.open();
      try {
        await drain(ct.dumpBatches());
        await drain(ct.dump());
      } finally {
        await ct.close();
      }
    })(),
  );
}

async function train() {
  const dlopen = process.dlopen;
  const devnull = openSync('/dev/null', 'w');
  process.dlopen = (m) => {
    m.exports = fakeBinding();
  };
  try {
    await (kind === 'lib' ? trainLibrary() : trainCli(devnull));
  } catch {
    // Whatever ran is compiled; the rest of the cache is as untrained.
  } finally {
    process.dlopen = dlopen;
    closeSync(devnull);
  }
}

function writeCache() {
  const head = Buffer.alloc(76 + 8 * keys.length);
  head.latin1Write(`CTEVV8C2${digest}`, 0);
  head.writeUInt32LE(keys.length, 72);
  const parts = [head];
  let at = head.length;
  for (const [i, key] of keys.entries()) {
    const data = (scripts.get(key) ?? compile(key)).createCachedData();
    head.writeUInt32LE(at, 76 + 8 * i);
    head.writeUInt32LE(data.length, 80 + 8 * i);
    parts.push(data);
    at += data.length;
  }
  const out = Buffer.concat(parts);
  for (let n = 0; n < out.length; ) n += writeSync(1, out, n);
}

(process.env.CTEVENTS_CACHE_UNTRAINED ? Promise.resolve() : train()).then(() => {
  writeCache();
  // Training may leave timers or promises behind: the cache is written, the job is done.
  process.exit(0);
});
