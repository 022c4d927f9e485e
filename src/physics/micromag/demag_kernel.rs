//! Demagnetizing tensor of uniformly magnetized cells: the exact 2D kernel of infinitely long
//! prisms (default) and the 3D Newell kernel of cuboids, with an optional dipole far field.
//!
//! Sign convention: the demagnetizing field of cell j at cell i is `H_i = −N(r_i − r_j)·M_j`,
//! so the self term of a square prism is `Nxx = Nyy = ½`.

use std::f64::consts::PI;

use crate::physics::error::PhysicsError;
use crate::physics::micromag::mesh::Mesh;

/// Second-difference weights of the cell-averaging stencil.
const STENCIL: [f64; 3] = [1.0, -2.0, 1.0];

/// Which demagnetizing kernel to build.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DemagKernelKind {
    /// Exact kernel of infinitely long prisms along z (Nzz = Nxz = Nyz = 0); `dz` is ignored.
    Exact2d,
    /// Newell–Williams–Dunlop kernel of finite cuboids with the mesh's `dz`.
    Newell3d,
}

/// Choice of demagnetizing kernel and far-field treatment.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct KernelOptions {
    /// Kernel formula.
    pub kind: DemagKernelKind,
    /// If set, entries whose offset exceeds this many times the largest cell dimension use the
    /// dipole approximation (line dipole for 2D, point dipole for 3D) instead of the exact sum.
    /// With the Kovacs cell (dz = 36 µm) the 3D criterion never triggers inside the sample.
    pub far_field_cells: Option<f64>,
}

impl Default for KernelOptions {
    /// Exact 2D kernel, no far-field approximation.
    fn default() -> Self {
        Self {
            kind: DemagKernelKind::Exact2d,
            far_field_cells: None,
        }
    }
}

/// Stencil centre (x0, y0 ≥ 0, cell units) of the 2D functions. Terms that the 9-point
/// stencil annihilates (polynomials of x-degree ≤ 1 or y-degree ≤ 1 times constants) are
/// removed around the centre: ln r² → ln(r²/r0²), and, when every stencil point lies in the
/// open first quadrant, atan(y/x) → atan(y/x) − atan(y0/x0). This keeps the summed terms of
/// order r instead of r² ln r², i.e. full double precision at any distance.
#[derive(Clone, Copy)]
struct Centre2d {
    x0: f64,
    y0: f64,
    r02: f64,
    quadrant: bool,
}

impl Centre2d {
    fn new(x0: f64, y0: f64, a: f64) -> Self {
        Self {
            x0,
            y0,
            r02: x0 * x0 + y0 * y0,
            quadrant: x0 > 1.0 && y0 > a,
        }
    }

    /// ln(r²/r0²) (or ln r² at the origin offset).
    fn log_ratio(&self, x: f64, y: f64) -> f64 {
        if self.r02 > 0.0 {
            (((x - self.x0) * (x + self.x0) + (y - self.y0) * (y + self.y0)) / self.r02).ln_1p()
        } else {
            (x * x + y * y).ln()
        }
    }

    /// atan(y/x) − atan(y0/x0) for points in the first quadrant.
    fn angle_diff(&self, x: f64, y: f64) -> f64 {
        ((y * self.x0 - x * self.y0) / (x * self.x0 + y * self.y0)).atan()
    }
}

/// F(x,y) = ½(y²−x²) ln(x²+y²) + 2xy atan(y/x), reduced around `c`.
fn f_2d(x: f64, y: f64, c: &Centre2d) -> f64 {
    if x == 0.0 && y == 0.0 {
        return 0.0;
    }
    let mut t = 0.5 * (y * y - x * x) * c.log_ratio(x, y);
    if c.quadrant {
        t += 2.0 * x * y * c.angle_diff(x, y);
    } else if x != 0.0 {
        t += 2.0 * x * y * (y / x).atan();
    }
    t
}

/// G(x,y) = xy ln(x²+y²) + x² atan(y/x) + y² atan(x/y), reduced around `c`.
fn g_2d(x: f64, y: f64, c: &Centre2d) -> f64 {
    if x == 0.0 && y == 0.0 {
        return 0.0;
    }
    let mut t = x * y * c.log_ratio(x, y);
    if c.quadrant {
        // atan(x/y) − atan(x0/y0) = −(atan(y/x) − atan(y0/x0)) in the first quadrant.
        t += (x * x - y * y) * c.angle_diff(x, y);
    } else {
        if x != 0.0 {
            t += x * x * (y / x).atan();
        }
        if y != 0.0 {
            t += y * y * (x / y).atan();
        }
    }
    t
}

