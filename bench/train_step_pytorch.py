#!/usr/bin/env python3
"""The trainer's benchmark step (`aecodec-train bench --arch factorized`) in plain PyTorch, for comparison.

The model is CompressAI's bmshj2018-factorized layout, written out here so that nothing but torch is needed:
4 stride-2 5x5 convs with GDN (CompressAI's non-negative reparametrisation of beta and gamma), 4 stride-2 5x5
transposed convs with inverse GDN, and CompressAI's EntropyBottleneck (filters 3,3,3, init scale 10, additive
uniform noise, likelihood lower-bounded by 1e-9). The step is the one bench.cpp times: zero_grad, forward,
loss = lambda * 255^2 * MSE + bpp, backward, Adam (lr 1e-4) over every parameter but the quantiles; the input
is the same avg-pooled uniform noise. fp32, then bf16 autocast + channels-last.

    /usr/bin/python3 bench/train_step_pytorch.py [--N 128] [--M 192] [--batch 8] [--crop 128] [--threads 2]
                                                 [--steps 10] [--warmup 2] [--modes fp32,bf16] [--json FILE]

Prints the parameter count and forward MACs per image (to check against `aecodec-train bench`) and, per
mode, the mean and median ms/step. Needs Debian's python3-torch; without it, says so and exits 0.
"""
import argparse
import json
import math
import statistics
import sys
import time

try:
    import torch
    import torch.nn as nn
    import torch.nn.functional as F
except ImportError:
    print("train_step_pytorch: python3-torch is not installed (apt-get install python3-torch); skipped")
    sys.exit(0)


class LowerBoundFn(torch.autograd.Function):
    """CompressAI's LowerBound: max(x, bound), the gradient passing where x >= bound or where it pushes x up."""

    @staticmethod
    def forward(ctx, x, bound):
        ctx.save_for_backward(x, bound)
        return torch.max(x, bound)

    @staticmethod
    def backward(ctx, grad_output):
        x, bound = ctx.saved_tensors
        pass_through = (x >= bound) | (grad_output < 0)
        return pass_through.type(grad_output.dtype) * grad_output, None


class LowerBound(nn.Module):
    def __init__(self, bound):
        super().__init__()
        self.register_buffer("bound", torch.Tensor([float(bound)]))

    def forward(self, x):
        return LowerBoundFn.apply(x, self.bound)


class NonNegativeParametrizer(nn.Module):
    """CompressAI's: stores sqrt(x + pedestal), reads back max(., bound)^2 - pedestal."""

    def __init__(self, minimum=0.0, reparam_offset=2**-18):
        super().__init__()
        self.pedestal = reparam_offset**2
        self.lower_bound = LowerBound((minimum + self.pedestal) ** 0.5)

    def init(self, x):
        return torch.sqrt(torch.max(x + self.pedestal, torch.tensor(self.pedestal)))

    def forward(self, x):
        out = self.lower_bound(x)
        return out**2 - self.pedestal


class GDN(nn.Module):
    """CompressAI's GDN / inverse GDN: y = x / sqrt(beta + gamma * x^2) (inverse: times the sqrt)."""

    def __init__(self, channels, inverse=False, beta_min=1e-6, gamma_init=0.1):
        super().__init__()
        self.inverse = inverse
        self.beta_reparam = NonNegativeParametrizer(minimum=beta_min)
        self.beta = nn.Parameter(self.beta_reparam.init(torch.ones(channels)))
        self.gamma_reparam = NonNegativeParametrizer()
        self.gamma = nn.Parameter(self.gamma_reparam.init(gamma_init * torch.eye(channels)))

    def forward(self, x):
        c = x.size(1)
        beta = self.beta_reparam(self.beta)
        gamma = self.gamma_reparam(self.gamma).reshape(c, c, 1, 1)
        norm = F.conv2d(x**2, gamma, beta)
        norm = torch.sqrt(norm) if self.inverse else torch.rsqrt(norm)
        return x * norm


class EntropyBottleneck(nn.Module):
    """CompressAI's EntropyBottleneck, training path (noise) and likelihood."""

    def __init__(self, channels, init_scale=10.0, filters=(3, 3, 3)):
        super().__init__()
        self.filters = tuple(filters)
        f = (1,) + self.filters + (1,)
        scale = init_scale ** (1 / (len(self.filters) + 1))
        for i in range(len(self.filters) + 1):
            init = math.log(math.expm1(1 / scale / f[i + 1]))
            setattr(self, f"_matrix{i}", nn.Parameter(torch.full((channels, f[i + 1], f[i]), init)))
            setattr(self, f"_bias{i}", nn.Parameter(torch.rand(channels, f[i + 1], 1) - 0.5))
            if i < len(self.filters):
                setattr(self, f"_factor{i}", nn.Parameter(torch.zeros(channels, f[i + 1], 1)))
        self.quantiles = nn.Parameter(torch.tensor([-init_scale, 0.0, init_scale]).repeat(channels, 1, 1))
        self.likelihood_lower_bound = LowerBound(1e-9)

    def _logits_cumulative(self, inputs):
        logits = inputs
        for i in range(len(self.filters) + 1):
            logits = torch.matmul(F.softplus(getattr(self, f"_matrix{i}")), logits)
            logits = logits + getattr(self, f"_bias{i}")
            if i < len(self.filters):
                logits = logits + torch.tanh(getattr(self, f"_factor{i}")) * torch.tanh(logits)
        return logits

    def _likelihood(self, inputs):
        lower = self._logits_cumulative(inputs - 0.5)
        upper = self._logits_cumulative(inputs + 0.5)
        sign = -torch.sign(lower + upper).detach()
        return torch.abs(torch.sigmoid(sign * upper) - torch.sigmoid(sign * lower))

    def forward(self, x):
        with torch.autocast("cpu", enabled=False):  # the prior runs in float32, as the trainer's does
            x = x.float()
            c = x.size(1)
            values = x.permute(1, 0, 2, 3).contiguous()
            shape = values.size()
            values = values.reshape(c, 1, -1)
            outputs = values + torch.empty_like(values).uniform_(-0.5, 0.5)  # "noise" quantisation
            likelihood = self.likelihood_lower_bound(self._likelihood(outputs))
            outputs = outputs.reshape(shape).permute(1, 0, 2, 3).contiguous()
            likelihood = likelihood.reshape(shape).permute(1, 0, 2, 3).contiguous()
        return outputs, likelihood


