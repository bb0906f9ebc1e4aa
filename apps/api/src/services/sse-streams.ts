import { RateLimitedError } from '@npo/contracts';

/**
 * The open event streams of this API process, by API key: at most `maxPerKey` at once (each holds a socket, a Redis
 * subscription and a heartbeat), and all of a key's streams end when the key is revoked.
 */
export class StreamRegistry {
  private readonly byKey = new Map<string, Set<() => void>>();
  constructor(private readonly maxPerKey: number) {}

  /** Registers a stream; `close` ends it. Returns the release to call when it ends (429 past the cap). */
  open(keyId: string, close: () => void): () => void {
    const streams = this.byKey.get(keyId) ?? new Set();
    if (streams.size >= this.maxPerKey)
      throw new RateLimitedError(`this key already has ${streams.size} open event streams (the limit is ${this.maxPerKey}); close one first`, { limit: this.maxPerKey });
    streams.add(close);
    this.byKey.set(keyId, streams);
    return () => {
      streams.delete(close);
      if (!streams.size && this.byKey.get(keyId) === streams) this.byKey.delete(keyId);
    };
  }

  closeKey(keyId: string): void {
    for (const close of [...(this.byKey.get(keyId) ?? [])]) close();
  }

  count(keyId: string): number {
    return this.byKey.get(keyId)?.size ?? 0;
  }
}
