/**
 * A module tree's parameters as torch.nn lays them out, name → shape, in the order they are added: what the
 * `*ParameterShapes(config)` tables build (a weights file is checked against them, and measured graphs use them).
 */
export class ParameterShapes extends Map<string, number[]> {
  /** nn.Linear: weight [out, in], bias [out]. */
  linear = (path: string, outF: number, inF: number, bias = true) => {
    this.set(`${path}.weight`, [outF, inF]);
    if (bias) this.set(`${path}.bias`, [outF]);
  };

  /** nn.Conv2d with a square kernel: weight [out, in, k, k], bias [out]. */
  conv = (path: string, outC: number, inC: number, k: number) => {
    this.set(`${path}.weight`, [outC, inC, k, k]);
    this.set(`${path}.bias`, [outC]);
  };

  /** nn.GroupNorm / nn.LayerNorm with affine parameters: weight [c], bias [c]. */
  norm = (path: string, c: number) => {
    this.set(`${path}.weight`, [c]);
    this.set(`${path}.bias`, [c]);
  };
}
