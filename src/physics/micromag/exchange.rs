//! Exchange field: six-point (in-plane four-point) Laplacian with free boundaries.

use crate::physics::micromag::material::Material;
use crate::physics::micromag::mesh::Mesh;
use crate::physics::micromag::vector_field::VectorField;

/// Exchange term `B_ex,i = (2A/Ms) Σ_axes d⁻² Σ_nb (m_nb − m_i)` in tesla; neighbours outside
/// the sample are skipped (free/Neumann boundary). Energy `A Σ_pairs (V/d²) |m_i − m_j|²`,
/// which equals `−½ Ms V Σ m·B_ex` for unit vectors.
#[derive(Debug, Clone)]
pub struct Exchange {
    nx: usize,
    ny: usize,
    cx: f64,
    cy: f64,
}

impl Exchange {
    /// Coupling constants 2A/(Ms dx²) and 2A/(Ms dy²) for `mesh` (single layer: no z pairs).
    pub fn new(mesh: &Mesh, material: &Material) -> Self {
        let c = 2.0 * material.exchange_a / material.ms();
        Self {
            nx: mesh.nx,
            ny: mesh.ny,
            cx: c / (mesh.dx * mesh.dx),
            cy: c / (mesh.dy * mesh.dy),
        }
    }

    /// Adds the exchange field of `m` to `b` for the first `ncomp` components.
    pub fn add_field(&self, m: &VectorField, b: &mut VectorField, ncomp: usize) {
        add_component(&m.x, &mut b.x, self.nx, self.ny, self.cx, self.cy);
        add_component(&m.y, &mut b.y, self.nx, self.ny, self.cx, self.cy);
        if ncomp == 3 {
            add_component(&m.z, &mut b.z, self.nx, self.ny, self.cx, self.cy);
        }
    }
}

/// Adds the exchange field of one component. A missing neighbour is replaced by the cell
/// itself, which contributes an exact zero difference (free boundary).
fn add_component(m: &[f64], b: &mut [f64], nx: usize, ny: usize, cx: f64, cy: f64) {
    for y in 0..ny {
        let row = &m[y * nx..(y + 1) * nx];
        let up = if y > 0 { &m[(y - 1) * nx..y * nx] } else { row };
        let down = if y + 1 < ny {
            &m[(y + 1) * nx..(y + 2) * nx]
        } else {
            row
        };
        add_row(&mut b[y * nx..(y + 1) * nx], row, up, down, cx, cy);
    }
}

/// One row: vertical neighbours `up`/`down`, horizontal ones from `row` itself.
fn add_row(b: &mut [f64], row: &[f64], up: &[f64], down: &[f64], cx: f64, cy: f64) {
    let n = row.len();
    let vertical = |i: usize| cy * ((up[i] - row[i]) + (down[i] - row[i]));
    if n == 1 {
        b[0] += vertical(0);
        return;
    }
    b[0] += cx * (row[1] - row[0]) + vertical(0);
    b[n - 1] += cx * (row[n - 2] - row[n - 1]) + vertical(n - 1);
    let inner = n - 2;
    let (left, mid, right) = (&row[..inner], &row[1..n - 1], &row[2..]);
    let (up, down, b) = (&up[1..n - 1], &down[1..n - 1], &mut b[1..n - 1]);
    for i in 0..inner {
        let c = mid[i];
        b[i] += cx * ((left[i] - c) + (right[i] - c)) + cy * ((up[i] - c) + (down[i] - c));
    }
}

impl Exchange {
    /// Per-cell self-coupling Σ_nb c_axis (tesla): the sum of the coupling constants of the
    /// neighbours that exist (free boundary). `−self_coupling[i]·m_i` is the part of `B_ex,i`
    /// that depends on m_i itself; the minimizer's preconditioner needs it.
    pub fn self_coupling(&self) -> Vec<f64> {
        let (nx, ny) = (self.nx, self.ny);
        let mut out = vec![0.0; nx * ny];
        for y in 0..ny {
            for x in 0..nx {
                let horizontal = usize::from(x > 0) + usize::from(x + 1 < nx);
                let vertical = usize::from(y > 0) + usize::from(y + 1 < ny);
                out[y * nx + x] = horizontal as f64 * self.cx + vertical as f64 * self.cy;
            }
        }
        out
    }
}
