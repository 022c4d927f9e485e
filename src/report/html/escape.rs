//! Escaping: every string a page shows or links to passes through here, so a hostile stage name,
//! parameter value or file name cannot inject markup.

/// Escapes text for HTML element content and quoted attribute values.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A relative `/`-separated path as a safe attribute value: each segment percent-encoded (all
/// but unreserved characters), so `?`, `#`, `:` or quotes in a file name stay part of the path
/// and the link can never leave the relative form (a leading `//` or a scheme is impossible).
pub fn href(rel: &str) -> String {
    let mut out = String::with_capacity(rel.len());
    for (i, seg) in rel.split('/').enumerate() {
        if i > 0 {
            out.push('/');
        }
        for b in seg.bytes() {
            if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
                out.push(b as char);
            } else {
                out.push_str(&format!("%{b:02X}"));
            }
        }
    }
    // An empty first segment would make the path absolute: keep it relative.
    if out.starts_with('/') {
        out.insert(0, '.');
    }
    out
}
