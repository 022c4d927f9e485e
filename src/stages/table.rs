//! `table`: gathers metrics from upstream JSON outputs (one column per input port) into Markdown, CSV
//! and JSON, with reference values (e.g. a paper's) beside them — "reproduce Table 3 from cache".

use std::fmt::Write as _;

use serde_json::Value;

use crate::engine::{Stage, StageContext, StageResult};

/// The `table` stage kind.
pub struct TableStage;

impl Stage for TableStage {
    fn run(&self, ctx: &StageContext) -> StageResult {
        let ports = ctx.input_ports();
        let mut docs = Vec::new();
        for p in &ports {
            let v: Value = serde_json::from_slice(&std::fs::read(ctx.input(p)?)?)
                .map_err(|e| format!("input `{p}` is not JSON: {e}"))?;
            docs.push(v);
        }
        let mut rows = ctx.strs("rows")?;
        if rows.is_empty() {
            rows = docs
                .first()
                .and_then(Value::as_object)
                .map(|o| {
                    o.iter()
                        .filter(|(_, v)| v.is_number())
                        .map(|(k, _)| k.clone())
                        .collect()
                })
                .unwrap_or_default();
        }
        let labels = ctx.strs("row_labels")?;
        if !labels.is_empty() && labels.len() != rows.len() {
            return Err(format!(
                "row_labels has {} entries but rows has {}",
                labels.len(),
                rows.len()
            )
            .into());
        }
        let reference = ctx.f64s("reference")?;
        if !reference.is_empty() && reference.len() != rows.len() {
            return Err(format!(
                "reference has {} values but rows has {}",
                reference.len(),
                rows.len()
            )
            .into());
        }
        let ref_label = ctx.str("reference_label")?;
        let mut header = vec!["".to_string()];
        header.extend(ports.iter().cloned());
        if !reference.is_empty() {
            header.push(ref_label.to_string());
        }
        let mut table: Vec<Vec<Option<f64>>> = Vec::new();
        for (i, key) in rows.iter().enumerate() {
            let mut row: Vec<Option<f64>> = docs.iter().map(|d| lookup(d, key)).collect();
            if !reference.is_empty() {
                row.push(Some(reference[i]));
            }
            table.push(row);
        }
        let label = |i: usize| labels.get(i).cloned().unwrap_or_else(|| rows[i].clone());
        let fmt = |v: &Option<f64>| v.map_or(String::new(), |x| format!("{x:.4}"));
        let mut md = format!(
            "## {}\n\n| {} |\n|{}\n",
            ctx.str("title")?,
            header.join(" | "),
            "---|".repeat(header.len())
        );
        let mut csv = header
            .iter()
            .map(|h| {
                if h.is_empty() {
                    "metric".to_string()
                } else {
                    h.clone()
                }
            })
            .collect::<Vec<_>>()
            .join(",")
            + "\n";
        for (i, row) in table.iter().enumerate() {
            let cells: Vec<String> = row.iter().map(fmt).collect();
            let _ = writeln!(
                md,
                "| {} | {} |",
                label(i),
                cells
                    .iter()
                    .map(|c| if c.is_empty() { "—" } else { c.as_str() })
                    .collect::<Vec<_>>()
                    .join(" | ")
            );
            let _ = writeln!(csv, "{},{}", label(i), cells.join(","));
        }
        std::fs::write(ctx.output("markdown")?, md)?;
        std::fs::write(ctx.output("csv")?, csv)?;
        let json = serde_json::json!({
            "title": ctx.str("title")?,
            "columns": header[1..].to_vec(),
            // Which column holds the reference values (docs/JSON.md: the HTML report shows each
            // other column's ratio to it); null without reference values.
            "reference_column": (!reference.is_empty()).then(|| ref_label.to_string()),
            "rows": (0..rows.len()).map(|i| serde_json::json!({"name": label(i), "key": rows[i], "values": table[i]})).collect::<Vec<_>>(),
        });
        ctx.write_json("json", &json)
    }
}

/// A number at a dot path of a JSON document.
fn lookup(doc: &Value, path: &str) -> Option<f64> {
    path.split('.')
        .try_fold(doc, |v, p| v.get(p))
        .and_then(Value::as_f64)
}
