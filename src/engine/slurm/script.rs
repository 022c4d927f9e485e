//! Batch scripts for Slurm jobs. A script runs `mexp __exec` on the node (which re-checks the
//! ticket's key and publishes into the shared cache atomically) and then writes the exit status to
//! a marker file, so the driver learns how a job ended without `sacct` or slurmdbd.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use crate::engine::catalog::Resources;

/// What one submission runs.
#[derive(Debug, Clone)]
pub struct ScriptSpec {
    /// Job name shown by squeue (`mexp-<stage>`).
    pub job_name: String,
    /// Folder of this run's tickets, scripts, outputs and markers (on the shared filesystem).
    pub run_dir: PathBuf,
    /// File stem of this submission inside `run_dir`.
    pub label: String,
    /// The mexp binary to run on the node.
    pub exe: PathBuf,
    /// The shared cache.
    pub cache: PathBuf,
    /// The job's ticket.
    pub ticket: PathBuf,
    /// Resources of the stage.
    pub resources: Resources,
    /// `Some((tasks, items per task, concurrency cap))` for a job array over fan-out items.
    pub array: Option<(usize, usize, usize)>,
}

impl ScriptSpec {
    /// Marker file of array task `task` (task 0 for a plain job).
    pub fn marker(&self, task: usize) -> PathBuf {
        self.run_dir.join(format!("{}.{task}.rc", self.label))
    }

    /// Slurm's output file of array task `task` (task 0 for a plain job).
    pub fn output(&self, task: usize) -> PathBuf {
        self.run_dir.join(format!("{}.{task}.out", self.label))
    }

    /// The script's path.
    pub fn path(&self) -> PathBuf {
        self.run_dir.join(format!("{}.sh", self.label))
    }

    /// Number of tasks (1 for a plain job).
    pub fn tasks(&self) -> usize {
        self.array.map_or(1, |(t, _, _)| t)
    }

    /// The script text.
    pub fn render(&self) -> String {
        let r = &self.resources;
        let cpus = r.cpus.unwrap_or(1);
        let mut s = String::from("#!/bin/bash\n");
        let _ = writeln!(s, "#SBATCH --job-name={}", self.job_name);
        let out_pattern = match self.array {
            Some(_) => self.run_dir.join(format!("{}.%a.out", self.label)),
            None => self.output(0),
        };
        let _ = writeln!(s, "#SBATCH --output={}", out_pattern.display());
        let _ = writeln!(s, "#SBATCH --cpus-per-task={cpus}");
        if let Some(m) = &r.memory {
            let _ = writeln!(s, "#SBATCH --mem={m}");
        }
        if let Some(t) = &r.time {
            let _ = writeln!(s, "#SBATCH --time={t}");
        }
        if let Some(g) = r.gpus.filter(|g| *g > 0) {
            let _ = writeln!(s, "#SBATCH --gpus={g}");
        }
        if let Some(p) = &r.partition {
            let _ = writeln!(s, "#SBATCH --partition={p}");
        }
        if let Some((tasks, _, cap)) = self.array {
            let _ = writeln!(s, "#SBATCH --array=0-{}%{}", tasks - 1, cap.max(1));
        }
        s.push_str("# Written by mexp: runs one job (or one slice of a fan-out job) of a plan.\n");
        s.push_str("task=\"${SLURM_ARRAY_TASK_ID:-0}\"\n");
        let _ = write!(
            s,
            "{} __exec --cache {} --ticket {} --threads \"${{SLURM_CPUS_PER_TASK:-{cpus}}}\"",
            quote(&self.exe),
            quote(&self.cache),
            quote(&self.ticket)
        );
        if let Some((_, per_task, _)) = self.array {
            let _ = write!(s, " --slice-size {per_task} --task \"$task\"");
        }
        s.push('\n');
        s.push_str("rc=$?\n");
        let stem = quote(&self.run_dir.join(&self.label));
        let _ = writeln!(
            s,
            "printf '%s\\n' \"$rc\" > {stem}.\"$task\".rc.tmp && mv -f {stem}.\"$task\".rc.tmp {stem}.\"$task\".rc"
        );
        s.push_str("exit \"$rc\"\n");
        s
    }
}

/// Single-quotes a path for bash.
fn quote(p: &Path) -> String {
    format!("'{}'", p.to_string_lossy().replace('\'', "'\\''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn array_script_has_cap_slices_and_marker() {
        let spec = ScriptSpec {
            job_name: "mexp-curves".into(),
            run_dir: PathBuf::from("/shared/cache/slurm/run1"),
            label: "003-curves".into(),
            exe: PathBuf::from("/opt/mexp"),
            cache: PathBuf::from("/shared/cache"),
            ticket: PathBuf::from("/shared/cache/slurm/run1/003-curves.json"),
            resources: Resources {
                cpus: Some(2),
                memory: Some("4G".into()),
                partition: Some("cpu".into()),
                ..Resources::default()
            },
            array: Some((7, 3, 4)),
        };
        let text = spec.render();
        assert!(text.contains("#SBATCH --array=0-6%4\n"), "{text}");
        assert!(text.contains("#SBATCH --cpus-per-task=2\n"));
        assert!(text.contains("#SBATCH --mem=4G\n"));
        assert!(text.contains("#SBATCH --partition=cpu\n"));
        assert!(!text.contains("--time"));
        assert!(text.contains("--slice-size 3 --task \"$task\""));
        assert!(text.contains("'/shared/cache/slurm/run1/003-curves'.\"$task\".rc"));
        assert!(text.contains("#SBATCH --output=/shared/cache/slurm/run1/003-curves.%a.out"));
        assert_eq!(spec.tasks(), 7);
        assert_eq!(
            spec.marker(2),
            PathBuf::from("/shared/cache/slurm/run1/003-curves.2.rc")
        );
    }

    #[test]
    fn quoting_survives_single_quotes() {
        assert_eq!(quote(Path::new("/a/it's")), "'/a/it'\\''s'");
    }
}
