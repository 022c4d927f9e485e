//! Per-stage resources for cluster executors (cpus, memory, time, gpus, partition, items per task):
//! validated where a manifest sets them (`[stages.<name>.resources]`), layered over the stage
//! catalogue's hints and the command line's defaults. Resources never enter a key: they change
//! where and how fast a stage runs, not what it computes.

use std::collections::BTreeMap;

use toml::Value;

use super::catalog::Resources;
use super::diag::{Diagnostic, did_you_mean};
use super::manifest::{Located, Manifest};

/// The keys a manifest's `resources` table may set, with what each means.
pub const RESOURCE_KEYS: [(&str, &str); 6] = [
    (
        "cpus",
        "CPU cores per task (a positive integer); also the stage's thread count",
    ),
    (
        "memory",
        "memory per task, a number with an optional K, M, G or T suffix (\"4G\")",
    ),
    (
        "time",
        "wall-time limit in a Slurm format: minutes, \"HH:MM:SS\" or \"D-HH:MM:SS\"",
    ),
    ("gpus", "GPUs per task (a non-negative integer)"),
    ("partition", "the Slurm partition (overrides --partition)"),
    (
        "items_per_task",
        "fan-out stages: items (curves, simulations) per array task (a positive integer)",
    ),
];

/// Checks a manifest stage's `resources` table; returns one diagnostic per problem.
pub fn validate(
    manifest: &Manifest,
    stage: &str,
    values: &BTreeMap<String, Located<Value>>,
) -> Vec<Diagnostic> {
    let mut diags = Vec::new();
    for (key, v) in values {
        let problem = match key.as_str() {
            "cpus" | "items_per_task" => positive_int(&v.value, 1),
            "gpus" => positive_int(&v.value, 0),
            "memory" => text(&v.value).and_then(memory_ok),
            "time" => text(&v.value).and_then(time_ok),
            "partition" => text(&v.value).and_then(partition_ok),
            _ => {
                // Abbreviations (`mem`, `cpu`) are the usual slip here, besides typos.
                let help = did_you_mean(key, RESOURCE_KEYS.iter().map(|(k, _)| *k))
                    .or_else(|| {
                        RESOURCE_KEYS
                            .iter()
                            .map(|(k, _)| *k)
                            .find(|k| k.starts_with(key.as_str()))
                    })
                    .map(|s| format!("did you mean `{s}`?"))
                    .unwrap_or_else(|| {
                        format!(
                            "resources are {}",
                            RESOURCE_KEYS
                                .iter()
                                .map(|(k, _)| format!("`{k}`"))
                                .collect::<Vec<_>>()
                                .join(", ")
                        )
                    });
                diags.push(
                    manifest
                        .diag(
                            v.key_span.clone(),
                            format!("unknown resource `{key}` for stage `{stage}`"),
                        )
                        .with_help(help),
                );
                continue;
            }
        };
        if let Err(why) = problem {
            let doc = RESOURCE_KEYS
                .iter()
                .find(|(k, _)| k == key)
                .map_or("", |(_, d)| d);
            diags.push(
                manifest
                    .diag(
                        v.span.clone(),
                        format!("resource `{key}` of stage `{stage}` {why}"),
                    )
                    .with_help(format!("`{key}`: {doc}")),
            );
        }
    }
    diags
}

fn positive_int(v: &Value, min: i64) -> Result<(), String> {
    match v.as_integer() {
        Some(i) if i >= min => Ok(()),
        Some(i) => Err(format!("must be ≥ {min}, got {i}")),
        None => Err(format!("must be an integer, got {v}")),
    }
}

fn text(v: &Value) -> Result<&str, String> {
    v.as_str()
        .ok_or_else(|| format!("must be a string, got {v}"))
}

/// Whether `s` is a Slurm partition name or a comma-separated list of them (letters, digits,
/// `_`, `-`, `.`): it is written into a job script, so anything else (a newline, a quote, a space)
/// could end the `#SBATCH` line and inject a command.
pub fn partition_ok(s: &str) -> Result<(), String> {
    let name_ok = |n: &str| {
        !n.is_empty()
            && n.len() <= 64
            && n.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
    };
    if s.split(',').all(name_ok) {
        Ok(())
    } else {
        let shown: String = s
            .chars()
            .take(40)
            .collect::<String>()
            .escape_debug()
            .to_string();
        Err(format!(
            "is not a Slurm partition name (letters, digits, `_`, `-`, `.`; lists separated by \
             commas): \"{shown}\""
        ))
    }
}

