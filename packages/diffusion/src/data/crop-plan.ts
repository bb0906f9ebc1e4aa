/**
 * Where preparation resizes and crops an image, as diffusers' training scripts do (torchvision Resize(R) — shorter
 * side to R, longer side truncated — then CenterCrop with Python's round on the offsets), so the SDXL micro-conditioning
 * recorded for the image (original size, crop top-left) describes exactly the pixels that were encoded.
 */
export interface CropPlan {
  /** Size after the resize, before the crop. */
  resizedWidth: number;
  resizedHeight: number;
  /** Top-left corner of the R×R crop in the resized image. */
  top: number;
  left: number;
}

/** Python 3's round(): halves go to the even neighbour. */
function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

export function centreCropPlan(width: number, height: number, resolution: number): CropPlan {
  const R = resolution;
  const [resizedWidth, resizedHeight] = width <= height ? [R, Math.max(R, Math.trunc((R * height) / width))] : [Math.max(R, Math.trunc((R * width) / height)), R];
  return {
    resizedWidth,
    resizedHeight,
    top: Math.max(0, roundHalfEven((resizedHeight - R) / 2)),
    left: Math.max(0, roundHalfEven((resizedWidth - R) / 2)),
  };
}
