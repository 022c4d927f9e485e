//! Per-file facts for code fingerprints: the module declarations, `use` declarations, `a::b` paths,
//! type and trait names, `impl` headers, macros and `include*!` files of one Rust source file.
//! Items under `#[cfg(test)]` are skipped: they are not in the binary that produces artifacts.
//!
//! This file is shared with `build.rs` (through `#[path]`), so it uses nothing but `std`.

use super::lexer::{Tok, lex};

/// A `mod name;` declaration (a module in another file).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModDecl {
    /// Inline modules of this file the declaration sits in (outermost first).
    pub scope: Vec<String>,
    /// Module name.
    pub name: String,
    /// The `#[path = "…"]` attribute, if any.
    pub path: Option<String>,
}

/// What a `use` declaration binds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Binding {
    /// A name (the last segment, or the `as` alias).
    Name(String),
    /// Every public name of the target (`*`).
    Glob,
}

/// One flattened `use` path (`use a::{b, c as d}` gives two).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UseDecl {
    /// Inline modules of this file the declaration sits in.
    pub scope: Vec<String>,
    /// Path segments (`self` in a group is folded into its prefix).
    pub path: Vec<String>,
    /// What it binds.
    pub binding: Binding,
}

/// An `a::b::c` path in code or attributes (at least two segments).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathRef {
    /// Inline modules of this file the path sits in.
    pub scope: Vec<String>,
    /// Segments.
    pub segs: Vec<String>,
}

/// The header of an `impl` block: identifiers of the trait part and of the self type.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImplHeader {
    /// Identifiers of `Trait<…>` (empty for an inherent impl).
    pub trait_idents: Vec<String>,
    /// Identifiers of the self type.
    pub self_idents: Vec<String>,
}

/// An `include!` / `include_str!` / `include_bytes!` argument.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Include {
    /// A literal path, relative to the including file's folder.
    Literal(String),
    /// A file in the build script's `OUT_DIR` (generated from inputs fingerprinted elsewhere).
    OutDir,
    /// Anything else: the scanner cannot tell which file it is.
    Unknown,
}

/// Everything the closure needs from one file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FileFacts {
    /// The file starts with `#![cfg(test)]`.
    pub test_only: bool,
    /// `mod name;` declarations (not under `#[cfg(test)]`).
    pub mods: Vec<ModDecl>,
    /// Inline `mod name { … }` modules, as scope paths.
    pub inline_mods: Vec<Vec<String>>,
    /// Flattened `use` declarations.
    pub uses: Vec<UseDecl>,
    /// Other paths.
    pub paths: Vec<PathRef>,
    /// Names of structs, enums, unions, traits and type aliases defined here.
    pub types: Vec<String>,
    /// `impl` headers.
    pub impls: Vec<ImplHeader>,
    /// Names of `macro_rules!` macros defined here.
    pub macros_defined: Vec<String>,
    /// Names of macros invoked here.
    pub macros_used: Vec<String>,
    /// `include*!` arguments.
    pub includes: Vec<Include>,
}

fn ident(t: Option<&Tok>) -> Option<&str> {
    match t {
        Some(Tok::Ident(s)) => Some(s),
        _ => None,
    }
}

fn is_punct(t: Option<&Tok>, c: char) -> bool {
    t == Some(&Tok::Punct(c))
}

/// Index after the group opened at `i` (by `(`, `[` or `{`), counting all three bracket kinds.
fn skip_group(t: &[Tok], mut i: usize) -> usize {
    let mut depth = 0i32;
    while i < t.len() {
        match t[i] {
            Tok::Punct('(' | '[' | '{') => depth += 1,
            Tok::Punct(')' | ']' | '}') => {
                depth -= 1;
                if depth <= 0 {
                    return i + 1;
                }
            }
            _ => {}
        }
        i += 1;
    }
    i
}

/// Index after the item starting at `i`: its first top-level `;` or its first top-level brace group.
fn skip_item(t: &[Tok], mut i: usize) -> usize {
    while i < t.len() {
        match t[i] {
            Tok::Punct(';') => return i + 1,
            Tok::Punct('{') => return skip_group(t, i),
            Tok::Punct('(' | '[') => i = skip_group(t, i),
            _ => i += 1,
        }
    }
    i
}

