//! The crate's module tree and the closure of the files a piece of code can reach (the inclusion rule
//! is documented in `src/engine/key.rs`).
//!
//! This file is shared with `build.rs` (through `#[path]`), so it uses nothing but `std` and its
//! sibling modules.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fs;
use std::path::{Path, PathBuf};

use super::CodeError;
use super::scan::{Binding, FileFacts, Include, UseDecl, scan};

/// A module: file-backed, or inline in its file.
#[derive(Debug, Clone)]
struct Module {
    /// The file that holds the module's items, relative to the crate root.
    file: String,
    /// The enclosing module (`None` for the crate root).
    parent: Option<usize>,
    /// Child modules by name.
    children: BTreeMap<String, usize>,
    /// Inline modules between the file's own module and this one.
    scope: Vec<String>,
}

/// The library's module tree (`src/lib.rs` and every non-test module below it), each file scanned.
#[derive(Debug, Clone)]
pub struct SourceTree {
    root: PathBuf,
    modules: Vec<Module>,
    /// Relative path → (facts, id of the file's own module).
    files: BTreeMap<String, (FileFacts, usize)>,
}

/// What a piece of code can reach: files (sources and included data files) and extern crates.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Reach {
    /// Paths relative to the crate root, `/`-separated.
    pub files: BTreeSet<String>,
    /// Extern crate names as written in code (`rand_chacha`, `burn`).
    pub crates: BTreeSet<String>,
    /// For each file, why it is in (the first rule that brought it), for people and tests.
    pub why: BTreeMap<String, String>,
}

/// Joins a relative `/`-path onto a folder, resolving `.` and `..`.
fn join(dir: &str, rel: &str) -> String {
    let mut parts: Vec<&str> = dir.split('/').filter(|p| !p.is_empty()).collect();
    for p in rel.split('/') {
        match p {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            p => parts.push(p),
        }
    }
    parts.join("/")
}

/// The folder of a relative file path.
fn dir_of(file: &str) -> &str {
    file.rsplit_once('/').map_or("", |(d, _)| d)
}

impl SourceTree {
    /// Reads and scans the module tree rooted at `<root>/src/lib.rs`.
    pub fn load(root: &Path) -> Result<SourceTree, CodeError> {
        let mut tree = SourceTree {
            root: root.to_path_buf(),
            modules: Vec::new(),
            files: BTreeMap::new(),
        };
        tree.add_file("src/lib.rs", None, "")?;
        Ok(tree)
    }

    /// Folder the crate lives in.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Every scanned source file (relative paths).
    pub fn files(&self) -> impl Iterator<Item = &str> {
        self.files.keys().map(String::as_str)
    }

    /// Adds a file-backed module `name` of `parent`, scans it and its submodules.
    fn add_file(&mut self, rel: &str, parent: Option<usize>, name: &str) -> Result<(), CodeError> {
        let abs = self.root.join(rel);
        let text = fs::read_to_string(&abs).map_err(|e| CodeError::Read {
            path: abs.clone(),
            message: e.to_string(),
        })?;
        let facts = scan(&text);
        if facts.test_only {
            return Ok(());
        }
        let id = self.push_module(rel, parent, name, Vec::new());
        let mut inline = facts.inline_mods.clone();
        inline.sort_by_key(Vec::len);
        for scope in inline {
            let outer = self.scope_module(id, &scope[..scope.len() - 1]);
            let last = scope.last().cloned().unwrap_or_default();
            self.push_module(rel, Some(outer), &last, scope);
        }
        // Rust's rule: a non-mod-rs file's children live in a folder named after it.
        let file_name = rel.rsplit('/').next().unwrap_or(rel);
        let own_dir = if matches!(file_name, "mod.rs" | "lib.rs" | "main.rs") {
            dir_of(rel).to_string()
        } else {
            rel.trim_end_matches(".rs").to_string()
        };
        self.files.insert(rel.to_string(), (facts.clone(), id));
        for decl in &facts.mods {
            let parent = self.scope_module(id, &decl.scope);
            let child = match &decl.path {
                Some(p) => join(dir_of(rel), p),
                None => {
                    let dir = join(&own_dir, &decl.scope.join("/"));
                    let flat = join(&dir, &format!("{}.rs", decl.name));
                    if self.root.join(&flat).is_file() {
                        flat
                    } else {
                        join(&dir, &format!("{}/mod.rs", decl.name))
                    }
                }
            };
            self.add_file(&child, Some(parent), &decl.name)?;
        }
        Ok(())
    }

