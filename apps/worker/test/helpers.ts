import { newId, resolveHyperparameters, resolveValidation, type Hyperparameters, type ValidationSpec } from '@npo/contracts';
import type { TestContext } from '../../../packages/platform/src/testing.ts';

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function waitFor<T>(what: string, probe: () => Promise<T | null | undefined | false>, timeoutMs = 20000, everyMs = 50): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(everyMs);
  }
}

/** A tenant, a ready model and a ready dataset with objects in S3, and a queued job as the API creates it. */
export async function seedJob(ctx: TestContext, hp: Partial<Hyperparameters>, tenant = newId('ten'), validation?: ValidationSpec) {
  await ctx.db.tenant.upsert({ where: { id: tenant }, create: { id: tenant, name: tenant }, update: {} });
  const model = newId('mdl');
  await ctx.storage.putBuffer(`models/${model}/files/unet/config.json`, '{"sample_size": 8}');
  await ctx.db.model.create({ data: { id: model, tenant_id: tenant, name: 'm', source: 'upload', s3_prefix: `models/${model}/files`, status: 'ready', info: { pixelSpace: true, sampleSize: 8 } } });
  const dataset = newId('ds');
  await ctx.storage.putBuffer(`datasets/${dataset}/data.parquet`, Buffer.from('pairs'));
  await ctx.db.dataset.create({ data: { id: dataset, tenant_id: tenant, name: 'd', format: 'parquet', status: 'ready', s3_key: `datasets/${dataset}/data.parquet`, size_bytes: 5n } });
  const hyper = resolveHyperparameters(hp, { method: 'npo', model: { pixelSpace: true, sampleSize: 8 } });
  const id = newId('job');
  await ctx.db.job.create({ data: { id, tenant_id: tenant, model_id: model, dataset_id: dataset, method: 'npo', hyperparameters: hyper as object, state: 'queued', total_steps: hyper.steps, ...(validation ? { validation: resolveValidation(validation, hyper.checkpoint_every)! as object } : {}) } });
  await ctx.queues.train.add('train', { jobId: id }, { jobId: id });
  return { id, tenant, model, dataset };
}

/** A small valid preference dataset: a zip holding pairs.jsonl and solid-colour PNGs. */
export async function tinyPairsZip(pairs = 8): Promise<Buffer> {
  const { default: sharp } = await import('sharp');
  const { default: yazl } = await import('yazl');
  const colours: [string, [number, number, number]][] = [['red', [255, 0, 0]], ['green', [0, 255, 0]], ['blue', [0, 0, 255]], ['white', [255, 255, 255]]];
  const zip = new yazl.ZipFile();
  for (const [name, [r, g, b]] of colours) {
    zip.addBuffer(await sharp({ create: { width: 16, height: 16, channels: 3, background: { r, g, b } } }).png().toBuffer(), `images/${name}.png`);
  }
  const lines = Array.from({ length: pairs }, (_, i) => {
    const a = colours[i % 4][0];
    const b = colours[(i + 1) % 4][0];
    return JSON.stringify({ prompt: `a ${a} square`, chosen: `images/${a}.png`, rejected: `images/${b}.png` });
  });
  zip.addBuffer(Buffer.from(lines.join('\n')), 'pairs.jsonl');
  zip.end();
  const chunks: Buffer[] = [];
  for await (const c of zip.outputStream) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}
