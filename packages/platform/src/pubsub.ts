import type { Redis } from 'ioredis';
import { createRedis } from './redis.ts';

// Redis pub/sub fan-out: one subscriber connection per process, many in-process listeners. Postgres stays the
// durable record; pub/sub only makes live views (SSE, cancellation) prompt.
export type Listener = (message: unknown, channel: string) => void;

export class EventBus {
  private readonly sub: Redis;
  private readonly listeners = new Map<string, Set<Listener>>();
  private readonly patterns = new Map<string, Set<Listener>>();
  /** The Redis (p)subscribe in flight or done for each key: later subscribers wait for it too. */
  private readonly ready = new Map<string, Promise<unknown>>();

  constructor(private readonly pub: Redis, redisUrl: string) {
    this.sub = createRedis(redisUrl, 'npo-sub');
    this.sub.on('message', (channel: string, raw: string) => this.dispatch(this.listeners.get(channel), raw, channel));
    this.sub.on('pmessage', (pattern: string, channel: string, raw: string) => this.dispatch(this.patterns.get(pattern), raw, channel));
    this.sub.on('error', () => {}); // ioredis reconnects; re-subscribes automatically
  }

  private dispatch(set: Set<Listener> | undefined, raw: string, channel: string): void {
    if (!set) return;
    let msg: unknown;
    try { msg = JSON.parse(raw); } catch { return; }
    for (const l of set) l(msg, channel);
  }

  async publish(channel: string, message: unknown): Promise<void> {
    await this.pub.publish(channel, JSON.stringify(message));
  }

  async subscribe(channel: string, listener: Listener): Promise<() => Promise<void>> {
    return this.add(this.listeners, channel, listener, (c) => this.sub.subscribe(c), (c) => this.sub.unsubscribe(c));
  }

  async psubscribe(pattern: string, listener: Listener): Promise<() => Promise<void>> {
    return this.add(this.patterns, pattern, listener, (c) => this.sub.psubscribe(c), (c) => this.sub.punsubscribe(c));
  }

  private async add(map: Map<string, Set<Listener>>, key: string, l: Listener, on: (k: string) => Promise<unknown>, off: (k: string) => Promise<unknown>) {
    const readyKey = `${map === this.patterns ? 'p' : 'c'}:${key}`;
    let set = map.get(key);
    if (!set) {
      set = new Set();
      map.set(key, set);
      this.ready.set(readyKey, on(key));
    }
    set.add(l);
    await this.ready.get(readyKey);
    return async () => {
      const s = map.get(key);
      if (!s) return;
      s.delete(l);
      if (!s.size) {
        map.delete(key);
        this.ready.delete(readyKey);
        await off(key).catch(() => {});
      }
    };
  }

  async close(): Promise<void> {
    this.sub.disconnect();
  }
}
