import { resolve } from 'node:path';
import { totalmem } from 'node:os';
import { defaultMemoryBudgetMb, QueueNames, SERVICE_ROOTS, type ImportAllowList, type QueueName } from '@npo/contracts';
import { DEFAULT_PRICE_TABLE, parsePriceTable, type PriceTable } from './usage/price-table.ts';

// Configuration comes from environment variables only, validated once at start-up. Every variable has a
// local-development default, so a bare checkout runs against scripts/services.sh; production sets them all.
// CONFIG_ENV_VARS is the list docker-compose.yml and infra/ are checked against.

export interface Config {
  databaseUrl: string;
  databaseSchema: string;
  redisUrl: string;
  s3: { endpoint: string; bucket: string; region: string; accessKeyId: string; secretAccessKey: string };
  host: string;
  port: number;
  workerConcurrency: number;
  executionProvider: 'cpu' | 'cuda';
  /** The queues this worker consumes: GPU workers `train`, CPU workers `datasets,models` (default: all). */
  workerQueues: QueueName[];
  dataDir: string;
  cacheMaxBytes: number;
  redisKeyPrefix: string;
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  maxUploadBytes: number;
  rateLimitMax: number;
  rateLimitWindowMs: number;
  authFailuresMax: number;
  sseStreamsPerKey: number;
  metricsToken: string;
  stalledIntervalMs: number;
  lockDurationMs: number;
  maxStalledCount: number;
  /** NODE_ENV; `production` refuses the local-development credentials (DEV_ONLY_SECRETS). */
  nodeEnv: string;
  builtinModelsDir: string;
  webhooks: { allowPrivate: boolean; retryBaseMs: number; retryWindowMs: number; timeoutMs: number };
  priceTable: PriceTable;
  importAllowList: ImportAllowList;
  /** Memory one training process may plan for, MB: the step's checkpointing fits it; a job that cannot is refused (job_too_large). */
  memoryBudgetMb: number;
}

type Parser<T> = (raw: string) => T;

interface VarSpec<T> { name: string; default: string; parse: Parser<T>; help: string }

const url = (protocols: string[]): Parser<string> => (raw) => {
  let u: URL;
  try { u = new URL(raw); } catch { throw new Error(`must be a URL (${protocols.join(' or ')}://...)`); }
  if (!protocols.includes(u.protocol.replace(/:$/, ''))) throw new Error(`must use ${protocols.join(' or ')}://, got ${u.protocol}//`);
  return raw;
};
const int = (min: number, max: number): Parser<number> => (raw) => {
  if (!/^\d+$/.test(raw.trim())) throw new Error(`must be an integer between ${min} and ${max}`);
  const n = Number(raw);
  if (n < min || n > max) throw new Error(`must be an integer between ${min} and ${max}`);
  return n;
};
const oneOf = <T extends string>(values: readonly T[]): Parser<T> => (raw) => {
  if (!(values as readonly string[]).includes(raw)) throw new Error(`must be one of ${values.join(', ')}`);
  return raw as T;
};
const bool: Parser<boolean> = (raw) => {
  if (!/^(true|false|1|0)$/.test(raw.trim())) throw new Error('must be true or false');
  return /^(true|1)$/.test(raw.trim());
};
const importAllowList: Parser<ImportAllowList> = (raw) => {
  let v: unknown;
  try { v = JSON.parse(raw); } catch { throw new Error('must be JSON: {"<tenant id>": ["<s3 folder>", …]}'); }
  if (!v || typeof v !== 'object' || Array.isArray(v)) throw new Error('must be an object of tenant id → list of S3 folders');
  for (const [tenant, folders] of Object.entries(v)) {
    if (!Array.isArray(folders) || !folders.every((f) => typeof f === 'string')) throw new Error(`${tenant}: must be a list of S3 folders`);
    for (const f of folders as string[]) {
      const top = f.replace(/^\/+/, '').split('/')[0];
      if (!top || f.split('/').some((seg, i, all) => (seg === '' && i < all.length - 1) || seg === '.' || seg === '..'))
        throw new Error(`${tenant}: ${JSON.stringify(f)} is not a folder path like shared/base-models`);
      if (SERVICE_ROOTS.includes(top)) throw new Error(`${tenant}: ${f} lies in the service's own ${top}/ folder`);
    }
  }
  return v as ImportAllowList;
};
const queueList: Parser<QueueName[]> = (raw) => {
  const all = Object.values(QueueNames) as QueueName[];
  if (raw.trim() === 'all') return all;
  const names = raw.split(',').map((s) => s.trim()).filter(Boolean);
  const unknown = names.filter((n) => !(all as string[]).includes(n));
  if (!names.length || unknown.length) throw new Error(`must be "all" or a comma-separated list of ${all.join(', ')}${unknown.length ? ` (unknown: ${unknown.join(', ')})` : ''}`);
  return [...new Set(names)] as QueueName[];
};
const nonEmpty: Parser<string> = (raw) => {
  if (!raw.trim()) throw new Error('must not be empty');
  return raw;
};
const identifier: Parser<string> = (raw) => {
  if (!/^[A-Za-z_][A-Za-z0-9_-]{0,62}$/.test(raw)) throw new Error('must be letters, digits, _ or - (at most 63)');
  return raw;
};
const bucketName: Parser<string> = (raw) => {
  if (!/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(raw)) throw new Error('must be a valid S3 bucket name (3-63 lower-case letters, digits, dots, hyphens)');
  return raw;
};

