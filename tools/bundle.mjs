#!/usr/bin/env node
/**
 * The CLI executable (issue 14, start-up): turns tsc's ESM output under dist/ into the
 * CommonJS executable dist/cli/ctevents.cjs that package.json's `bin` points to. Node's ESM
 * loader costs ~30 ms for the 65 modules of `ctevents dump` (a stat, open, realpath, URL,
 * compile and link per module); the bundle costs two reads and a code-cache lookup.
 *
 * Files written (plain Node at run time, no dependency):
 *
 *   dist/cli/ctevents.cjs      #!/usr/bin/env node, DIGEST (sha256 of the bundled dist
 *                              modules, keys and texts), KEYS, INDEX {key: [offset, length,
 *                              position in KEYS]}, BLOCKS and the loader: load(key) reads
 *                              the module's code cache and text (with its hot block: a
 *                              run reads only what it evaluates), compiles it with vm.Script and
 *                              runs it on its FIRST require only, caching module.exports;
 *                              load('cli/ctevents.js')
 *   dist/cli/ctevents.bundle   the modules' texts, each `(function (exports, require,
 *                              module, __meta) {...})` (async for top-level await), UTF-8;
 *                              the hot blocks first (HOT_BLOCKS: what every command, then
 *                              what a live command evaluates), then the rest in key order
 *   dist/cli/ctevents.v8cache  "CTEVV8C2", DIGEST as 64 hex digits, u32le count, then per
 *                              key (KEYS order) u32le file offset + u32le length of its V8
 *                              code cache, then the caches (tools/bundle-cache.cjs)
 *
 * - Every module reachable from dist/cli/ctevents.js by static OR dynamic relative import
 *   is included (keys are paths relative to dist/); node: builtins go to Node's require.
 * - Each module is the tsc output transpiled again to CommonJS with the `typescript` API
 *   (transpileModule: syntax only, comments dropped, no helpers: esModuleInterop off).
 *   tsc's CommonJS form of `await import('./x.js')` is
 *   `Promise.resolve().then(() => require('./x.js'))`, so a lazily imported module stays lazy.
 * - Relative requires are resolved at build time to `require("~key")`; at run time a
 *   relative specifier is an error (Node would load the ESM file beside the bundle: a
 *   second copy of its modules).
 * - `import.meta.url` becomes `__meta.url`, the file: URL of the module's ORIGINAL place
 *   in dist/ (computed from the bundle's own __dirname), so native.ts finds the addon and
 *   main.ts finds package.json exactly as the ESM build does, in the checkout and in an
 *   installed package alike. Any other import.meta is a build error.
 * - Evaluation order matches ESM for an acyclic graph (tsc emits the requires in import
 *   order); a static import cycle is reported as a warning at build time (none exists).
 *
 * The library (issue 14, library start-up): the same three files in dist/lib/ (ctevents.cjs,
 * .bundle, .v8cache) hold every module reachable from the public entries (package.json
 * "exports": tsc's ESM module beside each entry's "types"); dist/lib/ctevents.cjs exports
 * load(key) instead of running an entry, so ALL entries share ONE module registry. Beside it
 * one ESM façade per entry (tools/bundle-facade.mjs: dist/lib/index.mjs for `.`, codec.mjs,
 * pcap.mjs, format.mjs, constants.mjs), which package.json "exports" `default` points to.
 *
 * Usage: node tools/bundle.mjs             write the files of both (npm run build/prepare/prepack)
 *        node tools/bundle.mjs --no-cache  without the V8 caches
 *        node tools/bundle.mjs --check     exit 1 if any file differs from what dist/ gives now
 */
import { createHash } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, posix } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { BundleError, facades, libraryEntries, staleFacades } from './bundle-facade.mjs';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const DIST = join(ROOT, 'dist');
const ENTRY = 'cli/ctevents.js';
export const OUTPUT = join(DIST, 'cli', 'ctevents.cjs');
export const BUNDLE_FILE = join(DIST, 'cli', 'ctevents.bundle');
export const CACHE_FILE = join(DIST, 'cli', 'ctevents.v8cache');

