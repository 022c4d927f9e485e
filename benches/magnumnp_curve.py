#!/usr/bin/env python3
"""Peer benchmark: the Kovacs demagnetization curve of one 64x64 structure with magnum.np.

magnum.np (PyPI `magnumnp`, PyTorch) ships `MinimizerBB`, the same curvilinear steepest descent with
Barzilai-Borwein steps (Exl et al. 2014) that mexp uses. This script sets up the same problem as
`mexp solve_structure` (Nd2Fe14B, 2 x 2 x 36000 nm cells, one layer, per-cell in-plane easy axis
u = (sin phi, cos phi, 0), field along +y from +1 HA to -1 HA in 0.01 HA steps, each step starting from
the previous state, start along +y tilted by 1 mrad) and records wall/CPU time, iterations per field
step and M(H) = <m_y>.

Differences to mexp that cannot be switched off in magnum.np (documented, not hidden):
  * demag: magnum.np's 3D Newell kernel with dz = 36000 nm (mexp default: exact 2D prism kernel;
    self term 0.4999869 vs 0.5);
  * m is 3D (mz stays 0 by symmetry, but 3 components / 3+3 FFTs per evaluation);
  * stopping test: max over cells *and components* |m x (m x h)| < dm_tol, h in A/m
    (mexp: max over cells of the Euclidean norm, in T). dm_tol = 1e-4 * HA = 521.74 A/m is the same
    number as mexp's 1e-4 * mu0HA; the component max is <= the norm (at most sqrt(2) smaller in-plane),
    so magnum.np's test is slightly looser;
  * tau in m/A (tau_T = tau_mA / mu0); the first step uses tau = tau_min (mexp: tau0 = 1e-3 T^-1);
    the BB quotient is taken in absolute value (mexp: tau_max when <= 0); no energy guard;
  * magnum.np checks convergence only after a step (>= 1 step per field).

Usage:
  python benches/magnumnp_curve.py [--angles PATH] [--out PATH] [--tau stock|matched]
         [--maxiter N] [--steps N] [--max-wall SECONDS] [--threads 1]
"""
import argparse
import json
import math
import os
import sys
import time

import numpy as np

MU0 = 4e-7 * math.pi
A_EX = 8e-12
MS = 1.61 / MU0  # 1 281 197.29 A/m
K1 = 4.2e6
HA = 2 * K1 / (MU0 * MS)  # A/m; mu0HA = 6.556367 T
DX = (2e-9, 2e-9, 36000e-9)


def coercive_field(h, m):
    """First zero crossing of M on the descending branch, linear interpolation (HA units)."""
    for k in range(1, len(m)):
        if m[k - 1] > 0 >= m[k]:
            return h[k - 1] + (h[k] - h[k - 1]) * m[k - 1] / (m[k - 1] - m[k])
    return None


