//! Diagnostics for manifest errors: a message located at file, line and column, with the offending
//! source line, a caret under the span and an optional suggestion, in the style of rustc.

use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};

/// A located, user-actionable error in a manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// What is wrong.
    pub message: String,
    /// Manifest file.
    pub file: PathBuf,
    /// 1-based line (0 when unknown).
    pub line: usize,
    /// 1-based column (0 when unknown).
    pub column: usize,
    /// The source line, for display.
    pub source_line: String,
    /// Length of the underlined span on that line.
    pub span_len: usize,
    /// A hint: "did you mean …", the expected type, the known names.
    pub help: Option<String>,
}

impl Diagnostic {
    /// A diagnostic at byte range `span` of `source` (the text of `file`).
    pub fn at(
        file: &Path,
        source: &str,
        span: Option<Range<usize>>,
        message: impl Into<String>,
    ) -> Self {
        let (line, column, source_line, span_len) = match span {
            Some(r) => locate(source, r),
            None => (0, 0, String::new(), 0),
        };
        Diagnostic {
            message: message.into(),
            file: file.to_path_buf(),
            line,
            column,
            source_line,
            span_len,
            help: None,
        }
    }

    /// Adds a hint.
    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }
}

/// 1-based line and column of the start of `span`, the line's text and the span length on that line.
fn locate(source: &str, span: Range<usize>) -> (usize, usize, String, usize) {
    let start = span.start.min(source.len());
    let before = &source[..start];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let line_end = source[start..]
        .find('\n')
        .map_or(source.len(), |i| start + i);
    let text = source[line_start..line_end]
        .trim_end_matches('\r')
        .to_string();
    let column = source[line_start..start].chars().count() + 1;
    let len = source[start..span.end.min(line_end).max(start)]
        .chars()
        .count()
        .max(1);
    (line, column, text, len)
}

/// Characters of a source line shown around the error: a 10 MB line is shown as a window, not
/// echoed in full.
const SHOWN_CHARS: usize = 120;

/// The part of `line` to show, the caret's offset in it and the caret's length.
fn window(line: &str, column: usize, span_len: usize) -> (String, usize, usize) {
    let n = line.chars().count();
    let col0 = column.saturating_sub(1);
    if n <= SHOWN_CHARS {
        return (line.to_string(), col0, span_len);
    }
    let from = col0.saturating_sub(40).min(n - SHOWN_CHARS);
    let to = from + SHOWN_CHARS;
    let mut shown: String = if from > 0 {
        "…".into()
    } else {
        String::new()
    };
    shown.extend(line.chars().skip(from).take(SHOWN_CHARS));
    if to < n {
        shown.push('…');
    }
    let caret = col0.saturating_sub(from) + usize::from(from > 0);
    let len = span_len.clamp(1, (to.saturating_sub(col0)).max(1));
    (shown, caret, len)
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.message.chars().count();
        if n > 4 * SHOWN_CHARS {
            let head: String = self.message.chars().take(4 * SHOWN_CHARS).collect();
            writeln!(
                f,
                "error: {head}… ({} more characters)",
                n - 4 * SHOWN_CHARS
            )?;
        } else {
            writeln!(f, "error: {}", self.message)?;
        }
        if self.line > 0 {
            let num = self.line.to_string();
            let pad = " ".repeat(num.len());
            writeln!(
                f,
                "{pad}--> {}:{}:{}",
                self.file.display(),
                self.line,
                self.column
            )?;
            writeln!(f, "{pad} |")?;
            let (shown, caret, len) = window(&self.source_line, self.column, self.span_len);
            writeln!(f, "{num} | {shown}")?;
            writeln!(f, "{pad} | {}{}", " ".repeat(caret), "^".repeat(len))?;
            if let Some(help) = &self.help {
                write!(f, "{pad} = help: {help}")?;
            }
        } else {
            write!(f, " --> {}", self.file.display())?;
            if let Some(help) = &self.help {
                write!(f, "\n  = help: {help}")?;
            }
        }
        Ok(())
    }
}

/// The one "did you mean" hint: "did you mean `x`?" for the closest candidate `x` to `word`, if it
/// is close enough to be a likely typo (see [`did_you_mean`]).
pub fn suggestion<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<String> {
    did_you_mean(word, candidates).map(|s| format!("did you mean `{s}`?"))
}

/// The closest candidate to `word` by edit distance, if it is close enough to be a likely typo.
pub fn did_you_mean<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    let mut best: Option<(usize, &str)> = None;
    for c in candidates {
        let d = edit_distance(&word.to_lowercase(), &c.to_lowercase());
        if best.is_none_or(|(bd, _)| d < bd) {
            best = Some((d, c));
        }
    }
    let limit = (word.chars().count() / 3).max(2);
    best.filter(|(d, _)| *d <= limit).map(|(_, c)| c)
}

/// Levenshtein distance with adjacent transpositions (optimal string alignment).
fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut v = (d[i - 1][j] + 1)
                .min(d[i][j - 1] + 1)
                .min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                v = v.min(d[i - 2][j - 2] + 1);
            }
            d[i][j] = v;
        }
    }
    d[a.len()][b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggestions_catch_typos_but_not_unrelated_words() {
        let names = ["count", "grid", "cell_size"];
        assert_eq!(did_you_mean("cuont", names), Some("count"));
        assert_eq!(did_you_mean("cell_sise", names), Some("cell_size"));
        assert_eq!(did_you_mean("temperature", names), None);
    }

    #[test]
    fn locates_line_and_column() {
        let src = "a = 1\nbb = 2\n";
        let d = Diagnostic::at(Path::new("m.toml"), src, Some(6..8), "bad");
        assert_eq!((d.line, d.column, d.span_len), (2, 1, 2));
        assert_eq!(d.source_line, "bb = 2");
    }
}