/**
 * A bundle: its files dist/DIR/ctevents.{cjs,bundle,v8cache}, the modules it starts from
 * (keys relative to dist/), its hot blocks' roots (HOT_BLOCKS), the first lines of its
 * loader file, what follows the loader, and how tools/bundle-cache.cjs trains its cache.
 */
const files = (dir) => ({ output: join(DIST, dir, 'ctevents.cjs'), bundleFile: join(DIST, dir, 'ctevents.bundle'), cacheFile: join(DIST, dir, 'ctevents.v8cache') });

/** The CLI executable (package.json `bin`). */
export const CLI = {
  ...files('cli'),
  entries: [ENTRY],
  hot: () => HOT_BLOCKS,
  head: (n) => `#!/usr/bin/env node\n// ctevents CLI: generated by tools/bundle.mjs from dist/ (${n} modules, in ctevents.bundle); do not edit.\n`,
  tail: `load(${JSON.stringify(ENTRY)});\n`,
  mode: 0o755,
  train: 'cli',
};

/**
 * The library: every public entry's module (libraryEntries()). Hot block 1 is what
 * `import 'ctevents'` evaluates, block 2 what the other entries add.
 */
export const LIBRARY = {
  ...files('lib'),
  get entries() {
    return libraryEntries().map((e) => e.key);
  },
  hot: () => {
    const keys = libraryEntries().map((e) => e.key);
    return [keys.slice(0, 1), keys.slice(1)];
  },
  head: (n) => `// ctevents library: generated by tools/bundle.mjs from dist/ (${n} modules, in ctevents.bundle); do not edit.\n// module.exports = load(key): the module dist/KEY, evaluated once; every entry's façade (dist/lib/*.mjs) shares this one registry.\n`,
  tail: 'module.exports = load;\n',
  mode: 0o644,
  train: 'lib',
  // A façade's `export const { X } = lib` copies X once: a module of the library may not
  // export a binding it reassigns later (`export let`/`export var`), or importers would
  // keep the first value.
  constExportsOnly: true,
};

/** Relative import specifiers of one ESM module (static imports, re-exports, dynamic imports). */
function relativeImports(source) {
  const info = ts.preProcessFile(source, true, true);
  return info.importedFiles.map((f) => f.fileName).filter((s) => s.startsWith('./') || s.startsWith('../'));
}

function resolveKey(fromKey, spec) {
  return posix.normalize(posix.join(posix.dirname(fromKey), spec));
}

/** Every module key reachable from the entries, in depth-first order of first appearance. */
function collect(entries) {
  const sources = new Map();
  const edges = new Map();
  const stack = [...entries].reverse();
  while (stack.length) {
    const key = stack.pop();
    if (sources.has(key)) continue;
    const file = join(DIST, key);
    if (!existsSync(file)) throw new BundleError(`${file} does not exist: run tsc first (npm run build)`);
    const src = readFileSync(file, 'utf8');
    sources.set(key, src);
    const deps = relativeImports(src).map((s) => resolveKey(key, s));
    edges.set(key, deps);
    for (const d of deps) if (!sources.has(d)) stack.push(d);
  }
  return { sources, edges };
}

/** Each module's static (evaluated at import) relative imports, in source order. */
function staticImports(sources) {
  const staticDeps = new Map();
  for (const [key, src] of sources) {
    const deps = [];
    const sf = ts.createSourceFile(key, src, ts.ScriptTarget.ES2022, false, ts.ScriptKind.JS);
    for (const st of sf.statements) {
      if ((ts.isImportDeclaration(st) || ts.isExportDeclaration(st)) && st.moduleSpecifier && ts.isStringLiteral(st.moduleSpecifier)) {
        const spec = st.moduleSpecifier.text;
        if (st.importClause?.isTypeOnly || st.isTypeOnly) continue;
        if (spec.startsWith('.')) deps.push(resolveKey(key, spec));
      }
    }
    staticDeps.set(key, deps);
  }
  return staticDeps;
}

