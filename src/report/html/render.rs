//! One experiment's (or one variant's) page: an overview of the stages, then one section per
//! stage with its status and why, facts, error and log tail, figures, tables, parameters and files.

use std::fmt::Write as _;

use super::escape::{escape, href};
use super::style::{CSS, SORT_JS};
use super::tables::Table;
use super::{Artifact, Page, StageView, Status};

/// The opening of every page, up to and including `<body>`.
/// `fingerprint` (hex), when given, goes into the first line of the head, where
/// [`super::collect`] looks for it before rebuilding a page.
pub(super) fn head(title: &str, fingerprint: Option<&str>) -> String {
    let fp = fingerprint
        .map(|f| format!("<meta name=\"mexp-page\" content=\"{}\">\n", escape(f)))
        .unwrap_or_default();
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n{fp}\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <meta name=\"generator\" content=\"mexp\">\n<title>{}</title>\n<style>{CSS}</style>\n\
         </head>\n<body>\n",
        escape(title)
    )
}

/// The end of every page (with the sorting script when a table is sortable).
pub(super) fn tail(sortable: bool) -> String {
    if sortable {
        format!("<script>{SORT_JS}</script>\n</body>\n</html>\n")
    } else {
        "</body>\n</html>\n".to_string()
    }
}

/// The whole page as HTML.
pub fn render_page(page: &Page) -> String {
    let mut h = head(&page.title, page.fingerprint.as_deref());
    h.push_str("<header>\n");
    let _ = writeln!(h, "<h1>{}</h1>", escape(&page.title));
    if let Some(s) = &page.subtitle {
        let _ = writeln!(h, "<p class=\"sub\">Sweep point: {}</p>", escape(s));
    }
    let mut links = Vec::new();
    if let Some(up) = &page.up {
        links.push(format!("<a href=\"{}\">← sweep summary</a>", href(up)));
    }
    for l in &page.extra_links {
        links.push(format!("<a href=\"{}\">{}</a>", href(l), escape(l)));
    }
    if !links.is_empty() {
        let _ = writeln!(h, "<p class=\"sub\">{}</p>", links.join(" · "));
    }
    let _ = writeln!(h, "<p class=\"sub\">{}</p>", counts(&page.stages));
    h.push_str("</header>\n<nav>\n");
    overview(&mut h, &page.stages);
    h.push_str("</nav>\n<main>\n");
    for (i, s) in page.stages.iter().enumerate() {
        stage_section(&mut h, i, s);
    }
    h.push_str("</main>\n");
    h.push_str(&tail(false));
    h
}

fn counts(stages: &[StageView]) -> String {
    let n = |st: Status| stages.iter().filter(|s| s.status == st).count();
    let mut parts = vec![format!("{} stages", stages.len())];
    for st in [Status::Ran, Status::Cached, Status::Failed, Status::Skipped] {
        if n(st) > 0 {
            parts.push(format!("{} {}", n(st), st.word()));
        }
    }
    parts.join(" · ")
}

fn badge(st: Status) -> String {
    format!("<span class=\"badge b-{0}\">{0}</span>", st.word())
}

fn overview(h: &mut String, stages: &[StageView]) {
    h.push_str(
        "<div class=\"scroll\"><table class=\"overview\">\n<thead><tr><th>stage</th><th>kind</th>\
         <th>status</th><th>wall (s)</th><th>key</th></tr></thead>\n<tbody>\n",
    );
    for (i, s) in stages.iter().enumerate() {
        let _ = writeln!(
            h,
            "<tr><td><a href=\"#s{i}\">{}</a>{}</td><td>{}</td><td>{}</td><td class=\"num\">{}</td><td><code>{}</code></td></tr>",
            escape(&s.name),
            shared_mark(s),
            escape(&s.kind),
            badge(s.status),
            s.wall_seconds
                .map_or_else(|| "—".into(), |w| format!("{w:.2}")),
            escape(
                &s.key
                    .as_deref()
                    .map_or_else(|| "—".to_string(), |k| k.chars().take(12).collect())
            ),
        );
    }
    h.push_str("</tbody></table></div>\n");
}

fn shared_mark(s: &StageView) -> String {
    if s.shared_by > 1 {
        format!(
            "<span class=\"shared\" title=\"one job serves {0} variants\">shared ×{0}</span>",
            s.shared_by
        )
    } else {
        String::new()
    }
}

