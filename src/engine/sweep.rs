//! Sweeps: one manifest fanned out into variants (grid, zip, list, random, lhs).
//!
//! ```toml
//! [sweep]
//! mode = "grid"                      # grid | zip | list | random | lhs
//! "vae.latent_dim" = [64, 128]       # grid/zip: arrays of values
//! report = ["regress.metrics.mae_hc"] # columns of the summary table: <stage>.<output>.<json key>
//! # list:   points = [{ "vae.lr" = 1e-4 }, { "vae.lr" = 3e-4, "vae.epochs" = 5 }]
//! # random: n = 8, seed = 1, "vae.lr" = { min = 1e-5, max = 1e-3, log = true } or an array to pick from
//! # lhs:    n = 8, seed = 1, ranges as for random (stratified: one sample per 1/n slice per axis)
//! # any mode: replicates = [{ "fit.replicate" = 0 }, { "fit.replicate" = 1 }] repeats every point
//! #   once per entry (seeds, held-out sets); the summary then adds mean ± sd, min and max over them
//! # bands = [{ csv = "eval.curve", x = "field", y = ["truth", "predicted"] }]: a CSV output's
//! #   columns banded over each point's replicates (see `sweep_bands`), drawn as one figure
//! ```

use std::fmt;
use std::str::FromStr;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use toml::Value;

use super::error::{EngineError, Result};
use super::key::display_value;
use super::manifest::{Located, Manifest};
use super::resolve::Override;
use super::sweep_bands::{BandSpec, parse_bands};

/// One point of a sweep.
#[derive(Debug, Clone)]
pub struct SweepPoint {
    /// Short name, `v000`, `v001`, …
    pub name: String,
    /// The overrides of this point (a replicate's after the point's own).
    pub overrides: Vec<Override>,
    /// Index of the point before replication (equal to the variant's index without `replicates`).
    pub group: usize,
    /// Which `replicates` entry this variant is, if the sweep has them.
    pub replicate: Option<usize>,
    /// How many of `overrides` (the first ones) are the point's own, not the replicate's.
    pub own_overrides: usize,
}

impl SweepPoint {
    /// "vae.latent_dim=64, vae.lr=0.0001".
    pub fn label(&self) -> String {
        self.overrides
            .iter()
            .map(|o| format!("{}.{}={}", o.stage, o.param, display_value(&o.value)))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// An expanded sweep.
#[derive(Debug, Clone, Default)]
pub struct Sweep {
    /// The variants, in order.
    pub points: Vec<SweepPoint>,
    /// Summary table columns: `<stage>.<output>.<json key path>`.
    pub report: Vec<String>,
    /// Number of `replicates` entries (0: none); variants are point-major, replicate-minor.
    pub replicates: usize,
    /// CSV outputs banded over each point's replicates (`bands`).
    pub bands: Vec<BandSpec>,
}

impl Sweep {
    /// Every parameter (`<stage>.<param>`) any point sets, in order of first appearance (list
    /// sweeps may differ per point); with `own_only`, without the replicates' parameters.
    pub fn parameter_names(&self, own_only: bool) -> Vec<String> {
        let mut names: Vec<String> = Vec::new();
        for p in &self.points {
            let overrides = if own_only {
                &p.overrides[..p.own_overrides]
            } else {
                &p.overrides[..]
            };
            for o in overrides {
                let name = format!("{}.{}", o.stage, o.param);
                if !names.contains(&name) {
                    names.push(name);
                }
            }
        }
        names
    }
}

/// How a `[sweep]` table becomes points (`mode = "…"`, grid when absent).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SweepMode {
    /// Every combination of the axes' values.
    Grid,
    /// The i-th values of all axes together (equal lengths).
    Zip,
    /// Explicit `points = [{ … }, …]`.
    List,
    /// `n` independent draws per axis.
    Random,
    /// Latin hypercube: `n` draws, one per 1/n slice of every axis.
    Lhs,
}

/// A `mode` that names no sweep mode.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown sweep mode `{0}`; use grid, zip, list, random or lhs")]
pub struct UnknownSweepMode(pub String);

impl SweepMode {
    /// The name written in a manifest.
    pub fn name(self) -> &'static str {
        match self {
            SweepMode::Grid => "grid",
            SweepMode::Zip => "zip",
            SweepMode::List => "list",
            SweepMode::Random => "random",
            SweepMode::Lhs => "lhs",
        }
    }
}

