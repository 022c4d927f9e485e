//! The static HTML report: `results/<experiment>/index.html` after every run (and one page per
//! variant of a sweep, under a sortable summary table).
//!
//! Domain-agnostic: pages are rendered from a plain model ([`Page`], [`SweepPage`]) that
//! [`collect`] builds from the engine's plan and run report; nothing here names a stage kind.
//! Figures, tables and links come from the files a stage published (by extension and shape), so
//! a new kind appears in the report without touching this module. Every page is written through
//! `engine::results::write_if_changed`, so a cached rerun that changes nothing writes nothing.

mod collect;
mod escape;
mod render;
mod style;
mod sweep;
mod tables;
#[cfg(test)]
mod tests;

pub use collect::write_report;
pub use escape::{escape, href};
pub use render::render_page;
pub use sweep::render_sweep;
pub use tables::{Table, comparison_table, csv_table, json_scalars_table};

/// How a stage ended in the run a page describes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Computed in this run.
    Ran,
    /// Taken from the cache.
    Cached,
    /// Failed in this run.
    Failed,
    /// Not run (an upstream stage failed, or the run stopped).
    Skipped,
}

impl Status {
    /// The word shown on the page (and its CSS class).
    pub fn word(self) -> &'static str {
        match self {
            Status::Ran => "ran",
            Status::Cached => "cached",
            Status::Failed => "failed",
            Status::Skipped => "skipped",
        }
    }
}

/// One resolved parameter as the page lists it.
#[derive(Debug, Clone, PartialEq)]
pub struct ParamRow {
    /// Parameter name.
    pub name: String,
    /// Its value, as `mexp show` prints it.
    pub value: String,
    /// Where the value came from (catalogue, manifest, profile, sweep, --set, …).
    pub source: String,
    /// Catalogue doc.
    pub doc: String,
}

/// One published file (or folder) of a stage, relative to the page's folder.
#[derive(Debug, Clone, PartialEq)]
pub struct Artifact {
    /// Path relative to the page (`<stage>/<file>`), `/`-separated.
    pub path: String,
    /// Size in bytes (0 for a folder).
    pub bytes: u64,
    /// Whether it is a folder output (its files follow as further artifacts).
    pub dir: bool,
}

impl Artifact {
    /// Whether the page shows it inline as a figure.
    pub fn is_figure(&self) -> bool {
        !self.dir
            && [".png", ".svg", ".jpg", ".jpeg", ".gif", ".webp"]
                .iter()
                .any(|e| self.path.to_ascii_lowercase().ends_with(e))
    }
}

/// One stage on a page.
#[derive(Debug, Clone, PartialEq)]
pub struct StageView {
    /// Stage name (user input: escaped when rendered).
    pub name: String,
    /// Stage kind.
    pub kind: String,
    /// How it ended.
    pub status: Status,
    /// Why it ran (or why it was cached / skipped), one line each.
    pub why: Vec<String>,
    /// Cache key, when known.
    pub key: Option<String>,
    /// Wall time of the computation the outputs come from.
    pub wall_seconds: Option<f64>,
    /// Inputs: port → `stage.output`.
    pub inputs: Vec<(String, String)>,
    /// Resolved parameters with their origin.
    pub params: Vec<ParamRow>,
    /// Published files, in output order (folders followed by their files).
    pub artifacts: Vec<Artifact>,
    /// Tables rendered from the stage's CSV and JSON outputs.
    pub tables: Vec<Table>,
    /// How many sweep variants this one job serves (1 without a sweep).
    pub shared_by: usize,
    /// The error of a failed (or the reason of a skipped) stage.
    pub error: Option<String>,
    /// The last lines of a failed stage's log.
    pub log_tail: Option<String>,
}

/// One page: an experiment, or one variant of a sweep.
#[derive(Debug, Clone, PartialEq)]
pub struct Page {
    /// Heading (the results namespace, `<experiment>` or `<experiment>/<variant>`).
    pub title: String,
    /// The sweep point, for a variant.
    pub subtitle: Option<String>,
    /// Link back to the sweep page (relative href), for a variant.
    pub up: Option<String>,
    /// Other files of the folder worth a link (summary.md), relative to the page.
    pub extra_links: Vec<String>,
    /// The stages, in manifest order.
    pub stages: Vec<StageView>,
    /// A digest of everything the page was built from (written into its head; see `collect`).
    pub fingerprint: Option<String>,
}

/// A stage as the sweep page lists it: one job and the variants it serves.
#[derive(Debug, Clone, PartialEq)]
pub struct SharedStage {
    /// Stage name.
    pub name: String,
    /// Stage kind.
    pub kind: String,
    /// Number of distinct jobs this stage became across the variants.
    pub jobs: usize,
    /// Number of variants.
    pub variants: usize,
}

/// The sweep page: the summary table (sortable), one link per variant, shared stages.
#[derive(Debug, Clone, PartialEq)]
pub struct SweepPage {
    /// Heading (the experiment).
    pub title: String,
    /// Summary header (first column: variant).
    pub header: Vec<String>,
    /// Summary rows (first cell: variant name).
    pub rows: Vec<Vec<String>>,
    /// Per row: relative href of the variant's page, when it has one.
    pub links: Vec<Option<String>>,
    /// Further tables of the sweep (sweep_groups.csv: the spread over replicates), sortable too.
    pub tables: Vec<Table>,
    /// How each stage name maps to jobs across the variants.
    pub stages: Vec<SharedStage>,
    /// Other files of the folder worth a link (sweep_summary.csv/.md), relative to the page.
    pub extra_links: Vec<String>,
    /// The sweep's figures (replicate error bars, bands), relative to the page.
    pub figures: Vec<String>,
}
