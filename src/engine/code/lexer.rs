//! A small Rust lexer, just enough for the code-fingerprint scanner: identifiers, string literals,
//! `::` and single punctuation characters. Comments (doc comments included), numbers, char literals
//! and lifetimes carry nothing the scanner needs and become [`Tok::Other`] or vanish.
//!
//! This file is shared with `build.rs` (through `#[path]`), so it uses nothing but `std`.

/// A token of Rust source, as far as the scanner needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Tok {
    /// An identifier or keyword (a raw identifier without its `r#`).
    Ident(String),
    /// A string literal's text between its quotes (escapes left as written).
    Str(String),
    /// `::`.
    PathSep,
    /// Any other punctuation character.
    Punct(char),
    /// A number, char literal or lifetime.
    Other,
}

fn is_ident_start(c: char) -> bool {
    c == '_' || c.is_alphabetic()
}

fn is_ident_continue(c: char) -> bool {
    c == '_' || c.is_alphanumeric()
}

/// Splits Rust source into tokens.
pub fn lex(src: &str) -> Vec<Tok> {
    let c: Vec<char> = src.chars().collect();
    let at = |i: usize| c.get(i).copied().unwrap_or('\0');
    let mut toks = Vec::new();
    let mut i = 0;
    while i < c.len() {
        let ch = c[i];
        if ch.is_whitespace() {
            i += 1;
        } else if ch == '/' && at(i + 1) == '/' {
            while i < c.len() && c[i] != '\n' {
                i += 1;
            }
        } else if ch == '/' && at(i + 1) == '*' {
            i = skip_block_comment(&c, i);
        } else if is_ident_start(ch) {
            let start = i;
            while i < c.len() && is_ident_continue(c[i]) {
                i += 1;
            }
            let word: String = c[start..i].iter().collect();
            let prefix = matches!(word.as_str(), "r" | "br" | "cr");
            if prefix && (at(i) == '"' || (at(i) == '#' && (at(i + 1) == '"' || at(i + 1) == '#')))
            {
                let (text, end) = raw_string(&c, i);
                toks.push(Tok::Str(text));
                i = end;
            } else if word == "r" && at(i) == '#' && is_ident_start(at(i + 1)) {
                let s = i + 1;
                i = s;
                while i < c.len() && is_ident_continue(c[i]) {
                    i += 1;
                }
                toks.push(Tok::Ident(c[s..i].iter().collect()));
            } else if matches!(word.as_str(), "b" | "c") && at(i) == '"' {
                let (text, end) = cooked_string(&c, i);
                toks.push(Tok::Str(text));
                i = end;
            } else if word == "b" && at(i) == '\'' {
                i = skip_char_literal(&c, i);
                toks.push(Tok::Other);
            } else {
                toks.push(Tok::Ident(word));
            }
        } else if ch.is_ascii_digit() {
            i = skip_number(&c, i);
            toks.push(Tok::Other);
        } else if ch == '"' {
            let (text, end) = cooked_string(&c, i);
            toks.push(Tok::Str(text));
            i = end;
        } else if ch == '\'' {
            if at(i + 1) == '\\' || (at(i + 2) == '\'' && at(i + 1) != '\'') {
                i = skip_char_literal(&c, i);
            } else {
                // A lifetime or loop label.
                i += 1;
                while i < c.len() && is_ident_continue(c[i]) {
                    i += 1;
                }
            }
            toks.push(Tok::Other);
        } else if ch == ':' && at(i + 1) == ':' {
            toks.push(Tok::PathSep);
            i += 2;
        } else {
            toks.push(Tok::Punct(ch));
            i += 1;
        }
    }
    toks
}

/// Skips a (nested) block comment starting at `i`; returns the index after it.
fn skip_block_comment(c: &[char], mut i: usize) -> usize {
    let mut depth = 0usize;
    while i < c.len() {
        if c[i] == '/' && c.get(i + 1) == Some(&'*') {
            depth += 1;
            i += 2;
        } else if c[i] == '*' && c.get(i + 1) == Some(&'/') {
            depth -= 1;
            i += 2;
            if depth == 0 {
                return i;
            }
        } else {
            i += 1;
        }
    }
    i
}

/// A `"…"` string starting at the quote `i`: its text and the index after the closing quote.
fn cooked_string(c: &[char], mut i: usize) -> (String, usize) {
    i += 1;
    let start = i;
    while i < c.len() && c[i] != '"' {
        if c[i] == '\\' {
            i += 1;
        }
        i += 1;
    }
    let end = i.min(c.len());
    (c[start..end].iter().collect(), (i + 1).min(c.len()))
}

/// A raw string whose `#`s (or quote) start at `i`: its text and the index after it.
fn raw_string(c: &[char], mut i: usize) -> (String, usize) {
    let mut hashes = 0;
    while i < c.len() && c[i] == '#' {
        hashes += 1;
        i += 1;
    }
    i += 1; // the opening quote
    let start = i;
    while i < c.len() {
        if c[i] == '"' && (1..=hashes).all(|k| c.get(i + k) == Some(&'#')) {
            return (c[start..i].iter().collect(), i + 1 + hashes);
        }
        i += 1;
    }
    (c[start..].iter().collect(), c.len())
}

/// Skips a char literal whose opening quote is at `i`.
fn skip_char_literal(c: &[char], mut i: usize) -> usize {
    i += 1;
    while i < c.len() && c[i] != '\'' {
        if c[i] == '\\' {
            i += 1;
        }
        i += 1;
    }
    i + 1
}

/// Skips a numeric literal (with suffix, fraction and exponent) starting at `i`.
fn skip_number(c: &[char], mut i: usize) -> usize {
    let hex = c.get(i) == Some(&'0') && matches!(c.get(i + 1), Some('x' | 'X'));
    while i < c.len() {
        let ch = c[i];
        let next_digit = c.get(i + 1).is_some_and(char::is_ascii_digit);
        let exponent_sign =
            (ch == '+' || ch == '-') && !hex && matches!(c[i - 1], 'e' | 'E') && next_digit;
        if is_ident_continue(ch) || (ch == '.' && next_digit) || exponent_sign {
            i += 1;
        } else {
            break;
        }
    }
    i
}

#[cfg(test)]
mod tests {
    use super::*;

    fn idents(src: &str) -> Vec<String> {
        lex(src)
            .into_iter()
            .filter_map(|t| match t {
                Tok::Ident(s) => Some(s),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn comments_strings_chars_and_lifetimes_hide_no_code() {
        let src = r##"
            /* nested /* use crate::a; */ still comment */ // use crate::b;
            let s = "use crate::c; \" x"; let r = r#"crate::d "quoted""#;
            let ch = '"'; let q = '\''; fn f<'a>(x: &'a u8) {} let n = 1e-4f64 + 0x1F;
            use crate::real::Thing;
        "##;
        let ids = idents(src);
        assert!(
            !ids.iter()
                .any(|s| ["a", "b", "c", "d"].contains(&s.as_str()))
        );
        assert!(ids.ends_with(&["use", "crate", "real", "Thing"].map(String::from)));
        assert!(lex(src).contains(&Tok::Str("crate::d \"quoted\"".into())));
    }
}
