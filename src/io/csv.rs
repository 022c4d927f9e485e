//! CSV field quoting shared by the engine's sweep summaries and the report tables.

/// RFC 4180: quotes a field containing a comma, quote, CR or LF, doubling embedded quotes.
pub fn quote_field(field: &str) -> String {
    if field.contains([',', '"', '\r', '\n']) {
        format!("\"{}\"", field.replace('"', "\"\""))
    } else {
        field.to_string()
    }
}

/// One CSV line: the cells quoted with [`quote_field`], comma-separated, ending in a newline.
pub fn csv_row(cells: &[String]) -> String {
    cells
        .iter()
        .map(|c| quote_field(c))
        .collect::<Vec<_>>()
        .join(",")
        + "\n"
}

#[cfg(test)]
mod tests {
    use super::quote_field;

    #[test]
    fn quotes_only_fields_that_need_it() {
        assert_eq!(quote_field("plain"), "plain");
        assert_eq!(quote_field("a,b"), "\"a,b\"");
        assert_eq!(quote_field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(quote_field("two\r\nlines"), "\"two\r\nlines\"");
    }
}