/// 2D tensor [Nxx, Nyy, Nxy] at the offset (ox, oy) ≥ 0 in units of dx, cell 1 × a.
fn tensor_2d_cell_units(ox: f64, oy: f64, a: f64) -> [f64; 3] {
    let c = Centre2d::new(ox, oy, a);
    // Nyy is Nxx of the mesh with x and y swapped (cell a × 1); rescale to cell 1 × 1/a.
    let cs = Centre2d::new(oy / a, ox / a, 1.0 / a);
    let (mut sxx, mut syy, mut sxy) = (0.0, 0.0, 0.0);
    for (j, cj) in STENCIL.iter().enumerate() {
        for (i, ci) in STENCIL.iter().enumerate() {
            let (di, dj) = (i as f64 - 1.0, j as f64 - 1.0);
            let (x, y) = (ox + di, oy + dj * a);
            sxx += ci * cj * f_2d(x, y, &c);
            sxy += ci * cj * g_2d(x, y, &c);
            syy += ci * cj * f_2d(oy / a + dj, ox / a + di / a, &cs);
        }
    }
    let norm = 1.0 / (4.0 * PI * a);
    // The swapped sum is in units of dy (cell 1 × 1/a): its normalization is a/(4π).
    [norm * sxx, syy * a / (4.0 * PI), norm * sxy]
}

/// `asinh(w/ρ⊥) − sign(w)·ln(2|w|)` without cancellation (`rho2` = ρ⊥², `r` = |(w, ρ⊥)|).
/// The subtracted part is annihilated by the stencil whenever its prefactor is.
fn asinh_minus_log(w: f64, rho2: f64, r: f64) -> f64 {
    let aw = w.abs();
    let v = (rho2 / (2.0 * aw * (r + aw))).ln_1p() - 0.5 * rho2.ln();
    if w < 0.0 { -v } else { v }
}

/// Newell's f for Nxx, with terms that the 27-point stencil annihilates removed along the
/// coordinate `long` (the axis of the largest cell size) to limit cancellation.
fn newell_f(p: [f64; 3], long: usize) -> f64 {
    let [x, y, z] = p;
    let (x2, y2, z2) = (x * x, y * y, z * z);
    let r2 = x2 + y2 + z2;
    if r2 == 0.0 {
        return 0.0;
    }
    let r = r2.sqrt();
    let pl = p[long].abs();
    let r_red = (r2 - pl * pl) / (r + pl);
    let mut t = (2.0 * x2 - y2 - z2) * r_red / 6.0;
    if x2 + z2 > 0.0 && y != 0.0 {
        let a = if long == 1 {
            asinh_minus_log(y, x2 + z2, r)
        } else {
            (y / (x2 + z2).sqrt()).asinh()
        };
        t += 0.5 * y * (z2 - x2) * a;
    }
    if x2 + y2 > 0.0 && z != 0.0 {
        let a = if long == 2 {
            asinh_minus_log(z, x2 + y2, r)
        } else {
            (z / (x2 + y2).sqrt()).asinh()
        };
        t += 0.5 * z * (y2 - x2) * a;
    }
    if x != 0.0 {
        t -= x * y * z * (y * z / (x * r)).atan();
    }
    t
}

/// Newell's g for Nxy.
fn newell_g(p: [f64; 3]) -> f64 {
    let [x, y, z] = p;
    let (x2, y2, z2) = (x * x, y * y, z * z);
    let r2 = x2 + y2 + z2;
    if r2 == 0.0 {
        return 0.0;
    }
    let r = r2.sqrt();
    let mut t = -x * y * r / 3.0;
    if x2 + y2 > 0.0 {
        t += x * y * z * (z / (x2 + y2).sqrt()).asinh();
    }
    if y2 + z2 > 0.0 {
        t += y / 6.0 * (3.0 * z2 - y2) * (x / (y2 + z2).sqrt()).asinh();
    }
    if x2 + z2 > 0.0 {
        t += x / 6.0 * (3.0 * z2 - x2) * (y / (x2 + z2).sqrt()).asinh();
    }
    if z != 0.0 {
        t -= z * z2 / 6.0 * (x * y / (z * r)).atan();
    }
    if y != 0.0 {
        t -= z * y2 / 2.0 * (x * z / (y * r)).atan();
    }
    if x != 0.0 {
        t -= z * x2 / 2.0 * (y * z / (x * r)).atan();
    }
    t
}

