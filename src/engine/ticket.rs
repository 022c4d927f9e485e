//! Job tickets: everything needed to run one job of a plan without the plan — its key manifest,
//! where its inputs are in the store, and which refs to publish. The local executor builds one per
//! job in memory; the Slurm executor writes it to the shared cache so that `mexp` on a compute node
//! runs exactly the job the driver planned (and re-checks its key first).

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::cache::Cache;
use super::catalog::Catalog;
use super::error::{EngineError, Result};
use super::key::KeyManifest;
use super::plan::Plan;

/// Version of the ticket JSON schema.
pub const TICKET_FORMAT: u32 = 1;

/// One input of a ticketed job: a store object (a file, or a tree listing for a directory input).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TicketInput {
    /// Digest of the object (the tree listing for `dir` inputs).
    pub digest: String,
    /// Whether the input is a directory output of the upstream stage.
    pub dir: bool,
    /// Where it comes from, for messages: `stage grains, output structures` or a user file path.
    pub origin: String,
    /// Whether it is a user's `file:` input (errors then name `origin`, not the cache object).
    #[serde(default)]
    pub user_file: bool,
}

/// Everything needed to run one job.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobTicket {
    /// Ticket schema version.
    pub format: u32,
    /// The cache key (recomputed from `key_manifest` and checked before running).
    pub key: String,
    /// Everything the key is computed from.
    pub key_manifest: KeyManifest,
    /// Stage name (as in the first variant that uses the job).
    pub stage: String,
    /// Namespace of that variant (`<experiment>` or `<experiment>/<variant>`), for the record.
    pub experiment: String,
    /// Every (namespace, stage name) whose ref should point at the result.
    pub refs: Vec<(String, String)>,
    /// Inputs by port.
    pub inputs: BTreeMap<String, TicketInput>,
}

impl JobTicket {
    /// The ticket of job `i`, given its input digests (every upstream job must have finished).
    /// User files (`file:` inputs) are copied into the store here, so the job reads exactly what
    /// was hashed, wherever it runs.
    pub fn for_job(
        plan: &Plan,
        i: usize,
        digests: &BTreeMap<String, String>,
        catalog: &Catalog,
        cache: &Cache,
    ) -> Result<JobTicket> {
        let job = &plan.jobs[i];
        let mut inputs = BTreeMap::new();
        for (port, (path, digest)) in &job.stage.files {
            store_user_file(cache, path, digest)?;
            inputs.insert(
                port.clone(),
                TicketInput {
                    digest: digest.clone(),
                    dir: false,
                    origin: path.display().to_string(),
                    user_file: true,
                },
            );
        }
        for (port, (j, output)) in &job.deps {
            let digest = digests.get(port).ok_or_else(|| {
                EngineError::Usage(format!(
                    "stage {}: input {port} has no digest yet",
                    job.stage.name
                ))
            })?;
            let upstream = &plan.jobs[*j].stage;
            let dir = catalog.get(&upstream.kind).is_some_and(|k| {
                super::command::outputs(k, &upstream.params)
                    .get(output)
                    .is_some_and(|o| o.dir)
            });
            inputs.insert(
                port.clone(),
                TicketInput {
                    digest: digest.clone(),
                    dir,
                    origin: format!("stage {}, output {output}", upstream.name),
                    user_file: false,
                },
            );
        }
        // A `command` stage's code files travel through the store like user files, under the
        // reserved ports `code:<path>`: the job runs exactly the code that was hashed, anywhere.
        for (rel, (path, digest)) in &job.stage.code {
            store_user_file(cache, path, digest)?;
            inputs.insert(
                format!("{}{rel}", super::command::CODE_PREFIX),
                TicketInput {
                    digest: digest.clone(),
                    dir: false,
                    origin: format!("code {}", path.display()),
                    user_file: true,
                },
            );
        }
        let manifest = job.key_manifest(digests.clone());
        let (vi, stage) = &job.uses[0];
        Ok(JobTicket {
            format: TICKET_FORMAT,
            key: manifest.key(),
            key_manifest: manifest,
            stage: stage.clone(),
            experiment: plan.variants[*vi].namespace(),
            refs: job
                .uses
                .iter()
                .map(|(v, s)| (plan.variants[*v].namespace(), s.clone()))
                .collect(),
            inputs,
        })
    }

    /// Writes the ticket as JSON, atomically.
    pub fn store(&self, cache: &Cache, path: &Path) -> Result<()> {
        let bytes =
            serde_json::to_vec_pretty(self).map_err(|e| EngineError::Usage(e.to_string()))?;
        cache.write_atomic(path, &bytes)
    }

    /// Reads a ticket and checks that its key is the key of its manifest, so a ticket edited or
    /// written by another key format is refused rather than run under the wrong key.
    pub fn load(path: &Path) -> Result<JobTicket> {
        let bytes = fs::read(path).map_err(|e| EngineError::io("reading ticket", path, e))?;
        let ticket: JobTicket =
            serde_json::from_slice(&bytes).map_err(|e| EngineError::Corrupt {
                path: path.to_path_buf(),
                message: e.to_string(),
            })?;
        if ticket.format != TICKET_FORMAT {
            return Err(EngineError::Usage(format!(
                "{}: ticket format {} is not {TICKET_FORMAT}; was it written by another mexp version?",
                path.display(),
                ticket.format
            )));
        }
        // The inputs must be the ones the key was computed from: an edited input digest would
        // otherwise compute a result from other data and cache it under this key.
        // A `command` stage's code files (ports `code:<path>`) are keyed as the parameters of
        // the same name.
        let km = &ticket.key_manifest;
        let code_port = |p: &str| p.starts_with(super::command::CODE_PREFIX);
        let keyed = |port: &str, digest: &str| {
            if code_port(port) {
                km.params.get(port).and_then(toml::Value::as_str) == Some(digest)
            } else {
                km.inputs.get(port).map(String::as_str) == Some(digest)
            }
        };
        let ports_match = ticket.inputs.iter().all(|(p, i)| keyed(p, &i.digest))
            && km.inputs.keys().all(|p| ticket.inputs.contains_key(p))
            && km
                .params
                .keys()
                .filter(|p| code_port(p))
                .all(|p| ticket.inputs.contains_key(p));
        if !ports_match {
            return Err(EngineError::Corrupt {
                path: path.to_path_buf(),
                message: "its inputs are not the inputs its key was computed from".into(),
            });
        }
        let recomputed = ticket.key_manifest.key();
        if recomputed != ticket.key {
            return Err(EngineError::Corrupt {
                path: path.to_path_buf(),
                message: format!(
                    "its key {} is not the key of its manifest ({recomputed})",
                    ticket.key
                ),
            });
        }
        Ok(ticket)
    }
}

/// Puts a user file into the store under the digest it was planned with.
fn store_user_file(cache: &Cache, path: &Path, digest: &str) -> Result<()> {
    if cache.has_object(digest, None) {
        return Ok(());
    }
    let regular = fs::metadata(path).is_ok_and(|m| m.is_file());
    if !regular {
        return Err(EngineError::Usage(format!(
            "{} is no longer a regular file; run again",
            path.display()
        )));
    }
    let tmp = cache.tmp_file("input")?;
    fs::copy(path, &tmp).map_err(|e| EngineError::io("copying", path, e))?;
    let (d, _) = cache.put_file(&tmp)?;
    if d != digest {
        return Err(EngineError::Usage(format!(
            "{} changed while mexp was running; run again",
            path.display()
        )));
    }
    Ok(())
}