impl FromStr for SweepMode {
    type Err = UnknownSweepMode;

    fn from_str(s: &str) -> std::result::Result<Self, Self::Err> {
        match s {
            "grid" => Ok(SweepMode::Grid),
            "zip" => Ok(SweepMode::Zip),
            "list" => Ok(SweepMode::List),
            "random" => Ok(SweepMode::Random),
            "lhs" => Ok(SweepMode::Lhs),
            other => Err(UnknownSweepMode(other.to_string())),
        }
    }
}

impl fmt::Display for SweepMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One grid/zip axis: its key, its values and where it was written.
type Axis1<'a> = (&'a String, &'a Vec<Value>, &'a Located<Value>);

const RESERVED: &[&str] = &[
    "mode",
    "report",
    "n",
    "seed",
    "points",
    "replicates",
    "bands",
];

/// Most points a sweep may have (every point is a resolved copy of the experiment, planned at
/// once): beyond this, split the study into several manifests.
pub const MAX_SWEEP_POINTS: usize = 100_000;

/// Expands the manifest's `[sweep]` table (if any).
pub fn expand(manifest: &Manifest) -> Result<Option<Sweep>> {
    let Some(decl) = &manifest.sweep else {
        return Ok(None);
    };
    let e = &decl.entries;
    let err = |span: Option<std::ops::Range<usize>>, msg: String| {
        EngineError::Manifest(vec![manifest.diag(span, msg)])
    };
    // Parsed once here; an unknown name is reported after the checks of `report` and the axis keys,
    // as before the enum.
    let mode = match e.get("mode") {
        None => Ok(SweepMode::Grid),
        Some(Located {
            value: Value::String(s),
            span,
            ..
        }) => s
            .parse::<SweepMode>()
            .map_err(|unknown| err(span.clone(), unknown.to_string())),
        Some(v) => {
            return Err(err(
                v.span.clone(),
                "`mode` must be one of grid, zip, list, random, lhs".into(),
            ));
        }
    };
    let report = match e.get("report") {
        None => Vec::new(),
        Some(Located {
            value: Value::Array(a),
            span,
            ..
        }) => a
            .iter()
            .map(|v| {
                v.as_str()
                    .filter(|s| s.split('.').count() >= 3)
                    .map(str::to_string)
                    .ok_or_else(|| {
                        err(
                            span.clone(),
                            "`report` entries must be strings \"<stage>.<output>.<key>\"".into(),
                        )
                    })
            })
            .collect::<Result<_>>()?,
        Some(v) => {
            return Err(err(
                v.span.clone(),
                "`report` must be an array of strings".into(),
            ));
        }
    };
    let axes: Vec<(&String, &Located<Value>)> = e
        .iter()
        .filter(|(k, _)| !RESERVED.contains(&k.as_str()))
        .collect();
    for (k, v) in &axes {
        if k.split_once('.').is_none() {
            return Err(EngineError::Manifest(vec![
                manifest
                    .diag(
                        v.key_span.clone(),
                        format!("sweep key `{k}` must be \"<stage>.<param>\""),
                    )
                    .with_help("quote dotted keys: \"vae.lr\" = [1e-4, 3e-4]"),
            ]));
        }
    }
    let mode = mode?;
    let ov = |k: &str, value: Value, span: Option<std::ops::Range<usize>>| {
        let (stage, param) = k.split_once('.').unwrap_or((k, ""));
        Override {
            stage: stage.to_string(),
            param: param.to_string(),
            value,
            span,
        }
    };
    let arrays = || -> Result<Vec<Axis1<'_>>> {
        axes.iter()
            .map(|(k, v)| match &v.value {
                Value::Array(a) if !a.is_empty() => Ok((*k, a, *v)),
                _ => Err(err(
                    v.span.clone(),
                    format!("sweep values of `{k}` must be a non-empty array in mode `{mode}`"),
                )),
            })
            .collect()
    };
    let mut points: Vec<Vec<Override>> = Vec::new();
    match mode {
        SweepMode::Grid => {
            let axes = arrays()?;
            let mut total: usize = 1;
            for (k, a, v) in &axes {
                total = total.saturating_mul(a.len());
                if total > MAX_SWEEP_POINTS {
                    return Err(err(
                        v.span.clone(),
                        format!(
                            "grid sweep: with `{k}` the grid has more than {MAX_SWEEP_POINTS} \
                             points (the most a sweep may have); split the study"
                        ),
                    ));
                }
            }
            points.push(Vec::new());
            for (k, a, v) in axes {
                points = points
                    .into_iter()
                    .flat_map(|p| {
                        a.iter().map(move |x| {
                            let mut q = p.clone();
                            q.push(ov(k, x.clone(), v.key_span.clone()));
                            q
                        })
                    })
                    .collect();
            }
        }
        SweepMode::Zip => {
            let arrs = arrays()?;
            let n = arrs.first().map_or(0, |(_, a, _)| a.len());
            if let Some((k, a, v)) = arrs.iter().find(|(_, a, _)| a.len() != n) {
                return Err(err(
                    v.span.clone(),
                    format!(
                        "zip sweep: `{k}` has {} values but the first axis has {n}",
                        a.len()
                    ),
                ));
            }
            points = (0..n)
                .map(|i| {
                    arrs.iter()
                        .map(|(k, a, v)| ov(k, a[i].clone(), v.key_span.clone()))
                        .collect()
                })
                .collect();
        }
        SweepMode::List => {
            let Some(Located {
                value: Value::Array(list),
                span,
                ..
            }) = e.get("points")
            else {
                return Err(err(
                    decl.span.clone(),
                    "list sweep needs `points = [{ \"stage.param\" = value, … }, …]`".into(),
                ));
            };
            for item in list {
                let Value::Table(t) = item else {
                    return Err(err(
                        span.clone(),
                        "each entry of `points` must be a table".into(),
                    ));
                };
                points.push(
                    t.iter()
                        .map(|(k, v)| ov(k, v.clone(), span.clone()))
                        .collect(),
                );
            }
        }
        SweepMode::Random | SweepMode::Lhs => {
            let n = match e.get("n") {
                Some(Located {
                    value: Value::Integer(n),
                    ..
                }) if *n > 0 && *n as u64 <= MAX_SWEEP_POINTS as u64 => *n as usize,
                Some(Located {
                    value: Value::Integer(n),
                    span,
                    ..
                }) if *n > 0 => {
                    return Err(err(
                        span.clone(),
                        format!(
                            "`{mode}` sweep: n = {n} is more than {MAX_SWEEP_POINTS} points (the \
                             most a sweep may have); split the study"
                        ),
                    ));
                }
                other => {
                    return Err(err(
                        other.and_then(|v| v.span.clone()).or(decl.span.clone()),
                        format!("`{mode}` sweep needs `n = <number of points>` (> 0)"),
                    ));
                }
            };
            let seed = match e.get("seed") {
                Some(Located {
                    value: Value::Integer(s),
                    ..
                }) => *s as u64,
                None => manifest.experiment.seed,
                Some(v) => return Err(err(v.span.clone(), "`seed` must be an integer".into())),
            };
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            points = vec![Vec::new(); n];
            for (k, v) in &axes {
                let axis = Axis::parse(&v.value).ok_or_else(|| err(v.span.clone(), format!("`{k}`: expected an array of choices or {{ min = …, max = …, log = false, int = false }}")))?;
                let mut strata: Vec<usize> = (0..n).collect();
                if mode == SweepMode::Lhs {
                    for i in (1..n).rev() {
                        strata.swap(i, rng.random_range(0..=i));
                    }
                }
                for (i, point) in points.iter_mut().enumerate() {
                    let u: f64 = rng.random();
                    let u = if mode == SweepMode::Lhs {
                        (strata[i] as f64 + u) / n as f64
                    } else {
                        u
                    };
                    point.push(ov(k, axis.sample(u), v.key_span.clone()));
                }
            }
        }
    }
    if points.is_empty() {
        return Err(err(decl.span.clone(), "the sweep has no points".into()));
    }
    let replicates = match e.get("replicates") {
        None => None,
        Some(located) => Some(parse_replicates(located, &err)?),
    };
    let bands = match e.get("bands") {
        None => Vec::new(),
        Some(located) => parse_bands(located, &err)?,
    };
    let total = points
        .len()
        .saturating_mul(replicates.as_ref().map_or(1, Vec::len));
    if total > MAX_SWEEP_POINTS {
        return Err(err(
            decl.span.clone(),
            format!(
                "the sweep has {total} points, more than {MAX_SWEEP_POINTS} (the most a sweep may \
                 have); split the study"
            ),
        ));
    }
    let mut expanded = Vec::with_capacity(total);
    for (group, own) in points.into_iter().enumerate() {
        let Some(reps) = &replicates else {
            let own_overrides = own.len();
            expanded.push((group, None, own, own_overrides));
            continue;
        };
        for (r, rep) in reps.iter().enumerate() {
            if let Some(clash) = rep
                .iter()
                .find(|o| own.iter().any(|p| p.stage == o.stage && p.param == o.param))
            {
                return Err(err(
                    clash.span.clone(),
                    format!(
                        "`{}.{}` is set both by sweep point {group} and by replicate {r}; a \
                         replicate may only set what no point sets",
                        clash.stage, clash.param
                    ),
                ));
            }
            let mut overrides = own.clone();
            overrides.extend(rep.iter().cloned());
            expanded.push((group, Some(r), overrides, own.len()));
        }
    }
    let points = expanded
        .into_iter()
        .enumerate()
        .map(
            |(i, (group, replicate, overrides, own_overrides))| SweepPoint {
                name: format!("v{i:03}"),
                overrides,
                group,
                replicate,
                own_overrides,
            },
        )
        .collect();
    Ok(Some(Sweep {
        points,
        report,
        replicates: replicates.map_or(0, |r| r.len()),
        bands,
    }))
}

