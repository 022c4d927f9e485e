//! Pollok et al.: the inverse-design CNNs (field maps in, five design parameters out), their
//! training (on the shared epoch loop), trained-model persistence and the Table I error
//! measures.

pub mod cnn;
pub mod fit;
pub mod metrics;
pub mod model;
