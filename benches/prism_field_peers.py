#!/usr/bin/env python3
"""Peer benchmark: Pollok prism-magnet field maps with magpylib (and MagTense if importable).

Compare with `cargo bench --bench prism_field` (mexp: 2.23 ms per 224x224 map on one core,
445 maps/s; 865 maps/s on 2 threads).

Setup (src/physics/prism_design.rs): square prism of side a (x, y) and height 1 cm, centred at
(x, y, 0.5 cm), in-plane polarization mu0|M| (T) at azimuth phi. Map: (mu0 Hx, mu0 Hy) in tesla at
z = 0.5 cm on the R x R pixel centres ((col+0.5)*10/R, (row+0.5)*10/R) cm.

Inside the magnet the reported quantity is H, not B:
  * magpylib object API: `magpylib.getH` (A/m; magpylib returns H = (B - J)/mu0 inside), times
    magpylib's own mu0 (`magpylib.mu_0`, the CODATA value, not 4e-7*pi) so the round trip is exact.
  * magpylib core API: `magpylib.core.magnet_cuboid_Bfield` returns B (T); J is subtracted at
    observers strictly inside the cuboid, giving mu0 H.
Lengths are passed in metres (magpylib is SI; the core function is scale-free).

Run: /path/to/venv/bin/python benches/prism_field_peers.py [--designs 200] [--repeats 5] [--res 224]
Exits 0 with a message if no peer library is installed.
"""

import os

for _v in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMEXPR_NUM_THREADS"):
    os.environ[_v] = "1"

import argparse
import sys
import time

try:
    import numpy as np
except ImportError:
    print("numpy is not installed; skipping the prism field peer benchmark.")
    sys.exit(0)

try:
    import magpylib as magpy
    import magpylib.core as magpy_core
except ImportError:
    magpy = None

try:  # MagTense needs MKL, the Intel Fortran runtime and CUDA libraries at import time.
    import magtense
    import magtense.magstatics as magtense_ms
except Exception as exc:  # ImportError, OSError from missing shared libraries, ...
    magtense = None
    magtense_reason = f"{type(exc).__name__}: {exc}"

MU0 = getattr(magpy, "mu_0", 4e-7 * np.pi) if magpy is not None else 4e-7 * np.pi  # magpylib's own mu0
CM = 1e-2

# Reference values from shared/notes/esw-and-prism.md (H in units of M, prism centred at 0).
REFERENCES = [
    ((1.0, 2.0, 3.0), (0.3, -0.5, 0.8), (0.1, 0.2, 0.3),
     (-0.191587634583929, 0.129184411567388, -0.0958658621458626)),
    ((1.0, 1.0, 1.0), (0.0, 0.0, 1.0), (0.0, 0.0, 1.0), (0.0, 0.0, 0.134782386237407)),
    ((1.0, 1.0, 1.0), (0.0, 0.0, 1.0), (0.0, 0.0, 0.0), (0.0, 0.0, -1.0 / 3.0)),
]


def pixel_grid(res):
    """Observer array (res*res, 3) in metres, row-major (row = y index, col = x index)."""
    c = (np.arange(res) + 0.5) * 10.0 / res * CM
    yy, xx = np.meshgrid(c, c, indexing="ij")
    return np.stack([xx.ravel(), yy.ravel(), np.full(res * res, 0.5 * CM)], axis=1)


def random_designs(n, seed=2021):
    rng = np.random.default_rng(seed)
    return np.stack([
        rng.uniform(1.5, 8.5, n),  # x (cm)
        rng.uniform(1.5, 8.5, n),  # y (cm)
        rng.uniform(0.5, 2.0, n),  # a (cm)
        rng.uniform(0.5, 1.5, n),  # mu0|M| (T)
        rng.uniform(0.0, 2 * np.pi, n),  # phi
    ], axis=1)


# ---------------------------------------------------------------- magpylib
def mu0h_core(obs, dims, centre, pol):
    """mu0 H (T) via the functional core: B minus J at observers inside the cuboid."""
    rel = obs - centre
    n = len(rel)
    b = magpy_core.magnet_cuboid_Bfield(
        observers=rel,
        dimensions=np.broadcast_to(dims, (n, 3)),
        polarizations=np.broadcast_to(pol, (n, 3)),
    )
    inside = np.all(np.abs(rel) < 0.5 * np.asarray(dims), axis=1)
    b[inside] -= pol
    return b


