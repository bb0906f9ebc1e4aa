#!/usr/bin/env node
// Finds every *.test.ts under packages/*/test, apps/*/test and bench/test and runs them with node's test runner.
// Node 20's `node --test` does not expand globs (it would run nothing and exit 0), so we list files here.
// Usage: node scripts/run-tests.mjs [path-substring ...]   (filters, e.g. `graph` or `apps/api`)
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { spawnSync } from 'node:child_process';

const root = new URL('..', import.meta.url).pathname;
const filters = process.argv.slice(2);

function walk(dir, out) {
  for (const name of readdirSync(dir)) {
    if (name === 'node_modules' || name.startsWith('.')) continue;
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p, out);
    else if (name.endsWith('.test.ts')) out.push(p);
  }
  return out;
}

const files = [];
for (const top of ['packages', 'apps']) {
  for (const pkg of readdirSync(join(root, top))) {
    const testDir = join(root, top, pkg, 'test');
    try {
      if (statSync(testDir).isDirectory()) walk(testDir, files);
    } catch {}
  }
}
try {
  walk(join(root, 'bench/test'), files);
} catch {}
const selected = files.map((f) => relative(root, f)).filter((f) => !filters.length || filters.some((s) => f.includes(s))).sort();
if (!selected.length) {
  console.error('no test files matched');
  process.exit(1);
}
const concurrency = process.env.TEST_CONCURRENCY ?? '1';
const res = spawnSync(process.execPath, ['--import', 'tsx', '--test', `--test-concurrency=${concurrency}`, ...selected], {
  cwd: root,
  stdio: 'inherit',
});
process.exit(res.status ?? 1);
