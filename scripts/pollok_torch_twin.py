#!/usr/bin/env python3
"""PyTorch twin of mexp's `inverse_cnn_fit` (Pollok et al. inverse design), for diagnosis.

Trains torchvision's resnet18 (conv1 replaced by a 2-channel one, kaiming_normal_ fan_out as
torchvision initialises it; fc with 5 outputs) on the field maps exported by
`cargo run --release --example prism_fields_npy -- <designs.json> <R> <dir>` with the stage's
recipe: RMSE loss over all 5 targets, SGD(momentum, dampening 0, weight_decay), StepLR per
epoch, shuffled minibatches, validation RMSE in eval mode (running BatchNorm statistics) after
every epoch. Prints one line per epoch: the learning rate used, the training RMSE of the
running predictions (and with --eval-train in eval mode), the validation RMSE and per-target
validation MAE in % of the span (x, y, a: 1; Mx, My: 2).

Usage: pollok_torch_twin.py DIR [--epochs 4] [--batch 32] [--lr 0.1] [--step 4] [--gamma 0.1]
                              [--momentum 0.9] [--wd 1e-4] [--warmup 0] [--input-scale 1]
                              [--seed 0] [--threads 2] [--arch resnet18] [--eval-train]
Needs torch and torchvision (not project dependencies).

Measured (2 000 designs of inverse_design_pollok.toml at 64×64, batch 32, 12 epochs, step 4):
  --lr 0.1   epoch-1 training RMSE 2.04 / 2.92 / 2.04, final validation RMSE 0.193 / 0.273 /
             0.254 for --seed 0 / 1 / 2 (mean predictor 0.343); mexp at 0.1: epoch-1 training
             RMSE 2.87, final validation RMSE 0.283, test RMSE 0.274
  --lr 0.01  final validation RMSE 0.145; mexp: 0.154 (its test RMSE 0.145)
--input-scale 20 (unit-std fields) changed nothing (BatchNorm follows conv1).
"""

import argparse
import math
import time

import numpy as np
import torch
import torch.nn as nn
import torchvision


def build(arch):
    net = getattr(torchvision.models, arch)(num_classes=5)
    net.conv1 = nn.Conv2d(2, 64, kernel_size=7, stride=2, padding=3, bias=False)
    nn.init.kaiming_normal_(net.conv1.weight, mode="fan_out", nonlinearity="relu")
    return net


SPANS = torch.tensor([1.0, 1.0, 1.0, 2.0, 2.0])


def evaluate(net, x, y, batch):
    """Validation RMSE and per-target MAE in % of the span (eval mode)."""
    net.eval()
    with torch.no_grad():
        p = torch.cat([net(x[i : i + batch]) for i in range(0, len(x), batch)])
    mae = ((p - y).abs().mean(0) / SPANS * 100).numpy().round(1)
    return float(((p - y) ** 2).mean().sqrt()), mae


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dir")
    ap.add_argument("--epochs", type=int, default=4)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--lr", type=float, default=0.1)
    ap.add_argument("--step", type=int, default=4)
    ap.add_argument("--gamma", type=float, default=0.1)
    ap.add_argument("--momentum", type=float, default=0.9)
    ap.add_argument("--wd", type=float, default=1e-4)
    ap.add_argument("--warmup", type=int, default=0, help="linear warm-up steps (0: none)")
    ap.add_argument("--input-scale", type=float, default=1.0, help="fields are multiplied by it")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--arch", default="resnet18")
    ap.add_argument("--eval-train", action="store_true", help="also the eval-mode training RMSE")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    load = lambda n: torch.from_numpy(np.load(f"{a.dir}/{n}.npy")).float()
    xt, yt = load("train_fields") * a.input_scale, load("train_targets")
    xv, yv = load("validation_fields") * a.input_scale, load("validation_targets")
    print(f"train {tuple(xt.shape)}, validation {tuple(xv.shape)}; |field| max {xt.abs().max():.3g} T,"
          f" std {xt.std():.3g}; target std {yt.std(0).numpy().round(3)}; mean-predictor "
          f"validation RMSE {float(((yv - yt.mean(0)) ** 2).mean().sqrt()):.4f}")
    net = build(a.arch)
    opt = torch.optim.SGD(net.parameters(), lr=a.lr, momentum=a.momentum, weight_decay=a.wd)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=a.step, gamma=a.gamma)
    step = 0
    for epoch in range(1, a.epochs + 1):
        t0 = time.time()
        net.train()
        order = torch.randperm(len(xt))
        se = 0.0
        for i in range(0, len(xt), a.batch):
            idx = order[i : i + a.batch]
            if a.warmup > 0 and step < a.warmup:
                for g in opt.param_groups:
                    g["lr"] = sched.get_last_lr()[0] * (step + 1) / a.warmup
            mse = ((net(xt[idx]) - yt[idx]) ** 2).mean()
            se += float(mse.detach()) * len(idx)
            opt.zero_grad()
            mse.sqrt().backward()
            opt.step()
            step += 1
        lr = opt.param_groups[0]["lr"]
        sched.step()
        val, mae = evaluate(net, xv, yv, a.batch)
        train_eval = evaluate(net, xt, yt, a.batch)[0] if a.eval_train else float("nan")
        print(f"epoch {epoch}: lr {lr:.3g} train RMSE {math.sqrt(se / len(xt)):.4f}"
              f" (eval mode {train_eval:.4f})"
              f" validation RMSE {val:.4f}, MAE % of span (x y a Mx My) {mae}"
              f" ({time.time() - t0:.0f} s)", flush=True)


if __name__ == "__main__":
    main()