    fn push_module(
        &mut self,
        file: &str,
        parent: Option<usize>,
        name: &str,
        scope: Vec<String>,
    ) -> usize {
        let id = self.modules.len();
        self.modules.push(Module {
            file: file.to_string(),
            parent,
            children: BTreeMap::new(),
            scope,
        });
        if let Some(p) = parent {
            self.modules[p].children.insert(name.to_string(), id);
        }
        id
    }

    /// The inline module at `scope` inside the file module `m` (or `m` itself).
    fn scope_module(&self, mut m: usize, scope: &[String]) -> usize {
        for s in scope {
            match self.modules[m].children.get(s) {
                Some(&c) if self.modules[c].file == self.modules[m].file => m = c,
                _ => break,
            }
        }
        m
    }

    /// The files and extern crates the code of `start` can reach (see the rule in `engine::key`).
    /// `externs` are the extern crate names the code may use (dependencies, with `_` for `-`).
    pub fn reach(&self, start: &str, externs: &BTreeSet<String>) -> Result<Reach, CodeError> {
        if !self.files.contains_key(start) {
            return Err(CodeError::NotAModule(start.to_string()));
        }
        let mut st = State {
            externs,
            memo: HashMap::new(),
            reach: Reach::default(),
            queue: Vec::new(),
            from: String::new(),
        };
        st.include(start, "the adapter".into());
        loop {
            while let Some(file) = st.queue.pop() {
                self.follow_file(&file, &mut st)?;
            }
            let extra = self.implied_files(&st.reach.files);
            if extra.is_empty() {
                break;
            }
            for (f, why) in extra {
                st.include(&f, why);
            }
        }
        Ok(st.reach)
    }

    /// Follows every use, path and include of a fully included file.
    fn follow_file(&self, file: &str, st: &mut State) -> Result<(), CodeError> {
        let Some((facts, id)) = self.files.get(file) else {
            return Ok(()); // a data file
        };
        for u in &facts.uses {
            let m = self.scope_module(*id, &u.scope);
            st.from = format!("{file}: use {}", u.path.join("::"));
            self.resolve(m, &u.path, st);
        }
        for p in &facts.paths {
            let m = self.scope_module(*id, &p.scope);
            st.from = format!("{file}: {}", p.segs.join("::"));
            self.resolve(m, &p.segs, st);
        }
        for inc in &facts.includes {
            match inc {
                Include::Literal(p) => {
                    let data = join(dir_of(file), p);
                    if !self.root.join(&data).is_file() {
                        return Err(CodeError::Include {
                            file: file.to_string(),
                            arg: p.clone(),
                        });
                    }
                    st.reach
                        .why
                        .entry(data.clone())
                        .or_insert(format!("{file}: include {p}"));
                    st.reach.files.insert(data);
                }
                Include::OutDir => {}
                Include::Unknown => {
                    return Err(CodeError::Include {
                        file: file.to_string(),
                        arg: "(not a string literal)".into(),
                    });
                }
            }
        }
        Ok(())
    }

    /// Files outside `set` that code inside it can run without naming them: impl blocks for its
    /// types or traits, and `macro_rules!` macros it invokes.
    fn implied_files(&self, set: &BTreeSet<String>) -> Vec<(String, String)> {
        let inside = |f: &String| set.contains(f);
        let defined: BTreeSet<&str> = self
            .files
            .iter()
            .filter(|(f, _)| inside(f))
            .flat_map(|(_, (facts, _))| facts.types.iter().map(String::as_str))
            .collect();
        let crate_types: BTreeSet<&str> = self
            .files
            .values()
            .flat_map(|(facts, _)| facts.types.iter().map(String::as_str))
            .collect();
        let used_macros: BTreeSet<&str> = self
            .files
            .iter()
            .filter(|(f, _)| inside(f))
            .flat_map(|(_, (facts, _))| facts.macros_used.iter().map(String::as_str))
            .collect();
        let mut out = Vec::new();
        for (file, (facts, _)) in self.files.iter().filter(|(f, _)| !inside(f)) {
            // A name the file defines itself means its own type (a file cannot also import one of
            // that name), unless inline modules could bind the name differently.
            let flat = facts.inline_mods.is_empty();
            let ours =
                |s: &String| defined.contains(s.as_str()) && !(flat && facts.types.contains(s));
            let impl_hit = facts.impls.iter().find(|h| {
                let self_hits = h.self_idents.iter().any(ours);
                let trait_hits = h.trait_idents.iter().any(ours);
                let self_foreign = !h
                    .self_idents
                    .iter()
                    .any(|s| crate_types.contains(s.as_str()));
                self_hits || (trait_hits && self_foreign)
            });
            let macro_hit = facts
                .macros_defined
                .iter()
                .find(|m| used_macros.contains(m.as_str()));
            if let Some(h) = impl_hit {
                let header = if h.trait_idents.is_empty() {
                    h.self_idents.join(" ")
                } else {
                    format!(
                        "{} for {}",
                        h.trait_idents.join(" "),
                        h.self_idents.join(" ")
                    )
                };
                out.push((file.clone(), format!("impl {header}")));
            } else if let Some(m) = macro_hit {
                out.push((file.clone(), format!("macro {m}!")));
            }
        }
        out
    }

