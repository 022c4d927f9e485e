//! Test-only reference formulations for the prism field, independent of the corner sum in
//! [`crate::physics::prism`]:
//! - a Guptasarma–Singh style face/edge sum (Geophysics 64, 70 (1999)) for a uniformly
//!   magnetized polyhedron: every face carries the surface charge σ = M·n and contributes
//!   (σ/4π)[Ω n + Σ_edges ν ln((R_a+R_b+l)/(R_a+R_b−l))], with the signed solid angle Ω from the
//!   van Oosterom–Strackee triangle formula and ν the outward in-plane normal of each edge;
//! - Aharoni's closed-form magnetometric demagnetizing factor of a prism (J. Appl. Phys. 83,
//!   3432 (1998)).

use std::f64::consts::PI;

type V3 = [f64; 3];

fn sub(a: V3, b: V3) -> V3 {
    [a[0] - b[0], a[1] - b[1], a[2] - b[2]]
}
fn dot(a: V3, b: V3) -> f64 {
    a[0] * b[0] + a[1] * b[1] + a[2] * b[2]
}
fn cross(a: V3, b: V3) -> V3 {
    [
        a[1] * b[2] - a[2] * b[1],
        a[2] * b[0] - a[0] * b[2],
        a[0] * b[1] - a[1] * b[0],
    ]
}
fn norm(a: V3) -> f64 {
    dot(a, a).sqrt()
}

/// Signed solid angle of triangle (A, B, C) seen from `r`: positive on the side of
/// n = (B−A)×(C−A).
fn triangle_solid_angle(r: V3, a: V3, b: V3, c: V3) -> f64 {
    let (a, b, c) = (sub(a, r), sub(b, r), sub(c, r));
    let (la, lb, lc) = (norm(a), norm(b), norm(c));
    let num = dot(a, cross(b, c));
    let den = la * lb * lc + dot(a, b) * lc + dot(a, c) * lb + dot(b, c) * la;
    -2.0 * num.atan2(den)
}

/// Field at `r` of a planar convex polygon (vertices counter-clockwise about its unit normal
/// `n`) carrying uniform surface charge `sigma`: (σ/4π)∫(r−r')/|r−r'|³ dS'.
fn polygon_field(r: V3, verts: &[V3], n: V3, sigma: f64) -> V3 {
    let mut omega = 0.0;
    for k in 1..verts.len() - 1 {
        omega += triangle_solid_angle(r, verts[0], verts[k], verts[k + 1]);
    }
    let mut h = [omega * n[0], omega * n[1], omega * n[2]];
    for k in 0..verts.len() {
        let (p, q) = (verts[k], verts[(k + 1) % verts.len()]);
        let e = sub(q, p);
        let l = norm(e);
        let nu = cross([e[0] / l, e[1] / l, e[2] / l], n);
        let (ra, rb) = (norm(sub(r, p)), norm(sub(r, q)));
        let line = ((ra + rb + l) / (ra + rb - l)).ln();
        for a in 0..3 {
            h[a] += nu[a] * line;
        }
    }
    let pre = sigma / (4.0 * PI);
    [pre * h[0], pre * h[1], pre * h[2]]
}

/// Field H of a box (full side lengths `dims`, centred at the origin) with uniform
/// magnetization `m`, as a sum over its six charged faces.
pub(crate) fn box_field_face_sum(dims: V3, m: V3, r: V3) -> V3 {
    let h = [0.5 * dims[0], 0.5 * dims[1], 0.5 * dims[2]];
    let mut total = [0.0; 3];
    for axis in 0..3 {
        let (u, v) = ((axis + 1) % 3, (axis + 2) % 3);
        for side in [-1.0, 1.0] {
            let mut n = [0.0; 3];
            n[axis] = side;
            let corner = |su: f64, sv: f64| {
                let mut p = [0.0; 3];
                p[axis] = side * h[axis];
                p[u] = su * h[u];
                p[v] = sv * h[v];
                p
            };
            // (u, v, axis) is right-handed, so this order is counter-clockwise about +axis.
            let mut verts = vec![
                corner(-1.0, -1.0),
                corner(1.0, -1.0),
                corner(1.0, 1.0),
                corner(-1.0, 1.0),
            ];
            if side < 0.0 {
                verts.reverse();
            }
            let f = polygon_field(r, &verts, n, dot(m, n));
            for a in 0..3 {
                total[a] += f[a];
            }
        }
    }
    total
}

/// Aharoni's magnetometric demagnetizing factor D_z of a prism with full side lengths `dims`
/// (z is the third axis).
pub(crate) fn aharoni_dz(dims: V3) -> f64 {
    let (a, b, c) = (0.5 * dims[0], 0.5 * dims[1], 0.5 * dims[2]);
    let abc = (a * a + b * b + c * c).sqrt();
    let ab = (a * a + b * b).sqrt();
    let bc = (b * b + c * c).sqrt();
    let ac = (a * a + c * c).sqrt();
    let t = (b * b - c * c) / (2.0 * b * c) * ((abc - a) / (abc + a)).ln()
        + (a * a - c * c) / (2.0 * a * c) * ((abc - b) / (abc + b)).ln()
        + b / (2.0 * c) * ((ab + a) / (ab - a)).ln()
        + a / (2.0 * c) * ((ab + b) / (ab - b)).ln()
        + c / (2.0 * a) * ((bc - b) / (bc + b)).ln()
        + c / (2.0 * b) * ((ac - a) / (ac + a)).ln()
        + 2.0 * (a * b / (c * abc)).atan()
        + (a.powi(3) + b.powi(3) - 2.0 * c.powi(3)) / (3.0 * a * b * c)
        + (a * a + b * b - 2.0 * c * c) / (3.0 * a * b * c) * abc
        + c / (a * b) * (ac + bc)
        - (ab.powi(3) + bc.powi(3) + ac.powi(3)) / (3.0 * a * b * c);
    t / PI
}
