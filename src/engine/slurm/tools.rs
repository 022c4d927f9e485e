//! The Slurm command-line tools, as mexp uses them: `sbatch --parsable` with retries of transient
//! failures, one batched `squeue` per poll, and `scancel`. Commands are found on PATH, so tests put
//! fake ones first; every call is counted and timed for the run's summary.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Output};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// A failure of a Slurm command, for people.
#[derive(Debug, thiserror::Error)]
pub enum SlurmError {
    /// The command could not be started at all (not installed, not on PATH).
    #[error("cannot run `{command}`: {source}; is Slurm's client installed and on PATH?")]
    Missing {
        /// The command.
        command: String,
        /// Why.
        source: std::io::Error,
    },
    /// The command ran and failed.
    #[error("`{command}` failed ({status}): {stderr}")]
    Failed {
        /// The command line.
        command: String,
        /// Its exit status.
        status: String,
        /// What it printed on stderr.
        stderr: String,
    },
}

/// Where a job (or array task) is in the queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QueueState {
    /// Waiting for resources.
    Pending,
    /// Running (or completing).
    Running,
    /// Any other state squeue shows (SUSPENDED, ...).
    Other(String),
}

/// Counts and times of the calls made, for the closing summary.
#[derive(Debug, Default, Clone, Copy)]
pub struct CallStats {
    /// Successful submissions.
    pub submissions: usize,
    /// Submissions retried after a transient failure.
    pub retries: usize,
    /// Time spent in sbatch.
    pub submit_time: Duration,
    /// squeue calls.
    pub polls: usize,
    /// Time spent in squeue.
    pub poll_time: Duration,
}

/// The Slurm client commands.
#[derive(Debug)]
pub struct SlurmTools {
    /// Attempts per submission before giving up.
    pub attempts: u32,
    /// First retry delay (doubled each time).
    pub retry_delay: Duration,
    stats: Mutex<CallStats>,
}

impl Default for SlurmTools {
    fn default() -> Self {
        SlurmTools {
            attempts: 5,
            retry_delay: Duration::from_millis(500),
            stats: Mutex::new(CallStats::default()),
        }
    }
}

fn run(program: &str, args: &[&str]) -> Result<Output, SlurmError> {
    Command::new(program)
        .args(args)
        .output()
        .map_err(|source| SlurmError::Missing {
            command: program.to_string(),
            source,
        })
}

fn failed(program: &str, args: &[&str], out: &Output) -> SlurmError {
    SlurmError::Failed {
        command: format!("{program} {}", args.join(" ")),
        status: out.status.to_string(),
        stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
    }
}

/// Whether an sbatch failure is worth retrying: a busy or restarting controller is; a request the
/// cluster rejects (bad partition, impossible resources, bad option) is not.
pub fn is_transient(stderr: &str) -> bool {
    let s = stderr.to_lowercase();
    let permanent = [
        "invalid",
        "unrecognized option",
        "requested node configuration is not available",
        "more processors requested than permitted",
        "memory specification can not be satisfied",
        "unable to open file",
        "could not establish a configuration source",
    ];
    !permanent.iter().any(|p| s.contains(p))
}

impl SlurmTools {
    /// The counts and times so far.
    pub fn stats(&self) -> CallStats {
        self.stats.lock().map(|s| *s).unwrap_or_default()
    }

    /// Submits a batch script with `sbatch --parsable`, retrying transient failures with
    /// exponential backoff; returns the job id.
    pub fn submit(&self, script: &Path) -> Result<String, SlurmError> {
        let path = script.to_string_lossy();
        let args = ["--parsable", path.as_ref()];
        let mut delay = self.retry_delay;
        let mut attempt = 1;
        loop {
            let t0 = Instant::now();
            let out = run("sbatch", &args)?;
            if let Ok(mut s) = self.stats.lock() {
                s.submit_time += t0.elapsed();
            }
            if out.status.success() {
                let text = String::from_utf8_lossy(&out.stdout);
                let id = text
                    .trim()
                    .split(';')
                    .next()
                    .unwrap_or("")
                    .trim()
                    .to_string();
                if !id.is_empty() && id.chars().all(|c| c.is_ascii_digit()) {
                    if let Ok(mut s) = self.stats.lock() {
                        s.submissions += 1;
                    }
                    return Ok(id);
                }
                return Err(SlurmError::Failed {
                    command: format!("sbatch --parsable {path}"),
                    status: "0".into(),
                    stderr: format!("printed no job id: {:?}", text.trim()),
                });
            }
            let err = failed("sbatch", &args, &out);
            let stderr = String::from_utf8_lossy(&out.stderr);
            if attempt >= self.attempts || !is_transient(&stderr) {
                return Err(err);
            }
            tracing::warn!("sbatch failed ({}), retrying in {delay:?}", stderr.trim());
            if let Ok(mut s) = self.stats.lock() {
                s.retries += 1;
            }
            std::thread::sleep(delay);
            delay *= 2;
            attempt += 1;
        }
    }

    /// One `squeue` call for all `ids` (array tasks expanded): job id (`123` or `123_4`) → state.
    /// Jobs no longer known to the controller are simply absent.
    pub fn queue(&self, ids: &[String]) -> Result<BTreeMap<String, QueueState>, SlurmError> {
        let mut out_map = BTreeMap::new();
        if ids.is_empty() {
            return Ok(out_map);
        }
        let list = ids.join(",");
        let args = ["-h", "-r", "-o", "%i|%T", "-j", list.as_str()];
        let t0 = Instant::now();
        let out = run("squeue", &args)?;
        if let Ok(mut s) = self.stats.lock() {
            s.polls += 1;
            s.poll_time += t0.elapsed();
        }
        if !out.status.success() {
            let stderr = String::from_utf8_lossy(&out.stderr);
            // squeue answers "Invalid job id" when none of the ids is known any more.
            if stderr.contains("Invalid job id") {
                return Ok(out_map);
            }
            return Err(failed("squeue", &args, &out));
        }
        for line in String::from_utf8_lossy(&out.stdout).lines() {
            let Some((id, state)) = line.trim().split_once('|') else {
                continue;
            };
            let state = match state.trim() {
                "PENDING" | "CONFIGURING" | "REQUEUED" | "REQUEUE_HOLD" => QueueState::Pending,
                "RUNNING" | "COMPLETING" => QueueState::Running,
                other => QueueState::Other(other.to_string()),
            };
            out_map.insert(id.trim().to_string(), state);
        }
        Ok(out_map)
    }

    /// Cancels jobs (whole arrays included) with one `scancel` call.
    pub fn cancel(&self, ids: &[String]) -> Result<(), SlurmError> {
        if ids.is_empty() {
            return Ok(());
        }
        let args: Vec<&str> = ids.iter().map(String::as_str).collect();
        let out = run("scancel", &args)?;
        if out.status.success() {
            Ok(())
        } else {
            Err(failed("scancel", &args, &out))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::is_transient;

    #[test]
    fn transient_and_permanent_sbatch_errors() {
        assert!(is_transient(
            "sbatch: error: Batch job submission failed: Socket timed out on send/recv operation"
        ));
        assert!(is_transient(
            "sbatch: error: Slurm temporarily unable to accept job, sleeping and retrying"
        ));
        assert!(!is_transient(
            "sbatch: error: Batch job submission failed: Invalid partition name specified"
        ));
        assert!(!is_transient(
            "sbatch: error: Batch job submission failed: Requested node configuration is not available"
        ));
        assert!(!is_transient(
            "sbatch: fatal: Could not establish a configuration source"
        ));
    }
}