const spec = {
  databaseUrl: { name: 'DATABASE_URL', default: 'postgresql://postgres@127.0.0.1:5432/npo_forge', parse: url(['postgres', 'postgresql']), help: 'Postgres connection URL' },
  databaseSchema: { name: 'DATABASE_SCHEMA', default: 'public', parse: identifier, help: 'Postgres schema holding the tables' },
  redisUrl: { name: 'REDIS_URL', default: 'redis://127.0.0.1:6379', parse: url(['redis', 'rediss']), help: 'Redis URL for queues and pub/sub' },
  s3Endpoint: { name: 'S3_ENDPOINT', default: 'http://127.0.0.1:4569', parse: url(['http', 'https']), help: 'S3-protocol endpoint' },
  s3Bucket: { name: 'S3_BUCKET', default: 'npo-forge', parse: bucketName, help: 'bucket for datasets, models, checkpoints' },
  s3Region: { name: 'S3_REGION', default: 'us-east-1', parse: nonEmpty, help: 'S3 region' },
  s3AccessKeyId: { name: 'S3_ACCESS_KEY_ID', default: 'S3RVER', parse: nonEmpty, help: 'S3 access key id' },
  s3SecretAccessKey: { name: 'S3_SECRET_ACCESS_KEY', default: 'S3RVER', parse: nonEmpty, help: 'S3 secret access key' },
  host: { name: 'HOST', default: '127.0.0.1', parse: nonEmpty, help: 'API listen address' },
  port: { name: 'PORT', default: '3000', parse: int(0, 65535), help: 'API listen port' },
  workerConcurrency: { name: 'WORKER_CONCURRENCY', default: '1', parse: int(1, 64), help: 'jobs per worker process (1 per device)' },
  executionProvider: { name: 'EXECUTION_PROVIDER', default: 'cpu', parse: oneOf(['cpu', 'cuda'] as const), help: 'onnxruntime execution provider' },
  workerQueues: { name: 'WORKER_QUEUES', default: 'all', parse: queueList, help: 'queues this worker consumes' },
  dataDir: { name: 'DATA_DIR', default: '.data', parse: nonEmpty, help: 'local scratch folder' },
  cacheMaxBytes: { name: 'CACHE_MAX_BYTES', default: String(100 * 1024 ** 3), parse: int(0, Number.MAX_SAFE_INTEGER), help: "size the worker's model and prepared-shard caches under DATA_DIR are trimmed to, least recently used first (default 100 GiB)" },
  redisKeyPrefix: { name: 'QUEUE_PREFIX', default: 'npo', parse: identifier, help: 'prefix of every Redis key and channel: BullMQ queues, rate-limit counters, pub/sub (keeps deployments and test runs apart)' },
  logLevel: { name: 'LOG_LEVEL', default: 'info', parse: oneOf(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const), help: 'pino log level' },
  maxUploadBytes: { name: 'MAX_UPLOAD_BYTES', default: String(20 * 1024 ** 3), parse: int(1, Number.MAX_SAFE_INTEGER), help: 'largest accepted upload' },
  rateLimitMax: { name: 'RATE_LIMIT_MAX', default: '6000', parse: int(1, 1e9), help: 'requests per key per window' },
  rateLimitWindowMs: { name: 'RATE_LIMIT_WINDOW_MS', default: '60000', parse: int(1, 86400000), help: 'rate-limit window' },
  authFailuresMax: { name: 'AUTH_FAILURES_MAX', default: '30', parse: int(1, 1e9), help: 'unknown API keys per client address per rate-limit window before 429' },
  sseStreamsPerKey: { name: 'SSE_STREAMS_PER_KEY', default: '20', parse: int(1, 10000), help: 'concurrent event streams per API key (per API process)' },
  metricsToken: { name: 'METRICS_TOKEN', default: '', parse: (raw: string) => raw, help: 'bearer token for /metrics (unset: loopback clients only)' },
  stalledIntervalMs: { name: 'STALLED_INTERVAL_MS', default: '30000', parse: int(100, 3600000), help: 'BullMQ stalled-job check interval' },
  lockDurationMs: { name: 'LOCK_DURATION_MS', default: '30000', parse: int(100, 3600000), help: 'BullMQ job lock duration' },
  nodeEnv: { name: 'NODE_ENV', default: 'development', parse: nonEmpty, help: '`production` refuses the local-development S3 credentials' },
  maxStalledCount: { name: 'MAX_STALLED_COUNT', default: '5', parse: int(0, 1000), help: 'times a job may lose its worker before BullMQ fails it (the worker then re-queues or ends it: apps/worker/src/settle.ts)' },
  builtinModelsDir: { name: 'BUILTIN_MODELS_DIR', default: 'models', parse: nonEmpty, help: 'folder of built-in models uploaded at start-up' },
  webhookAllowPrivate: { name: 'WEBHOOK_ALLOW_PRIVATE', default: 'false', parse: bool, help: 'let webhooks reach loopback/private addresses (tests, local development only: SSRF)' },
  webhookRetryBaseMs: { name: 'WEBHOOK_RETRY_BASE_MS', default: '5000', parse: int(1, 3600000), help: 'first webhook retry delay; each next one is 4× longer, at most 6 h' },
  webhookRetryWindowMs: { name: 'WEBHOOK_RETRY_WINDOW_MS', default: '86400000', parse: int(1000, 604800000), help: 'how long after an event its delivery is retried' },
  importAllowList: { name: 'IMPORT_ALLOW_LIST', default: '{}', parse: importAllowList, help: 'S3 folders a tenant may import models from besides imports/<tenant id>/, e.g. {"ten_…":["shared/base-models"]}' },
  priceTable: { name: 'PRICE_TABLE', default: JSON.stringify(DEFAULT_PRICE_TABLE), parse: parsePriceTable, help: 'price of one device-hour per device kind, e.g. {"currency":"USD","per_device_hour":{"cpu":0.05,"cuda":2.5}}' },
  memoryBudgetMb: { name: 'MEMORY_BUDGET_MB', default: String(defaultMemoryBudgetMb(totalmem())), parse: int(64, 1 << 30), help: 'memory a training job may use, MB (default: this machine\'s memory less max(2 GiB, 1/8)): the step graph checkpoints activations to fit it, and a job that cannot fit even fully checkpointed fails with job_too_large before its dataset is prepared' },
  webhookTimeoutMs: { name: 'WEBHOOK_TIMEOUT_MS', default: '10000', parse: int(100, 120000), help: 'time one webhook request may take' },
} satisfies Record<string, VarSpec<unknown>>;