/**
 * The bundle's hot blocks (start-up, issue 14): the modules each root evaluates by static
 * import (depth first), not in an earlier block. Block 1 is what every command evaluates
 * (the entry: `--version` needs no more), block 2 what a live command adds with the default
 * text format (`dump`, `stats`, `watch`: 54 modules in all). The loader reads a block whole,
 * as one string, on the first require of one of its modules: a string over 128 KB is
 * allocated outside V8's young generation, so reading `dump`'s 300 KB of modules costs no
 * scavenge (one module string at a time did: ~1 ms); every other module is read alone.
 */
const HOT_BLOCKS = [[ENTRY], ['cli/session.js', 'cli/live.js', 'format/text.js']];

function hotBlocks(staticDeps, roots) {
  const seen = new Set();
  return roots.map((roots) => {
    const block = [];
    const visit = (k) => {
      if (seen.has(k) || !staticDeps.has(k)) return;
      seen.add(k);
      block.push(k);
      for (const d of staticDeps.get(k)) visit(d);
    };
    for (const r of roots) visit(r);
    return block;
  });
}

/** Static-import cycles could evaluate differently under CommonJS: say so (none exists today). */
function checkNoStaticCycle(staticDeps) {
  const state = new Map();
  const visit = (k, path) => {
    if (state.get(k) === 2) return;
    if (state.get(k) === 1) {
      process.stderr.write(`tools/bundle.mjs: warning: static import cycle ${[...path, k].join(' -> ')} (CommonJS evaluates it like ESM only when no module uses the other's bindings at import)\n`);
      return;
    }
    state.set(k, 1);
    for (const d of staticDeps.get(k) ?? []) visit(d, [...path, k]);
    state.set(k, 2);
  };
  for (const k of staticDeps.keys()) visit(k, []);
}

/**
 * Builtins that Node's own start-up does not load and that only cold paths call (writing
 * sysctls, the metrics server, opening and finishing capture files):
 * requiring them costs ~3 ms each (child_process, http) at import; deferred, a module gets
 * a stand-in (the loader's deferred()) that requires the builtin on the first use of one
 * of its exports. tsc's CommonJS reads an import at each use (`(0, x_1.open)(...)`), so
 * the stand-in is always asked, never a copied binding.
 */
const DEFERRED_BUILTINS = ['node:child_process', 'node:http', 'node:fs/promises', 'node:stream/promises'];

/** transpile() of each module text once per run (the CLI and the library share most modules). */
const transpiled = new Map();

function transpile(key, src) {
  const id = `${key}\0${src}`;
  let out = transpiled.get(id);
  if (out === undefined) transpiled.set(id, (out = transpileOnce(key, src)));
  return out;
}

