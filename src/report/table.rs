//! Result tables written as aligned Markdown (for people) and CSV (for machines).
//!
//! Number policy: Markdown shows [`Table::significant_digits`] significant digits (default
//! [`DEFAULT_SIGNIFICANT_DIGITS`]), trailing zeros kept, in fixed notation when that needs no
//! rounding left of the decimal point and `|x| ≥ 1e-3` (`0.001000`, `-0.4800`, `1235`), else
//! scientific (`1.235e4`, `9.000e-4`); CSV holds the shortest text that
//! parses back to the same `f64`. NaN and missing cells are `—` in Markdown and empty in CSV.
//! CSV quoting follows RFC 4180 (fields with `,` `"` CR or LF are quoted, `"` doubled); lines
//! end with `\n`.

use std::path::{Path, PathBuf};

use crate::io::csv::quote_field;

/// Significant digits shown in Markdown unless a table says otherwise.
pub const DEFAULT_SIGNIFICANT_DIGITS: usize = 4;

/// Errors building or writing a table.
#[derive(Debug, thiserror::Error)]
pub enum TableError {
    /// A row has another number of cells than the table has columns.
    #[error("row {row} has {found} cells, expected {expected} (one per column)")]
    RowLength {
        /// Index of the row (0-based, header excluded).
        row: usize,
        /// Number of columns.
        expected: usize,
        /// Cells in the row.
        found: usize,
    },
    /// Writing the file failed.
    #[error("cannot write `{path}`: {source}")]
    Write {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
}

/// One table cell.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    /// Free text.
    Text(String),
    /// A measured or computed number (NaN is shown as missing).
    Number(f64),
    /// An exact integer (counts, seeds, indices).
    Integer(i64),
    /// No value.
    Missing,
}

impl From<&str> for Cell {
    fn from(text: &str) -> Self {
        Cell::Text(text.to_string())
    }
}

impl From<String> for Cell {
    fn from(text: String) -> Self {
        Cell::Text(text)
    }
}

impl From<f64> for Cell {
    fn from(value: f64) -> Self {
        Cell::Number(value)
    }
}

impl From<i64> for Cell {
    fn from(value: i64) -> Self {
        Cell::Integer(value)
    }
}

impl<T: Into<Cell>> From<Option<T>> for Cell {
    fn from(value: Option<T>) -> Self {
        value.map_or(Cell::Missing, Into::into)
    }
}

impl Cell {
    fn is_missing(&self) -> bool {
        matches!(self, Cell::Missing) || matches!(self, Cell::Number(v) if v.is_nan())
    }

    fn is_numeric(&self) -> bool {
        matches!(self, Cell::Number(_) | Cell::Integer(_))
    }
}

/// A rectangular table: named columns and rows of cells.
#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    columns: Vec<String>,
    rows: Vec<Vec<Cell>>,
    /// Significant digits for numbers in Markdown (at least 1).
    pub significant_digits: usize,
}

impl Table {
    /// An empty table with these column names.
    pub fn new<S: Into<String>>(columns: impl IntoIterator<Item = S>) -> Self {
        Self {
            columns: columns.into_iter().map(Into::into).collect(),
            rows: Vec::new(),
            significant_digits: DEFAULT_SIGNIFICANT_DIGITS,
        }
    }

    /// Appends a row; it must have one cell per column.
    pub fn push_row(&mut self, row: Vec<Cell>) -> Result<(), TableError> {
        if row.len() != self.columns.len() {
            return Err(TableError::RowLength {
                row: self.rows.len(),
                expected: self.columns.len(),
                found: row.len(),
            });
        }
        self.rows.push(row);
        Ok(())
    }

    /// Column names.
    pub fn columns(&self) -> &[String] {
        &self.columns
    }

    /// Rows, each with one cell per column.
    pub fn rows(&self) -> &[Vec<Cell>] {
        &self.rows
    }

