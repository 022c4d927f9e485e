#!/usr/bin/env python3
"""Reference trajectories of torch.optim.NAdam for the Rust Nadam test (src/learn/train/nadam_tests.rs).

Problem: f(x) = sum_i c_i x_i^2 + sum_i b_i x_i, gradient 2 c x + b, six parameters in one
float32 tensor, lr = 0.05, ten steps, default betas (0.9, 0.999) and momentum_decay 0.004.
Run once with eps = 1e-8 (PyTorch default) and once with eps = 1e-7 (Keras default, our
default). Component 4 has a gradient of ~1e-7, so the two epsilons give visibly different
trajectories there.

With torch installed (pip install torch) the numbers come from torch.optim.NAdam in float32
(foreach=False, the CPU default); otherwise, or with --pure, from a pure-Python float64
transcription of PyTorch's _single_tensor_nadam. Both are printed when torch is present.
"""

import sys

X0 = [0.5, -1.5, 2.0, -0.25, 1e-3, 3.0]
C = [1.0, 0.5, 2.0, 4.0, 1e-6, 0.1]
B = [0.3, -0.2, 0.0, 0.1, 1e-7, -1.0]
LR = 0.05
STEPS = 10
BETA1, BETA2, MOMENTUM_DECAY = 0.9, 0.999, 0.004


def pure_python(eps):
    """PyTorch's single-tensor NAdam update in float64."""
    x = list(X0)
    m = [0.0] * len(x)
    v = [0.0] * len(x)
    mu_product = 1.0
    out = []
    for step in range(1, STEPS + 1):
        g = [2.0 * c * xi + b for c, xi, b in zip(C, x, B)]
        bias_correction2 = 1.0 - BETA2**step
        mu = BETA1 * (1.0 - 0.5 * 0.96 ** (step * MOMENTUM_DECAY))
        mu_next = BETA1 * (1.0 - 0.5 * 0.96 ** ((step + 1) * MOMENTUM_DECAY))
        mu_product *= mu
        mu_product_next = mu_product * mu_next
        for i in range(len(x)):
            m[i] = m[i] + (g[i] - m[i]) * (1.0 - BETA1)
            v[i] = v[i] * BETA2 + (1.0 - BETA2) * g[i] * g[i]
            denom = (v[i] / bias_correction2) ** 0.5 + eps
            x[i] -= LR * (1.0 - mu) / (1.0 - mu_product) * g[i] / denom
            x[i] -= LR * mu_next / (1.0 - mu_product_next) * m[i] / denom
        out.append(list(x))
    return out


def with_torch(eps):
    import torch

    x = torch.tensor(X0, dtype=torch.float32, requires_grad=True)
    c = torch.tensor(C, dtype=torch.float32)
    b = torch.tensor(B, dtype=torch.float32)
    opt = torch.optim.NAdam([x], lr=LR, eps=eps, foreach=False)
    out = []
    for _ in range(STEPS):
        opt.zero_grad()
        loss = (c * x * x).sum() + (b * x).sum()
        loss.backward()
        opt.step()
        out.append([float(v) for v in x.detach()])
    return out


def show(name, rows):
    print(f"// {name}")
    for row in rows:
        print("    [" + ", ".join(f"{v:.9e}" for v in row) + "],")


def main():
    pure_only = "--pure" in sys.argv
    have_torch = False
    if not pure_only:
        try:
            import torch  # noqa: F401

            have_torch = True
        except ImportError:
            print("# torch not installed: pure-Python transcription only", file=sys.stderr)
    for eps in (1e-8, 1e-7):
        ref = pure_python(eps)
        if have_torch:
            import torch

            rows = with_torch(eps)
            show(f"torch {torch.__version__} NAdam float32, eps={eps}", rows)
            worst = max(abs(a - r) for row, rrow in zip(rows, ref) for a, r in zip(row, rrow))
            print(f"// max |torch f32 - pure f64| = {worst:.3e}")
        else:
            show(f"pure-Python float64 NAdam, eps={eps}", ref)


if __name__ == "__main__":
    main()
