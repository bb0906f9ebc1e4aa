import { validateDataset } from '@npo/diffusion';

// validateDataset from @npo/diffusion's data module, injected as `deps.validateDataset` (tests may pass their own).
export type ValidateDataset = typeof validateDataset;
export { validateDataset };
