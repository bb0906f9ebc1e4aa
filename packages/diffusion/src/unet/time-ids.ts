import { TIME_IDS } from './config.ts';

/**
 * SDXL's micro-conditioning of one image, in pixels, in the order the SDXL pipeline's `_get_add_time_ids` and
 * diffusers' SDXL training scripts build it: original size (height, width), crop top-left (top, left), target
 * size (height, width).
 */
export interface ImageTimeIds {
  originalSize: [height: number, width: number];
  cropTopLeft: [top: number, left: number];
  targetSize: [height: number, width: number];
}

export function timeIdsVector(t: ImageTimeIds): Float32Array {
  const v = Float32Array.of(...t.originalSize, ...t.cropTopLeft, ...t.targetSize);
  if (v.length !== TIME_IDS) throw new Error('time ids: six numbers');
  return v;
}

/** The pipeline's default when nothing else is asked for: original = target = the generated size, no crop. */
export function defaultTimeIds(height: number, width = height): Float32Array {
  return timeIdsVector({ originalSize: [height, width], cropTopLeft: [0, 0], targetSize: [height, width] });
}
