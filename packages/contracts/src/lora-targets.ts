// Which Linear layers of the UNet a LoRA adapts. Names follow diffusers' UNet2DConditionModel module tree and
// match as PEFT's `target_modules` do: a module is targeted when its path equals a name or ends with `.<name>`.

/** Presets by name; `all-linear` (null here) is every Linear layer (2-D weight) the model has. */
export const LORA_TARGET_PRESETS = {
  attn: ['to_q', 'to_k', 'to_v', 'to_out.0'],
  'attn+ff': ['to_q', 'to_k', 'to_v', 'to_out.0', 'ff.net.0.proj', 'ff.net.2'],
  'all-linear': null,
} as const satisfies Record<string, readonly string[] | null>;

export type LoraTargetPreset = keyof typeof LORA_TARGET_PRESETS;
/** A preset name, or an explicit list of module names. */
export type LoraTargets = LoraTargetPreset | string[];

export const DEFAULT_LORA_TARGETS: LoraTargetPreset = 'attn';
export const LORA_TARGET_PRESET_NAMES = Object.keys(LORA_TARGET_PRESETS) as LoraTargetPreset[];

/**
 * The last names of every Linear layer in a diffusers UNet2DConditionModel (SD1.x, SD2.x, SDXL): attention
 * projections, the GEGLU feed-forward, linear proj_in/proj_out (SD2.x/SDXL), resnet time projections, and the
 * time/added-condition embedding MLPs.
 */
export const UNET_LINEAR_NAMES = [
  'to_q', 'to_k', 'to_v', 'to_out.0', 'ff.net.0.proj', 'ff.net.2', 'proj_in', 'proj_out', 'time_emb_proj', 'linear_1', 'linear_2',
] as const;

const SEGMENT = /^[A-Za-z0-9_]+$/;

/** The explicit names that cannot name a UNet Linear layer (neither a known last name nor a path ending in one). */
export function unknownTargetModules(names: readonly string[]): string[] {
  return names.filter((name) => {
    if (!name.split('.').every((s) => SEGMENT.test(s))) return true;
    return !UNET_LINEAR_NAMES.some((leaf) => name === leaf || name.endsWith(`.${leaf}`));
  });
}

/** The module names a preset stands for (null: every Linear layer), or the explicit list itself. */
export function targetModuleNames(targets: LoraTargets): readonly string[] | null {
  return typeof targets === 'string' ? LORA_TARGET_PRESETS[targets] : targets;
}

export const isLoraTargetPreset = (v: unknown): v is LoraTargetPreset => typeof v === 'string' && v in LORA_TARGET_PRESETS;

/** What is wrong with an explicit target list (names that no UNet Linear layer can have), or null. */
export function loraTargetsProblem(targets: LoraTargets): { message: string; unknown: string[] } | null {
  if (typeof targets === 'string') return null;
  const unknown = unknownTargetModules(targets);
  if (!unknown.length) return null;
  return {
    unknown,
    message: `${unknown.map((n) => JSON.stringify(n)).join(', ')} ${unknown.length === 1 ? 'is not the name' : 'are not names'} of a UNet Linear layer; give a preset (${LORA_TARGET_PRESET_NAMES.join(', ')}) or module names ending in one of ${UNET_LINEAR_NAMES.join(', ')}`,
  };
}
