#!/usr/bin/python3
"""The same NPO training step as bench/run.ts, in PyTorch eager, for comparison.

    /usr/bin/python3 bench/torch_step.py <workload> [--threads N] [--steps N] [--losses-out FILE]

Reads .data/bench/<workload>/workload.json (written by `npx tsx bench/run.ts <workload> --prepare-only`): the
diffusers config, the weights, the pair batch and the LoRA initialisation, so both sides run one step on the
same numbers. diffusers is not installable here, so the UNet below is a compact re-implementation that mirrors
diffusers' UNet2DConditionModel module tree (state-dict names load unchanged), with the classic AttnProcessor
(baddbmm + softmax + bmm; torch 1.13 has no scaled_dot_product_attention) and PEFT-style LoRA on
to_q/to_k/to_v/to_out.0. Prints one JSON line {workload: "<name>-torch", threads, ms_median, ms_min, ms_max,
peak_rss_mb}.
"""
import argparse
import json
import math
import os
import resource
import struct
import sys
import time

# Debian's python3-torch calls BLAS through libblas.so.3, by default the unoptimized reference BLAS, which
# makes every matmul ~10x slower than a pip-installed torch (MKL). Run against OpenBLAS when it is installed
# (apt-get install libopenblas0-pthread), without changing the system-wide alternative, and with its pool
# sized to --threads.
OPENBLAS_DIR = "/usr/lib/x86_64-linux-gnu/openblas-pthread"


def _reexec_with_openblas():
    if not os.path.exists(os.path.join(OPENBLAS_DIR, "libblas.so.3")) or os.environ.get("NPO_BENCH_BLAS"):
        return
    threads = "1"
    for i, arg in enumerate(sys.argv):
        if arg == "--threads" and i + 1 < len(sys.argv):
            threads = sys.argv[i + 1]
        elif arg.startswith("--threads="):
            threads = arg.split("=", 1)[1]
    env = dict(os.environ, NPO_BENCH_BLAS="openblas", OPENBLAS_NUM_THREADS=threads,
               LD_LIBRARY_PATH=":".join(filter(None, [OPENBLAS_DIR, os.environ.get("LD_LIBRARY_PATH")])))
    os.execve(sys.executable, [sys.executable] + sys.argv, env)


_reexec_with_openblas()

import torch
import torch.nn as nn
import torch.nn.functional as F

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DTYPES = {"F32": torch.float32, "F16": torch.float16, "I64": torch.int64, "BF16": torch.bfloat16}


def safetensors_header(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
    header.pop("__metadata__", None)
    return 8 + n, header


def read_safetensors(path):
    """Every tensor of a (small) safetensors file."""
    base, header = safetensors_header(path)
    out = {}
    with open(path, "rb") as f:
        for name, e in header.items():
            a, b = e["data_offsets"]
            f.seek(base + a)
            t = torch.frombuffer(bytearray(f.read(b - a)), dtype=DTYPES[e["dtype"]]) if b > a else torch.empty(0, dtype=DTYPES[e["dtype"]])
            out[name] = t.reshape(e["shape"]).float() if e["dtype"] in ("F16", "BF16") else t.reshape(e["shape"])
    return out


def load_weights_into(module, path):
    """Reads each float32 tensor straight into the module's parameter (no second copy of the model in memory),
    and returns the names the file has but the module lacks, and the module names the file lacks."""
    base, header = safetensors_header(path)
    own = dict(module.named_parameters())
    own.update(dict(module.named_buffers()))
    with open(path, "rb") as f:
        for name, e in header.items():
            if name not in own:
                continue
            p = own[name].data
            if list(p.shape) != e["shape"]:
                sys.exit(f"torch_step: {name} is {e['shape']} in the file, {list(p.shape)} in the model")
            a, b = e["data_offsets"]
            f.seek(base + a)
            if e["dtype"] == "F32":
                f.readinto(memoryview(p.numpy()).cast("B"))
            else:
                p.copy_(torch.frombuffer(bytearray(f.read(b - a)), dtype=DTYPES[e["dtype"]]).reshape(p.shape).float())
    return sorted(set(header) - set(own)), sorted(set(own) - set(header))


class LoraLinear(nn.Module):
    """nn.Linear (weight/bias names kept) plus an optional scale·B(A x) adapter; `lora_on` False = the base model."""

    def __init__(self, fin, fout, bias=True, rank=0, alpha=0):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(fout, fin), requires_grad=False)
        self.bias = nn.Parameter(torch.empty(fout), requires_grad=False) if bias else None
        self.rank = rank
        if rank:
            self.lora_A = nn.Parameter(torch.zeros(rank, fin))
            self.lora_B = nn.Parameter(torch.zeros(fout, rank))
            self.scale = alpha / rank
        self.lora_on = True

    def forward(self, x):
        y = F.linear(x, self.weight, self.bias)
        if self.rank and self.lora_on:
            y = y + self.scale * F.linear(F.linear(x, self.lora_A), self.lora_B)
        return y


