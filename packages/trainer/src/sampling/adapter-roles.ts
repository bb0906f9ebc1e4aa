import type { AdapterUse, LoraAdapter } from '@npo/diffusion';
import type { AdapterRole } from '@npo/contracts';

export { ADAPTER_ROLES, roleOfMethod, type AdapterRole } from '@npo/contracts';

// Branch scales of each role (the roles themselves are defined in @npo/contracts): a positive adapter runs in
// both guidance branches, a negative one in the negative branch only, on top of whatever the positive one does.
const SCALES: Record<AdapterRole, { positiveScale: number; negativeScale: number }> = {
  positive: { positiveScale: 1, negativeScale: 1 },
  negative: { positiveScale: 0, negativeScale: 1 },
};

export const adapterUse = (adapter: LoraAdapter, role: AdapterRole): AdapterUse => ({ adapter, ...SCALES[role] });