/** Credentials that only local development may use: s3rver's, and MinIO's root pair (docker-compose.yml). */
export const DEV_ONLY_SECRETS: readonly string[] = ['S3RVER', 'minioadmin', 'CHANGE_ME'];

export const CONFIG_ENV_VARS: string[] = Object.values(spec).map((s) => s.name);

export class ConfigError extends Error {
  readonly problems: { name: string; problem: string }[];
  constructor(problems: { name: string; problem: string }[]) {
    super(`invalid configuration:\n${problems.map((p) => `  ${p.name} ${p.problem}`).join('\n')}`);
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const problems: { name: string; problem: string }[] = [];
  const read = <T>(s: VarSpec<T>): T => {
    const raw = env[s.name] ?? s.default;
    try {
      return s.parse(raw);
    } catch (err) {
      problems.push({ name: s.name, problem: `${(err as Error).message} (${s.help}; got ${JSON.stringify(raw)})` });
      return undefined as T;
    }
  };
  const config: Config = {
    databaseUrl: read(spec.databaseUrl),
    databaseSchema: read(spec.databaseSchema),
    redisUrl: read(spec.redisUrl),
    s3: {
      endpoint: read(spec.s3Endpoint),
      bucket: read(spec.s3Bucket),
      region: read(spec.s3Region),
      accessKeyId: read(spec.s3AccessKeyId),
      secretAccessKey: read(spec.s3SecretAccessKey),
    },
    host: read(spec.host),
    port: read(spec.port),
    workerConcurrency: read(spec.workerConcurrency),
    executionProvider: read(spec.executionProvider),
    workerQueues: read(spec.workerQueues),
    dataDir: resolve(read(spec.dataDir) ?? '.data'),
    cacheMaxBytes: read(spec.cacheMaxBytes),
    redisKeyPrefix: read(spec.redisKeyPrefix),
    logLevel: read(spec.logLevel),
    maxUploadBytes: read(spec.maxUploadBytes),
    rateLimitMax: read(spec.rateLimitMax),
    rateLimitWindowMs: read(spec.rateLimitWindowMs),
    authFailuresMax: read(spec.authFailuresMax),
    sseStreamsPerKey: read(spec.sseStreamsPerKey),
    metricsToken: read(spec.metricsToken),
    stalledIntervalMs: read(spec.stalledIntervalMs),
    lockDurationMs: read(spec.lockDurationMs),
    maxStalledCount: read(spec.maxStalledCount),
    nodeEnv: read(spec.nodeEnv),
    builtinModelsDir: resolve(read(spec.builtinModelsDir) ?? 'models'),
    priceTable: read(spec.priceTable),
    importAllowList: read(spec.importAllowList),
    memoryBudgetMb: read(spec.memoryBudgetMb),
    webhooks: {
      allowPrivate: read(spec.webhookAllowPrivate),
      retryBaseMs: read(spec.webhookRetryBaseMs),
      retryWindowMs: read(spec.webhookRetryWindowMs),
      timeoutMs: read(spec.webhookTimeoutMs),
    },
  };
  if (config.nodeEnv === 'production') {
    // the defaults (and MinIO's well-known root pair) are for a laptop: a deployment must set its own
    for (const [s, value] of [[spec.s3AccessKeyId, config.s3.accessKeyId], [spec.s3SecretAccessKey, config.s3.secretAccessKey]] as const) {
      if (env[s.name] === undefined || DEV_ONLY_SECRETS.includes(value))
        problems.push({ name: s.name, problem: `must be set to a scoped key of this deployment when NODE_ENV=production (${JSON.stringify(value)} is a local-development default)` });
    }
  }
  if (problems.length) throw new ConfigError(problems);
  return config;
}
