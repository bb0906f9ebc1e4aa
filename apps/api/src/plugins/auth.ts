import type { FastifyInstance, FastifyRequest } from 'fastify';
import { UnauthorizedError } from '@npo/contracts';
import { findActiveKeyByHash, hashKey, keysRevokedChannel, type Db, type EventBus } from '@npo/platform';
import type { AuthFailureLimiter } from './auth-failures.ts';

declare module 'fastify' {
  interface FastifyRequest { auth: { tenantId: string; keyId: string } | null }
}

type Found = { keyId: string; tenantId: string };

/**
 * Valid keys are cached briefly so a status read costs one query, not two. Revocation is announced on Redis
 * (keys:create --revoke does it) and evicts the key at once; the TTL bounds the window should a message be lost.
 */
export class KeyCache {
  private readonly entries = new Map<string, { found: Found; expires: number }>();
  constructor(private readonly ttlMs = 10000, private readonly max = 10000) {}
  get(hash: string): Found | null {
    const e = this.entries.get(hash);
    if (!e) return null;
    if (e.expires < Date.now()) { this.entries.delete(hash); return null; }
    return e.found;
  }
  set(hash: string, found: Found): void {
    if (this.entries.size >= this.max) this.entries.delete(this.entries.keys().next().value!);
    this.entries.set(hash, { found, expires: Date.now() + this.ttlMs });
  }
  evict(hash: string): void {
    this.entries.delete(hash);
  }
}

/**
 * Resolves `Authorization: Bearer <key>` on every route of the instance it is registered on (the /v1 plugin: hooks are
 * encapsulated, so health, metrics, docs and the dashboard never see it); routes read request.auth.
 */
export async function registerAuth(app: FastifyInstance, deps: { db: Db; bus: EventBus; redisKeyPrefix: string; failures: AuthFailureLimiter; onRevoked: (keyId: string) => void }): Promise<void> {
  const cache = new KeyCache();
  const unsubscribe = await deps.bus.subscribe(keysRevokedChannel(deps.redisKeyPrefix), (msg) => {
    const { keyHash, keyId } = msg as { keyHash?: string; keyId?: string };
    if (keyHash) cache.evict(keyHash);
    if (keyId) deps.onRevoked(keyId); // e.g. its open event streams end
  });
  app.addHook('onClose', async () => unsubscribe());
  app.decorateRequest('auth', null);
  app.addHook('onRequest', async (request: FastifyRequest) => {
    const header = request.headers.authorization;
    if (!header) throw new UnauthorizedError('missing Authorization header: send "Authorization: Bearer <api key>"', 'missing_api_key');
    const match = /^Bearer\s+(\S+)$/i.exec(header);
    if (!match) throw new UnauthorizedError('Authorization header must be "Bearer <api key>"', 'invalid_api_key');
    const hash = hashKey(match[1]);
    let found = cache.get(hash);
    if (!found) {
      await deps.failures.refuseIfOver(request.ip);
      found = await findActiveKeyByHash(deps.db, hash);
      if (!found) {
        await deps.failures.record(request.ip);
        throw new UnauthorizedError('API key is invalid or revoked', 'invalid_api_key');
      }
      cache.set(hash, found);
    }
    request.auth = found;
  });
}

export function tenantOf(request: FastifyRequest): string {
  if (!request.auth) throw new UnauthorizedError();
  return request.auth.tenantId;
}
