//! VAE training, encoding, decoding and persistence with plain `ndarray` inputs and outputs.
//!
//! Images are `[n, S, S]` f32 arrays with values in [−1, 1] (the decoder ends in tanh). The
//! training data never has to be in memory at once: [`fit_vae`] asks a loader closure for each
//! minibatch by sample index, so the caller can stream or regenerate it.

use crate::learn::train::checkpoint::read_json;
use std::path::Path;
use std::sync::atomic::AtomicBool;

use burn::module::Module;
use burn::tensor::{Device, Tensor, TensorData};
use ndarray::{Array2, Array3, ArrayView2, ArrayView3, Axis};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::learn::error::LearnError;
use crate::learn::kovacs::vae::{Vae, VaeConfig};
use crate::learn::stable_ids::save_model_dir;
use crate::learn::train::checkpoint::CheckpointConfig;
use crate::learn::train::nadam::NadamConfig;
use crate::learn::train::policy::Policies;
use crate::learn::train::{
    BatchLoss, EpochRecord, LoopConfig, RunSpec, StepContext, TrainTask, run_epochs,
};

/// Everything that defines a VAE training run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VaeFitConfig {
    /// Architecture and loss weighting.
    pub model: VaeConfig,
    /// Epoch loop (paper: 400 epochs, batch 64, learning rate 1e-4).
    pub schedule: LoopConfig,
    /// Optimizer hyper-parameters (paper: Keras Nadam).
    pub nadam: NadamConfig,
    /// Optional checkpointing / resume.
    pub checkpoint: Option<CheckpointConfig>,
}

impl Default for VaeFitConfig {
    /// The paper's run: 160×160, latent 512, 400 epochs, batch 64, Nadam with lr 1e-4.
    fn default() -> Self {
        Self {
            model: VaeConfig::default(),
            schedule: LoopConfig {
                epochs: 400,
                batch_size: 64,
                learning_rate: 1e-4,
                seed: 0,
            },
            nadam: NadamConfig::default(),
            checkpoint: None,
        }
    }
}

impl VaeFitConfig {
    /// Identity of the run for checkpoint resume (everything but epoch count and paths).
    fn fingerprint(&self) -> Result<String, LearnError> {
        let key = (
            &self.model,
            self.schedule.batch_size,
            self.schedule.learning_rate,
            self.schedule.seed,
            &self.nadam,
        );
        serde_json::to_string(&key).map_err(|source| LearnError::Json {
            path: "<vae fingerprint>".into(),
            source,
        })
    }
}

/// A trained VAE ready for inference on its device.
#[derive(Debug, Clone)]
pub struct TrainedVae {
    /// Architecture of the model.
    pub config: VaeConfig,
    model: Vae,
    device: Device,
}

/// Standard-normal samples (Box–Muller on a ChaCha8 stream seeded with `seed`).
pub fn standard_normal(seed: u64, count: usize) -> Vec<f32> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut out = Vec::with_capacity(count + 1);
    while out.len() < count {
        let u1: f64 = 1.0 - rng.random::<f64>();
        let u2: f64 = rng.random::<f64>();
        let radius = (-2.0 * u1.ln()).sqrt();
        let angle = std::f64::consts::TAU * u2;
        out.push((radius * angle.cos()) as f32);
        out.push((radius * angle.sin()) as f32);
    }
    out.truncate(count);
    out
}

fn images_tensor(
    images: ArrayView3<'_, f32>,
    side: usize,
    device: &Device,
) -> Result<Tensor<4>, LearnError> {
    let (n, h, w) = images.dim();
    if h != side || w != side {
        return Err(LearnError::Shape(format!(
            "images are {h}×{w}, the VAE expects {side}×{side}"
        )));
    }
    let data = TensorData::new(images.iter().copied().collect::<Vec<f32>>(), [n, 1, h, w]);
    Ok(Tensor::from_data(data, device))
}

fn to_array2(tensor: Tensor<2>) -> Result<Array2<f32>, LearnError> {
    let [rows, cols] = tensor.dims();
    let values = tensor
        .try_into_vec_as::<f32>()
        .map_err(|e| LearnError::TensorRead(format!("{e:?}")))?;
    Array2::from_shape_vec((rows, cols), values).map_err(|e| LearnError::Shape(e.to_string()))
}

struct VaeTask<L> {
    loader: L,
    config: VaeConfig,
}

impl<L> TrainTask for VaeTask<L>
where
    L: FnMut(&[usize]) -> Result<Array3<f32>, LearnError>,
{
    type Model = Vae;
    type Batch = Array3<f32>;

    fn load(&mut self, indices: &[usize]) -> Result<Array3<f32>, LearnError> {
        let batch = (self.loader)(indices)?;
        let side = self.config.input_size;
        if batch.dim() != (indices.len(), side, side) {
            return Err(LearnError::Shape(format!(
                "loader returned {:?} for {} indices, expected [{}, {side}, {side}]",
                batch.shape(),
                indices.len(),
                indices.len()
            )));
        }
        Ok(batch)
    }

    fn loss(
        &mut self,
        model: &Vae,
        batch: Array3<f32>,
        device: &Device,
        ctx: StepContext,
    ) -> BatchLoss {
        let n = batch.dim().0;
        let latent = self.config.latent_dim;
        let images = images_tensor(batch.view(), self.config.input_size, device)
            .expect("batch shape was checked in load");
        let noise = Tensor::<2>::from_data(
            TensorData::new(standard_normal(ctx.noise_seed(), n * latent), [n, latent]),
            device,
        );
        let terms = model.forward_loss(images, noise, self.config.kl_weight);
        BatchLoss {
            total: terms.total,
            parts: vec![("reconstruction", terms.reconstruction), ("kl", terms.kl)],
            tracked: None,
        }
    }
}

