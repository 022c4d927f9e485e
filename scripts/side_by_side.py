#!/usr/bin/env python3
"""Glue of experiments/magnumnp_side_by_side.toml, standard library only.

    python3 side_by_side.py curve MAGNUMNP_JSON H_NPY M_NPY
        magnum.np's M(H) (benches/magnumnp_curve.py --out) as the .npy arrays an `anchors` stage
        reads: h float64 (steps,), m float64 (1, steps).
    python3 side_by_side.py collect MEXP_ANCHORS MEXP_SOLVE MAGNUM_ANCHORS MAGNUMNP_JSON OUT_MEXP OUT_MAGNUM
        One JSON per solver with the same keys (anchors, iterations, field steps, wall time) for a
        `table` stage. mexp's wall time is not an artifact (artifacts are bit-reproducible; the
        record holds it: results/<experiment>/summary.md), so only magnum.np's self-measured time
        is in the table.
"""
import json
import struct
import sys

ANCHORS = ["m1", "mr", "hk90", "hk80", "hk70", "hc"]


def write_npy(path, values, shape):
    header = "{'descr': '<f8', 'fortran_order': False, 'shape': %s, }" % (shape,)
    pad = 64 - (10 + len(header) + 1) % 64
    header = header + " " * pad + "\n"
    with open(path, "wb") as f:
        f.write(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode("latin1"))
        f.write(struct.pack("<%dd" % len(values), *values))


def curve(result, h_out, m_out):
    doc = json.load(open(result))
    h, m = doc["h"], doc["m"]
    write_npy(h_out, h, (len(h),))
    write_npy(m_out, m, (1, len(m)))
    print(f"{len(h)} field steps from {result}")


def collect(mexp_anchors, mexp_solve, magnum_anchors, magnum_result, out_mexp, out_magnum):
    ma, ms = json.load(open(mexp_anchors)), json.load(open(mexp_solve))
    ga, gr = json.load(open(magnum_anchors)), json.load(open(magnum_result))
    mexp = {k: ma.get("mean_" + k) for k in ANCHORS}
    mexp.update(iterations=ms["total_iterations"], field_evaluations=ms["total_field_evaluations"],
                not_converged=ms["non_converged_steps"])
    magnum = {k: ga.get("mean_" + k) for k in ANCHORS}
    magnum.update(iterations=gr["total_iterations"], not_converged=gr["not_converged_steps"],
                  wall_seconds=gr["wall_seconds"], setup_seconds=gr["setup_seconds"],
                  field_steps=gr["field_steps"])
    json.dump(mexp, open(out_mexp, "w"), indent=1, sort_keys=True)
    json.dump(magnum, open(out_magnum, "w"), indent=1, sort_keys=True)
    print("mexp", json.dumps(mexp))
    print("magnum.np", json.dumps(magnum))


if __name__ == "__main__":
    {"curve": curve, "collect": collect}[sys.argv[1]](*sys.argv[2:])