fn argmax3(d: [f64; 3]) -> usize {
    let mut best = 0;
    for k in 1..3 {
        if d[k] > d[best] {
            best = k;
        }
    }
    best
}

/// Exact 2D Nxx between two infinitely long dx × dy prisms at in-plane offset (x, y) (metres).
pub fn nxx_2d(x: f64, y: f64, dx: f64, dy: f64) -> f64 {
    tensor_2d_cell_units(x.abs() / dx, y.abs() / dx, dy / dx)[0]
}

/// Exact 2D Nyy (Nxx with the axes swapped).
pub fn nyy_2d(x: f64, y: f64, dx: f64, dy: f64) -> f64 {
    tensor_2d_cell_units(x.abs() / dx, y.abs() / dx, dy / dx)[1]
}

/// Exact 2D Nxy between two infinitely long dx × dy prisms at in-plane offset (x, y) (metres).
/// Odd in x and in y (exactly zero on the axes).
pub fn nxy_2d(x: f64, y: f64, dx: f64, dy: f64) -> f64 {
    let sign = x.signum() * y.signum();
    if x == 0.0 || y == 0.0 {
        return 0.0;
    }
    sign * tensor_2d_cell_units(x.abs() / dx, y.abs() / dx, dy / dx)[2]
}

fn stencil_3d(p: [f64; 3], d: [f64; 3], diagonal: bool) -> f64 {
    let unit = d[0];
    let (p, d) = (p.map(|v| v / unit), d.map(|v| v / unit));
    let long = argmax3(d);
    let mut s = 0.0;
    for (i, ci) in STENCIL.iter().enumerate() {
        for (j, cj) in STENCIL.iter().enumerate() {
            for (k, ck) in STENCIL.iter().enumerate() {
                let q = [
                    p[0] + (i as f64 - 1.0) * d[0],
                    p[1] + (j as f64 - 1.0) * d[1],
                    p[2] + (k as f64 - 1.0) * d[2],
                ];
                let v = if diagonal {
                    newell_f(q, long)
                } else {
                    newell_g(q)
                };
                s += ci * cj * ck * v;
            }
        }
    }
    -s / (4.0 * PI * d[0] * d[1] * d[2])
}

/// Newell Nxx between two dx × dy × dz cuboids at offset (x, y, z) (metres).
pub fn newell_nxx(x: f64, y: f64, z: f64, dx: f64, dy: f64, dz: f64) -> f64 {
    stencil_3d([x, y, z], [dx, dy, dz], true)
}

/// Newell Nxy between two dx × dy × dz cuboids at offset (x, y, z) (metres).
pub fn newell_nxy(x: f64, y: f64, z: f64, dx: f64, dy: f64, dz: f64) -> f64 {
    stencil_3d([x, y, z], [dx, dy, dz], false)
}

/// Tensor components (xx, yy, zz, xy) of the dipole approximation at offset (x, y) in the
/// plane: line dipole (area dx·dy) in 2D, point dipole (volume dx·dy·dz) in 3D.
fn dipole(kind: DemagKernelKind, x: f64, y: f64, d: [f64; 3]) -> [f64; 4] {
    let r2 = x * x + y * y;
    match kind {
        DemagKernelKind::Exact2d => {
            let c = -d[0] * d[1] / (2.0 * PI * r2 * r2);
            [
                c * (x * x - y * y),
                c * (y * y - x * x),
                0.0,
                c * 2.0 * x * y,
            ]
        }
        DemagKernelKind::Newell3d => {
            let r = r2.sqrt();
            let c = -d[0] * d[1] * d[2] / (4.0 * PI * r2 * r2 * r);
            [
                c * (3.0 * x * x - r2),
                c * (3.0 * y * y - r2),
                c * (-r2),
                c * 3.0 * x * y,
            ]
        }
    }
}