def conv(cin, cout, k=5, s=2):
    return nn.Conv2d(cin, cout, k, stride=s, padding=k // 2)


def deconv(cin, cout, k=5, s=2):
    return nn.ConvTranspose2d(cin, cout, k, stride=s, padding=k // 2, output_padding=s - 1)


class FactorizedPrior(nn.Module):
    """CompressAI's bmshj2018-factorized (FactorizedPrior)."""

    def __init__(self, N, M):
        super().__init__()
        self.entropy_bottleneck = EntropyBottleneck(M)
        self.g_a = nn.Sequential(conv(3, N), GDN(N), conv(N, N), GDN(N), conv(N, N), GDN(N), conv(N, M))
        self.g_s = nn.Sequential(
            deconv(M, N), GDN(N, inverse=True), deconv(N, N), GDN(N, inverse=True),
            deconv(N, N), GDN(N, inverse=True), deconv(N, 3))

    def forward(self, x):
        y_hat, likelihood = self.entropy_bottleneck(self.g_a(x))
        return self.g_s(y_hat), likelihood


def forward_macs(model, crop):
    """Multiply-accumulates of one image's g_a + g_s pass, counted the way LayerStack::macs counts them."""
    total = 0

    def hook(m, inp, out):
        nonlocal total
        x = inp[0]
        if isinstance(m, nn.Conv2d) and not isinstance(m, nn.ConvTranspose2d):
            total += out.shape[2] * out.shape[3] * m.out_channels * m.in_channels * m.kernel_size[0] * m.kernel_size[1]
        elif isinstance(m, nn.ConvTranspose2d):
            total += x.shape[2] * x.shape[3] * m.out_channels * m.in_channels * m.kernel_size[0] * m.kernel_size[1]
        elif isinstance(m, GDN):
            total += x.shape[2] * x.shape[3] * x.shape[1] ** 2

    handles = [m.register_forward_hook(hook) for net in (model.g_a, model.g_s) for m in net]
    with torch.no_grad():
        model.g_s(model.g_a(torch.zeros(1, 3, crop, crop)))
    for h in handles:
        h.remove()
    return total


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--N", type=int, default=128)
    ap.add_argument("--M", type=int, default=192)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--crop", type=int, default=128)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--lambda", dest="lmbda", type=float, default=0.013)
    ap.add_argument("--modes", default="fp32,bf16", help="comma-separated: fp32, bf16 (autocast + channels-last)")
    ap.add_argument("--json", help="also write the figures here")
    a = ap.parse_args()

    torch.set_num_threads(a.threads)
    torch.manual_seed(1)
    probe = FactorizedPrior(a.N, a.M)
    params = sum(p.numel() for p in probe.parameters())
    macs = forward_macs(probe, a.crop)
    print(f"pytorch {torch.__version__} factorized N={a.N} M={a.M} batch {a.batch} x {a.crop}x{a.crop}, "
          f"{torch.get_num_threads()} threads: {params} parameters, {macs / 1e9:.2f} GMAC forward per image")
    result = {"torch": torch.__version__, "threads": torch.get_num_threads(), "parameters": params,
              "gmac_per_image": macs / 1e9, "modes": {}}
    pixels = a.batch * a.crop * a.crop
    for mode in a.modes.split(","):
        bf16 = mode == "bf16"
        torch.manual_seed(1)
        model = FactorizedPrior(a.N, a.M).train()
        if bf16:
            model = model.to(memory_format=torch.channels_last)
        main_params = [p for n, p in model.named_parameters() if not n.endswith("quantiles")]
        opt = torch.optim.Adam(main_params, lr=1e-4)
        x = F.avg_pool2d(torch.rand(a.batch, 3, a.crop + 3, a.crop + 3), 4, stride=1)
        if bf16:
            x = x.contiguous(memory_format=torch.channels_last)
        times, cpu = [], 0.0
        for i in range(a.warmup + a.steps):
            t0, c0 = time.perf_counter(), time.process_time()
            opt.zero_grad()
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
                x_hat, likelihood = model(x)
                bpp = -torch.log2(likelihood).sum() / pixels
                mse = (x_hat.float() - x.float()).pow(2).mean()
                loss = a.lmbda * 255.0 * 255.0 * mse + bpp
            loss.backward()
            opt.step()
            if i >= a.warmup:
                times.append(time.perf_counter() - t0)
                cpu += time.process_time() - c0
        mean, median = statistics.mean(times), statistics.median(times)
        name = "bf16 + channels-last" if bf16 else "fp32"
        print(f"  {name:<22} {mean * 1e3:8.1f} ms/step (median {median * 1e3:.1f})  {pixels / mean:10.0f} pixels/s"
              f"  ({cpu / a.steps:.2f} CPU s/step)")
        result["modes"][mode] = {"mean_ms": mean * 1e3, "median_ms": median * 1e3, "cpu_s": cpu / a.steps,
                                 "steps_ms": [t * 1e3 for t in times]}
    if a.json:
        with open(a.json, "w") as f:
            json.dump(result, f, indent=1)


if __name__ == "__main__":
    main()