fn memory_ok(s: &str) -> Result<(), String> {
    let digits = s.trim_end_matches(['K', 'M', 'G', 'T', 'k', 'm', 'g', 't']);
    let suffix_len = s.len() - digits.len();
    if !digits.is_empty() && suffix_len <= 1 && digits.chars().all(|c| c.is_ascii_digit()) {
        Ok(())
    } else {
        Err(format!("is not a memory size: \"{s}\""))
    }
}

fn time_ok(s: &str) -> Result<(), String> {
    let (days, rest) = match s.split_once('-') {
        Some((d, r)) => (Some(d), r),
        None => (None, s),
    };
    let fields: Vec<&str> = rest.split(':').collect();
    let numeric = |f: &str| !f.is_empty() && f.chars().all(|c| c.is_ascii_digit());
    let ok = days.is_none_or(numeric) && fields.len() <= 3 && fields.iter().all(|f| numeric(f));
    if ok {
        Ok(())
    } else {
        Err(format!("is not a Slurm time limit: \"{s}\""))
    }
}

/// The resources of one stage: the manifest's values over the catalogue's hints over the command
/// line's partition.
pub fn effective(
    catalog: &Resources,
    manifest: &BTreeMap<String, Value>,
    default_partition: Option<&str>,
) -> Resources {
    let int = |k: &str| {
        manifest
            .get(k)
            .and_then(Value::as_integer)
            .and_then(|i| u32::try_from(i).ok())
    };
    let string = |k: &str| manifest.get(k).and_then(Value::as_str).map(str::to_string);
    Resources {
        cpus: int("cpus").or(catalog.cpus),
        memory: string("memory").or_else(|| catalog.memory.clone()),
        time: string("time").or_else(|| catalog.time.clone()),
        gpus: int("gpus").or(catalog.gpus),
        partition: string("partition")
            .or_else(|| catalog.partition.clone())
            .or_else(|| default_partition.map(str::to_string)),
        items_per_task: int("items_per_task").or(catalog.items_per_task),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_and_time_formats() {
        for ok in ["4G", "512M", "1000", "2t"] {
            assert!(memory_ok(ok).is_ok(), "{ok}");
        }
        for bad in ["", "G", "4GB", "four", "1.5G"] {
            assert!(memory_ok(bad).is_err(), "{bad}");
        }
        for ok in ["30", "10:00", "02:00:00", "1-00", "1-12:00:00"] {
            assert!(time_ok(ok).is_ok(), "{ok}");
        }
        for bad in ["", "1h", "1:2:3:4", "a-10", "-5"] {
            assert!(time_ok(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn partitions_that_could_inject_script_lines_are_refused() {
        for ok in ["cpu", "gpu-a100", "debug,cpu", "part_1.x"] {
            assert!(partition_ok(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "cpu\nrm -rf ~",
            "cpu rm",
            "a;b",
            "$(id)",
            "cpu,",
            "\"q\"",
            "a`b`",
        ] {
            assert!(partition_ok(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn manifest_over_catalogue_over_command_line() {
        let cat = Resources {
            cpus: Some(4),
            memory: Some("8G".into()),
            partition: Some("cpu".into()),
            ..Resources::default()
        };
        let mut m = BTreeMap::new();
        m.insert("cpus".to_string(), Value::Integer(2));
        let r = effective(&cat, &m, Some("debug"));
        assert_eq!(r.cpus, Some(2));
        assert_eq!(r.memory.as_deref(), Some("8G"));
        assert_eq!(r.partition.as_deref(), Some("cpu"));
        let r = effective(&Resources::default(), &BTreeMap::new(), Some("debug"));
        assert_eq!(r.partition.as_deref(), Some("debug"));
        assert_eq!(r.cpus, None);
    }
}
