// Deliveries are retried with exponential backoff (×4 per attempt, from `baseMs`, at most 6 h apart) until
// `windowMs` (24 h by default) after the event; an attempt that would start later is not made.

const FACTOR = 4;
const MAX_DELAY_MS = 6 * 3600_000;

/** Wait before attempt `attempt + 1`, after `attempt` failed attempts (1-based). */
export function webhookRetryDelayMs(attempt: number, baseMs: number): number {
  return Math.min(MAX_DELAY_MS, baseMs * FACTOR ** Math.max(0, attempt - 1));
}

/** When the next attempt runs, or null when it would fall outside the retry window. */
export function nextWebhookAttemptAt(createdAt: Date, attempt: number, now: number, o: { baseMs: number; windowMs: number }): Date | null {
  const at = now + webhookRetryDelayMs(attempt, o.baseMs);
  return at <= createdAt.getTime() + o.windowMs ? new Date(at) : null;
}
