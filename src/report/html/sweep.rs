//! The sweep page: the summary table, sortable by any column, each variant linked to its page,
//! and which stages are shared between variants (one job serving several).

use std::fmt::Write as _;

use super::SweepPage;
use super::escape::{escape, href};
use super::render::{head, tail};

/// The sweep page as HTML.
pub fn render_sweep(page: &SweepPage) -> String {
    let mut h = head(&page.title, None);
    let _ = writeln!(
        h,
        "<header>\n<h1>{}</h1>\n<p class=\"sub\">Sweep of {} variants. Click a column header to sort.",
        escape(&page.title),
        page.rows.len()
    );
    for l in &page.extra_links {
        let _ = write!(h, " · <a href=\"{}\">{}</a>", href(l), escape(l));
    }
    h.push_str("</p>\n</header>\n<main>\n");
    if !page.figures.is_empty() {
        h.push_str("<div class=\"figs\">\n");
        for f in &page.figures {
            let _ = writeln!(
                h,
                "<figure><a href=\"{0}\"><img src=\"{0}\" alt=\"{1}\"></a><figcaption>{1}</figcaption></figure>",
                href(f),
                escape(f)
            );
        }
        h.push_str("</div>\n");
    }
    h.push_str("<div class=\"scroll\"><table class=\"sortable\" id=\"summary\">\n<thead><tr>");
    for c in &page.header {
        let _ = write!(h, "<th>{}</th>", escape(c));
    }
    h.push_str("</tr></thead>\n<tbody>\n");
    for (row, link) in page.rows.iter().zip(&page.links) {
        h.push_str("<tr>");
        for (j, c) in row.iter().enumerate() {
            let num = if c.parse::<f64>().is_ok() {
                " class=\"num\""
            } else {
                ""
            };
            match link {
                Some(l) if j == 0 => {
                    let _ = write!(h, "<td><a href=\"{}\">{}</a></td>", href(l), escape(c));
                }
                _ => {
                    let _ = write!(h, "<td{num}>{}</td>", escape(c));
                }
            }
        }
        h.push_str("</tr>\n");
    }
    h.push_str("</tbody></table></div>\n");
    for t in &page.tables {
        let _ = writeln!(h, "<h2>{}</h2>", escape(&t.caption));
        h.push_str("<div class=\"scroll\"><table class=\"sortable\">\n<thead><tr>");
        for c in &t.header {
            let _ = write!(h, "<th>{}</th>", escape(c));
        }
        h.push_str("</tr></thead>\n<tbody>\n");
        for row in &t.rows {
            h.push_str("<tr>");
            for c in row {
                let num = if c.parse::<f64>().is_ok() {
                    " class=\"num\""
                } else {
                    ""
                };
                let _ = write!(h, "<td{num}>{}</td>", escape(c));
            }
            h.push_str("</tr>\n");
        }
        let _ = writeln!(
            h,
            "</tbody></table></div>\n<p class=\"more\"><a href=\"{}\">{}</a></p>",
            href(&t.source),
            escape(&t.source)
        );
    }
    if !page.stages.is_empty() {
        h.push_str(
            "<h2>Stages</h2>\n<p class=\"sub\">Identical stages of several variants run once: \
             a stage with fewer jobs than variants is shared.</p>\n<div class=\"scroll\"><table>\n\
             <thead><tr><th>stage</th><th>kind</th><th>jobs</th><th>shared</th></tr></thead>\n<tbody>\n",
        );
        for s in &page.stages {
            let shared = if s.jobs < s.variants {
                format!(
                    "<span class=\"shared\">shared: {} job{} for {} variants</span>",
                    s.jobs,
                    if s.jobs == 1 { "" } else { "s" },
                    s.variants
                )
            } else {
                "one job per variant".to_string()
            };
            let _ = writeln!(
                h,
                "<tr><td>{}</td><td><code>{}</code></td><td class=\"num\">{}</td><td>{shared}</td></tr>",
                escape(&s.name),
                escape(&s.kind),
                s.jobs
            );
        }
        h.push_str("</tbody></table></div>\n");
    }
    h.push_str("</main>\n");
    h.push_str(&tail(true));
    h
}
