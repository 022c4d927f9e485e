//! Plan-time checks a stage kind makes of its own resolved parameters, beyond the catalogue's
//! types and bounds (a small grammar, a relation between two parameters): each problem becomes
//! a located manifest error, so a bad value is refused before any upstream stage runs.

use std::collections::BTreeMap;
use std::ops::Range;

use super::diag::Diagnostic;
use super::error::{EngineError, Result};
use super::executor::Registry;
use super::manifest::Manifest;
use super::resolve::ResolvedExperiment;

/// A parameter a stage kind refuses (see [`super::Stage::check_params`]).
#[derive(Debug, Clone, PartialEq)]
pub struct ParamProblem {
    /// The parameter.
    pub key: String,
    /// What is wrong.
    pub message: String,
    /// How to fix it.
    pub help: Option<String>,
}

/// Where `key` of `stage` was set: the profile's entry, the manifest's, or the stage header.
fn span_of(
    manifest: &Manifest,
    profile: Option<&str>,
    stage: &str,
    key: &str,
) -> Option<Range<usize>> {
    let in_profile = profile
        .and_then(|p| manifest.profiles.get(p))
        .and_then(|p| p.get(stage))
        .and_then(|s| s.get(key))
        .and_then(|v| v.span.clone());
    let decl = manifest.stage(stage);
    in_profile
        .or_else(|| {
            decl.and_then(|d| d.params.get(key))
                .and_then(|v| v.span.clone())
        })
        .or_else(|| decl.and_then(|d| d.name_span.clone()))
}

/// Runs every stage's [`super::Stage::check_params`] over every variant; problems (each reported
/// once, at the place the value was written) become one [`EngineError::Manifest`].
pub fn check_variants<'a>(
    registry: &Registry,
    manifest: &Manifest,
    profile: Option<&str>,
    variants: impl IntoIterator<Item = (&'a str, &'a ResolvedExperiment)>,
) -> Result<()> {
    let mut seen = BTreeMap::new();
    for (label, exp) in variants {
        for stage in &exp.stages {
            let Some(imp) = registry.implementation(&stage.kind) else {
                continue;
            };
            for p in imp.check_params(&stage.params) {
                let at = if label.is_empty() {
                    String::new()
                } else {
                    format!(" (sweep point {label})")
                };
                let message = format!(
                    "stage `{}`, parameter `{}`: {}{at}",
                    stage.name, p.key, p.message
                );
                let source = stage
                    .param_sources
                    .get(&p.key)
                    .copied()
                    .unwrap_or("catalogue");
                let diag = if source == "--set" {
                    Diagnostic::at(std::path::Path::new("<command line>"), "", None, message)
                } else {
                    manifest.diag(span_of(manifest, profile, &stage.name, &p.key), message)
                };
                let diag = match p.help {
                    Some(h) => diag.with_help(h),
                    None => diag,
                };
                seen.entry((stage.name.clone(), p.key.clone(), p.message.clone()))
                    .or_insert(diag);
            }
        }
    }
    if seen.is_empty() {
        Ok(())
    } else {
        Err(EngineError::Manifest(seen.into_values().collect()))
    }
}