/// Trains a VAE on the samples `train` (validation loss on `validation` after every epoch),
/// fetching each minibatch from `loader` as an `[b, S, S]` array. A set `cancel` flag stops it
/// before the next epoch with [`LearnError::Cancelled`].
///
/// `device` is the plain device; training uses its autodiff version. Returns the inference
/// model and the per-epoch history. Errors on divergence (NaN/Inf loss) without returning or
/// checkpointing a model.
pub fn fit_vae<L>(
    device: &Device,
    config: &VaeFitConfig,
    train: &[usize],
    validation: &[usize],
    loader: L,
    cancel: Option<&AtomicBool>,
    on_epoch: &mut dyn FnMut(&EpochRecord),
) -> Result<(TrainedVae, Vec<EpochRecord>), LearnError>
where
    L: FnMut(&[usize]) -> Result<Array3<f32>, LearnError>,
{
    let train_device = device.clone().autodiff();
    let model = config.model.init(&train_device, config.schedule.seed)?;
    let fingerprint = config.fingerprint()?;
    let spec = RunSpec {
        device,
        config: &config.schedule,
        train,
        validation,
        checkpoint: config.checkpoint.as_ref(),
        fingerprint: &fingerprint,
        cancel,
    };
    let mut task = VaeTask {
        loader,
        config: config.model,
    };
    let outcome = run_epochs(
        &mut task,
        model,
        config.nadam.init(),
        &spec,
        &Policies::default(),
        &mut |e| on_epoch(&e.record),
    )?;
    let trained = TrainedVae {
        config: config.model,
        model: outcome.model.valid(),
        device: device.clone(),
    };
    Ok((trained, outcome.records()))
}

const MODEL_FILE: &str = "vae.bpk";
const CONFIG_FILE: &str = "vae.json";

impl TrainedVae {
    /// Latent means `[n, latent]` of `images` (`[n, S, S]`), in chunks of `batch_size`.
    ///
    /// Bitwise reproducible for a fixed `batch_size`; another batch size can change the last
    /// bits (the matmul kernels depend on the row count).
    pub fn encode(
        &self,
        images: ArrayView3<'_, f32>,
        batch_size: usize,
    ) -> Result<Array2<f32>, LearnError> {
        let mut out = Array2::zeros((0, self.config.latent_dim));
        for chunk in images.axis_chunks_iter(Axis(0), batch_size.max(1)) {
            let tensor = images_tensor(chunk, self.config.input_size, &self.device)?;
            let (mean, _) = self.model.encoder.forward(tensor);
            out.append(Axis(0), to_array2(mean)?.view())
                .map_err(|e| LearnError::Shape(e.to_string()))?;
        }
        Ok(out)
    }

    /// Latent means of samples `0..n` fetched in order from `loader`, `batch_size` at a time,
    /// for data sets that do not fit in memory.
    pub fn encode_streamed<L>(
        &self,
        n: usize,
        batch_size: usize,
        mut loader: L,
    ) -> Result<Array2<f32>, LearnError>
    where
        L: FnMut(&[usize]) -> Result<Array3<f32>, LearnError>,
    {
        let indices: Vec<usize> = (0..n).collect();
        let mut out = Array2::zeros((0, self.config.latent_dim));
        for chunk in indices.chunks(batch_size.max(1)) {
            let images = loader(chunk)?;
            if images.dim().0 != chunk.len() {
                return Err(LearnError::Shape(format!(
                    "loader returned {} images for {} indices",
                    images.dim().0,
                    chunk.len()
                )));
            }
            out.append(Axis(0), self.encode(images.view(), chunk.len())?.view())
                .map_err(|e| LearnError::Shape(e.to_string()))?;
        }
        Ok(out)
    }

    /// Images `[n, S, S]` decoded from latent codes `[n, latent]`.
    pub fn decode(&self, latents: ArrayView2<'_, f32>) -> Result<Array3<f32>, LearnError> {
        let (n, d) = latents.dim();
        if d != self.config.latent_dim {
            return Err(LearnError::Shape(format!(
                "latent codes have {d} columns, the VAE expects {}",
                self.config.latent_dim
            )));
        }
        let data = TensorData::new(latents.iter().copied().collect::<Vec<f32>>(), [n, d]);
        let images = self
            .model
            .decoder
            .forward(Tensor::from_data(data, &self.device));
        let side = self.config.input_size;
        let values = images
            .try_into_vec_as::<f32>()
            .map_err(|e| LearnError::TensorRead(format!("{e:?}")))?;
        Array3::from_shape_vec((n, side, side), values)
            .map_err(|e| LearnError::Shape(e.to_string()))
    }

    /// Writes `vae.bpk` (weights) and `vae.json` (architecture) into `dir`.
    pub fn save(&self, dir: &Path) -> Result<(), LearnError> {
        save_model_dir(
            dir,
            MODEL_FILE,
            self.model.clone(),
            CONFIG_FILE,
            &self.config,
        )
    }

    /// Reads a model written by [`TrainedVae::save`] onto `device`.
    pub fn load(dir: &Path, device: &Device) -> Result<Self, LearnError> {
        let config_path = dir.join(CONFIG_FILE);
        let config: VaeConfig = read_json(&config_path)?;
        let path = dir.join(MODEL_FILE);
        let model = config
            .init(device, 0)?
            .try_load_file(&path)
            .map_err(|e| LearnError::record(&path, e))?;
        Ok(Self {
            config,
            model,
            device: device.clone(),
        })
    }
}

#[cfg(test)]
#[path = "vae_fit_tests.rs"]
mod tests;
