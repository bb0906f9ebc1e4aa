/** Learning rate at 1-based `step`: linear warm-up to `base`, then constant or cosine decay to 0 at `total`. */
export function learningRate(step: number, base: number, warmup: number, total: number, schedule: 'constant' | 'cosine'): number {
  if (warmup > 0 && step <= warmup) return (base * step) / warmup;
  if (schedule === 'constant') return base;
  const progress = Math.min(1, (step - warmup) / Math.max(1, total - warmup));
  return base * 0.5 * (1 + Math.cos(Math.PI * progress));
}
