//! Regular finite-difference mesh (one layer of cells).

use crate::physics::error::PhysicsError;

/// Regular grid of nx × ny × nz cuboid cells of size dx × dy × dz (metres).
///
/// Cells are stored row-major with x fastest: cell (ix, iy) has flat index `iy * nx + ix`,
/// matching an `ndarray` of shape `(ny, nx)`. The solver handles one layer (`nz == 1`); the
/// layer thickness `dz` enters the 3D demag kernel and the cell volume.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Mesh {
    /// Cells along x.
    pub nx: usize,
    /// Cells along y.
    pub ny: usize,
    /// Cells along z (must be 1).
    pub nz: usize,
    /// Cell size along x in metres.
    pub dx: f64,
    /// Cell size along y in metres.
    pub dy: f64,
    /// Cell size along z in metres.
    pub dz: f64,
}

impl Mesh {
    /// Builds and validates a mesh.
    pub fn new([nx, ny, nz]: [usize; 3], [dx, dy, dz]: [f64; 3]) -> Result<Self, PhysicsError> {
        let mesh = Self {
            nx,
            ny,
            nz,
            dx,
            dy,
            dz,
        };
        mesh.validate()?;
        Ok(mesh)
    }

    /// The Kovacs et al. sample: 160 × 160 × 1 cells of 2 nm × 2 nm × 36 000 nm.
    pub fn kovacs() -> Self {
        Self {
            nx: 160,
            ny: 160,
            nz: 1,
            dx: 2e-9,
            dy: 2e-9,
            dz: 36_000e-9,
        }
    }

    /// Checks cell counts and sizes; only single-layer meshes (`nz == 1`) are supported.
    pub fn validate(&self) -> Result<(), PhysicsError> {
        if self.nx == 0 || self.ny == 0 {
            return Err(PhysicsError::InvalidMesh(format!(
                "no cells ({} x {})",
                self.nx, self.ny
            )));
        }
        if self.nz != 1 {
            return Err(PhysicsError::InvalidMesh(format!(
                "nz = {} but only single-layer meshes are supported",
                self.nz
            )));
        }
        for (name, d) in [("dx", self.dx), ("dy", self.dy), ("dz", self.dz)] {
            if !(d.is_finite() && d > 0.0) {
                return Err(PhysicsError::InvalidMesh(format!("{name} = {d}")));
            }
        }
        Ok(())
    }

    /// Number of cells.
    pub fn n_cells(&self) -> usize {
        self.nx * self.ny * self.nz
    }

    /// Volume of one cell in m³.
    pub fn cell_volume(&self) -> f64 {
        self.dx * self.dy * self.dz
    }

    /// Volume of the whole sample in m³.
    pub fn volume(&self) -> f64 {
        self.cell_volume() * self.n_cells() as f64
    }
}
