// The Dockerfile's install step (scripts/image-install.sh) in a fresh clone of this repository: where Docker is
// absent, this is what proves that an image builds from the npm registry alone and starts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { REPO_ROOT } from '../src/paths.ts';

test('scripts/image-install.sh worker-cpu in a fresh clone: npm ci from the registry, then config and onnxruntime load', { timeout: 900_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'npo-image-'));
  try {
    const clone = spawnSync('git', ['clone', '-q', REPO_ROOT, join(dir, 'repo')], { encoding: 'utf8' });
    assert.equal(clone.status, 0, clone.stderr);
    const r = spawnSync('bash', ['scripts/image-install.sh', 'worker-cpu'], { cwd: join(dir, 'repo'), encoding: 'utf8', env: { ...process.env, CI: 'true' } });
    assert.equal(r.status, 0, `${r.stdout}\n${r.stderr}`);
    assert.match(r.stdout, /image-install: worker-cpu ready on Node v\d+/);
    const bad = spawnSync('bash', ['scripts/image-install.sh', 'gpu'], { cwd: join(dir, 'repo'), encoding: 'utf8' });
    assert.equal(bad.status, 2);
    assert.match(bad.stderr, /unknown target gpu/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
