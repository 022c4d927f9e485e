//! Checking a report page's links from the outside: every `src` and `href` of a page (its HTML or
//! the DOM a browser dumped) must be a relative path to a file or folder that exists on disk.

use std::path::{Path, PathBuf};

/// The values of every `src="…"` and `href="…"` attribute in `html`, HTML entities decoded.
pub fn link_targets(html: &str) -> Vec<String> {
    let mut out = Vec::new();
    for attr in [" src=\"", " href=\""] {
        for part in html.split(attr).skip(1) {
            let end = part.find('"').unwrap_or(part.len());
            out.push(part[..end].replace("&amp;", "&"));
        }
    }
    out
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && i + 2 < b.len()
            && let Some(v) = std::str::from_utf8(&b[i + 1..i + 3])
                .ok()
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(v);
            i += 3;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Every link target of the page at `page` that is not a relative path to something that exists
/// (fragment-only links `#…` name a place on the page itself and are skipped). Returns the
/// number of links checked and the broken ones.
pub fn broken_links(page: &Path, html: &str) -> (usize, Vec<String>) {
    let dir = page.parent().unwrap_or(Path::new("."));
    let mut checked = 0;
    let mut broken = Vec::new();
    for t in link_targets(html) {
        if t.starts_with('#') {
            continue;
        }
        checked += 1;
        let path = t.split('#').next().unwrap_or("");
        if path.is_empty() || path.contains("://") || path.starts_with('/') || path.contains(':') {
            broken.push(format!("{t} (not a relative path)"));
            continue;
        }
        let target: PathBuf = dir.join(percent_decode(path));
        if !target.exists() {
            broken.push(format!("{t} (no {})", target.display()));
        }
    }
    (checked, broken)
}
