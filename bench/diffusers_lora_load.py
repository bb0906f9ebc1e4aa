"""Loads an adapter the service wrote into diffusers' own UNet2DConditionModel the way a user would, and reports
what diffusers made of it:

    <venv>/bin/python bench/diffusers_lora_load.py <model folder> <adapter.safetensors>

`unet.load_lora_adapter(folder, weight_name=…, prefix="unet")` reads the PEFT keys and the file's
`lora_adapter_metadata` (rank, alpha, target modules). Prints one JSON line: the keys diffusers left unloaded
(`missing`: LoRA parameters it created with no tensor in the file; `unexpected`: tensors in the file it has no
parameter for), the largest difference between a file tensor and the loaded parameter, and the LoRA scaling of every
adapted module against alpha / rank from the file.
"""
import json
import logging
import os
import sys

import torch
from diffusers import UNet2DConditionModel
from safetensors import safe_open
from safetensors.torch import load_file


def main():
    model_dir, adapter = sys.argv[1], sys.argv[2]
    warnings = []

    class Keep(logging.Handler):
        def emit(self, record):
            warnings.append(record.getMessage())

    logging.getLogger("diffusers").addHandler(Keep(level=logging.WARNING))
    unet = UNet2DConditionModel.from_pretrained(os.path.join(model_dir, "unet"))
    with safe_open(adapter, "pt") as f:
        meta = f.metadata() or {}
    tensors = load_file(adapter)
    unet.load_lora_adapter(os.path.dirname(adapter), weight_name=os.path.basename(adapter), prefix="unet", adapter_name="npo")
    cfg = unet.peft_config["npo"]

    loaded = {n: p for n, p in unet.named_parameters() if ".lora_" in n}
    expected = {}
    for key, value in tensors.items():
        assert key.startswith("unet."), key
        name = key[len("unet."):].replace(".lora_A.weight", ".lora_A.npo.weight").replace(".lora_B.weight", ".lora_B.npo.weight")
        expected[name] = value
    unexpected = sorted(k for k in expected if k not in loaded)
    missing = sorted(k for k in loaded if k not in expected)
    max_diff = max((float((loaded[k].detach() - v).abs().max()) for k, v in expected.items() if k in loaded), default=None)
    rank, alpha = int(meta.get("rank", cfg.r)), float(meta.get("alpha", cfg.lora_alpha))
    scalings = sorted({round(float(m.scaling["npo"]), 9) for m in unet.modules() if hasattr(m, "scaling") and "npo" in getattr(m, "scaling", {})})
    print(json.dumps({
        "tensors_in_file": len(tensors), "lora_parameters_loaded": len(loaded), "missing": missing[:10], "unexpected": unexpected[:10],
        "max_abs_diff": max_diff, "file_rank": rank, "file_alpha": alpha, "config_r": cfg.r, "config_lora_alpha": cfg.lora_alpha,
        "scalings": scalings, "want_scaling": round(alpha / rank, 9), "target_modules": sorted(cfg.target_modules)[:5],
        "diffusers_warnings": [w[:300] for w in warnings],
    }))


if __name__ == "__main__":
    with torch.no_grad():
        main()
