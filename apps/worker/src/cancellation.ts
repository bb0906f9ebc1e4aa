import { Channels } from '@npo/contracts';
import type { EventBus } from '@npo/platform';

/**
 * Turns cancel messages on Redis into aborts of the jobs this process owns. Messages for jobs owned by other
 * workers are ignored; the Postgres `cancelling` flag (checked at every step) backs up a lost message.
 */
export class CancelRegistry {
  private readonly controllers = new Map<string, AbortController>();
  private unsubscribe: (() => Promise<void>) | null = null;

  constructor(private readonly bus: EventBus, private readonly prefix: string) {}

  async start(): Promise<void> {
    this.unsubscribe = await this.bus.subscribe(Channels.cancel(this.prefix), (msg) => {
      const id = (msg as { jobId?: string }).jobId;
      if (id) this.abort(id);
    });
  }

  register(jobId: string): AbortController {
    const c = new AbortController();
    this.controllers.set(jobId, c);
    return c;
  }

  abort(jobId: string): void {
    this.controllers.get(jobId)?.abort(new Error('cancelled'));
  }

  release(jobId: string): void {
    this.controllers.delete(jobId);
  }

  async stop(): Promise<void> {
    await this.unsubscribe?.();
  }
}