/// `replicates = [{ "<stage>.<param>" = value, … }, …]`: the overrides of each replicate.
fn parse_replicates(
    located: &Located<Value>,
    err: &dyn Fn(Option<std::ops::Range<usize>>, String) -> EngineError,
) -> Result<Vec<Vec<Override>>> {
    let usage = "`replicates` must be a non-empty array of tables: replicates = [{ \"fit.replicate\" = 0 }, \
                 { \"fit.replicate\" = 1 }]";
    let Value::Array(list) = &located.value else {
        return Err(err(located.span.clone(), usage.into()));
    };
    if list.is_empty() {
        return Err(err(located.span.clone(), usage.into()));
    }
    list.iter()
        .map(|item| {
            let Value::Table(t) = item else {
                return Err(err(located.span.clone(), usage.into()));
            };
            t.iter()
                .map(|(k, v)| {
                    let (stage, param) = k.split_once('.').ok_or_else(|| {
                        err(
                            located.span.clone(),
                            format!("replicate key `{k}` must be \"<stage>.<param>\""),
                        )
                    })?;
                    Ok(Override {
                        stage: stage.to_string(),
                        param: param.to_string(),
                        value: v.clone(),
                        span: located.span.clone(),
                    })
                })
                .collect()
        })
        .collect()
}