def mu0h_object(obs, dims, centre, pol):
    """mu0 H (T) via the object API: getH (A/m; H = (B - J)/mu0 inside) times mu0."""
    src = magpy.magnet.Cuboid(dimension=dims, polarization=pol, position=centre)
    return MU0 * np.asarray(magpy.getH(src, obs)).reshape(-1, 3)


def map_core(design, obs):
    x, y, a, j, phi = design
    h = mu0h_core(obs, (a * CM, a * CM, 1.0 * CM), (x * CM, y * CM, 0.5 * CM),
                  np.array([j * np.cos(phi), j * np.sin(phi), 0.0]))
    return h[:, :2]


def map_object(design, obs):
    x, y, a, j, phi = design
    h = mu0h_object(obs, (a * CM, a * CM, 1.0 * CM), (x * CM, y * CM, 0.5 * CM),
                    (j * np.cos(phi), j * np.sin(phi), 0.0))
    return h[:, :2]


def check_references(fn, name):
    """Max relative deviation |H - H_ref| / |H_ref| over the reference points (H in units of M).

    The polarization is set to M (in T, i.e. J = M numerically) so mu0 H comes out in units of M;
    lengths are scaled by 1 cm (the field is scale-free)."""
    worst = 0.0
    for dims, m, p, ref in REFERENCES:
        h = fn(np.array([p]) * CM, np.array(dims) * CM, np.zeros(3), np.array(m))[0]
        ref = np.array(ref)
        dev = np.linalg.norm(h - ref) / np.linalg.norm(ref)
        worst = max(worst, dev)
        print(f"  {name}: dims {dims} M {m} at {p}: H = {np.array2string(h, precision=15)} "
              f"rel.dev {dev:.2e}")
    print(f"  {name}: max relative deviation {worst:.2e}")
    return worst


def time_maps(fn, designs, obs, repeats):
    fn(designs[0], obs)  # warm-up
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        acc = 0.0
        for d in designs:
            acc += float(fn(d, obs)[0, 0])
        times.append(time.perf_counter() - t)
    s = float(np.median(times))
    return len(designs) / s, 1e3 * s / len(designs)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--designs", type=int, default=200)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--res", type=int, default=224)
    args = ap.parse_args()

    if magpy is None and magtense is None:
        print("Neither magpylib nor magtense is installed; skipping the prism field peer benchmark.")
        return 0
    if magtense is None:
        print(f"MagTense not usable ({magtense_reason}); skipping it.")

    mexp_1core = 445.0
    mexp_2thr = 865.0
    obs = pixel_grid(args.res)
    designs = random_designs(args.designs)
    print(f"numpy {np.__version__}; threads pinned to 1 via OMP/MKL/OPENBLAS/NUMEXPR_NUM_THREADS")

    if magpy is not None:
        print(f"magpylib {magpy.__version__}")
        print("Reference values:")
        check_references(mu0h_core, "magpylib core (B - J inside)")
        check_references(mu0h_object, "magpylib getH")
        a, b = map_core(designs[0], obs), map_object(designs[0], obs)
        print(f"core vs getH map, design 0: max |diff| {np.max(np.abs(a - b)):.2e} T "
              f"(max |mu0H| {np.max(np.abs(a)):.3f} T)")

        print(f"Timing {args.designs} maps of {args.res}x{args.res}, median of {args.repeats} repeats; "
              f"load average before: {os.getloadavg()}")
        for name, fn in (("magpylib core", map_core), ("magpylib getH", map_object)):
            mps, ms = time_maps(fn, designs, obs, args.repeats)
            print(f"  {name}: {ms:.2f} ms/map, {mps:.1f} maps/s; mexp/{name} = "
                  f"{mexp_1core / mps:.1f}x (1 core), {mexp_2thr / mps:.1f}x (mexp 2 threads)")
        print(f"load average after: {os.getloadavg()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
