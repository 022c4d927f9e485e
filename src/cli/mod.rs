//! The `mexp` command line.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

use crate::engine::EngineError;

mod commands;
mod diff;
mod export;
mod log;
mod output;

/// mexp — reproducible computational-magnetism experiments.
///
/// A manifest (TOML) names stages, their parameters and how outputs feed inputs. mexp resolves it
/// into a DAG, hashes every stage by its parameters, implementation and inputs, runs only what is
/// not cached, and stores every artifact content-addressed in the cache.
///
/// Examples:
///   mexp run experiments/vae_nd2fe14b.toml
///   mexp run experiments/vae_nd2fe14b.toml --profile tiny --set vae.epochs=5 --jobs 2
///   mexp plan experiments/vae_nd2fe14b.toml          # what would run, and why
///   mexp run experiments/vae_nd2fe14b.toml vae       # only `vae` and what it needs
///   mexp show experiments/vae_nd2fe14b.toml vae      # resolved params, key, outputs
///   mexp diff experiments/vae_nd2fe14b.toml --profiles tiny default
///   mexp log experiments/vae_nd2fe14b.toml vae       # the stage's results over time
///   mexp export experiments/vae_nd2fe14b.toml --ro-crate crate/   # provenance (RO-Crate)
///   mexp stages demag_curve                          # parameters, defaults, docs
#[derive(Debug, Parser)]
#[command(name = "mexp", version, verbatim_doc_comment)]
pub struct Cli {
    /// More log output (-v info, -vv debug); RUST_LOG overrides.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    #[command(subcommand)]
    command: Command,
}

/// Which manifest, profile and overrides (shared by run, plan and show).
#[derive(Debug, Args, Clone)]
pub struct Selection {
    /// The experiment manifest (TOML).
    pub manifest: PathBuf,
    /// A named profile of the manifest ([profile.<name>.stages.<stage>] overrides).
    #[arg(long)]
    pub profile: Option<String>,
    /// Override a parameter: --set <stage>.<param>=<value> (TOML value; repeatable; applied last).
    #[arg(long = "set", value_name = "STAGE.PARAM=VALUE")]
    pub sets: Vec<String>,
    /// Learning backend for learning stages (part of their key).
    #[arg(long, default_value = "flex", value_parser = ["flex", "vulkan", "cuda"])]
    pub backend: String,
    /// Cache folder (default: cache/ at the project root of the manifest).
    #[arg(long, env = "MEXP_CACHE")]
    pub cache: Option<PathBuf>,
    /// Results folder (default: results/ at the project root of the manifest).
    #[arg(long)]
    pub results: Option<PathBuf>,
    /// Print machine-readable JSON (schema in docs/JSON.md) instead of text.
    #[arg(long)]
    pub json: bool,
}