/// The demag tensor of a single-layer mesh for all non-negative in-plane cell offsets.
///
/// Entries for negative offsets follow from symmetry: Nxx, Nyy, Nzz are even in both offsets,
/// Nxy is odd in each. The z-coupling terms Nxz, Nyz vanish for a single layer.
#[derive(Debug, Clone)]
pub struct DemagTensor {
    nx: usize,
    ny: usize,
    /// Components per offset, index `oy * nx + ox`: [Nxx, Nyy, Nzz, Nxy].
    entries: Vec<[f64; 4]>,
}

impl DemagTensor {
    /// Computes the tensor for every offset 0 ≤ ox < nx, 0 ≤ oy < ny.
    ///
    /// The stencil functions are tabulated once on the (nx+1) × (ny+1) grid of cell corners
    /// and reused by the neighbouring offsets (they are even/odd in each coordinate).
    pub fn new(mesh: &Mesh, opts: &KernelOptions) -> Result<Self, PhysicsError> {
        mesh.validate()?;
        if let Some(r) = opts.far_field_cells
            && !(r.is_finite() && r > 0.0)
        {
            return Err(PhysicsError::InvalidOption(format!(
                "far_field_cells = {r}"
            )));
        }
        let (nx, ny) = (mesh.nx, mesh.ny);
        let d = [mesh.dx, mesh.dy, mesh.dz];
        let entries = match opts.kind {
            DemagKernelKind::Exact2d => tabulated_2d(nx, ny, d),
            DemagKernelKind::Newell3d => tabulated_3d(nx, ny, d),
        };
        let mut tensor = Self { nx, ny, entries };
        if let Some(r_far) = opts.far_field_cells {
            let dmax = match opts.kind {
                DemagKernelKind::Exact2d => d[0].max(d[1]),
                DemagKernelKind::Newell3d => d[0].max(d[1]).max(d[2]),
            };
            for oy in 0..ny {
                for ox in 0..nx {
                    let (x, y) = (ox as f64 * d[0], oy as f64 * d[1]);
                    if (x * x + y * y).sqrt() > r_far * dmax {
                        tensor.entries[oy * nx + ox] = dipole(opts.kind, x, y, d);
                    }
                }
            }
        }
        Ok(tensor)
    }

    /// Cells along x of the mesh the tensor was built for.
    pub fn nx(&self) -> usize {
        self.nx
    }

    /// Cells along y of the mesh the tensor was built for.
    pub fn ny(&self) -> usize {
        self.ny
    }

    /// [Nxx, Nyy, Nzz, Nxy] at the cell offset (ox, oy), |ox| < nx, |oy| < ny.
    pub fn get(&self, ox: isize, oy: isize) -> [f64; 4] {
        let e = self.entries[oy.unsigned_abs() * self.nx + ox.unsigned_abs()];
        let sign = if (ox < 0) != (oy < 0) { -1.0 } else { 1.0 };
        [e[0], e[1], e[2], sign * e[3]]
    }

    /// Sample-averaged demag factors [Nx, Ny, Nz] of the whole mesh: the mean over cells i of
    /// Σ_j N(r_i − r_j), i.e. the offset sum weighted by the number of cell pairs.
    pub fn sample_factors(&self) -> [f64; 3] {
        let (nx, ny) = (self.nx as isize, self.ny as isize);
        let mut acc = [0.0; 3];
        for oy in -(ny - 1)..ny {
            for ox in -(nx - 1)..nx {
                let w = ((nx - ox.abs()) * (ny - oy.abs())) as f64;
                let e = self.get(ox, oy);
                for k in 0..3 {
                    acc[k] += w * e[k];
                }
            }
        }
        acc.map(|a| a / (nx * ny) as f64)
    }
}

/// Applies the 1D stencil along both in-plane axes to a table indexed by |coordinate|.
fn stencil_sum_2d(table: &[f64], w: usize, ox: usize, oy: usize, odd: bool) -> f64 {
    let mut s = 0.0;
    for (j, cj) in STENCIL.iter().enumerate() {
        let yy = oy as isize + j as isize - 1;
        for (i, ci) in STENCIL.iter().enumerate() {
            let xx = ox as isize + i as isize - 1;
            let mut v = table[yy.unsigned_abs() * w + xx.unsigned_abs()];
            if odd && (xx < 0) != (yy < 0) {
                v = -v;
            }
            s += ci * cj * v;
        }
    }
    s
}