    /// Aligned GitHub-flavoured Markdown; numeric columns are right-aligned.
    pub fn to_markdown(&self) -> String {
        let texts: Vec<Vec<String>> = self
            .rows
            .iter()
            .map(|row| row.iter().map(|c| self.markdown_cell(c)).collect())
            .collect();
        let headers: Vec<String> = self.columns.iter().map(|c| escape_markdown(c)).collect();
        let numeric: Vec<bool> = (0..self.columns.len())
            .map(|j| {
                let mut present = self.rows.iter().map(|r| &r[j]).filter(|c| !c.is_missing());
                let first = present.next();
                first.is_some_and(Cell::is_numeric) && present.all(Cell::is_numeric)
            })
            .collect();
        let widths: Vec<usize> = (0..headers.len())
            .map(|j| {
                texts
                    .iter()
                    .map(|r| r[j].chars().count())
                    .chain([headers[j].chars().count(), 3])
                    .max()
                    .unwrap_or(3)
            })
            .collect();
        let line = |cells: &[String]| {
            let padded: Vec<String> = cells
                .iter()
                .enumerate()
                .map(|(j, text)| {
                    let pad = " ".repeat(widths[j] - text.chars().count());
                    if numeric[j] {
                        format!("{pad}{text}")
                    } else {
                        format!("{text}{pad}")
                    }
                })
                .collect();
            format!("| {} |\n", padded.join(" | "))
        };
        let rule: Vec<String> = widths
            .iter()
            .zip(&numeric)
            .map(|(&w, &num)| {
                if num {
                    format!("{}:", "-".repeat(w - 1))
                } else {
                    "-".repeat(w)
                }
            })
            .collect();
        let mut out = line(&headers);
        out.push_str(&format!("| {} |\n", rule.join(" | ")));
        for row in &texts {
            out.push_str(&line(row));
        }
        out
    }

    /// CSV with a header line (RFC 4180 quoting, `\n` line ends, full-precision numbers).
    pub fn to_csv(&self) -> String {
        let mut out = String::new();
        let header: Vec<String> = self.columns.iter().map(|c| quote_field(c)).collect();
        out.push_str(&header.join(","));
        out.push('\n');
        for row in &self.rows {
            let fields: Vec<String> = row.iter().map(csv_cell).collect();
            out.push_str(&fields.join(","));
            out.push('\n');
        }
        out
    }

    /// Writes [`Table::to_markdown`] to `path`.
    pub fn write_markdown(&self, path: &Path) -> Result<(), TableError> {
        write_text(path, &self.to_markdown())
    }

    /// Writes [`Table::to_csv`] to `path`.
    pub fn write_csv(&self, path: &Path) -> Result<(), TableError> {
        write_text(path, &self.to_csv())
    }

    fn markdown_cell(&self, cell: &Cell) -> String {
        match cell {
            _ if cell.is_missing() => "—".to_string(),
            Cell::Text(t) => escape_markdown(t),
            Cell::Number(v) => format_significant(*v, self.significant_digits),
            Cell::Integer(i) => i.to_string(),
            Cell::Missing => "—".to_string(),
        }
    }
}

fn write_text(path: &Path, text: &str) -> Result<(), TableError> {
    std::fs::write(path, text).map_err(|source| TableError::Write {
        path: path.to_path_buf(),
        source,
    })
}

/// Formats `value` with `digits` significant digits (see the module doc for the policy).
pub fn format_significant(value: f64, digits: usize) -> String {
    let digits = digits.max(1);
    if value.is_nan() {
        return "—".to_string();
    }
    if value.is_infinite() {
        return if value > 0.0 { "inf" } else { "-inf" }.to_string();
    }
    if value == 0.0 {
        return format!("{:.*}", digits - 1, 0.0);
    }
    // Round first in scientific notation so that the exponent accounts for carries
    // (9.9996 → 1.000e1).
    let scientific = format!("{:.*e}", digits - 1, value);
    let (mantissa, exponent) = scientific
        .split_once('e')
        .expect("Rust's {:e} output always contains 'e'");
    let exponent: i32 = exponent
        .parse()
        .expect("Rust's {:e} exponent is an integer");
    if (-3..digits as i32).contains(&exponent) {
        let decimals = (digits as i32 - 1 - exponent).max(0) as usize;
        format!("{value:.decimals$}")
    } else {
        format!("{mantissa}e{exponent}")
    }
}

/// Shortest text that parses back to `value` (fixed notation for moderate magnitudes).
fn format_round_trip(value: f64) -> String {
    let magnitude = value.abs();
    if value == 0.0 || (1e-4..1e15).contains(&magnitude) {
        format!("{value}")
    } else {
        format!("{value:e}")
    }
}

fn csv_cell(cell: &Cell) -> String {
    match cell {
        Cell::Missing => String::new(),
        Cell::Number(v) if v.is_nan() => String::new(),
        Cell::Number(v) if v.is_infinite() => if *v > 0.0 { "inf" } else { "-inf" }.to_string(),
        Cell::Number(v) => format_round_trip(*v),
        Cell::Integer(i) => i.to_string(),
        Cell::Text(t) => quote_field(t),
    }
}

/// Keeps a text on one Markdown table line: escapes `|`, turns line breaks into spaces.
fn escape_markdown(text: &str) -> String {
    text.replace('|', "\\|").replace(['\r', '\n'], " ")
}

#[cfg(test)]
#[path = "table_tests.rs"]
mod tests;