def main():
    here = "/work/scratch/magnum_structure"
    ap = argparse.ArgumentParser()
    ap.add_argument("--angles", default=os.path.join(here, "angles.npy"))
    ap.add_argument("--out", default=None)
    ap.add_argument("--mexp", default=None, help="mexp.json to compare with (default: next to angles)")
    ap.add_argument("--tau", choices=["stock", "matched"], default="matched",
                    help="stock: magnum.np defaults tau in [1e-13, 1e-5] m/A; matched: mexp's "
                         "[1e-8, 0.3] T^-1 converted to m/A")
    ap.add_argument("--maxiter", type=int, default=20000, help="per field step (mexp max_steps)")
    ap.add_argument("--steps", type=int, default=201, help="number of field steps to run")
    ap.add_argument("--max-wall", type=float, default=1500.0,
                    help="stop after the field step that passes this many wall seconds")
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    out = args.out or os.path.join(os.path.dirname(os.path.abspath(args.angles)), "magnumnp.json")
    mexp_path = args.mexp or os.path.join(os.path.dirname(os.path.abspath(args.angles)), "mexp.json")

    os.environ.setdefault("CUDA_DEVICE", "-1")  # CPU
    import torch
    torch.set_num_threads(args.threads)
    t_import = time.perf_counter()
    import magnumnp as mnp
    import logging as pylogging
    mnp.logging.set_log_level(pylogging.WARNING)  # the per-step info lines would dominate the output
    torch.set_num_threads(args.threads)

    phi = np.load(args.angles)  # (ny, nx), row index = y, radians from +y
    ny, nx = phi.shape
    phi_xy = torch.tensor(phi.T.copy(), dtype=torch.float64)  # magnum.np indexes [x, y, z]
    axis = torch.stack([torch.sin(phi_xy), torch.cos(phi_xy), torch.zeros_like(phi_xy)], dim=-1)
    axis = axis.reshape(nx, ny, 1, 3)

    mesh = mnp.Mesh((nx, ny, 1), DX)
    state = mnp.State(mesh)
    state.material = {"Ms": MS, "A": A_EX, "Ku": K1, "Ku_axis": axis}
    tilt = 1e-3
    m0 = state.Constant([math.sin(tilt), math.cos(tilt), 0.0])
    state.m = m0

    demag = mnp.DemagField()
    exchange = mnp.ExchangeField()
    aniso = mnp.UniaxialAnisotropyField()
    zeeman = mnp.ExternalField([0.0, HA, 0.0])
    minimizer = mnp.MinimizerBB([exchange, aniso, demag, zeeman])

    # count field evaluations: minimize() calls h() once before the loop and once per step
    n_eval = [0]
    orig_h = minimizer.h

    def counted_h(st):
        n_eval[0] += 1
        return orig_h(st)
    minimizer.h = counted_h

    if args.tau == "stock":
        tau_min, tau_max = 1e-13, 1e-5  # magnum.np defaults (m/A)
    else:
        tau_min, tau_max = 1e-8 * MU0, 0.3 * MU0  # mexp's tau range in T^-1, converted to m/A
    dm_tol = 1e-4 * HA  # A/m, same number as mexp's 1e-4 * mu0HA in T

    # warm-up outside the timed sweep: demag kernel, torch.compile of exchange/anisotropy
    t0 = time.perf_counter()
    h0 = minimizer.h(state)
    # self term: h = N M in magnum.np's sign convention, so Nxx(0) = -(demag factor)
    n00 = -float(torch.fft.irfftn(demag._N[0][0].to(torch.complex128), s=[2 * nx, 2 * ny],
                                  dim=[0, 1])[0, 0, 0])
    setup_s = time.perf_counter() - t0
    n_eval[0] = 0
    state.m = m0.clone()

    fields = [(1.0 * (200 - k) + (-1.0) * k) / 200 for k in range(201)][: args.steps]
    hs, ms, iters, conv, step_wall = [], [], [], [], []
    wall0, cpu0 = time.perf_counter(), time.process_time()
    for k, h in enumerate(fields):
        zeeman.h = [0.0, h * HA, 0.0]
        e0 = n_eval[0]
        ts = time.perf_counter()
        ok = minimizer.minimize(state, maxiter=args.maxiter, dm_tol=dm_tol,
                                tau_min=tau_min, tau_max=tau_max)
        step_wall.append(time.perf_counter() - ts)
        iters.append(n_eval[0] - e0 - 1)  # steps taken (the first h() call is not a step)
        conv.append(bool(ok))
        hs.append(h)
        ms.append(float(state.m[..., 1].mean()))
        if time.perf_counter() - wall0 > args.max_wall and k + 1 < len(fields):
            print(f"stopping after {k + 1} field steps (--max-wall {args.max_wall} s)", file=sys.stderr)
            break
    wall = time.perf_counter() - wall0
    cpu = time.process_time() - cpu0
    total_it = int(sum(iters))

    res = {
        "tool": "magnum.np",
        "magnumnp_version": mnp.__version__,
        "torch_version": torch.__version__,
        "threads": torch.get_num_threads(),
        "device": "cpu",
        "settings": {
            "grid": [nx, ny, 1], "dx_m": list(DX), "A": A_EX, "Ms": MS, "K1": K1, "HA_A_per_m": HA,
            "demag": "magnum.np DemagField (3D Newell, p=20 -> all 64x64 offsets exact Newell)",
            "demag_self_Nxx": n00,
            "terms": ["ExchangeField", "UniaxialAnisotropyField(per-cell axis)", "DemagField",
                      "ExternalField"],
            "tau_mode": args.tau, "tau_min_m_per_A": tau_min, "tau_max_m_per_A": tau_max,
            "tau_min_per_T": tau_min / MU0, "tau_max_per_T": tau_max / MU0,
            "dm_tol_A_per_m": dm_tol, "dm_tol_T": dm_tol * MU0, "maxiter": args.maxiter,
            "initial_tilt_rad": tilt,
        },
        "setup_seconds": setup_s,
        "wall_seconds": wall,
        "cpu_seconds": cpu,
        "field_steps": len(hs),
        "total_iterations": total_it,
        "not_converged_steps": int(sum(not c for c in conv)),
        "h": hs, "m": ms, "iterations": iters, "converged": conv, "step_wall_seconds": step_wall,
        "loadavg_end": list(os.getloadavg()),
    }
    hc = coercive_field(hs, ms)
    res["hc_HA"] = hc
    print(f"magnum.np {mnp.__version__} torch {torch.__version__} threads {torch.get_num_threads()} "
          f"tau {args.tau}")
    print(f"setup {setup_s:.2f} s (kernel + compile), self Nxx = {n00:.10f}")
    print(f"{len(hs)} field steps: wall {wall:.2f} s, cpu {cpu:.2f} s, iterations {total_it}, "
          f"{1e3 * wall / max(total_it, 1):.3f} ms/iteration, not converged {res['not_converged_steps']}")
    print(f"Hc = {hc} HA")

    if os.path.exists(mexp_path):
        mx = json.load(open(mexp_path))
        mh = np.array(mx["h"]); mm = np.array(mx["m"])
        n = len(hs)
        if np.allclose(mh[:n], hs, atol=1e-12):
            d = np.abs(mm[:n] - np.array(ms))
            cmp = {
                "mexp_wall_seconds": mx["wall_seconds"], "mexp_total_iterations": mx["total_iterations"],
                "mexp_hc_HA": coercive_field(list(mh), list(mm)),
                "max_abs_dM": float(d.max()), "argmax_h": float(mh[int(d.argmax())]),
                "mean_abs_dM": float(d.mean()), "steps_compared": n,
            }
            if n == len(mh):
                cmp["wall_ratio_magnumnp_over_mexp"] = wall / mx["wall_seconds"]
                cmp["iteration_ratio"] = total_it / mx["total_iterations"]
            res["compare_mexp"] = cmp
            print("vs mexp:", json.dumps(cmp))
    with open(out, "w") as f:
        json.dump(res, f, indent=1)
    print("wrote", out)


if __name__ == "__main__":
    main()
