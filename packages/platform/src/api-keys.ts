import { createHash, randomBytes } from 'node:crypto';
import { newId } from '@npo/contracts';
import type { Db } from './db/client.ts';
import type { EventBus } from './pubsub.ts';

// API keys are 256 random bits; only their sha256 is stored (a fast hash is fine for keys that random).
export function hashKey(key: string): string {
  return createHash('sha256').update(key, 'utf8').digest('hex');
}

export async function createApiKey(db: Db, tenantName: string): Promise<{ keyId: string; tenantId: string; key: string }> {
  const tenant = await db.tenant.upsert({ where: { name: tenantName }, create: { id: newId('ten'), name: tenantName }, update: {} });
  const key = `npo_${randomBytes(32).toString('base64url')}`;
  const keyId = newId('key');
  await db.apiKey.create({ data: { id: keyId, tenant_id: tenant.id, key_hash: hashKey(key) } });
  return { keyId, tenantId: tenant.id, key };
}

/** Channel on which revocations are announced, so API processes drop the key from their auth cache at once. */
export const keysRevokedChannel = (prefix: string) => `${prefix}:keys-revoked`;

export async function revokeApiKey(db: Db, keyId: string, announce?: { bus: EventBus; redisKeyPrefix: string }): Promise<boolean> {
  const res = await db.apiKey.updateMany({ where: { id: keyId, revoked_at: null }, data: { revoked_at: new Date() } });
  const row = await db.apiKey.findUnique({ where: { id: keyId }, select: { key_hash: true } });
  if (row && announce) await announce.bus.publish(keysRevokedChannel(announce.redisKeyPrefix), { keyId, keyHash: row.key_hash });
  return res.count === 1;
}

export async function findActiveKeyByHash(db: Db, keyHash: string): Promise<{ keyId: string; tenantId: string } | null> {
  const row = await db.apiKey.findUnique({ where: { key_hash: keyHash }, select: { id: true, tenant_id: true, revoked_at: true } });
  if (!row || row.revoked_at) return null;
  return { keyId: row.id, tenantId: row.tenant_id };
}
