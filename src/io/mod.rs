//! File formats for exchanging arrays with other tools.

pub mod csv;
pub mod npy;