fn stage_section(h: &mut String, i: usize, s: &StageView) {
    let _ = writeln!(
        h,
        "<section class=\"stage st-{}\" id=\"s{i}\">\n<h2>{} {}{}</h2>",
        s.status.word(),
        escape(&s.name),
        badge(s.status),
        shared_mark(s)
    );
    h.push_str("<dl class=\"facts\">\n");
    let _ = writeln!(h, "<dt>kind</dt><dd><code>{}</code></dd>", escape(&s.kind));
    if !s.why.is_empty() {
        let items: String = s
            .why
            .iter()
            .map(|w| format!("<li>{}</li>", escape(w)))
            .collect();
        let _ = writeln!(h, "<dt>why</dt><dd><ul>{items}</ul></dd>");
    }
    if let Some(k) = &s.key {
        let _ = writeln!(h, "<dt>key</dt><dd><code>{}</code></dd>", escape(k));
    }
    if let Some(w) = s.wall_seconds {
        let _ = writeln!(h, "<dt>wall time</dt><dd>{w:.2} s</dd>");
    }
    if !s.inputs.is_empty() {
        let items: Vec<String> = s
            .inputs
            .iter()
            .map(|(p, from)| format!("<code>{}</code> ← <code>{}</code>", escape(p), escape(from)))
            .collect();
        let _ = writeln!(h, "<dt>inputs</dt><dd>{}</dd>", items.join("<br>"));
    }
    h.push_str("</dl>\n");
    if let Some(e) = &s.error {
        let _ = writeln!(h, "<pre class=\"error\">{}</pre>", escape(e));
    }
    if let Some(log) = &s.log_tail {
        let _ = writeln!(
            h,
            "<details open><summary>end of the stage log</summary><pre class=\"log\">{}</pre></details>",
            escape(log)
        );
    }
    figures(h, &s.artifacts);
    for t in &s.tables {
        table(h, t);
    }
    params(h, s);
    artifacts(h, &s.artifacts);
    h.push_str("</section>\n");
}

fn figures(h: &mut String, artifacts: &[Artifact]) {
    let figs: Vec<&Artifact> = artifacts.iter().filter(|a| a.is_figure()).collect();
    if figs.is_empty() {
        return;
    }
    h.push_str("<div class=\"figs\">\n");
    for a in figs {
        let _ = writeln!(
            h,
            "<figure><a href=\"{0}\"><img src=\"{0}\" alt=\"{1}\"></a><figcaption>{1}</figcaption></figure>",
            href(&a.path),
            escape(&a.path)
        );
    }
    h.push_str("</div>\n");
}

/// A table (numbers right-aligned, computed ratios highlighted) with a link to its file.
pub(super) fn table(h: &mut String, t: &Table) {
    h.push_str("<div class=\"scroll\"><table>\n");
    let _ = writeln!(h, "<caption>{}</caption>", escape(&t.caption));
    h.push_str("<thead><tr>");
    for c in &t.header {
        let _ = write!(h, "<th>{}</th>", escape(c));
    }
    h.push_str("</tr></thead>\n<tbody>\n");
    for row in &t.rows {
        h.push_str("<tr>");
        for (j, c) in row.iter().enumerate() {
            let mut class = Vec::new();
            if c.parse::<f64>().is_ok() {
                class.push("num");
            }
            if t.ratio_columns.contains(&j) {
                class.push("ratio");
            }
            if class.is_empty() {
                let _ = write!(h, "<td>{}</td>", escape(c));
            } else {
                let _ = write!(h, "<td class=\"{}\">{}</td>", class.join(" "), escape(c));
            }
        }
        h.push_str("</tr>\n");
    }
    h.push_str("</tbody></table></div>\n");
    let more = if t.truncated {
        format!("first {} rows; ", t.rows.len())
    } else {
        String::new()
    };
    let _ = writeln!(
        h,
        "<p class=\"more\">{more}<a href=\"{}\">{}</a></p>",
        href(&t.source),
        escape(&t.source)
    );
}

fn params(h: &mut String, s: &StageView) {
    if s.params.is_empty() {
        return;
    }
    let set = s.params.iter().filter(|p| p.source != "catalogue").count();
    let _ = writeln!(
        h,
        "<details><summary>parameters: {} ({set} set by manifest, profile, sweep or --set; \
         the rest catalogue defaults)</summary>",
        s.params.len()
    );
    h.push_str(
        "<div class=\"scroll\"><table class=\"params\">\n<thead><tr><th>parameter</th><th>value</th>\
         <th>origin</th><th>doc</th></tr></thead>\n<tbody>\n",
    );
    for p in &s.params {
        let _ = writeln!(
            h,
            "<tr class=\"origin-{0}\"><td><code>{1}</code></td><td><code>{2}</code></td><td>{0}</td><td>{3}</td></tr>",
            escape(&p.source),
            escape(&p.name),
            escape(&p.value),
            escape(&p.doc)
        );
    }
    h.push_str("</tbody></table></div>\n</details>\n");
}

fn artifacts(h: &mut String, artifacts: &[Artifact]) {
    if artifacts.is_empty() {
        return;
    }
    let _ = writeln!(
        h,
        "<details open><summary>artifacts ({})</summary><ul class=\"files\">",
        artifacts.len()
    );
    for a in artifacts {
        let size = if a.dir {
            "folder".to_string()
        } else {
            human(a.bytes)
        };
        let _ = writeln!(
            h,
            "<li><a href=\"{}\">{}</a> <span class=\"more\">{size}</span></li>",
            href(&a.path),
            escape(&a.path)
        );
    }
    h.push_str("</ul></details>\n");
}

/// Bytes for people (B, kB, MB, GB; powers of 1000).
fn human(b: u64) -> String {
    let units = ["B", "kB", "MB", "GB", "TB"];
    let mut x = b as f64;
    let mut u = 0;
    while x >= 1000.0 && u + 1 < units.len() {
        x /= 1000.0;
        u += 1;
    }
    if u == 0 {
        format!("{b} B")
    } else {
        format!("{x:.1} {}", units[u])
    }
}
