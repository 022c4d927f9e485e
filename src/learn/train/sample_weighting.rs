//! Reduction of per-sample losses with per-sample weights, as Keras applies `sample_weight`.

use burn::prelude::*;

use crate::learn::model_error::{ModelError, check_shape};

/// Keras's `SUM_OVER_BATCH_SIZE` reduction with sample weights: Σ_b w_b·L_b / B (shape `[1]`).
/// The weights are not renormalised (Kornell et al.'s eq. 8 weights are used as given).
pub fn weighted_batch_mean(
    per_sample: Tensor<1>,
    sample_weights: Tensor<1>,
) -> Result<Tensor<1>, ModelError> {
    check_shape("sample weights", &per_sample.dims(), &sample_weights.dims())?;
    Ok((per_sample * sample_weights).mean())
}