/// Where stages run (shared by run and plan).
#[derive(Debug, Args, Clone)]
pub struct ExecutorArgs {
    /// `local` runs stages here; `slurm` submits each stage (each slice of a fan-out stage) as a
    /// Slurm job. Slurm needs the cache on a filesystem the nodes share, and the same mexp binary.
    #[arg(long, default_value = "local", value_parser = ["local", "slurm"])]
    pub executor: String,
    /// Slurm partition for every job (a stage's `resources.partition` overrides it).
    #[arg(long)]
    pub partition: Option<String>,
    /// Slurm: most jobs (plain jobs and job arrays) in flight at once; also each array's %K cap.
    #[arg(long, default_value_t = 50)]
    pub max_jobs: usize,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run what is not cached, then publish results/<experiment>/ and print a summary.
    ///
    /// With --executor slurm every stage that must run becomes a Slurm job (fan-out stages such as
    /// demag_curve become job arrays over their items); see the README, "Running on a cluster".
    Run {
        #[command(flatten)]
        sel: Selection,
        /// Run only these stages and what they need upstream (default: every stage).
        #[arg(value_name = "STAGE")]
        targets: Vec<String>,
        #[command(flatten)]
        exec: ExecutorArgs,
        /// Stages run at once.
        #[arg(short, long, default_value_t = 1)]
        jobs: usize,
        /// Threads shared by running stages (default: all cores).
        #[arg(long)]
        threads: Option<usize>,
        /// Continue independent stages after a stage fails.
        #[arg(long)]
        keep_going: bool,
        /// Print nothing but errors (no progress, no per-stage lines, no summary).
        #[arg(short, long)]
        quiet: bool,
    },
    /// Show what would run and why (and, with --executor slurm, what would be submitted).
    Plan {
        #[command(flatten)]
        sel: Selection,
        /// Plan only these stages and what they need upstream (default: every stage).
        #[arg(value_name = "STAGE")]
        targets: Vec<String>,
        #[command(flatten)]
        exec: ExecutorArgs,
    },
    /// Show one stage: resolved parameters (and where each came from), key, inputs, outputs, timings.
    Show {
        #[command(flatten)]
        sel: Selection,
        /// Stage name.
        stage: String,
        /// Sweep variant (v000, v001, …); default the first.
        #[arg(long)]
        variant: Option<String>,
    },
    /// Compare two variants (--variants A B), two profiles (--profiles A B), or, with neither,
    /// each stage's last record with the plan now: parameters, input digests, metrics.
    Diff {
        #[command(flatten)]
        sel: Selection,
        /// Only these stages (default every stage).
        #[arg(value_name = "STAGE")]
        stages: Vec<String>,
        /// Two variants of a sweep: v000 v003.
        #[arg(long, num_args = 2, value_names = ["A", "B"], conflicts_with = "profiles")]
        variants: Vec<String>,
        /// Two profiles (`default`: no profile).
        #[arg(long, num_args = 2, value_names = ["A", "B"], conflicts_with = "profile")]
        profiles: Vec<String>,
        /// The sweep variant compared with --profiles or against its record (default the first).
        #[arg(long)]
        variant: Option<String>,
    },
    /// Write the cached run as a Workflow Run RO-Crate (provenance profile 0.5): one CreateAction
    /// per stage, artifacts copied in with their blake3 digests. Every stage must be cached.
    Export {
        #[command(flatten)]
        sel: Selection,
        /// The crate's folder (must not exist or be empty).
        #[arg(long, value_name = "DIR")]
        ro_crate: PathBuf,
        /// SPDX identifier of the license of the exported data.
        #[arg(long, default_value = "CC-BY-4.0")]
        license: String,
    },
    /// The history of stages' results, newest first: keys, times, and what changed between runs.
    Log {
        #[command(flatten)]
        sel: Selection,
        /// Only this stage.
        stage: Option<String>,
        /// Only this sweep variant (v000, v001, …); default every variant.
        #[arg(long)]
        variant: Option<String>,
    },
    /// The stage catalogue: kinds, parameters with defaults and docs, inputs and outputs, and the
    /// files and locked crates a kind's implementation fingerprint covers.
    Stages {
        /// Only this kind.
        kind: Option<String>,
        /// One JSON document on stdout (with a kind).
        #[arg(long)]
        json: bool,
    },
    /// Re-hash every object in the cache; corrupt objects are moved aside and recomputed on the next run.
    Verify {
        /// Cache folder.
        #[arg(long, env = "MEXP_CACHE", default_value = "cache")]
        cache: PathBuf,
    },
    /// Runs one job (or one slice of a fan-out job) from a ticket: what a Slurm job runs on a node.
    #[command(name = "__exec", hide = true)]
    Exec {
        /// The (shared) cache.
        #[arg(long)]
        cache: PathBuf,
        /// The job's ticket, written by the driver.
        #[arg(long)]
        ticket: PathBuf,
        /// Threads of the job's pool.
        #[arg(long, default_value_t = 1)]
        threads: usize,
        /// Fan-out items per task (with --task: run only that slice).
        #[arg(long, requires = "task")]
        slice_size: Option<usize>,
        /// Array task index.
        #[arg(long, requires = "slice_size")]
        task: Option<usize>,
    },
    /// Delete everything the named manifests' current plans do not use (mark and sweep).
    Gc {
        /// Manifests whose cached results are kept (all their profiles).
        #[arg(long, num_args = 1.., required = true)]
        keep: Vec<PathBuf>,
        /// Only report what would be deleted.
        #[arg(long)]
        dry_run: bool,
        /// Cache folder (default: cache/ at the project root of the first manifest).
        #[arg(long, env = "MEXP_CACHE")]
        cache: Option<PathBuf>,
    },
}

/// Entry point of the binary: parses arguments, runs the command, maps errors to exit codes
/// (0 success, 1 a stage failed, 2 bad manifest or usage, 130 interrupted).
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { 2 } else { 0 });
        }
    };
    // `run --quiet` prints nothing but errors, warnings from the stages included.
    let quiet = matches!(cli.command, Command::Run { quiet: true, .. });
    init_tracing(cli.verbose, quiet);
    let result = match cli.command {
        Command::Run {
            sel,
            targets,
            exec,
            jobs,
            threads,
            keep_going,
            quiet,
        } => commands::run(&sel, &targets, &exec, jobs, threads, keep_going, quiet),
        Command::Plan { sel, targets, exec } => commands::plan(&sel, &targets, &exec),
        Command::Exec {
            cache,
            ticket,
            threads,
            slice_size,
            task,
        } => commands::exec_job(&cache, &ticket, threads, slice_size.zip(task)),
        Command::Show {
            sel,
            stage,
            variant,
        } => commands::show(&sel, &stage, variant.as_deref()),
        Command::Diff {
            sel,
            stages,
            variants,
            profiles,
            variant,
        } => diff::diff(
            &sel,
            &diff::DiffArgs {
                stages: &stages,
                variants: &variants,
                profiles: &profiles,
                variant: variant.as_deref(),
            },
        ),
        Command::Export {
            sel,
            ro_crate,
            license,
        } => export::export(&sel, &ro_crate, &license),
        Command::Log {
            sel,
            stage,
            variant,
        } => log::log(&sel, stage.as_deref(), variant.as_deref()),
        Command::Stages { kind, json } => commands::stages(kind.as_deref(), json),
        Command::Verify { cache } => commands::verify(&cache),
        Command::Gc {
            keep,
            dry_run,
            cache,
        } => commands::gc(&keep, dry_run, cache),
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("{e}");
            ExitCode::from(e.exit_code() as u8)
        }
    }
}

fn init_tracing(verbose: u8, quiet: bool) {
    let default = match verbose {
        0 if quiet => "error",
        0 => "warn",
        1 => "info",
        _ => "debug",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

/// Result of a command: the exit code on success.
type CmdResult = Result<u8, EngineError>;