/// The names of the open inline modules.
fn names(scope: &[(String, i32)]) -> Vec<String> {
    scope.iter().map(|(n, _)| n.clone()).collect()
}

/// Scans one file's source.
pub fn scan(src: &str) -> FileFacts {
    let t = lex(src);
    let mut f = FileFacts::default();
    let mut scope: Vec<(String, i32)> = Vec::new();
    let mut depth = 0i32;
    let mut path_attr: Option<String> = None;
    let mut i = 0;
    while i < t.len() {
        match &t[i] {
            Tok::Punct('#') if is_punct(t.get(i + 1), '[') || is_punct(t.get(i + 1), '!') => {
                let inner = is_punct(t.get(i + 1), '!');
                let open = if inner { i + 2 } else { i + 1 };
                let end = skip_group(&t, open);
                let body = &t[(open + 1).min(end)..end.saturating_sub(1).max(open + 1)];
                scan_attribute(body, &names(&scope), &mut f);
                let cfg_test = matches!(body, [Tok::Ident(a), Tok::Punct('('), Tok::Ident(b), Tok::Punct(')')] if a == "cfg" && b == "test");
                if let [Tok::Ident(a), Tok::Punct('='), Tok::Str(p)] = body
                    && a == "path"
                {
                    path_attr = Some(p.clone());
                }
                i = end;
                if cfg_test && inner && depth == 0 && scope.is_empty() {
                    f.test_only = true;
                    return f;
                } else if cfg_test && !inner {
                    // Skip further attributes, then the item itself.
                    while is_punct(t.get(i), '#') && is_punct(t.get(i + 1), '[') {
                        i = skip_group(&t, i + 1);
                    }
                    i = skip_item(&t, i);
                    path_attr = None;
                }
                continue;
            }
            Tok::Punct('{') => depth += 1,
            Tok::Punct('}') => {
                if scope.last().is_some_and(|(_, d)| *d == depth) {
                    scope.pop();
                }
                depth -= 1;
            }
            Tok::Punct(';') => path_attr = None,
            Tok::Ident(kw) if kw == "mod" => {
                if let Some(name) = ident(t.get(i + 1)) {
                    if is_punct(t.get(i + 2), ';') {
                        f.mods.push(ModDecl {
                            scope: names(&scope),
                            name: name.to_string(),
                            path: path_attr.take(),
                        });
                        i += 3;
                        continue;
                    } else if is_punct(t.get(i + 2), '{') {
                        scope.push((name.to_string(), depth + 1));
                        f.inline_mods.push(names(&scope));
                        path_attr = None;
                        depth += 1;
                        i += 3;
                        continue;
                    }
                }
            }
            Tok::Ident(kw) if kw == "use" && !is_punct(t.get(i + 1), '<') => {
                let end = t[i..]
                    .iter()
                    .position(|x| *x == Tok::Punct(';'))
                    .map_or(t.len(), |p| i + p);
                let mut out = Vec::new();
                let mut j = i + 1;
                if t.get(j) == Some(&Tok::PathSep) {
                    j += 1;
                }
                parse_use_tree(&t[..end], &mut j, Vec::new(), &mut out);
                for (path, binding) in out {
                    f.uses.push(UseDecl {
                        scope: names(&scope),
                        path,
                        binding,
                    });
                }
                i = end;
                continue;
            }
            Tok::Ident(kw) if kw == "impl" && impl_is_item(&t, i) => {
                f.impls.push(impl_header(&t, i + 1));
            }
            Tok::Ident(kw)
                if matches!(kw.as_str(), "struct" | "enum" | "union" | "trait" | "type") =>
            {
                if let Some(name) = ident(t.get(i + 1)) {
                    f.types.push(name.to_string());
                }
            }
            Tok::Ident(name) if is_punct(t.get(i + 1), '!') && !is_punct(t.get(i + 2), '=') => {
                if name == "macro_rules" {
                    if let Some(m) = ident(t.get(i + 2)) {
                        f.macros_defined.push(m.to_string());
                    }
                } else if matches!(name.as_str(), "include" | "include_str" | "include_bytes") {
                    let end = skip_group(&t, i + 2);
                    f.includes
                        .push(include_arg(&t[(i + 3).min(end)..end.saturating_sub(1)]));
                } else {
                    f.macros_used.push(name.clone());
                }
            }
            Tok::Ident(_) if t.get(i + 1) == Some(&Tok::PathSep) && !continues_path(&t, i) => {
                let (segs, end) = read_path(&t, i);
                if is_punct(t.get(end), '!') && !is_punct(t.get(end + 1), '=') {
                    f.macros_used.extend(segs.last().cloned());
                }
                if segs.len() >= 2 {
                    f.paths.push(PathRef {
                        scope: names(&scope),
                        segs,
                    });
                }
                i = end;
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    f
}

/// Whether the identifier at `i` continues a path (`a::b`, `Vec::<u8>::new`) rather than starting one.
fn continues_path(t: &[Tok], i: usize) -> bool {
    i >= 2 && t[i - 1] == Tok::PathSep && matches!(t[i - 2], Tok::Ident(_) | Tok::Punct('>'))
}

/// Reads `a::b::c` from `i`; returns the segments and the index after them.
fn read_path(t: &[Tok], mut i: usize) -> (Vec<String>, usize) {
    let mut segs = Vec::new();
    while let Some(s) = ident(t.get(i)) {
        segs.push(s.to_string());
        i += 1;
        if t.get(i) == Some(&Tok::PathSep) && ident(t.get(i + 1)).is_some() {
            i += 1;
        } else {
            break;
        }
    }
    (segs, i)
}

/// Paths hidden in attributes: `a::b` tokens, and strings such as serde's `with = "a::b"`.
fn scan_attribute(body: &[Tok], scope: &[String], f: &mut FileFacts) {
    for (k, tok) in body.iter().enumerate() {
        match tok {
            Tok::Ident(_) if body.get(k + 1) == Some(&Tok::PathSep) && !continues_path(body, k) => {
                let (segs, _) = read_path(body, k);
                f.paths.push(PathRef {
                    scope: scope.to_vec(),
                    segs,
                });
            }
            Tok::Str(s) if s.contains("::") => f.paths.push(PathRef {
                scope: scope.to_vec(),
                segs: s.split("::").map(|x| x.trim().to_string()).collect(),
            }),
            _ => {}
        }
    }
}

/// Flattens the use tree at `*j` (stopping at `,` or `}` of an enclosing group) into `out`.
fn parse_use_tree(
    t: &[Tok],
    j: &mut usize,
    mut prefix: Vec<String>,
    out: &mut Vec<(Vec<String>, Binding)>,
) {
    while *j < t.len() {
        match &t[*j] {
            Tok::Punct('{') => {
                *j += 1;
                while *j < t.len() && !is_punct(t.get(*j), '}') {
                    parse_use_tree(t, j, prefix.clone(), out);
                    if is_punct(t.get(*j), ',') {
                        *j += 1;
                    }
                }
                *j += 1;
                return;
            }
            Tok::Punct('*') => {
                *j += 1;
                out.push((prefix, Binding::Glob));
                return;
            }
            Tok::Ident(s) => {
                *j += 1;
                let self_in_group = s == "self" && !prefix.is_empty();
                if !self_in_group {
                    prefix.push(s.clone());
                }
                if t.get(*j) == Some(&Tok::PathSep) {
                    *j += 1;
                    continue;
                }
                let mut name = prefix.last().cloned().unwrap_or_default();
                if ident(t.get(*j)) == Some("as") {
                    name = ident(t.get(*j + 1)).unwrap_or("_").to_string();
                    *j += 2;
                }
                if name != "_" {
                    out.push((prefix, Binding::Name(name)));
                } else {
                    // `use Trait as _;` still brings the trait's methods into scope.
                    out.push((prefix, Binding::Name(String::new())));
                }
                return;
            }
            _ => {
                *j += 1;
                return;
            }
        }
    }
}

/// Whether the `impl` at `i` starts an impl block (not `impl Trait` in a type).
fn impl_is_item(t: &[Tok], i: usize) -> bool {
    i == 0
        || matches!(t[i - 1], Tok::Punct(';' | '}' | '{' | ']'))
        || matches!(ident(t.get(i - 1)), Some("unsafe" | "default"))
}

/// Reads the header of the impl whose generics (if any) start at `i`.
fn impl_header(t: &[Tok], mut i: usize) -> ImplHeader {
    if is_punct(t.get(i), '<') {
        i = skip_angles(t, i);
    }
    let mut h = ImplHeader::default();
    let mut idents = Vec::new();
    let mut angle = 0i32;
    while i < t.len() {
        match &t[i] {
            Tok::Punct('{' | ';') => break,
            Tok::Ident(s) if s == "where" && angle == 0 => break,
            Tok::Ident(s) if s == "for" && angle == 0 && !is_punct(t.get(i + 1), '<') => {
                h.trait_idents = std::mem::take(&mut idents);
            }
            Tok::Ident(s) => idents.push(s.clone()),
            Tok::Punct('<') => angle += 1,
            Tok::Punct('>') if !(i > 0 && is_punct(t.get(i - 1), '-')) => angle -= 1,
            _ => {}
        }
        i += 1;
    }
    h.self_idents = idents;
    h
}

/// Index after the `<…>` starting at `i` (`->` inside does not close it).
fn skip_angles(t: &[Tok], mut i: usize) -> usize {
    let mut depth = 0i32;
    while i < t.len() {
        match t[i] {
            Tok::Punct('<') => depth += 1,
            Tok::Punct('>') if !(i > 0 && is_punct(t.get(i - 1), '-')) => {
                depth -= 1;
                if depth == 0 {
                    return i + 1;
                }
            }
            Tok::Punct('{' | ';') => return i,
            _ => {}
        }
        i += 1;
    }
    i
}

/// Classifies the tokens inside `include*!( … )`.
fn include_arg(args: &[Tok]) -> Include {
    match args {
        [Tok::Str(p)] | [Tok::Str(p), Tok::Punct(',')] => Include::Literal(p.clone()),
        _ if args.contains(&Tok::Str("OUT_DIR".into())) => Include::OutDir,
        _ => Include::Unknown,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uses_paths_impls_and_test_items_are_read() {
        let f = scan(
            r#"
            use super::dense::{self, OutputActivation as Act, he::*};
            use crate::learn::resnet::ResNetConfig;
            #[path = "x_impl.rs"] mod x;
            pub(crate) mod y { pub fn g() { crate::io::npy::write(); } }
            impl<B: Backend> From<Foo<B>> for crate::a::Bar<B> where B: Fn() -> u8 { fn f() -> impl Iterator<Item = u8> { todo!() } }
            impl ResNetConfig { }
            #[serde(with = "crate::key::arc")] struct S;
            #[cfg(test)]
            mod tests { use crate::hidden::Thing; }
            static F: &[u8] = include_bytes!("../../assets/f.ttf");
            "#,
        );
        let uses: Vec<_> = f
            .uses
            .iter()
            .map(|u| (u.path.join("::"), u.binding.clone()))
            .collect();
        assert_eq!(
            uses,
            vec![
                ("super::dense".into(), Binding::Name("dense".into())),
                (
                    "super::dense::OutputActivation".into(),
                    Binding::Name("Act".into())
                ),
                ("super::dense::he".into(), Binding::Glob),
                (
                    "crate::learn::resnet::ResNetConfig".into(),
                    Binding::Name("ResNetConfig".into())
                ),
            ]
        );
        assert_eq!(
            f.mods,
            vec![ModDecl {
                scope: vec![],
                name: "x".into(),
                path: Some("x_impl.rs".into())
            }]
        );
        assert_eq!(f.inline_mods, vec![vec!["y".to_string()]]);
        let paths: Vec<_> = f
            .paths
            .iter()
            .map(|p| (p.scope.join("/"), p.segs.join("::")))
            .collect();
        assert!(paths.contains(&("y".into(), "crate::io::npy::write".into())));
        assert!(paths.contains(&("".into(), "crate::key::arc".into())));
        assert!(!paths.iter().any(|(_, p)| p.contains("hidden")));
        assert_eq!(f.impls[0].trait_idents, vec!["From", "Foo", "B"]);
        assert_eq!(f.impls[0].self_idents, vec!["crate", "a", "Bar", "B"]);
        assert_eq!(f.impls[1].self_idents, vec!["ResNetConfig"]);
        assert_eq!(f.impls.len(), 2, "`-> impl Iterator` is not an impl block");
        assert_eq!(
            f.includes,
            vec![Include::Literal("../../assets/f.ttf".into())]
        );
        assert!(f.types.contains(&"S".to_string()));
        assert!(f.macros_used.contains(&"todo".to_string()));
    }
}