function transpileOnce(key, src) {
  if (/\bimport\.meta\b(?!\.(?:url|dirname)\b)/.test(src)) throw new BundleError(`${key}: import.meta other than import.meta.url and import.meta.dirname is not supported by the bundle`);
  const body = src.replace(/^#!.*\n/, '').replace(/\bimport\.meta\.(url|dirname)\b/g, '__meta.$1').replace(/^\/\/# sourceMappingURL=.*$/m, '');
  const out = ts.transpileModule(body, {
    fileName: key,
    reportDiagnostics: true,
    compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022, esModuleInterop: false, sourceMap: false, removeComments: true },
  });
  if (out.diagnostics?.length) {
    throw new BundleError(`${key}: ${out.diagnostics.map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n')).join('; ')}`);
  }
  // "use strict" stays: it is the first statement of the module's function in the bundle.
  // Relative requires are resolved here, once: require("./x.js") becomes require("~dir/x.js")
  // (the key; "~" is no Node specifier), so the loader does no path work at run time.
  // tsc writes static imports with double quotes and keeps the quotes of a dynamic import().
  // A deferred builtin (DEFERRED_BUILTINS) becomes require("?node:x"): the loader hands out
  // a stand-in that requires it on first use.
  const code = out.outputText
    .replace(/\brequire\((["'])(\.\.?\/[^"']+)\1\)/g, (_, q, spec) => `require(${JSON.stringify(`~${resolveKey(key, spec)}`)})`)
    .replace(/\brequire\("(node:[a-z_/]+)"\)/g, (all, spec) => (DEFERRED_BUILTINS.includes(spec) ? `require("?${spec}")` : all));
  const left = /\brequire\(\s*["'`]\.\.?\//.exec(code);
  if (left) throw new BundleError(`${key}: a relative require the bundle could not resolve: ${code.slice(left.index, left.index + 60)}`);
  const async = hasTopLevelAwait(body);
  return { code, async };
}

/** Whether the module awaits outside every function (top-level await). */
function hasTopLevelAwait(code) {
  const sf = ts.createSourceFile('x.mjs', code, ts.ScriptTarget.ES2022, false, ts.ScriptKind.JS);
  let found = false;
  const walk = (node) => {
    if (found) return;
    if (ts.isFunctionLike(node) || ts.isClassLike(node)) return;
    if (ts.isAwaitExpression(node) || (ts.isForOfStatement(node) && node.awaitModifier)) {
      found = true;
      return;
    }
    ts.forEachChild(node, walk);
  };
  walk(sf);
  return found;
}

/** The modules of a bundle (the CLI's by default), transpiled: [{ key, code, async }] in key order, and the inputs' digest. */
export function transpileAll(target = CLI) {
  const { sources } = collect(target.entries);
  const staticDeps = staticImports(sources);
  checkNoStaticCycle(staticDeps);
  const keys = [...sources.keys()].sort();
  if (target.constExportsOnly) {
    for (const key of keys) {
      const m = /^export (?:let|var)\s+[^;=\n]*/m.exec(sources.get(key));
      if (m) throw new BundleError(`${key}: \`${m[0].trim()}\`: the library's façades copy each export once (tools/bundle-facade.mjs); export a const or a function instead`);
    }
  }
  const digest = createHash('sha256');
  const modules = keys.map((key) => {
    const src = sources.get(key);
    digest.update(key).update('\0').update(src).update('\0');
    return { key, ...transpile(key, src) };
  });
  return { modules, digest: digest.digest('hex'), blocks: hotBlocks(staticDeps, target.hot()) };
}

/** A module's text in ctevents.bundle: one parenthesised function expression (V8 compiles it eagerly). */
const wrapHead = (async) => `(${async ? 'async ' : ''}function (exports, require, module, __meta) {`;
const WRAP_TAIL = '\n})\n';

/**
 * The executable's loader (after DIGEST, KEYS, INDEX and ASCII). ctevents.bundle holds the
 * modules' wrapped texts one after the other (UTF-8), INDEX[key] = [byte offset, byte
 * length, position in KEYS]; BLOCKS: the end offsets of the hot blocks at its head (see
 * HOT_BLOCKS). ctevents.v8cache (optional): "CTEVV8C2", the 64 hex digits of DIGEST, u32le
 * module count, per module in KEYS order a u32le file offset and a u32le length, then the
 * V8 code caches. Both files stay open; a module's cache is read (pread) on its first
 * require, its text with its hot block (one latin1 string per block, read whole on the
 * first require of one of its modules) or alone: \`dump\` reads 300 KB of text and its 54
 * modules' caches, not the whole 1.1 MB (start-up, issue 14).
 */
const LOADER = `
const { openSync, readSync } = require('node:fs');
const { Script } = require('node:vm');
const { join } = require('node:path');
/** dist/, where each module's original lives (its filename in stack traces and its import.meta.url). */
const dist = join(__dirname, '..') + '/';
/** \`len\` bytes of the file at \`fd\` from \`off\` (pread): only the modules a run evaluates are read. */
function range(fd, off, len) {
  const b = Buffer.allocUnsafe(len);
  for (let n = 0; n < len; ) {
    const k = readSync(fd, b, n, len - n, off + n);
    if (k === 0) throw new Error('ctevents: ctevents.bundle or ctevents.v8cache is truncated (rebuild: npm run build)');
    n += k;
  }
  return b;
}
const bundleFd = openSync(join(__dirname, 'ctevents.bundle'), 'r');
/** The V8 cache's table (offset, length per key), when the file is there and was made for these inputs (V8 rejects one made by another V8). */
let cacheFd = -1;
let cacheTable;
try {
  cacheFd = openSync(join(__dirname, 'ctevents.v8cache'), 'r');
  const head = range(cacheFd, 0, 76 + 8 * KEYS.length);
  if (head.latin1Slice(0, 8) === 'CTEVV8C2' && head.latin1Slice(8, 72) === DIGEST && head.readUInt32LE(72) === KEYS.length) cacheTable = head;
} catch {
  // no cache: each module is compiled from its text, as Node would
}
/** The hot blocks' texts, each read whole on first use (BLOCKS: their end offsets; ASCII bundles only). */
const blocks = [];
/** A module's text: a slice of its hot block, or read alone. */
function textOf(off, len) {
  for (let j = 0, start = 0; j < BLOCKS.length; start = BLOCKS[j++]) {
    if (off < BLOCKS[j]) return (blocks[j] ??= range(bundleFd, start, BLOCKS[j] - start).latin1Slice()).slice(off - start, off - start + len);
  }
  const b = range(bundleFd, off, len);
  return ASCII ? b.latin1Slice(0, len) : b.utf8Slice(0, len);
}
function cacheOf(i) {
  if (cacheTable === undefined) return undefined;
  try {
    return range(cacheFd, cacheTable.readUInt32LE(76 + 8 * i), cacheTable.readUInt32LE(80 + 8 * i));
  } catch {
    return undefined;
  }
}
const loaded = new Map();
/** A deferred builtin ("?node:x", tools/bundle.mjs DEFERRED_BUILTINS): required on the first use of one of its exports. */
function deferred(spec) {
  let m;
  const real = () => (m ??= require(spec));
  return new Proxy({}, {
    get: (_, k) => real()[k],
    has: (_, k) => k in real(),
    ownKeys: () => Reflect.ownKeys(real()),
    getOwnPropertyDescriptor: (_, k) => {
      const d = Reflect.getOwnPropertyDescriptor(real(), k);
      return d && { ...d, configurable: true };
    },
  });
}
/** Node's require, for builtins only: a relative path here would load the ESM file beside the bundle, a second copy. */
function builtin(spec) {
  if (spec.startsWith('.') || spec.startsWith('/')) throw new Error(\`ctevents: \${spec} is not in the bundle (rebuild: npm run build)\`);
  return spec.charCodeAt(0) === 63 /* ? */ ? deferred(spec.slice(1)) : require(spec);
}
/** A module is compiled and evaluated on its first require only, once, as ESM evaluates an import. */
function load(key) {
  let mod = loaded.get(key);
  if (mod !== undefined) return mod.exports;
  const at = INDEX[key];
  if (at === undefined) throw new Error(\`ctevents: \${key} is not in the bundle (rebuild: npm run build)\`);
  const filename = dist + key;
  const factory = new Script(textOf(at[0], at[1]), { filename, cachedData: cacheOf(at[2]) }).runInThisContext();
  mod = { exports: {} };
  loaded.set(key, mod);
  let url;
  const meta = { get url() { return (url ??= require('node:url').pathToFileURL(filename).href); }, dirname: filename.slice(0, filename.lastIndexOf('/')) };
  const local = (spec) => (spec.charCodeAt(0) === 126 /* ~ */ ? load(spec.slice(1)) : builtin(spec));
  const done = factory.call(undefined, mod.exports, local, mod, meta);
  if (done !== undefined) done.then(undefined, (e) => { process.exitCode = 1; throw e; });
  return mod.exports;
}
`;

/** A bundle's loader file and ctevents.bundle from dist/ as it is now (the V8 cache is made apart); the CLI's by default. */
export function buildBundle(target = CLI) {
  const { modules, digest, blocks } = transpileAll(target);
  const index = {};
  const parts = [];
  let off = 0;
  // Layout: the hot blocks in order, then every other module in key order.
  const position = new Map(modules.map((m, i) => [m.key, i]));
  const layout = [...blocks.flat(), ...modules.map((m) => m.key).filter((k) => !blocks.some((b) => b.includes(k)))];
  const ends = [];
  for (const key of layout) {
    const i = position.get(key);
    const m = modules[i];
    const b = Buffer.from(`${wrapHead(m.async)}${m.code}${WRAP_TAIL}`, 'utf8');
    index[m.key] = [off, b.length, i];
    parts.push(b);
    off += b.length;
    for (const blk of blocks) if (blk[blk.length - 1] === key) ends.push(off);
  }
  const keys = modules.map((m) => m.key);
  const bundle = Buffer.concat(parts);
  const ascii = !bundle.some((c) => c > 0x7f);
  const cjs =
    target.head(keys.length) +
    `'use strict';\n` +
    `const DIGEST = ${JSON.stringify(digest)};\n` +
    `const KEYS = ${JSON.stringify(keys)};\n` +
    `const INDEX = ${JSON.stringify(index)};\n` +
    `const ASCII = ${ascii};\n` +
    `const BLOCKS = ${JSON.stringify(ascii ? ends : [])};\n` +
    LOADER +
    target.tail;
  return { cjs, bundle, digest, keys, index };
}

/** The V8 cache, made by tools/bundle-cache.cjs in a fresh plain `node` (a cache must match a default run's V8 flags). */
function makeCache(target, b) {
  const r = spawnSync(process.execPath, [join(ROOT, 'tools', 'bundle-cache.cjs'), target.bundleFile, DIST], {
    input: JSON.stringify({ digest: b.digest, keys: b.keys, index: b.index, train: target.train, entries: target.entries }),
    maxBuffer: 1 << 30,
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  if (r.status !== 0) throw new BundleError(`tools/bundle-cache.cjs failed (${r.status ?? r.signal})`);
  return r.stdout;
}

function writeAtomic(file, data, mode = 0o644) {
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, data, { mode });
  renameSync(tmp, file);
}

/** Why one bundle's files on disk are not what dist/ gives now: a list, empty when they are. */
function staleBundle(target) {
  const b = buildBundle(target);
  const why = [];
  if (!existsSync(target.output) || readFileSync(target.output, 'utf8') !== b.cjs) why.push(`${target.output} is missing or stale`);
  if (!existsSync(target.bundleFile) || !readFileSync(target.bundleFile).equals(b.bundle)) why.push(`${target.bundleFile} is missing or stale`);
  if (existsSync(target.cacheFile) && readFileSync(target.cacheFile).latin1Slice(0, 72) !== `CTEVV8C2${b.digest}`) why.push(`${target.cacheFile} was made for other inputs`);
  return why;
}

/** Why the files on disk (the CLI's, the library's and its façades) are not what dist/ gives now, or undefined when they are. */
export function staleness() {
  const why = [...staleBundle(CLI), ...staleBundle(LIBRARY), ...staleFacades()];
  return why.length ? why.join('\n') : undefined;
}

function writeBundle(target, cache) {
  const b = buildBundle(target);
  mkdirSync(dirname(target.output), { recursive: true });
  rmSync(target.cacheFile, { force: true });
  writeAtomic(target.bundleFile, b.bundle);
  if (cache) writeAtomic(target.cacheFile, makeCache(target, b));
  writeAtomic(target.output, b.cjs, target.mode);
}

function main(argv) {
  if (argv.includes('--check')) {
    const why = staleness();
    if (why) {
      process.stderr.write(`${why.replaceAll('\n', ': run npm run build\n')}: run npm run build\n`);
      return 1;
    }
    return 0;
  }
  writeBundle(CLI, !argv.includes('--no-cache'));
  writeBundle(LIBRARY, !argv.includes('--no-cache'));
  for (const f of facades()) writeAtomic(f.file, f.text);
  return 0;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  try {
    process.exitCode = main(process.argv.slice(2));
  } catch (e) {
    if (!(e instanceof BundleError)) throw e;
    process.stderr.write(`tools/bundle.mjs: ${e.message}\n`);
    process.exitCode = 1;
  }
}
