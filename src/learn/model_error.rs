//! Errors raised when building the learning models or evaluating their losses.

/// Invalid model configuration or tensor shapes that a caller (manifest, data pipeline) controls.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ModelError {
    /// A configuration value is out of its valid range.
    #[error("invalid model configuration: {0}")]
    InvalidConfig(String),
    /// A tensor handed to a model or loss has the wrong shape.
    #[error("shape mismatch for {what}: expected {expected:?}, got {got:?}")]
    ShapeMismatch {
        /// Which argument is wrong.
        what: &'static str,
        /// The expected dimensions.
        expected: Vec<usize>,
        /// The dimensions received.
        got: Vec<usize>,
    },
}

/// Returns a [`ModelError::ShapeMismatch`] unless `got == expected`.
pub(crate) fn check_shape(
    what: &'static str,
    expected: &[usize],
    got: &[usize],
) -> Result<(), ModelError> {
    if expected == got {
        Ok(())
    } else {
        Err(ModelError::ShapeMismatch {
            what,
            expected: expected.to_vec(),
            got: got.to_vec(),
        })
    }
}
