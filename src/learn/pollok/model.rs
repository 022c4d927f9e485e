//! A trained inverse-design CNN: batched inference on `ndarray` field maps and persistence as a
//! burnpack weight file plus a JSON side file.

use crate::learn::train::checkpoint::read_json;
use std::path::Path;

use burn::module::Module;
use burn::tensor::{Device, Tensor, TensorData};
use ndarray::{Array2, ArrayView4, Axis};
use serde::{Deserialize, Serialize};

use crate::learn::device_rng::lock_device_rng;
use crate::learn::error::LearnError;
use crate::learn::pollok::cnn::{Architecture, DESIGN_PARAMETERS, FIELD_CHANNELS, InverseCnn};
use crate::learn::stable_ids::save_model_dir;

const MODEL_FILE: &str = "inverse_cnn.bpk";
const META_FILE: &str = "inverse_cnn.json";

/// What besides the weights defines a trained network.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct InverseModelInfo {
    /// The architecture.
    pub arch: Architecture,
    /// `[h, w]` of the field maps it was trained on (predictions require the same size).
    pub input_size: [usize; 2],
    /// 1-based epoch whose weights these are (lowest validation RMSE, or the last epoch when
    /// there was no validation set).
    pub best_epoch: usize,
    /// Rows per forward pass in [`TrainedInverseCnn::predict`]. BatchNorm uses running
    /// statistics, so this changes results only at float-rounding level; fixing it keeps
    /// predictions bitwise reproducible.
    pub prediction_batch: usize,
}

/// A trained network in inference mode (BatchNorm with running statistics, no dropout).
#[derive(Debug, Clone)]
pub struct TrainedInverseCnn {
    /// Architecture, input size and provenance.
    pub info: InverseModelInfo,
    model: InverseCnn,
    device: Device,
}

/// Copies `[batch, channels, h, w]` field maps into a tensor on `device`.
pub fn fields_tensor(fields: ArrayView4<'_, f32>, device: &Device) -> Tensor<4> {
    let (b, c, h, w) = fields.dim();
    Tensor::from_data(
        TensorData::new(fields.iter().copied().collect::<Vec<f32>>(), [b, c, h, w]),
        device,
    )
}

/// Reads `[rows, DESIGN_PARAMETERS]` predictions back to the host.
pub fn design_array(predictions: Tensor<2>) -> Result<Array2<f32>, LearnError> {
    let [rows, cols] = predictions.dims();
    let values = predictions
        .try_into_vec_as::<f32>()
        .map_err(|e| LearnError::TensorRead(format!("{e:?}")))?;
    Array2::from_shape_vec((rows, cols), values).map_err(|e| LearnError::Shape(e.to_string()))
}

impl TrainedInverseCnn {
    /// Wraps an inference-mode model (call `valid()` on a training model first).
    pub fn new(info: InverseModelInfo, model: InverseCnn, device: Device) -> Self {
        Self {
            info,
            model,
            device,
        }
    }

    /// The network itself (inference mode).
    pub fn network(&self) -> &InverseCnn {
        &self.model
    }

    /// Design vectors `[n, 5]` for field maps `[n, 2, h, w]`, in chunks of
    /// `info.prediction_batch` rows.
    pub fn predict(&self, fields: ArrayView4<'_, f32>) -> Result<Array2<f32>, LearnError> {
        let (n, c, h, w) = fields.dim();
        if c != FIELD_CHANNELS || [h, w] != self.info.input_size {
            return Err(LearnError::Shape(format!(
                "field maps {:?}, the network expects [n, {FIELD_CHANNELS}, {}, {}]",
                fields.shape(),
                self.info.input_size[0],
                self.info.input_size[1]
            )));
        }
        let mut out = Array2::zeros((0, DESIGN_PARAMETERS));
        for chunk in fields.axis_chunks_iter(Axis(0), self.info.prediction_batch.max(1)) {
            let predicted = self.model.forward(fields_tensor(chunk, &self.device));
            out.append(Axis(0), design_array(predicted)?.view())
                .map_err(|e| LearnError::Shape(e.to_string()))?;
        }
        debug_assert_eq!(out.nrows(), n);
        Ok(out)
    }

    /// Writes `inverse_cnn.bpk` (weights and BatchNorm statistics) and `inverse_cnn.json`.
    pub fn save(&self, dir: &Path) -> Result<(), LearnError> {
        save_model_dir(dir, MODEL_FILE, self.model.clone(), META_FILE, &self.info)
    }

    /// Reads a network written by [`TrainedInverseCnn::save`] onto `device`.
    pub fn load(dir: &Path, device: &Device) -> Result<Self, LearnError> {
        let meta_path = dir.join(META_FILE);
        let info: InverseModelInfo = read_json(&meta_path)?;
        let path = dir.join(MODEL_FILE);
        // Whether loading materialises the lazy initial values first is burn's business; if it
        // does, those draws must not land inside another thread's seeded section.
        let _rng_guard = lock_device_rng();
        let model = info
            .arch
            .init(device)?
            .try_load_file(&path)
            .map_err(|e| LearnError::record(&path, e))?
            .valid();
        Ok(Self::new(info, model, device.clone()))
    }
}
