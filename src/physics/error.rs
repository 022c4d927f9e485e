//! Error type of the micromagnetic solver.

/// Errors raised by the physics layer (bad inputs, cancellation).
#[derive(Debug, thiserror::Error)]
pub enum PhysicsError {
    /// The mesh is unusable (zero cells, non-positive or non-finite cell size, unsupported layout).
    #[error("invalid mesh: {0}")]
    InvalidMesh(String),
    /// A material parameter is negative, zero where it must not be, or not finite.
    #[error("invalid material: {0}")]
    InvalidMaterial(String),
    /// An input array does not match the mesh.
    #[error("shape mismatch for {what}: got {got:?}, expected {expected:?}")]
    ShapeMismatch {
        /// Which input.
        what: &'static str,
        /// Shape that was passed.
        got: Vec<usize>,
        /// Shape the mesh requires.
        expected: Vec<usize>,
    },
    /// An option is out of range or inconsistent.
    #[error("invalid option: {0}")]
    InvalidOption(String),
    /// An input contains NaN or infinity.
    #[error("non-finite input: {0}")]
    NonFinite(String),
    /// The caller raised the cancellation flag.
    #[error("computation cancelled")]
    Cancelled,
}
