//! mexp: reproducible computational-magnetism experiments from TOML manifests.
//!
//! Data flows manifest → [`engine`] (resolve, plan, key, cache) → [`stages`] adapters → [`physics`] /
//! [`learn`] numerics → artifacts in the cache → [`report`] tables and plots. See docs/ARCHITECTURE.md.

pub mod cli;
pub mod engine;
pub mod io;
pub mod learn;
pub mod physics;
pub mod report;
pub mod stages;