fn tabulated_2d(nx: usize, ny: usize, d: [f64; 3]) -> Vec<[f64; 4]> {
    let a = d[1] / d[0];
    let mut out = Vec::with_capacity(nx * ny);
    for oy in 0..ny {
        for ox in 0..nx {
            let [xx, yy, xy] = tensor_2d_cell_units(ox as f64, oy as f64 * a, a);
            let xy = if ox == 0 || oy == 0 { 0.0 } else { xy };
            out.push([xx, yy, 0.0, xy]);
        }
    }
    out
}

fn tabulated_3d(nx: usize, ny: usize, d: [f64; 3]) -> Vec<[f64; 4]> {
    let unit = d[0];
    let d = d.map(|v| v / unit);
    let w = nx + 1;
    let plane = w * (ny + 1);
    // Two z planes suffice: every function is even in z and the offset along z is 0.
    let mut tables = [
        vec![0.0; 2 * plane],
        vec![0.0; 2 * plane],
        vec![0.0; 2 * plane],
        vec![0.0; 2 * plane],
    ];
    for iz in 0..2 {
        for iy in 0..=ny {
            for ix in 0..=nx {
                let (x, y, z) = (ix as f64 * d[0], iy as f64 * d[1], iz as f64 * d[2]);
                let k = iz * plane + iy * w + ix;
                tables[0][k] = newell_f([x, y, z], argmax3([d[0], d[1], d[2]]));
                tables[1][k] = newell_f([y, x, z], argmax3([d[1], d[0], d[2]]));
                tables[2][k] = newell_f([z, x, y], argmax3([d[2], d[0], d[1]]));
                tables[3][k] = newell_g([x, y, z]);
            }
        }
    }
    let norm = -1.0 / (4.0 * PI * d[0] * d[1] * d[2]);
    let mut out = Vec::with_capacity(nx * ny);
    for oy in 0..ny {
        for ox in 0..nx {
            let mut e = [0.0; 4];
            for (c, table) in tables.iter().enumerate() {
                // z stencil at offset 0: c(−1)·t(1) + c(0)·t(0) + c(1)·t(1).
                let t0 = stencil_sum_2d(&table[..plane], w, ox, oy, c == 3);
                let t1 = stencil_sum_2d(&table[plane..], w, ox, oy, c == 3);
                e[c] = norm * (2.0 * t1 - 2.0 * t0);
            }
            out.push(e);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tabulated_tensor_matches_direct_stencils() {
        let mesh = Mesh::new([7, 5, 1], [2e-9, 3e-9, 5e-9]).expect("valid mesh");
        let t2 = DemagTensor::new(&mesh, &KernelOptions::default()).expect("kernel");
        let t3 = DemagTensor::new(
            &mesh,
            &KernelOptions {
                kind: DemagKernelKind::Newell3d,
                far_field_cells: None,
            },
        )
        .expect("kernel");
        for oy in -4..5_isize {
            for ox in -6..7_isize {
                let (x, y) = (ox as f64 * 2e-9, oy as f64 * 3e-9);
                let e2 = t2.get(ox, oy);
                assert!((e2[0] - nxx_2d(x, y, 2e-9, 3e-9)).abs() < 1e-14);
                assert!((e2[1] - nyy_2d(x, y, 2e-9, 3e-9)).abs() < 1e-14);
                assert!((e2[3] - nxy_2d(x, y, 2e-9, 3e-9)).abs() < 1e-14);
                let e3 = t3.get(ox, oy);
                let d = (2e-9, 3e-9, 5e-9);
                assert!((e3[0] - newell_nxx(x, y, 0.0, d.0, d.1, d.2)).abs() < 1e-13);
                let r = newell_nxx(y, x, 0.0, d.1, d.0, d.2);
                assert!((e3[1] - r).abs() < 1e-13, "{ox} {oy}: {} vs {r}", e3[1]);
                assert!((e3[2] - newell_nxx(0.0, x, y, d.2, d.0, d.1)).abs() < 1e-13);
                assert!((e3[3] - newell_nxy(x, y, 0.0, d.0, d.1, d.2)).abs() < 1e-13);
            }
        }
    }
}
