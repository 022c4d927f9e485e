//! `mexp export <manifest> --ro-crate DIR`: the cached run as a Workflow Run RO-Crate.

use std::path::Path;

use super::{CmdResult, Selection};
use crate::engine::maintenance::human_bytes;
use crate::engine::plan::statuses;
use crate::engine::rocrate::{CrateSource, export as export_crate};

/// `mexp export`.
pub fn export(sel: &Selection, ro_crate: &Path, license: &str) -> CmdResult {
    let (_, session, cache) = super::commands::open(sel)?;
    let st = statuses(&session.plan, &cache);
    let exp = &session.manifest.experiment;
    let source = CrateSource {
        license,
        manifest: &sel.manifest,
        name: &exp.name,
        description: if exp.description.is_empty() {
            &exp.name
        } else {
            &exp.description
        },
    };
    let s = export_crate(&session.plan, &st, &cache, &source, ro_crate)?;
    if sel.json {
        super::output::print_json(&serde_json::json!({
            "schema": super::output::SCHEMA, "command": "export", "ro_crate": ro_crate,
            "actions": s.actions, "files": s.files, "bytes": s.bytes,
        }));
    } else {
        println!(
            "wrote {}: {} stage runs, {} files ({})",
            ro_crate.join("ro-crate-metadata.json").display(),
            s.actions,
            s.files,
            human_bytes(s.bytes)
        );
    }
    Ok(0)
}