enum Axis {
    Choices(Vec<Value>),
    Range {
        min: f64,
        max: f64,
        log: bool,
        int: bool,
    },
}

impl Axis {
    fn parse(v: &Value) -> Option<Axis> {
        match v {
            Value::Array(a) if !a.is_empty() => Some(Axis::Choices(a.clone())),
            Value::Table(t) => {
                let num = |k: &str| {
                    t.get(k)
                        .and_then(|v| v.as_float().or_else(|| v.as_integer().map(|i| i as f64)))
                };
                let (min, max) = (num("min")?, num("max")?);
                let log = t.get("log").and_then(Value::as_bool).unwrap_or(false);
                let int = t.get("int").and_then(Value::as_bool).unwrap_or(false);
                (max >= min && (!log || min > 0.0)).then_some(Axis::Range { min, max, log, int })
            }
            _ => None,
        }
    }

    /// The value at quantile `u` in [0, 1).
    fn sample(&self, u: f64) -> Value {
        match self {
            Axis::Choices(c) => c[((u * c.len() as f64) as usize).min(c.len() - 1)].clone(),
            Axis::Range { min, max, log, int } => {
                let x = if *log {
                    (min.ln() + u * (max.ln() - min.ln())).exp()
                } else {
                    min + u * (max - min)
                };
                if *int {
                    Value::Integer(x.floor() as i64)
                } else {
                    Value::Float(x)
                }
            }
        }
    }
}
