import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { parse, parseAllDocuments } from 'yaml';
import { QueueNames } from '@npo/contracts';
import { CONFIG_ENV_VARS } from '../src/config.ts';
import { REPO_ROOT } from '../src/paths.ts';

// docker-compose.yml and infra/*.yaml must parse and agree with the variables the config module reads.
const REQUIRED = ['DATABASE_URL', 'REDIS_URL', 'S3_ENDPOINT', 'S3_BUCKET', 'S3_ACCESS_KEY_ID', 'S3_SECRET_ACCESS_KEY'];

const dockerfile = () => readFileSync(join(REPO_ROOT, 'Dockerfile'), 'utf8');

test('docker-compose.yml parses; every app service sets only known variables, and all the required ones', () => {
  const compose = parse(readFileSync(join(REPO_ROOT, 'docker-compose.yml'), 'utf8'), { merge: true });
  for (const s of ['postgres', 'redis', 'minio', 'api', 'worker', 'worker-gpu']) assert.ok(compose.services[s], s);
  assert.deepEqual(compose.services['worker-gpu'].profiles, ['gpu']);
  for (const name of ['api', 'worker', 'worker-gpu']) {
    const env = Object.keys(compose.services[name].environment);
    for (const v of env) assert.ok(CONFIG_ENV_VARS.includes(v), `${name} sets ${v}, which the config module does not read`);
    for (const v of REQUIRED) assert.ok(env.includes(v), `${name} lacks ${v}`);
  }
  assert.equal(compose.services['worker-gpu'].environment.EXECUTION_PROVIDER, 'cuda');
  assert.equal(compose.services['worker-gpu'].environment.WORKER_QUEUES, 'train,samples');
  assert.match(dockerfile(), /^ENV .*\bWORKER_QUEUES=train,samples\b/m, 'the worker-gpu image consumes train and samples');
  // each app is built from the Dockerfile target of its kind; the GPU profile uses the GPU image
  assert.deepEqual(['api', 'worker', 'worker-gpu'].map((n) => compose.services[n].build.target), ['api', 'worker-cpu', 'worker-gpu']);
  for (const target of ['api', 'worker-cpu', 'worker-gpu']) assert.match(dockerfile(), new RegExp(`^FROM \\S+ AS ${target}$`, 'm'), `Dockerfile target ${target}`);
});

test('infra manifests parse; containers get only known variables, all required ones, every queue has a consumer, and KEDA watches the train and samples queues', () => {
  const docs = readdirSync(join(REPO_ROOT, 'infra')).filter((f) => /\.ya?ml$/.test(f)).flatMap((f) =>
    parseAllDocuments(readFileSync(join(REPO_ROOT, 'infra', f), 'utf8')).map((d) => {
      assert.equal(d.errors.length, 0, `${f}: ${d.errors.join('; ')}`);
      return d.toJS();
    }));
  const configMap = docs.find((d) => d.kind === 'ConfigMap');
  const secret = docs.find((d) => d.kind === 'Secret');
  const fromConfig = [...Object.keys(configMap.data), ...Object.keys(secret.stringData)];
  for (const v of fromConfig) assert.ok(CONFIG_ENV_VARS.includes(v), `config map/secret sets ${v}, which the config module does not read`);
  const deployments = docs.filter((d) => d.kind === 'Deployment');
  assert.ok(deployments.length >= 2);
  for (const d of deployments) {
    for (const c of d.spec.template.spec.containers) {
      const names = (c.env ?? []).map((e: { name: string }) => e.name);
      for (const v of names) assert.ok(CONFIG_ENV_VARS.includes(v), `${d.metadata.name} sets ${v}`);
      const refs = (c.envFrom ?? []).map((e: { configMapRef?: { name: string } }) => e.configMapRef?.name);
      assert.ok(refs.includes(configMap.metadata.name), `${d.metadata.name} does not load the config map`);
      const all = new Set([...names, ...Object.keys(configMap.data)]);
      for (const v of REQUIRED) assert.ok(all.has(v), `${d.metadata.name} lacks ${v}`);
    }
  }
  const scaled = docs.find((d) => d.kind === 'ScaledObject');
  assert.equal(scaled.apiVersion, 'keda.sh/v1alpha1');
  const target = deployments.find((d) => d.metadata.name === scaled.spec.scaleTargetRef.name);
  assert.ok(target);
  const envOf = (d: (typeof deployments)[number]) => Object.fromEntries(d.spec.template.spec.containers[0].env.map((e: { name: string; value?: string }) => [e.name, e.value]));
  assert.equal(envOf(target).WORKER_QUEUES, 'train,samples', 'the scaled pool consumes the train and samples queues');
  // waiting PLUS running train jobs and sample sets: a pod is not scaled away under a running one
  const lists = Object.fromEntries(scaled.spec.triggers.map((t: { name: string; type: string; metadata: { listName: string } }) => (assert.equal(t.type, 'redis'), [t.name, t.metadata.listName])));
  const prefix = configMap.data.QUEUE_PREFIX;
  assert.deepEqual(lists, {
    waiting: `${prefix}:train:wait`, active: `${prefix}:train:active`, samples_waiting: `${prefix}:samples:wait`, samples_active: `${prefix}:samples:active`,
  });
  assert.equal(scaled.spec.advanced.scalingModifiers.formula.replace(/\s/g, ''), 'waiting+active+samples_waiting+samples_active');
  assert.equal(scaled.spec.advanced.scalingModifiers.target, '1');
  const cpu = deployments.find((d) => d.metadata.name === 'npo-forge-worker-cpu')!;
  assert.equal(envOf(cpu).WORKER_QUEUES, 'datasets,models,webhooks');
  // no queue is left without a consumer (a queue added later must be given to one of the pools)
  const consumed = new Set(deployments.flatMap((d) => String(envOf(d).WORKER_QUEUES).split(',')));
  assert.deepEqual(Object.values(QueueNames).filter((q) => !consumed.has(q)), []);
});
