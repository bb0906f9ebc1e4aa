"""The same NPO training step as bench/run.ts with the stack a user would otherwise take: diffusers'
UNet2DConditionModel with a PEFT LoraConfig adapter on PyTorch 2 (SDPA attention), the reference pass with
disable_adapters(), the Diffusion-DPO loss on the reversed pair, clip_grad_norm_ and torch.optim.AdamW.

    <venv>/bin/python bench/diffusers_step.py <workload> [--threads N] [--steps N] [--losses-out FILE] [--device cpu|cuda]

The venv comes from bench/setup-diffusers-env.sh (built outside the repository). Reads
.data/bench/<workload>/workload.json like torch_step.py: the same config, weights (fp16 files are loaded into
the float32 model, as ours casts them in-graph), pair batch and LoRA initialisation. Prints one JSON line
{workload: "<name>-diffusers", threads, ms_median, ms_min, ms_max, peak_rss_mb}; on cuda also device and
peak_device_mb (torch.cuda.max_memory_allocated), timings after torch.cuda.synchronize().
"""
import argparse
import json
import os
import resource
import sys
import time

import torch
import torch.nn.functional as F
from diffusers import UNet2DConditionModel
from peft import LoraConfig
from safetensors.torch import load_file

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("workload")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--steps", type=int)
    ap.add_argument("--losses-out")
    ap.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    # load_state_dict copies (and casts) tensor by tensor: no float32 copy of the whole state dict beside the model,
    # which for SDXL (10.3 GB in float32) would not fit next to it on a 24 GB machine
    ap.add_argument("--direct-load", action="store_true")
    a = ap.parse_args()
    dev = torch.device(a.device)
    sync = torch.cuda.synchronize if a.device == "cuda" else (lambda: None)
    spec_path = os.path.join(REPO, ".data", "bench", a.workload, "workload.json")
    if not os.path.exists(spec_path):
        sys.exit(f"diffusers_step: {spec_path} is missing; run `npx tsx bench/run.ts {a.workload} --prepare-only` first")
    spec = json.load(open(spec_path))
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    peak_mb = lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    cfg = json.load(open(spec["config_path"]))
    unet = UNet2DConditionModel.from_config(cfg)
    state = load_file(spec["weights_path"]) if a.direct_load else {k: v.float() for k, v in load_file(spec["weights_path"]).items()}
    unet.load_state_dict(state, strict=True)
    del state
    unet.requires_grad_(False)
    unet.train()
    lora = spec["lora"]
    unet.add_adapter(LoraConfig(r=lora["rank"], lora_alpha=lora["alpha"], init_lora_weights="gaussian", target_modules=lora["targets"]))
    unet.to(dev)
    inputs = {k: v.to(dev) for k, v in load_file(spec["inputs_path"]).items()}
    params = []
    for path in lora["modules"]:
        mod = unet.get_submodule(path)
        with torch.no_grad():
            mod.lora_A["default"].weight.copy_(inputs[f"unet.{path}.lora_A.weight"])
            mod.lora_B["default"].weight.copy_(inputs[f"unet.{path}.lora_B.weight"])
        params += [mod.lora_A["default"].weight, mod.lora_B["default"].weight]
    trainable = [p for p in unet.parameters() if p.requires_grad]
    if len(trainable) != len(params):
        sys.exit(f"diffusers_step: {len(trainable)} trainable tensors, expected the {len(params)} LoRA tensors")
    print(f"[diffusers] torch {torch.__version__}, peak RSS after loading the model: {peak_mb():.0f} MB", file=sys.stderr)

    ad = spec["adamw"]
    opt = torch.optim.AdamW(params, lr=spec["lr"], betas=tuple(ad["betas"]), eps=ad["eps"], weight_decay=ad["weight_decay"])
    acp = inputs["alphas_cumprod"]
    chosen, rejected, noise, t, embeds = (inputs[k] for k in ("chosen", "rejected", "noise", "timesteps", "embeds"))
    beta, max_norm = spec["beta"], spec["max_grad_norm"]

    # SDXL (text_time UNets): pooled embeddings per prompt, time ids per image — they follow the images of a pair
    added = None
    if "text_embeds" in inputs:
        ids = (inputs["rejected_time_ids"], inputs["chosen_time_ids"]) if spec["method"] == "npo" else (inputs["chosen_time_ids"], inputs["rejected_time_ids"])
        added = {"text_embeds": torch.cat([inputs["text_embeds"], inputs["text_embeds"]]), "time_ids": torch.cat(ids)}

    def step():
        # NPO: the reversed preference, so the loss pushes the model towards the rejected image.
        first, second = (rejected, chosen) if spec["method"] == "npo" else (chosen, rejected)
        t2 = torch.cat([t, t])
        s_a = acp[t2].sqrt()[:, None, None, None]
        s_n = (1 - acp[t2]).sqrt()[:, None, None, None]
        eps = torch.cat([noise, noise])
        noisy = s_a * torch.cat([first, second]) + s_n * eps
        ctx = torch.cat([embeds, embeds])
        model_pred = unet(noisy, t2, ctx, added_cond_kwargs=added).sample
        with torch.no_grad():
            unet.disable_adapters()
            ref_pred = unet(noisy, t2, ctx, added_cond_kwargs=added).sample
            unet.enable_adapters()
        model_losses = (model_pred - eps).pow(2).mean(dim=[1, 2, 3])
        ref_losses = (ref_pred - eps).pow(2).mean(dim=[1, 2, 3])
        mw, ml = model_losses.chunk(2)
        rw, rl = ref_losses.chunk(2)
        inside = -0.5 * beta * ((mw - ml) - (rw - rl))
        loss = -F.logsigmoid(inside).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        norm = torch.nn.utils.clip_grad_norm_(params, max_norm)
        opt.step()
        return loss.item(), norm.item()

    steps = a.steps or spec["default_steps"]
    ms, losses, norms = [], [], []
    for i in range(spec["warmup_steps"] + steps):
        sync()
        t0 = time.perf_counter()
        loss, norm = step()
        sync()
        dt = (time.perf_counter() - t0) * 1000
        losses.append(loss)
        norms.append(norm)
        if i >= spec["warmup_steps"]:
            ms.append(dt)
        print(f"[diffusers] step {i + 1}: {dt:.0f} ms, peak RSS {peak_mb():.0f} MB", file=sys.stderr)
    if a.losses_out:
        json.dump({"losses": losses, "grad_norms": norms}, open(a.losses_out, "w"))
    print("[diffusers] losses " + " ".join(f"{l:.6g}" for l in losses), file=sys.stderr)
    s = sorted(ms)
    mid = len(s) // 2
    median = s[mid] if len(s) % 2 else (s[mid - 1] + s[mid]) / 2
    out = {"workload": f"{a.workload}-diffusers", "threads": a.threads, "ms_median": round(median, 2),
           "ms_min": round(s[0], 2), "ms_max": round(s[-1], 2), "peak_rss_mb": round(peak_mb(), 1)}
    if a.device == "cuda":
        out.update(device=torch.cuda.get_device_name(), peak_device_mb=round(torch.cuda.max_memory_allocated() / 2**20, 1))
    print(json.dumps(out))


if __name__ == "__main__":
    main()