    /// Resolves `segs` from module `m`, including the files that define what it names. Returns the
    /// modules the path ends on (for `use a::b;` of a module, followed by `b::c` paths).
    fn resolve(&self, m: usize, segs: &[String], st: &mut State) -> Vec<usize> {
        let key = (m, segs.to_vec());
        if let Some(r) = st.memo.get(&key) {
            return r.clone();
        }
        st.memo.insert(key.clone(), Vec::new());
        let r = self.resolve_uncached(m, segs, st);
        st.memo.insert(key, r.clone());
        r
    }

    fn resolve_uncached(&self, m: usize, segs: &[String], st: &mut State) -> Vec<usize> {
        let Some((s, rest)) = segs.split_first() else {
            return vec![m];
        };
        match s.as_str() {
            "crate" => return self.resolve(0, rest, st),
            "super" => return self.resolve(self.modules[m].parent.unwrap_or(0), rest, st),
            "self" => return self.resolve(m, rest, st),
            "Self" | "" => return Vec::new(),
            _ => {}
        }
        if let Some(&c) = self.modules[m].children.get(s) {
            return self.resolve(c, rest, st);
        }
        let uses: Vec<&UseDecl> = self.uses_of(m).collect();
        let bound: Vec<&&UseDecl> = uses
            .iter()
            .filter(|u| u.binding == Binding::Name(s.clone()))
            .collect();
        let mut ends = Vec::new();
        if !bound.is_empty() {
            for u in bound {
                for e in self.resolve(m, &u.path, st) {
                    ends.extend(self.resolve(e, rest, st));
                }
            }
            return ends;
        }
        if st.externs.contains(s) {
            st.reach.crates.insert(s.clone());
            return ends;
        }
        if matches!(s.as_str(), "std" | "core" | "alloc") {
            return ends;
        }
        // Defined in this module's file, or brought in by a glob, or not ours at all.
        let why = st.from.clone();
        st.include(&self.modules[m].file, why);
        for g in uses.iter().filter(|u| u.binding == Binding::Glob) {
            for e in self.resolve(m, &g.path, st) {
                ends.extend(self.resolve(e, segs, st));
            }
        }
        ends
    }

    /// The `use` declarations that sit directly in module `m`.
    fn uses_of(&self, m: usize) -> impl Iterator<Item = &UseDecl> {
        let module = &self.modules[m];
        self.files
            .get(&module.file)
            .into_iter()
            .flat_map(|(facts, _)| facts.uses.iter())
            .filter(move |u| u.scope == module.scope)
    }
}

/// Working state of one closure computation.
struct State<'a> {
    externs: &'a BTreeSet<String>,
    memo: HashMap<(usize, Vec<String>), Vec<usize>>,
    reach: Reach,
    queue: Vec<String>,
    /// The use or path being resolved, for `Reach::why`.
    from: String,
}

impl State<'_> {
    /// Adds a source file to the reach; new files are followed later.
    fn include(&mut self, file: &str, why: String) {
        if self.reach.files.insert(file.to_string()) {
            self.reach.why.insert(file.to_string(), why);
            self.queue.push(file.to_string());
        }
    }
}

#[cfg(test)]
#[path = "tree_tests.rs"]
mod tests;
