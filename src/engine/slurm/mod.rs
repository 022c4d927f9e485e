//! The Slurm executor: the same plan as a local run, with every job that is not cached submitted as
//! a Slurm job (fan-out stages as job arrays over slices of their items, then one gather job), jobs
//! released by mexp as their upstream jobs finish, one batched `squeue` poll with backoff, exit
//! statuses read from marker files, and `scancel` of everything this run submitted on Ctrl-C.
//!
//! The contract is a cache on a filesystem shared by the submitting machine and the nodes, and the
//! same mexp binary on both: a node runs `mexp __exec` with a ticket, which re-checks the key and
//! the implementation fingerprint before running, and publishes atomically into the shared cache.

mod driver;
pub mod script;
pub mod tools;

use std::path::PathBuf;
use std::time::Duration;

pub use driver::{Submission, describe, execute};

/// Options of a Slurm run.
#[derive(Debug, Clone)]
pub struct SlurmOptions {
    /// Default partition (a stage's `resources.partition` overrides it).
    pub partition: Option<String>,
    /// Most Slurm jobs (plain jobs and arrays) in flight at once; also each array's `%K` cap.
    pub max_jobs: usize,
    /// Continue independent stages after a failure.
    pub keep_going: bool,
    /// The mexp binary the nodes run (default: this one).
    pub exe: PathBuf,
    /// Shortest and longest pause between polls (the pause grows while nothing changes).
    pub poll: (Duration, Duration),
}

impl SlurmOptions {
    /// Defaults: no partition, 50 jobs in flight, this binary, polls every 0.25–5 s.
    pub fn new(exe: PathBuf) -> Self {
        SlurmOptions {
            partition: None,
            max_jobs: 50,
            keep_going: false,
            exe,
            poll: (Duration::from_millis(250), Duration::from_secs(5)),
        }
    }
}
