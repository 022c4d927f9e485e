//! Run-time choice of the burn backend, device seeding and the worker thread count.
//!
//! burn 0.22 picks the backend at run time through [`Device`]. `flex` (pure-Rust CPU) is always
//! compiled in; `vulkan` and `cuda` need the cargo features of the same name.

use std::fmt;
use std::str::FromStr;

use burn::tensor::Device;

use crate::learn::error::LearnError;

/// Which burn backend executes the tensors.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BackendChoice {
    /// burn-flex: pure Rust CPU backend (gemm + rayon + SIMD). Deterministic for a fixed seed
    /// and thread count.
    Flex,
    /// wgpu on Vulkan (cargo feature `vulkan`). Not bitwise deterministic.
    Vulkan,
    /// CUDA (cargo feature `cuda`; needs network at build time). Not bitwise deterministic.
    Cuda,
}

impl BackendChoice {
    /// The lowercase name used in manifests and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Self::Flex => "flex",
            Self::Vulkan => "vulkan",
            Self::Cuda => "cuda",
        }
    }

    /// Whether this binary was built with support for the backend.
    pub fn is_compiled(self) -> bool {
        match self {
            Self::Flex => true,
            Self::Vulkan => cfg!(feature = "vulkan"),
            Self::Cuda => cfg!(feature = "cuda"),
        }
    }

    /// The default device of the backend (first GPU for the GPU backends).
    ///
    /// Returns [`LearnError::BackendNotCompiled`] when the cargo feature is missing.
    pub fn device(self) -> Result<Device, LearnError> {
        match self {
            Self::Flex => Ok(Device::flex()),
            Self::Vulkan => vulkan_device(),
            Self::Cuda => cuda_device(),
        }
    }
}

#[cfg(feature = "vulkan")]
fn vulkan_device() -> Result<Device, LearnError> {
    Ok(Device::vulkan(burn::tensor::DeviceKind::DefaultDevice))
}

#[cfg(not(feature = "vulkan"))]
fn vulkan_device() -> Result<Device, LearnError> {
    Err(LearnError::BackendNotCompiled {
        backend: "vulkan",
        feature: "vulkan",
    })
}

#[cfg(feature = "cuda")]
fn cuda_device() -> Result<Device, LearnError> {
    Ok(Device::cuda(0))
}

#[cfg(not(feature = "cuda"))]
fn cuda_device() -> Result<Device, LearnError> {
    Err(LearnError::BackendNotCompiled {
        backend: "cuda",
        feature: "cuda",
    })
}

impl FromStr for BackendChoice {
    type Err = LearnError;

    /// Parses `flex`, `vulkan` or `cuda` (case-insensitive). Parsing succeeds even when the
    /// backend is not compiled in; [`BackendChoice::device`] reports that.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "flex" | "cpu" => Ok(Self::Flex),
            "vulkan" => Ok(Self::Vulkan),
            "cuda" => Ok(Self::Cuda),
            _ => Err(LearnError::UnknownBackend(s.to_string())),
        }
    }
}

impl fmt::Display for BackendChoice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A device plus the rayon pool that runs flex's kernels.
///
/// flex parallelises with rayon on the *current* pool, so running training inside
/// [`LearnRuntime::install`] pins the thread count (and with it flex's reduction order).
pub struct LearnRuntime {
    /// The backend that was chosen.
    pub backend: BackendChoice,
    /// The plain (non-autodiff) device; training code calls `.autodiff()` on a clone.
    pub device: Device,
    pool: Option<rayon::ThreadPool>,
}

impl LearnRuntime {
    /// Builds the device for `backend`, seeds it with `seed` and, when `threads` is given,
    /// creates a dedicated pool of that many threads.
    pub fn new(
        backend: BackendChoice,
        threads: Option<usize>,
        seed: u64,
    ) -> Result<Self, LearnError> {
        let device = backend.device()?;
        seed_device(&device, seed);
        let pool = match threads {
            None => None,
            Some(0) => {
                return Err(LearnError::InvalidConfig(
                    "thread count must be at least 1".into(),
                ));
            }
            Some(n) => Some(
                rayon::ThreadPoolBuilder::new()
                    .num_threads(n)
                    .thread_name(|i| format!("mexp-learn-{i}"))
                    .build()
                    .map_err(|e| LearnError::ThreadPool {
                        threads: n,
                        message: e.to_string(),
                    })?,
            ),
        };
        tracing::debug!(%backend, ?threads, seed, "learning runtime ready");
        Ok(Self {
            backend,
            device,
            pool,
        })
    }

