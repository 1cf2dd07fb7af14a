#!/usr/bin/env node
/**
 * The CLI executable (issue 14, start-up): turns tsc's ESM output under dist/ into ONE
 * CommonJS file, dist/cli/ctevents.cjs, which package.json's `bin` points to. Node's ESM
 * loader costs ~30 ms for the ~65 modules of `ctevents dump` (a stat, open, realpath, URL
 * and compile per module); one script costs one read and one compile.
 *
 * Layout of dist/cli/ctevents.cjs (plain Node, no dependency at run time):
 *
 *   #!/usr/bin/env node
 *   // header: generator, input digest (sha256 of every bundled dist module, in key order)
 *   'use strict';
 *   const M = { 'cli/main.js': function (exports, require, module, __meta) { ... }, ... };
 *   ... a 20-line loader: req(key) evaluates a module's factory on its FIRST require and
 *   caches module.exports (so a lazily imported module stays lazy: tsc's CommonJS form of
 *   `await import('./x.js')` is `Promise.resolve().then(() => require('./x.js'))`) ...
 *   req('cli/ctevents.js')
 *
 * - Every module reachable from dist/cli/ctevents.js by static OR dynamic relative import
 *   is included (keys are paths relative to dist/); node: builtins go to Node's require.
 * - Each module is the tsc output transpiled again to CommonJS with the `typescript` API
 *   (transpileModule: syntax only, no type check, no helpers needed: esModuleInterop off).
 * - `import.meta.url` becomes `__meta.url`, the file: URL of the module's ORIGINAL place
 *   in dist/ (computed from the bundle's own __dirname), so native.ts finds the addon and
 *   main.ts finds package.json exactly as the ESM build does, in the checkout and in an
 *   installed package alike.
 * - A module with top-level await (the entry) gets an async factory.
 * - Evaluation order matches ESM for an acyclic graph (tsc emits the requires in import
 *   order); a cycle is reported at build time (none exists today) so that a change in
 *   semantics cannot slip in silently.
 *
 * Usage: node tools/bundle.mjs          write dist/cli/ctevents.cjs
 *        node tools/bundle.mjs --check  exit 1 if the file differs from what dist/ gives now
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync, renameSync } from 'node:fs';
import { dirname, join, posix } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const DIST = join(ROOT, 'dist');
const ENTRY = 'cli/ctevents.js';
export const OUTPUT = join(DIST, 'cli', 'ctevents.cjs');
/** Where the bundle lives, relative to dist/ (its __dirname is dist/cli). */
const OUT_DIR_KEY = 'cli';

class BundleError extends Error {}

/** Relative import specifiers of one ESM module (static imports, re-exports, dynamic imports). */
function relativeImports(source) {
  const info = ts.preProcessFile(source, true, true);
  return info.importedFiles.map((f) => f.fileName).filter((s) => s.startsWith('./') || s.startsWith('../'));
}

function resolveKey(fromKey, spec) {
  return posix.normalize(posix.join(posix.dirname(fromKey), spec));
}

/** Every module key reachable from the entry, in depth-first order of first appearance. */
function collect() {
  const sources = new Map();
  const edges = new Map();
  const stack = [ENTRY];
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

/** Static-import cycles would evaluate differently under CommonJS: refuse them. */
function checkNoStaticCycle(sources) {
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
  const state = new Map();
  const visit = (k, path) => {
    if (state.get(k) === 2) return;
    if (state.get(k) === 1) throw new BundleError(`static import cycle: ${[...path, k].join(' -> ')}`);
    state.set(k, 1);
    for (const d of staticDeps.get(k) ?? []) visit(d, [...path, k]);
    state.set(k, 2);
  };
  for (const k of staticDeps.keys()) visit(k, []);
}

function transpile(key, src) {
  if (/\bimport\.meta\b(?!\.url\b)/.test(src)) throw new BundleError(`${key}: import.meta other than import.meta.url is not supported by the bundle`);
  const body = src.replace(/^#!.*\n/, '').replace(/\bimport\.meta\.url\b/g, '__meta.url').replace(/^\/\/# sourceMappingURL=.*$/m, '');
  const out = ts.transpileModule(body, {
    fileName: key,
    reportDiagnostics: true,
    compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022, esModuleInterop: false, sourceMap: false, removeComments: false },
  });
  if (out.diagnostics?.length) {
    throw new BundleError(`${key}: ${out.diagnostics.map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n')).join('; ')}`);
  }
  const code = out.outputText.replace(/^"use strict";\n/, '');
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

const LOADER = `
const { pathToFileURL } = require('node:url');
const { join } = require('node:path');
const dist = join(__dirname, ${JSON.stringify(posix.relative(OUT_DIR_KEY, '.') || '.')});
const cache = new Map();
function resolve(from, spec) {
  const parts = from.split('/');
  parts.pop();
  for (const p of spec.split('/')) {
    if (p === '..') parts.pop();
    else if (p !== '.') parts.push(p);
  }
  return parts.join('/');
}
function req(key) {
  let mod = cache.get(key);
  if (mod !== undefined) return mod.exports;
  const factory = M[key];
  mod = { exports: {} };
  cache.set(key, mod);
  let url;
  const meta = { get url() { return url ??= pathToFileURL(join(dist, key)).href; } };
  const local = (spec) => (spec.startsWith('./') || spec.startsWith('../') ? req(resolve(key, spec)) : require(spec));
  const r = factory.call(undefined, mod.exports, local, mod, meta);
  if (r !== undefined) r.then(undefined, (e) => { process.exitCode = 1; throw e; });
  return mod.exports;
}
`;

export function buildBundle() {
  const { sources } = collect();
  checkNoStaticCycle(sources);
  const keys = [...sources.keys()].sort();
  const digest = createHash('sha256');
  const parts = [];
  for (const key of keys) {
    const src = sources.get(key);
    digest.update(key).update('\0').update(src).update('\0');
    const { code, async } = transpile(key, src);
    parts.push(`${JSON.stringify(key)}: ${async ? 'async ' : ''}function (exports, require, module, __meta) {\n${code}},\n`);
  }
  const header =
    `#!/usr/bin/env node\n` +
    `// ctevents CLI: generated by tools/bundle.mjs from dist/ (${keys.length} modules); do not edit.\n` +
    `// inputs sha256 ${digest.digest('hex')}\n` +
    `'use strict';\n`;
  return `${header}const M = {\n${parts.join('')}};\n${LOADER}req(${JSON.stringify(ENTRY)});\n`;
}

function main(argv) {
  const text = buildBundle();
  if (argv.includes('--check')) {
    const cur = existsSync(OUTPUT) ? readFileSync(OUTPUT, 'utf8') : undefined;
    if (cur !== text) {
      process.stderr.write(`${OUTPUT} is ${cur === undefined ? 'missing' : 'stale'}: run npm run build\n`);
      return 1;
    }
    return 0;
  }
  const tmp = `${OUTPUT}.${process.pid}.tmp`;
  writeFileSync(tmp, text, { mode: 0o755 });
  renameSync(tmp, OUTPUT);
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
