//! Test-set error measures of Pollok et al., Table I: the RMSE over all design parameters and
//! the per-parameter mean absolute error as a percentage of each parameter's span.
//!
//! Sums run in f64 in row-major order, so the result does not depend on how the rows were
//! batched when they were predicted.

use ndarray::ArrayView2;

use crate::learn::error::LearnError;
use crate::learn::pollok::cnn::DESIGN_PARAMETERS;

/// Running sum of squared errors over prediction/truth rows, added batch by batch.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct SquaredErrorSum {
    sum: f64,
    count: usize,
}

impl SquaredErrorSum {
    /// Adds the squared differences of one batch (row-major order).
    pub fn add(
        &mut self,
        predictions: ArrayView2<'_, f32>,
        truth: ArrayView2<'_, f32>,
    ) -> Result<(), LearnError> {
        check_same_shape(predictions, truth)?;
        for (&p, &t) in predictions.iter().zip(truth.iter()) {
            let d = f64::from(p) - f64::from(t);
            self.sum += d * d;
        }
        self.count += predictions.len();
        Ok(())
    }

    /// √(sum / count); `None` before anything was added.
    pub fn rmse(&self) -> Option<f64> {
        (self.count > 0).then(|| (self.sum / self.count as f64).sqrt())
    }
}

fn check_same_shape(
    predictions: ArrayView2<'_, f32>,
    truth: ArrayView2<'_, f32>,
) -> Result<(), LearnError> {
    if predictions.dim() == truth.dim() {
        Ok(())
    } else {
        Err(LearnError::Shape(format!(
            "predictions {:?} vs truth {:?}",
            predictions.shape(),
            truth.shape()
        )))
    }
}

/// Root-mean-square error over all rows and columns (the paper's loss and "RMSE" column, in
/// target units; ×100 gives percent for targets normalised to a unit span).
pub fn rmse(
    predictions: ArrayView2<'_, f32>,
    truth: ArrayView2<'_, f32>,
) -> Result<f64, LearnError> {
    let mut acc = SquaredErrorSum::default();
    acc.add(predictions, truth)?;
    acc.rmse()
        .ok_or_else(|| LearnError::Shape("rmse of an empty set".into()))
}

/// Mean absolute error of each design parameter as a percentage of its span:
/// 100 · mean_i |p_ij − t_ij| / span_j (the paper's spans in normalised units are 1 for x, y, a
/// and 2 for M_x, M_y).
pub fn per_target_mae_percent(
    predictions: ArrayView2<'_, f32>,
    truth: ArrayView2<'_, f32>,
    spans: [f64; DESIGN_PARAMETERS],
) -> Result<[f64; DESIGN_PARAMETERS], LearnError> {
    check_same_shape(predictions, truth)?;
    let (rows, cols) = predictions.dim();
    if cols != DESIGN_PARAMETERS || rows == 0 {
        return Err(LearnError::Shape(format!(
            "expected [n ≥ 1, {DESIGN_PARAMETERS}] design vectors, got {:?}",
            predictions.shape()
        )));
    }
    if let Some(bad) = spans.iter().find(|s| !(s.is_finite() && **s > 0.0)) {
        return Err(LearnError::InvalidConfig(format!(
            "target spans must be positive, got {bad}"
        )));
    }
    let mut sums = [0.0f64; DESIGN_PARAMETERS];
    for (p_row, t_row) in predictions.rows().into_iter().zip(truth.rows()) {
        for (sum, (&p, &t)) in sums.iter_mut().zip(p_row.iter().zip(t_row.iter())) {
            *sum += (f64::from(p) - f64::from(t)).abs();
        }
    }
    let mut out = [0.0; DESIGN_PARAMETERS];
    for ((o, sum), span) in out.iter_mut().zip(sums).zip(spans) {
        *o = 100.0 * sum / rows as f64 / span;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::{Array2, array, s};

    #[test]
    fn rmse_of_hand_computed_errors() {
        let p = array![[1.0f32, 2.0], [3.0, 4.0]];
        let t = array![[1.0f32, 0.0], [0.0, 4.0]];
        // squared errors 0, 4, 9, 0 → √(13 / 4)
        let value = rmse(p.view(), t.view()).expect("same shape");
        assert!((value - 3.25f64.sqrt()).abs() < 1e-15);
        assert!(rmse(p.view(), t.slice(s![..1, ..])).is_err());
        let empty = Array2::<f32>::zeros((0, 5));
        assert!(rmse(empty.view(), empty.view()).is_err());
    }

    #[test]
    fn rmse_is_independent_of_batching() {
        let p = Array2::from_shape_fn((7, 5), |(i, j)| (i * 5 + j) as f32 * 0.37 - 3.0);
        let t = Array2::from_shape_fn((7, 5), |(i, j)| ((i + 2 * j) as f32).sin());
        let mut acc = SquaredErrorSum::default();
        for (lo, hi) in [(0, 3), (3, 4), (4, 7)] {
            acc.add(p.slice(s![lo..hi, ..]), t.slice(s![lo..hi, ..]))
                .expect("shapes");
        }
        assert_eq!(acc.rmse(), Some(rmse(p.view(), t.view()).expect("shapes")));
    }

    #[test]
    fn mae_percent_of_hand_computed_errors() {
        let t = Array2::<f32>::zeros((2, 5));
        let p = array![
            [0.01f32, -0.02, 0.5, 0.1, -0.3],
            [0.03, 0.02, -0.25, -0.1, 0.1]
        ];
        let spans = [1.0, 1.0, 0.5, 2.0, 2.0];
        let mae = per_target_mae_percent(p.view(), t.view(), spans).expect("valid");
        // mean |e| / span · 100: x (0.01+0.03)/2 = 0.02 → 2 %; y 0.02 → 2 %;
        // a 0.375 / 0.5 → 75 %; M_x 0.1 / 2 → 5 %; M_y 0.2 / 2 → 10 %
        let expected = [2.0, 2.0, 75.0, 5.0, 10.0];
        for (got, want) in mae.iter().zip(expected) {
            assert!((got - want).abs() < 1e-5, "{mae:?}");
        }
        assert!(per_target_mae_percent(p.view(), t.view(), [1.0, 1.0, 0.0, 2.0, 2.0]).is_err());
        let four = Array2::<f32>::zeros((2, 4));
        assert!(per_target_mae_percent(four.view(), four.view(), spans).is_err());
    }
}
