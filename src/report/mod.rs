//! Outputs for people: PNG plots and Markdown/CSV tables.

pub mod band_plot;
pub mod html;
pub mod image_grid;
mod label_placement;
pub mod plot;
pub mod spread_plot;
pub mod table;
pub mod text;
