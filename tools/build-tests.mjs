/**
 * Compiles src/, test/, bench/ and tools/ to plain ES modules under build/ so
 * `npm test` loads JavaScript instead of transforming TypeScript in each of
 * its ~130 test processes (the loader cost ~1.2 s of CPU per process).
 *   node tools/build-tests.mjs
 * build/ mirrors the repository: each x.ts becomes x.js (relative imports
 * rewritten to .js) beside a link to x.ts itself, which child processes still
 * start with tsx; every other file and top-level entry is a symbolic link, so
 * paths a test or module computes from its own location resolve as in the
 * source tree. Same transform as tsx (esbuild), so the code is the same code.
 */
import { build } from 'esbuild';
import { mkdirSync, readdirSync, rmSync, symlinkSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';

const ROOT = resolve(import.meta.dirname, '..');
const OUT = join(ROOT, 'build');
const COMPILED = ['src', 'test', 'bench', 'tools'];
const SKIP = new Set(['build', '.git', 'node_modules', ...COMPILED]);

rmSync(OUT, { recursive: true, force: true });
mkdirSync(OUT);
for (const name of readdirSync(ROOT)) if (!SKIP.has(name)) symlinkSync(join(ROOT, name), join(OUT, name));
symlinkSync(join(ROOT, 'node_modules'), join(OUT, 'node_modules'), 'dir');

/** Mirrors a source folder: links for every file, and the .ts files to compile. */
function mirror(dir, entries) {
  mkdirSync(join(OUT, relative(ROOT, dir)), { recursive: true });
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, e.name);
    if (e.isDirectory()) mirror(path, entries);
    else {
      symlinkSync(path, join(OUT, relative(ROOT, path)));
      if (e.name.endsWith('.ts') && !e.name.endsWith('.d.ts')) entries.push(path);
    }
  }
}

const entries = [];
for (const dir of COMPILED) mirror(join(ROOT, dir), entries);

// Every import stays an import: relative .ts paths become .js, packages stay packages.
const keepImports = {
  name: 'keep-imports',
  setup(b) {
    b.onResolve({ filter: /.*/ }, (args) => {
      if (args.kind === 'entry-point') return undefined;
      return { path: args.path.replace(/^(\.{1,2}\/.*)\.ts$/, '$1.js'), external: true };
    });
  },
};

const started = Date.now();
await build({
  entryPoints: entries,
  outdir: OUT,
  outbase: ROOT,
  bundle: true,
  plugins: [keepImports],
  format: 'esm',
  platform: 'node',
  target: 'node20',
  sourcemap: 'inline',
  sourcesContent: false,
  logLevel: 'error',
});
console.log(`build/: ${entries.length} TypeScript files compiled in ${Date.now() - started} ms`);
