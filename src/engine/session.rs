//! From a manifest path and command-line choices to a plan: load, expand the sweep, resolve every
//! variant, merge into jobs, and locate the cache and results folders.

use std::path::{Path, PathBuf};

use super::error::{EngineError, Result};
use super::manifest::Manifest;
use super::plan::{Plan, Variant};
use super::resolve::{Override, ResolvedExperiment, resolve};
use super::stage::Registry;
use super::sweep::{Sweep, expand};

/// What the user asked for on the command line.
#[derive(Debug, Clone, Default)]
pub struct Request {
    /// Manifest file.
    pub manifest: PathBuf,
    /// `--profile`.
    pub profile: Option<String>,
    /// `--set stage.param=value`, in order.
    pub sets: Vec<String>,
    /// `--backend` for learning stages.
    pub backend: String,
    /// `--cache` / `MEXP_CACHE`.
    pub cache: Option<PathBuf>,
    /// `--results`.
    pub results: Option<PathBuf>,
}

/// A loaded, resolved and planned manifest.
pub struct Session {
    /// The manifest.
    pub manifest: Manifest,
    /// Expanded sweep, if any.
    pub sweep: Option<Sweep>,
    /// Jobs and variants.
    pub plan: Plan,
    /// Cache folder.
    pub cache_dir: PathBuf,
    /// Results folder (`results/` at the project root).
    pub results_dir: PathBuf,
}

/// The project root of a manifest: the parent of its folder when that folder is `experiments/`,
/// else the manifest's own folder. `cache/` and `results/` live there by default.
pub fn project_root(manifest: &Path) -> PathBuf {
    let dir = manifest
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf);
    if dir.file_name().is_some_and(|n| n == "experiments") {
        dir.parent()
            .filter(|p| !p.as_os_str().is_empty())
            .map_or_else(|| PathBuf::from("."), Path::to_path_buf)
    } else {
        dir
    }
}

impl Session {
    /// Opens `manifest` under each of its profiles (and none) and each of `backends`: what `mexp gc
    /// --keep` keeps, so that results trained with another backend are not swept.
    pub fn open_every_variant(
        registry: &Registry,
        manifest: &std::path::Path,
        cache: &std::path::Path,
        backends: &[&str],
    ) -> Result<Vec<Session>> {
        let m = Manifest::load(manifest)?;
        let mut profiles: Vec<Option<String>> = vec![None];
        profiles.extend(m.profiles.keys().cloned().map(Some));
        let mut out = Vec::new();
        for profile in profiles {
            for backend in backends {
                let req = Request {
                    manifest: manifest.to_path_buf(),
                    profile: profile.clone(),
                    backend: backend.to_string(),
                    cache: Some(cache.to_path_buf()),
                    ..Default::default()
                };
                out.push(Session::open(registry, &req)?);
            }
        }
        Ok(out)
    }

    /// Loads and plans a manifest.
    pub fn open(registry: &Registry, req: &Request) -> Result<Session> {
        let manifest = Manifest::load(&req.manifest)?;
        let sets: Vec<Override> = req
            .sets
            .iter()
            .map(|s| Override::parse_set(s))
            .collect::<Result<_>>()?;
        let sweep = expand(&manifest)?;
        let variants = match &sweep {
            None => vec![Variant {
                name: String::new(),
                label: String::new(),
                experiment: resolve(
                    &manifest,
                    &registry.catalog,
                    req.profile.as_deref(),
                    &[],
                    &sets,
                )?,
            }],
            Some(sw) => {
                let mut out = Vec::with_capacity(sw.points.len());
                for point in &sw.points {
                    let experiment: ResolvedExperiment = resolve(
                        &manifest,
                        &registry.catalog,
                        req.profile.as_deref(),
                        &point.overrides,
                        &sets,
                    )?;
                    out.push(Variant {
                        name: point.name.clone(),
                        label: point.label(),
                        experiment,
                    });
                }
                out
            }
        };
        if variants.is_empty() {
            return Err(EngineError::Usage(format!(
                "{}: the sweep has no points",
                req.manifest.display()
            )));
        }
        super::param_checks::check_variants(
            registry,
            &manifest,
            req.profile.as_deref(),
            variants.iter().map(|v| (v.label.as_str(), &v.experiment)),
        )?;
        if let Some(sw) = &sweep {
            check_sweep_outputs(&manifest, sw, &variants[0].experiment, registry)?;
        }
        let plan = Plan::build(variants, &registry.catalog, &req.backend)?;
        let root = project_root(&req.manifest);
        Ok(Session {
            manifest,
            sweep,
            plan,
            cache_dir: req.cache.clone().unwrap_or_else(|| root.join("cache")),
            results_dir: req.results.clone().unwrap_or_else(|| root.join("results")),
        })
    }
}

/// Every `report` column and `bands` CSV of the sweep names a stage of the experiment and one of
/// its kind's outputs (a typo would otherwise publish an empty column or no figure, silently).
fn check_sweep_outputs(
    manifest: &Manifest,
    sweep: &Sweep,
    experiment: &ResolvedExperiment,
    registry: &Registry,
) -> Result<()> {
    let entries = manifest.sweep.as_ref().map(|d| &d.entries);
    let refs = sweep
        .report
        .iter()
        .map(|c| {
            (
                "report",
                c.split('.').next().unwrap_or(""),
                c.split('.').nth(1),
            )
        })
        .chain(
            sweep
                .bands
                .iter()
                .map(|b| ("bands", b.stage.as_str(), Some(b.output.as_str()))),
        );
    for (key, stage, output) in refs {
        let span = entries
            .and_then(|e| e.get(key))
            .and_then(|l| l.span.clone());
        let names = || {
            experiment
                .stages
                .iter()
                .map(|s| s.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        };
        let Some(decl) = experiment.stages.iter().find(|s| s.name == stage) else {
            return Err(EngineError::Manifest(vec![
                manifest
                    .diag(
                        span,
                        format!(
                            "`{key}` names stage `{stage}`, which the experiment does not have"
                        ),
                    )
                    .with_help(format!("its stages are {}", names())),
            ]));
        };
        let Some(spec) = registry.catalog.get(&decl.kind) else {
            continue;
        };
        if let Some(output) = output
            && !spec.command
            && !spec.outputs.contains_key(output)
        {
            let known: Vec<&str> = spec.outputs.keys().map(String::as_str).collect();
            return Err(EngineError::Manifest(vec![
                manifest
                    .diag(
                        span,
                        format!(
                            "`{key}` names output `{output}` of stage `{stage}`, which kind `{}` \
                             does not write",
                            decl.kind
                        ),
                    )
                    .with_help(format!("its outputs are {}", known.join(", "))),
            ]));
        }
    }
    Ok(())
}