def frozen_conv(cin, cout, k, stride=1, padding=None):
    c = nn.Conv2d(cin, cout, k, stride=stride, padding=(k - 1) // 2 if padding is None else padding)
    c.requires_grad_(False)
    return c


def frozen(m):
    return m.requires_grad_(False)


class ResnetBlock2D(nn.Module):
    def __init__(self, cin, cout, temb, groups, eps):
        super().__init__()
        self.norm1 = frozen(nn.GroupNorm(groups, cin, eps=eps))
        self.conv1 = frozen_conv(cin, cout, 3)
        self.time_emb_proj = frozen(nn.Linear(temb, cout))
        self.norm2 = frozen(nn.GroupNorm(groups, cout, eps=eps))
        self.conv2 = frozen_conv(cout, cout, 3)
        self.conv_shortcut = frozen_conv(cin, cout, 1, padding=0) if cin != cout else None

    def forward(self, x, temb):
        h = self.conv1(F.silu(self.norm1(x)))
        h = h + self.time_emb_proj(F.silu(temb))[:, :, None, None]
        h = self.conv2(F.silu(self.norm2(h)))
        return (self.conv_shortcut(x) if self.conv_shortcut is not None else x) + h


class Attention(nn.Module):
    def __init__(self, dim, kv_dim, heads, lora):
        super().__init__()
        self.heads = heads
        self.to_q = LoraLinear(dim, dim, False, **lora)
        self.to_k = LoraLinear(kv_dim, dim, False, **lora)
        self.to_v = LoraLinear(kv_dim, dim, False, **lora)
        self.to_out = nn.ModuleList([LoraLinear(dim, dim, True, **lora)])

    def forward(self, x, context=None):
        kv = x if context is None else context
        q, k, v = self.to_q(x), self.to_k(kv), self.to_v(kv)
        b, n, c = q.shape
        h = self.heads
        d = c // h
        # diffusers AttnProcessor: heads folded into the batch, baddbmm with the 1/sqrt(d) scale, softmax, bmm.
        q = q.reshape(b, n, h, d).permute(0, 2, 1, 3).reshape(b * h, n, d)
        k = k.reshape(b, -1, h, d).permute(0, 2, 1, 3).reshape(b * h, -1, d)
        v = v.reshape(b, -1, h, d).permute(0, 2, 1, 3).reshape(b * h, -1, d)
        scores = torch.baddbmm(torch.empty(b * h, n, k.shape[1], dtype=q.dtype), q, k.transpose(-1, -2), beta=0, alpha=1 / math.sqrt(d))
        out = torch.bmm(scores.softmax(dim=-1), v)
        out = out.reshape(b, h, n, d).permute(0, 2, 1, 3).reshape(b, n, c)
        return self.to_out[0](out)


class GEGLU(nn.Module):
    def __init__(self, dim, inner):
        super().__init__()
        self.proj = frozen(nn.Linear(dim, 2 * inner))

    def forward(self, x):
        hidden, gate = self.proj(x).chunk(2, dim=-1)
        return hidden * F.gelu(gate)


class FeedForward(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.net = nn.ModuleList([GEGLU(dim, 4 * dim), nn.Dropout(0.0), frozen(nn.Linear(4 * dim, dim))])

    def forward(self, x):
        for m in self.net:
            x = m(x)
        return x


class BasicTransformerBlock(nn.Module):
    def __init__(self, dim, cross, heads, lora):
        super().__init__()
        self.norm1 = frozen(nn.LayerNorm(dim))
        self.attn1 = Attention(dim, dim, heads, lora)
        self.norm2 = frozen(nn.LayerNorm(dim))
        self.attn2 = Attention(dim, cross, heads, lora)
        self.norm3 = frozen(nn.LayerNorm(dim))
        self.ff = FeedForward(dim)

    def forward(self, x, context):
        x = self.attn1(self.norm1(x)) + x
        x = self.attn2(self.norm2(x), context) + x
        return self.ff(self.norm3(x)) + x


class Transformer2DModel(nn.Module):
    def __init__(self, dim, cross, heads, layers, groups, linear_proj, lora):
        super().__init__()
        self.linear_proj = linear_proj
        self.norm = frozen(nn.GroupNorm(groups, dim, eps=1e-6))
        self.proj_in = frozen(nn.Linear(dim, dim)) if linear_proj else frozen_conv(dim, dim, 1, padding=0)
        self.transformer_blocks = nn.ModuleList([BasicTransformerBlock(dim, cross, heads, lora) for _ in range(layers)])
        self.proj_out = frozen(nn.Linear(dim, dim)) if linear_proj else frozen_conv(dim, dim, 1, padding=0)

    def forward(self, x, context):
        b, c, hgt, wid = x.shape
        h = self.norm(x)
        tokens = lambda v: v.permute(0, 2, 3, 1).reshape(b, hgt * wid, c)
        fmap = lambda v: v.reshape(b, hgt, wid, c).permute(0, 3, 1, 2).contiguous()
        h = self.proj_in(tokens(h)) if self.linear_proj else tokens(self.proj_in(h))
        for blk in self.transformer_blocks:
            h = blk(h, context)
        h = fmap(self.proj_out(h)) if self.linear_proj else self.proj_out(fmap(h))
        return h + x


class Sampler(nn.Module):
    """Downsample2D / Upsample2D: both hold a single `conv`."""

    def __init__(self, c, down, padding=1):
        super().__init__()
        self.down = down
        self.conv = frozen_conv(c, c, 3, stride=2 if down else 1, padding=padding if down else 1)

    def forward(self, x):
        return self.conv(x) if self.down else self.conv(F.interpolate(x, scale_factor=2.0, mode="nearest"))


class Block(nn.Module):
    """Cross-attention or plain down/up block: resnets (+ attentions) (+ one sampler)."""

    def __init__(self, resnets, attentions, samplers_name, sampler):
        super().__init__()
        self.resnets = nn.ModuleList(resnets)
        self.attentions = nn.ModuleList(attentions) if attentions else None
        if sampler is not None:
            setattr(self, samplers_name, nn.ModuleList([sampler]))
        self.samplers_name = samplers_name if sampler is not None else None


class TimestepEmbedding(nn.Module):
    def __init__(self, cin, dim):
        super().__init__()
        self.linear_1 = frozen(nn.Linear(cin, dim))
        self.linear_2 = frozen(nn.Linear(dim, dim))

    def forward(self, x):
        return self.linear_2(F.silu(self.linear_1(x)))


class UNet2DConditionModel(nn.Module):
    def __init__(self, cfg, lora):
        super().__init__()
        ch = cfg["block_out_channels"]
        n = len(ch)
        heads = cfg.get("attention_head_dim", 8)
        heads = heads if isinstance(heads, list) else [heads] * n
        tl = cfg.get("transformer_layers_per_block", 1)
        tl = tl if isinstance(tl, list) else [tl] * n
        groups, eps = cfg.get("norm_num_groups", 32), cfg.get("norm_eps", 1e-5)
        cross, lin = cfg["cross_attention_dim"], cfg.get("use_linear_projection", False)
        layers = cfg.get("layers_per_block", 2)
        temb = cfg.get("time_embedding_dim") or ch[0] * 4
        self.cfg, self.ch = cfg, ch
        self.conv_in = frozen_conv(cfg.get("in_channels", 4), ch[0], cfg.get("conv_in_kernel", 3))
        self.time_embedding = TimestepEmbedding(ch[0], temb)
        tr = lambda c, i: Transformer2DModel(c, cross, heads[i], tl[i], groups, lin, lora)
        self.down_blocks = nn.ModuleList()
        for i, t in enumerate(cfg["down_block_types"]):
            cin = ch[0] if i == 0 else ch[i - 1]
            res = [ResnetBlock2D(cin if j == 0 else ch[i], ch[i], temb, groups, eps) for j in range(layers)]
            att = [tr(ch[i], i) for _ in range(layers)] if t == "CrossAttnDownBlock2D" else None
            samp = Sampler(ch[i], True, cfg.get("downsample_padding", 1)) if i < n - 1 else None
            self.down_blocks.append(Block(res, att, "downsamplers", samp))
        self.mid_block = Block([ResnetBlock2D(ch[-1], ch[-1], temb, groups, eps) for _ in range(2)], [tr(ch[-1], n - 1)], None, None)
        rev, rev_heads, rev_tl = ch[::-1], heads[::-1], tl[::-1]
        self.up_blocks = nn.ModuleList()
        for i, t in enumerate(cfg["up_block_types"]):
            prev, out, cin = rev[max(i - 1, 0)], rev[i], rev[min(i + 1, n - 1)]
            res = [ResnetBlock2D((prev if j == 0 else out) + (cin if j == layers else out), out, temb, groups, eps) for j in range(layers + 1)]
            att = [Transformer2DModel(out, cross, rev_heads[i], rev_tl[i], groups, lin, lora) for _ in range(layers + 1)] if t == "CrossAttnUpBlock2D" else None
            self.up_blocks.append(Block(res, att, "upsamplers", Sampler(out, False) if i < n - 1 else None))
        self.conv_norm_out = frozen(nn.GroupNorm(groups, ch[0], eps=eps))
        self.conv_out = frozen_conv(ch[0], cfg.get("out_channels", 4), cfg.get("conv_out_kernel", 3))

    def set_lora(self, on):
        for m in self.modules():
            if isinstance(m, LoraLinear):
                m.lora_on = on

    def time_proj(self, t):
        dim = self.ch[0]
        half = dim // 2
        exponent = -math.log(10000) * torch.arange(0, half, dtype=torch.float32) / (half - self.cfg.get("freq_shift", 0))
        emb = t[:, None].float() * torch.exp(exponent)[None, :]
        emb = torch.cat([torch.sin(emb), torch.cos(emb)], dim=-1)
        if self.cfg.get("flip_sin_to_cos", True):
            emb = torch.cat([emb[:, half:], emb[:, :half]], dim=-1)
        return emb

    def forward(self, x, t, context):
        temb = self.time_embedding(self.time_proj(t))
        x = self.conv_in(x)
        skips = [x]
        for blk in self.down_blocks:
            for j, r in enumerate(blk.resnets):
                x = r(x, temb)
                if blk.attentions is not None:
                    x = blk.attentions[j](x, context)
                skips.append(x)
            if blk.samplers_name:
                x = blk.downsamplers[0](x)
                skips.append(x)
        x = self.mid_block.resnets[0](x, temb)
        x = self.mid_block.attentions[0](x, context)
        x = self.mid_block.resnets[1](x, temb)
        for blk in self.up_blocks:
            for j, r in enumerate(blk.resnets):
                x = r(torch.cat([x, skips.pop()], dim=1), temb)
                if blk.attentions is not None:
                    x = blk.attentions[j](x, context)
            if blk.samplers_name:
                x = blk.upsamplers[0](x)
        return self.conv_out(F.silu(self.conv_norm_out(x)))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("workload")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--steps", type=int)
    ap.add_argument("--losses-out")
    a = ap.parse_args()
    spec_path = os.path.join(REPO, ".data", "bench", a.workload, "workload.json")
    if not os.path.exists(spec_path):
        sys.exit(f"torch_step: {spec_path} is missing; run `npx tsx bench/run.ts {a.workload} --prepare-only` first")
    spec = json.load(open(spec_path))
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)

    cfg = json.load(open(spec["config_path"]))
    lora = spec["lora"]
    unet = UNet2DConditionModel(cfg, {"rank": lora["rank"], "alpha": lora["alpha"]})
    unexpected, missing = load_weights_into(unet, spec["weights_path"])
    not_lora = [k for k in missing if ".lora_" not in k]
    if not_lora or unexpected:
        sys.exit(f"torch_step: state dict mismatch: missing {not_lora[:5]}, unexpected {unexpected[:5]}")
    peak_mb = lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"[torch] peak RSS after loading the model: {peak_mb():.0f} MB", file=sys.stderr)
    inputs = read_safetensors(spec["inputs_path"])
    params = []
    for path in lora["modules"]:
        mod = unet.get_submodule(path)
        with torch.no_grad():
            mod.lora_A.copy_(inputs[f"unet.{path}.lora_A.weight"])
            mod.lora_B.copy_(inputs[f"unet.{path}.lora_B.weight"])
        params += [mod.lora_A, mod.lora_B]
    trainable = [p for p in unet.parameters() if p.requires_grad]
    if len(trainable) != len(params):
        sys.exit(f"torch_step: {len(trainable)} trainable tensors, expected the {len(params)} LoRA tensors")

    ad = spec["adamw"]
    opt = torch.optim.AdamW(params, lr=spec["lr"], betas=tuple(ad["betas"]), eps=ad["eps"], weight_decay=ad["weight_decay"])
    acp = inputs["alphas_cumprod"]
    chosen, rejected, noise, t, embeds = (inputs[k] for k in ("chosen", "rejected", "noise", "timesteps", "embeds"))
    beta, max_norm = spec["beta"], spec["max_grad_norm"]

    def step():
        # NPO: the reversed preference, so the loss pushes the model towards the rejected image.
        first, second = (rejected, chosen) if spec["method"] == "npo" else (chosen, rejected)
        t2 = torch.cat([t, t])
        a = acp[t2].sqrt()[:, None, None, None]
        s = (1 - acp[t2]).sqrt()[:, None, None, None]
        eps = torch.cat([noise, noise])
        noisy = a * torch.cat([first, second]) + s * eps
        ctx = torch.cat([embeds, embeds])
        unet.set_lora(True)
        model_pred = unet(noisy, t2, ctx)
        with torch.no_grad():
            unet.set_lora(False)
            ref_pred = unet(noisy, t2, ctx)
            unet.set_lora(True)
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
        t0 = time.perf_counter()
        loss, norm = step()
        dt = (time.perf_counter() - t0) * 1000
        losses.append(loss)
        norms.append(norm)
        if i >= spec["warmup_steps"]:
            ms.append(dt)
        if i < 2:
            print(f"[torch] peak RSS after step {i + 1}: {peak_mb():.0f} MB", file=sys.stderr)
    if a.losses_out:
        json.dump({"losses": losses, "grad_norms": norms}, open(a.losses_out, "w"))
    print("[torch] losses " + " ".join(f"{l:.6g}" for l in losses), file=sys.stderr)
    s = sorted(ms)
    mid = len(s) // 2
    median = s[mid] if len(s) % 2 else (s[mid - 1] + s[mid]) / 2
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB
    print(json.dumps({"workload": f"{a.workload}-torch", "threads": a.threads, "ms_median": round(median, 2),
                      "ms_min": round(s[0], 2), "ms_max": round(s[-1], 2), "peak_rss_mb": round(rss_mb, 1)}))


if __name__ == "__main__":
    main()