    /// Number of worker threads the kernels will use.
    pub fn threads(&self) -> usize {
        match &self.pool {
            Some(pool) => pool.current_num_threads(),
            None => rayon::current_num_threads(),
        }
    }

    /// Runs `f` inside this runtime's thread pool (or directly when no pool was requested).
    pub fn install<R: Send>(&self, f: impl FnOnce() -> R + Send) -> R {
        match &self.pool {
            Some(pool) => pool.install(f),
            None => f(),
        }
    }
}

/// Seeds burn's random generator for `device`.
///
/// Our own models draw their initial weights and reparameterisation noise from seeded ChaCha
/// streams on the host, so this only matters for burn-internal randomness (e.g. dropout).
/// On flex the seed is process-global.
pub fn seed_device(device: &Device, seed: u64) {
    let _guard = super::device_rng::lock_device_rng();
    device.seed(seed);
}

/// Makes glibc's allocator keep freed memory for reuse instead of returning it to the OS.
///
/// flex allocates a fresh buffer for every tensor; with glibc's defaults, buffers above the
/// mmap threshold (≤ 32 MiB) are `mmap`ed and unmapped each time, and every step pays page
/// faults to re-zero them. Measured here (paper VAE, batch 64, 1 thread): ≈1.5–1.65 → ≈1.2 s
/// per step; regressor (batch 16): ≈12–14 → ≈8.5 ms. Peak RSS is about the same (the same
/// sizes recur every step).
/// Call once at program start. Returns `false` (and does nothing) off glibc.
pub fn retain_freed_memory() -> bool {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        use libc::{M_MMAP_MAX, M_TOP_PAD, M_TRIM_THRESHOLD, mallopt};
        // SAFETY: mallopt only changes allocator tuning parameters; glibc serialises it with
        // its own arena lock and both parameters accept these values.
        let ok = unsafe {
            mallopt(M_MMAP_MAX, 0) == 1
                && mallopt(M_TRIM_THRESHOLD, i32::MAX) == 1
                && mallopt(M_TOP_PAD, 256 << 20) == 1
        };
        tracing::debug!(ok, "glibc malloc tuned to retain freed memory");
        ok
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_backend_names() {
        assert_eq!(
            "flex".parse::<BackendChoice>().ok(),
            Some(BackendChoice::Flex)
        );
        assert_eq!(
            " Vulkan ".parse::<BackendChoice>().ok(),
            Some(BackendChoice::Vulkan)
        );
        assert_eq!(
            "CUDA".parse::<BackendChoice>().ok(),
            Some(BackendChoice::Cuda)
        );
        assert!(matches!(
            "tpu".parse::<BackendChoice>(),
            Err(LearnError::UnknownBackend(_))
        ));
        assert_eq!(BackendChoice::Vulkan.to_string(), "vulkan");
    }

    #[test]
    fn missing_features_are_reported() {
        assert!(BackendChoice::Flex.device().is_ok());
        if !cfg!(feature = "cuda") {
            let err = BackendChoice::Cuda.device().err();
            assert!(matches!(
                err,
                Some(LearnError::BackendNotCompiled {
                    feature: "cuda",
                    ..
                })
            ));
        }
        if !cfg!(feature = "vulkan") {
            assert!(BackendChoice::Vulkan.device().is_err());
        }
    }

    #[test]
    fn allocator_tuning_applies_on_glibc() {
        let glibc = cfg!(all(target_os = "linux", target_env = "gnu"));
        assert_eq!(retain_freed_memory(), glibc);
    }

    #[test]
    fn runtime_pins_thread_count() {
        let rt = LearnRuntime::new(BackendChoice::Flex, Some(1), 7).expect("flex runtime");
        assert_eq!(rt.threads(), 1);
        assert_eq!(rt.install(rayon::current_num_threads), 1);
        assert!(LearnRuntime::new(BackendChoice::Flex, Some(0), 7).is_err());
    }
}
