#!/usr/bin/env python3
"""A Voronoi grain structure as an .npy of per-cell easy-axis angles (radians from +y), standard
library only. A `command` stage of experiments/magnumnp_side_by_side.toml runs it:

    python3 grain_angles.py NX NY GRAINS SEED OUT.npy

Writes float64, shape (NY, NX), row index = y: what `solve_structure` (image_kind = "angles_rad")
and benches/magnumnp_curve.py (--angles) read. Same arguments, same bytes.
"""
import math
import random
import struct
import sys


def write_npy(path, rows):
    ny, nx = len(rows), len(rows[0])
    header = "{'descr': '<f8', 'fortran_order': False, 'shape': (%d, %d), }" % (ny, nx)
    pad = 64 - (10 + len(header) + 1) % 64
    header = header + " " * pad + "\n"
    with open(path, "wb") as f:
        f.write(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode("latin1"))
        for row in rows:
            f.write(struct.pack("<%dd" % nx, *row))


def main():
    nx, ny, grains, seed = (int(a) for a in sys.argv[1:5])
    out = sys.argv[5]
    rng = random.Random(seed)
    centres = [(rng.uniform(0, nx), rng.uniform(0, ny), rng.uniform(0, math.pi)) for _ in range(grains)]

    def angle(x, y):
        # periodic distance, like the sample's periodic grain structures
        def d2(c):
            dx = min(abs(x - c[0]), nx - abs(x - c[0]))
            dy = min(abs(y - c[1]), ny - abs(y - c[1]))
            return dx * dx + dy * dy
        return min(centres, key=d2)[2]

    rows = [[angle(i + 0.5, j + 0.5) for i in range(nx)] for j in range(ny)]
    write_npy(out, rows)
    print(f"wrote {out}: {ny}x{nx} cells, {grains} grains, seed {seed}")


if __name__ == "__main__":
    main()
