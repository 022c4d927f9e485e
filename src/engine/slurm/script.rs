//! Batch scripts for Slurm jobs. A script runs `mexp __exec` on the node (which re-checks the
//! ticket's key and publishes into the shared cache atomically) and then writes the exit status to
//! a marker file, so the driver learns how a job ended without `sacct` or slurmdbd.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use crate::engine::catalog::Resources;

/// A job array over slices of a fan-out stage's items: task `t` computes items
/// `t·per_task .. (t+1)·per_task`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobArray {
    /// Task indices to run (slices whose items are all stored already are left out).
    pub tasks: Vec<usize>,
    /// Items per task.
    pub per_task: usize,
    /// Most tasks running at once (`%K`).
    pub cap: usize,
}

impl JobArray {
    /// The `--array` value: task indices as ranges, then the cap (`0-3,7,9-11%4`).
    pub fn spec(&self) -> String {
        let mut parts: Vec<String> = Vec::new();
        let mut i = 0;
        while i < self.tasks.len() {
            let start = self.tasks[i];
            let mut end = start;
            while i + 1 < self.tasks.len() && self.tasks[i + 1] == end + 1 {
                i += 1;
                end += 1;
            }
            parts.push(if end > start {
                format!("{start}-{end}")
            } else {
                start.to_string()
            });
            i += 1;
        }
        format!("{}%{}", parts.join(","), self.cap.max(1))
    }
}

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
    /// A job array over fan-out items, or `None` for a plain job.
    pub array: Option<JobArray>,
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

    /// Task indices whose markers to wait for (`[0]` for a plain job).
    pub fn tasks(&self) -> Vec<usize> {
        self.array.as_ref().map_or(vec![0], |a| a.tasks.clone())
    }

    /// The script text.
    pub fn render(&self) -> String {
        let r = &self.resources;
        let cpus = r.cpus.unwrap_or(1);
        let mut s = String::from("#!/bin/bash\n");
        let _ = writeln!(s, "#SBATCH --job-name={}", self.job_name);
        let out_pattern = match &self.array {
            Some(_) => self.run_dir.join(format!("{}.%a.out", self.label)),
            None => self.output(0),
        };
        let _ = writeln!(s, "#SBATCH --output={}", output_directive(&out_pattern));
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
        if let Some(a) = &self.array {
            let _ = writeln!(s, "#SBATCH --array={}", a.spec());
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
        if let Some(a) = &self.array {
            let _ = write!(s, " --slice-size {} --task \"$task\"", a.per_task);
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

/// A path as the value of an `#SBATCH --output=` line: in double quotes (sbatch honours them, so
/// spaces survive) with `%` doubled (a literal `%` in Slurm's filename patterns) except in the
/// `%a` array-task placeholder mexp itself writes at the end.
fn output_directive(p: &Path) -> String {
    let text = p.to_string_lossy();
    let (body, tail) = match text.strip_suffix("%a.out") {
        Some(b) => (b, "%a.out"),
        None => (text.as_ref(), ""),
    };
    format!("\"{}{tail}\"", body.replace('%', "%%"))
}

/// Refuses a path that cannot be written into a job script safely: a newline would end the
/// `#SBATCH` line, and sbatch has no escape for `"` or `\` inside a quoted directive value.
pub fn check_script_path(p: &Path) -> Result<(), String> {
    let text = p.to_string_lossy();
    match text.chars().find(|c| matches!(c, '\n' | '\r' | '"' | '\\')) {
        Some(c) => Err(format!(
            "{} contains {c:?}, which cannot be written into a Slurm job script; use another \
             cache folder",
            text.escape_debug()
        )),
        None => Ok(()),
    }
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
            array: Some(JobArray {
                tasks: (0..7).collect(),
                per_task: 3,
                cap: 4,
            }),
        };
        let text = spec.render();
        assert!(text.contains("#SBATCH --array=0-6%4\n"), "{text}");
        assert!(text.contains("#SBATCH --cpus-per-task=2\n"));
        assert!(text.contains("#SBATCH --mem=4G\n"));
        assert!(text.contains("#SBATCH --partition=cpu\n"));
        assert!(!text.contains("--time"));
        assert!(text.contains("--slice-size 3 --task \"$task\""));
        assert!(text.contains("'/shared/cache/slurm/run1/003-curves'.\"$task\".rc"));
        assert!(text.contains("#SBATCH --output=\"/shared/cache/slurm/run1/003-curves.%a.out\"\n"));
        assert_eq!(spec.tasks(), (0..7).collect::<Vec<_>>());
        assert_eq!(
            spec.marker(2),
            PathBuf::from("/shared/cache/slurm/run1/003-curves.2.rc")
        );
    }

    #[test]
    fn array_spec_compresses_runs_of_tasks() {
        let a = JobArray {
            tasks: vec![0, 1, 2, 3, 7, 9, 10, 11],
            per_task: 1,
            cap: 4,
        };
        assert_eq!(a.spec(), "0-3,7,9-11%4");
    }

    #[test]
    fn output_paths_with_spaces_and_percent_signs_are_quoted_and_escaped() {
        assert_eq!(
            output_directive(Path::new("/my cache/100%/slurm/r/003-curves.%a.out")),
            "\"/my cache/100%%/slurm/r/003-curves.%a.out\""
        );
        assert_eq!(
            output_directive(Path::new("/c/5%x/002-a.0.out")),
            "\"/c/5%%x/002-a.0.out\""
        );
        assert!(check_script_path(Path::new("/my cache/100%")).is_ok());
        for bad in ["/c\n#SBATCH --x", "/c\"q", "/c\\d"] {
            assert!(check_script_path(Path::new(bad)).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn quoting_survives_single_quotes() {
        assert_eq!(quote(Path::new("/a/it's")), "'/a/it'\\''s'");
    }
}
