//! Tables a page shows, built from the files a stage published: CSV files as they are, a JSON
//! comparison table (columns, rows and a `reference_column`, docs/JSON.md) with the ratio of each
//! column to the reference beside it, and flat JSON objects of scalars (metrics) as key/value rows.

use serde_json::Value;

/// Most rows of a CSV shown on a page (the link leads to the whole file).
pub const MAX_ROWS: usize = 40;

/// A table ready to render (every cell is plain text, escaped when rendered).
#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    /// Caption (the file it came from, or its title).
    pub caption: String,
    /// Relative href of the file the table was read from.
    pub source: String,
    /// Column names.
    pub header: Vec<String>,
    /// Rows of cells.
    pub rows: Vec<Vec<String>>,
    /// Whether rows were left out (see the source file).
    pub truncated: bool,
    /// Indices of columns that are ratios computed for the page (highlighted).
    pub ratio_columns: Vec<usize>,
}

/// Parses CSV text (RFC 4180 quoting) into a table of at most [`MAX_ROWS`] rows; `more` says the
/// text itself was cut short. None for an empty file.
pub fn csv_table(text: &str, caption: &str, source: &str, more: bool) -> Option<Table> {
    let mut records = parse_csv(text, MAX_ROWS + 2);
    if records.is_empty() {
        return None;
    }
    let header = records.remove(0);
    // A record cut off at the end of a truncated text is dropped rather than shown half.
    if more && !records.is_empty() {
        records.pop();
    }
    let truncated = more || records.len() > MAX_ROWS;
    records.truncate(MAX_ROWS);
    Some(Table {
        caption: caption.to_string(),
        source: source.to_string(),
        header,
        rows: records,
        truncated,
        ratio_columns: Vec::new(),
    })
}

/// The first `limit` records of CSV text.
pub(super) fn parse_csv(text: &str, limit: usize) -> Vec<Vec<String>> {
    let mut records = Vec::new();
    let mut record = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if quoted {
            match c {
                '"' if chars.peek() == Some(&'"') => {
                    field.push('"');
                    chars.next();
                }
                '"' => quoted = false,
                c => field.push(c),
            }
            continue;
        }
        match c {
            '"' => quoted = true,
            ',' => record.push(std::mem::take(&mut field)),
            '\r' => {}
            '\n' => {
                record.push(std::mem::take(&mut field));
                records.push(std::mem::take(&mut record));
                if records.len() >= limit {
                    return records;
                }
            }
            c => field.push(c),
        }
    }
    if !field.is_empty() || !record.is_empty() {
        record.push(field);
        records.push(record);
    }
    records
}

/// A comparison table: a JSON document `{"title", "columns": [..], "rows": [{"name", "values":
/// [..]}], "reference_column": "<one of columns>"}` (what a stage writes to put a paper's values
/// beside its own), shown with one `<column> / <reference>` ratio column per other column.
/// None when the document does not have that shape.
pub fn comparison_table(doc: &Value, source: &str) -> Option<Table> {
    let columns: Vec<String> = doc
        .get("columns")?
        .as_array()?
        .iter()
        .map(|c| c.as_str().map(str::to_string))
        .collect::<Option<_>>()?;
    let reference = doc.get("reference_column")?.as_str()?;
    let r = columns.iter().position(|c| c == reference)?;
    let others: Vec<usize> = (0..columns.len()).filter(|&c| c != r).collect();
    let mut header = vec![String::new()];
    header.extend(columns.iter().cloned());
    header.extend(
        others
            .iter()
            .map(|&c| format!("{} / {}", columns[c], reference)),
    );
    let mut rows = Vec::new();
    for row in doc.get("rows")?.as_array()? {
        let values: Vec<Option<f64>> = row
            .get("values")?
            .as_array()?
            .iter()
            .map(Value::as_f64)
            .collect();
        if values.len() != columns.len() {
            return None;
        }
        let mut cells = vec![
            row.get("name")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string(),
        ];
        cells.extend(values.iter().map(|v| v.map_or_else(String::new, number)));
        cells.extend(others.iter().map(|&c| match (values[c], values[r]) {
            (Some(a), Some(b)) if b != 0.0 => number(a / b),
            _ => String::new(),
        }));
        rows.push(cells);
    }
    let first_ratio = 1 + columns.len();
    Some(Table {
        caption: doc
            .get("title")
            .and_then(Value::as_str)
            .unwrap_or(source)
            .to_string(),
        source: source.to_string(),
        header,
        rows,
        truncated: false,
        ratio_columns: (first_ratio..first_ratio + others.len()).collect(),
    })
}

/// A flat JSON object of scalars (a metrics file) as key/value rows; None for anything else
/// (nested documents, arrays, more than `MAX_ROWS` keys).
pub fn json_scalars_table(doc: &Value, caption: &str, source: &str) -> Option<Table> {
    let obj = doc.as_object()?;
    if obj.is_empty() || obj.len() > MAX_ROWS {
        return None;
    }
    let mut rows = Vec::new();
    for (k, v) in obj {
        let cell = match v {
            Value::Number(n) => n.as_f64().map_or_else(|| n.to_string(), number),
            Value::String(s) => s.clone(),
            Value::Bool(b) => b.to_string(),
            Value::Null => String::new(),
            _ => return None,
        };
        rows.push(vec![k.clone(), cell]);
    }
    Some(Table {
        caption: caption.to_string(),
        source: source.to_string(),
        header: vec!["key".into(), "value".into()],
        rows,
        truncated: false,
        ratio_columns: Vec::new(),
    })
}

/// A number with 4 significant digits (integers as they are), plain unless very large or small.
pub fn number(x: f64) -> String {
    if !x.is_finite() {
        return x.to_string();
    }
    if x == x.trunc() && x.abs() < 1e15 {
        return format!("{x}");
    }
    let mag = x.abs().log10().floor();
    if !(-4.0..6.0).contains(&mag) {
        return format!("{x:.3e}");
    }
    let decimals = (3.0 - mag).max(0.0) as usize;
    let s = format!("{x:.decimals$}");
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}
