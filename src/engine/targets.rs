//! Targets: `mexp run <manifest> STAGE…` runs only the named stages and what they need upstream
//! (as `dvc repro <stage>` does). The plan is cut down to those jobs for execution; the report is
//! widened back to the whole plan afterwards, so `results/` publication sees every stage: a stage
//! not selected but cached is reported (and published) as cached, one not selected and not cached
//! is reported as skipped with the reason "not selected", and its published folder is left alone.

use std::collections::{BTreeMap, BTreeSet};

use petgraph::graph::{DiGraph, NodeIndex};

use super::error::{EngineError, Result};
use super::executor::{Outcome, RunReport};
use super::plan::{JobStatus, Plan, PlanState};

/// The message of a stage skipped because it was not among the targets.
pub const NOT_SELECTED: &str = "not selected (not a target and not needed by one)";

/// Job indices of the named stages (in every variant) and of every job they need upstream.
/// An unknown stage name is a usage error with a suggestion.
pub fn select(plan: &Plan, targets: &[String]) -> Result<BTreeSet<usize>> {
    let names: BTreeSet<&str> = plan
        .variants
        .iter()
        .flat_map(|v| v.experiment.stages.iter().map(|s| s.name.as_str()))
        .collect();
    let mut stack = Vec::new();
    for t in targets {
        if !names.contains(t.as_str()) {
            let hint = super::diag::suggestion(t, names.iter().copied())
                .map(|h| format!(" ({h})"))
                .unwrap_or_default();
            return Err(EngineError::Usage(format!(
                "no stage `{t}` in this manifest{hint}; stages: {}",
                names.iter().copied().collect::<Vec<_>>().join(", ")
            )));
        }
        stack.extend(
            plan.index
                .iter()
                .filter(|((_, name), _)| name == t)
                .map(|(_, &j)| j),
        );
    }
    let mut keep = BTreeSet::new();
    while let Some(j) = stack.pop() {
        if keep.insert(j) {
            stack.extend(plan.jobs[j].deps.values().map(|(d, _)| *d));
        }
    }
    Ok(keep)
}

/// The plan of only the jobs in `keep` (which must be closed upstream), and for each of its jobs
/// the index of the same job in `plan`. Variants are kept whole; the index only names kept jobs.
pub fn restrict(plan: &Plan, keep: &BTreeSet<usize>) -> (Plan, Vec<usize>) {
    let map: Vec<usize> = keep.iter().copied().collect();
    let new_of: BTreeMap<usize, usize> = map.iter().enumerate().map(|(n, &o)| (o, n)).collect();
    let jobs: Vec<_> = map
        .iter()
        .map(|&o| {
            let mut job = plan.jobs[o].clone();
            for (d, _) in job.deps.values_mut() {
                *d = new_of[d];
            }
            job
        })
        .collect();
    let index = plan
        .index
        .iter()
        .filter_map(|(k, j)| new_of.get(j).map(|&n| (k.clone(), n)))
        .collect();
    let mut graph = DiGraph::new();
    let nodes: Vec<NodeIndex> = (0..jobs.len()).map(|i| graph.add_node(i)).collect();
    for (i, job) in jobs.iter().enumerate() {
        for (j, _) in job.deps.values() {
            graph.update_edge(nodes[*j], nodes[i], ());
        }
    }
    let sub = Plan {
        jobs,
        variants: plan.variants.clone(),
        index,
        graph,
    };
    (sub, map)
}

/// The report of the whole plan from the report of a restricted run (`map` from [`restrict`]):
/// jobs not run keep what `before` (the whole plan's statuses) says: cached with their record, or
/// skipped as not selected.
pub fn widen(sub: RunReport, map: &[usize], before: &[JobStatus]) -> RunReport {
    let n = before.len();
    let mut report = RunReport {
        outcomes: before
            .iter()
            .map(|st| match st.state {
                PlanState::Cached => Outcome::Cached,
                PlanState::Run => Outcome::Skipped(NOT_SELECTED.to_string()),
            })
            .collect(),
        records: before.iter().map(|st| st.record.clone()).collect(),
        seconds: vec![0.0; n],
    };
    let RunReport {
        outcomes,
        records,
        seconds,
    } = sub;
    for (((o, r), s), &full) in outcomes.into_iter().zip(records).zip(seconds).zip(map) {
        report.outcomes[full] = o;
        report.records[full] = r;
        report.seconds[full] = s;
    }
    report
}
