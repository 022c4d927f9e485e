#!/usr/bin/env python3
"""PyTorch CPU peer of benches/learn_throughput.rs: same architectures, batch sizes and
optimizer (NAdam, lr 1e-4, eps 1e-7), median time of full training steps.

Prints "skipped" and exits 0 when torch is not installed. Thread count: torch's default
(all cores) unless MEXP_BENCH_THREADS is set.
"""

import os
import statistics
import sys
import time

try:
    import torch
    from torch import nn
except ImportError:
    print("torch not installed: skipped")
    sys.exit(0)


class Vae(nn.Module):
    """Kovacs et al. Table 1 (NCHW): 15 382 256 + 14 338 801 parameters at 160x160/512."""

    def __init__(self, side=160, latent=512):
        super().__init__()
        ch = [16, 32, 64, 128, 256]
        convs, c_in = [], 1
        for i, c in enumerate(ch):
            k, p = (4, 1) if i == 0 else (2, 0)
            convs += [nn.Conv2d(c_in, c, k, 2, p), nn.ELU()]
            c_in = c
        self.enc = nn.Sequential(*convs, nn.Flatten(), nn.Linear(256 * (side // 32) ** 2, 2048), nn.ELU())
        self.mean = nn.Linear(2048, latent)
        self.log_var = nn.Linear(2048, latent)
        self.side = side // 32
        self.dec_dense = nn.Sequential(nn.Linear(latent, 2048), nn.ELU(), nn.Linear(2048, 256 * self.side**2), nn.ELU())
        deconvs = []
        for i in range(4, -1, -1):
            if i == 0:
                deconvs += [nn.ConvTranspose2d(ch[0], 1, 4, 2, 1), nn.Tanh()]
            else:
                deconvs += [nn.ConvTranspose2d(ch[i], ch[i - 1], 2, 2), nn.ELU()]
        self.dec = nn.Sequential(*deconvs)

    def loss(self, x, noise):
        h = self.enc(x)
        mean, log_var = self.mean(h), self.log_var(h)
        z = mean + torch.exp(0.5 * log_var) * noise
        d = self.dec_dense(z).view(-1, 256, self.side, self.side)
        recon = ((self.dec(d) - x) ** 2).mean()
        kl = (-0.5 * (1 + log_var - mean**2 - log_var.exp()).sum(1)).mean()
        return recon + kl / (x.shape[2] * x.shape[3])


class Regressor(nn.Module):
    """Kovacs et al. Table 2: 1 502 006 parameters for 512 inputs, six heads."""

    def __init__(self, d_in=512, targets=6):
        super().__init__()
        layers, d = [], d_in
        for w in [512, 1024, 512, 256, 128, 64]:
            layers += [nn.Linear(d, w), nn.ELU()]
            d = w
        self.trunk = nn.Sequential(*layers)

        def head():
            hl, d = [], 64
            for w in [32, 16, 8, 4, 2]:
                hl += [nn.Linear(d, w), nn.ELU()]
                d = w
            return nn.Sequential(*hl, nn.Linear(2, 1))

        self.heads = nn.ModuleList([head() for _ in range(targets)])

    def forward(self, x):
        s = self.trunk(x)
        return torch.cat([h(s) for h in self.heads], 1)


def count(m):
    return sum(p.numel() for p in m.parameters())


def bench_vae():
    torch.manual_seed(0)
    model = Vae()
    enc = sum(count(m) for m in (model.enc, model.mean, model.log_var))
    assert (enc, count(model) - enc) == (15_382_256, 14_338_801), (enc, count(model) - enc)
    opt = torch.optim.NAdam(model.parameters(), lr=1e-4, eps=1e-7)
    x = torch.sin(torch.arange(64 * 160 * 160, dtype=torch.float32).remainder(977) * 0.013).view(64, 1, 160, 160)
    noise = torch.randn(64, 512)

    def step():
        opt.zero_grad(set_to_none=True)
        loss = model.loss(x, noise)
        loss.backward()
        opt.step()
        return loss.item()

    for _ in range(2):
        step()
    times = []
    for _ in range(5):
        t = time.perf_counter()
        step()
        times.append(time.perf_counter() - t)
    med = statistics.median(times)
    print(f"torch vae_train  160x160 batch 64: {med:.3f} s/step, {64 / med:.1f} images/s")


def bench_regressor():
    torch.manual_seed(0)
    model = Regressor()
    assert count(model) == 1_502_006, count(model)
    opt = torch.optim.NAdam(model.parameters(), lr=1e-4, eps=1e-7)
    x, y = torch.randn(16, 512), torch.randn(16, 6)

    def step():
        opt.zero_grad(set_to_none=True)
        loss = ((model(x) - y) ** 2).mean()
        loss.backward()
        opt.step()

    for _ in range(5):
        step()
    times = []
    for _ in range(5):
        t = time.perf_counter()
        for _ in range(50):
            step()
        times.append((time.perf_counter() - t) / 50)
    med = statistics.median(times)
    print(f"torch regressor_train 512->6 batch 16: {med * 1e3:.2f} ms/step, {16 / med:.0f} samples/s")


def main():
    threads = os.environ.get("MEXP_BENCH_THREADS")
    if threads:
        torch.set_num_threads(int(threads))
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    bench_regressor()
    bench_vae()


if __name__ == "__main__":
    main()
