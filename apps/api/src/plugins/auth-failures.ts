import { RateLimitedError } from '@npo/contracts';
import type { Redis } from '@npo/platform';

/**
 * Unknown API keys counted per client address in Redis. Past `max` in a window the address gets 429 before its key is
 * even looked up, so guessing keys costs the guesser, not Postgres. Keys already in the auth cache still pass.
 */
export class AuthFailureLimiter {
  constructor(private readonly redis: Redis, private readonly prefix: string, private readonly max: number, private readonly windowMs: number) {}

  private key(address: string): string {
    return `${this.prefix}:auth-failures:${address}`;
  }

  async refuseIfOver(address: string): Promise<void> {
    const failures = Number((await this.redis.get(this.key(address))) ?? 0);
    if (failures >= this.max) {
      const ttl = await this.redis.pttl(this.key(address));
      const retryAfter = Math.max(1, Math.ceil(ttl / 1000));
      throw new RateLimitedError(`too many unknown API keys from this address (${this.max} per ${this.windowMs / 1000} s); retry after ${retryAfter} s`, { limit: this.max, retry_after_seconds: retryAfter });
    }
  }

  async record(address: string): Promise<void> {
    const key = this.key(address);
    const [[, count]] = (await this.redis.multi().incr(key).exec()) as [[unknown, number]];
    if (count === 1) await this.redis.pexpire(key, this.windowMs);
  }
}
