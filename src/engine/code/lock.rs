//! `Cargo.lock`: the packages a set of extern crates pulls in, with their versions.
//!
//! This file is shared with `build.rs` (through `#[path]`), so it uses nothing but `std`, `toml` and
//! its sibling modules.

use std::collections::{BTreeMap, BTreeSet};

use super::CodeError;

/// One locked package.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Package {
    /// Package name (`rand_chacha`, `burn-flex`).
    pub name: String,
    /// Exact version.
    pub version: String,
    /// What pins its contents: the registry checksum, else the source (a git commit), else empty
    /// (a path dependency, whose contents are not fingerprinted).
    pub pin: String,
}

/// The parsed lock file.
#[derive(Debug, Clone)]
pub struct Lock {
    packages: Vec<Package>,
    deps: Vec<Vec<usize>>,
    /// Extern crate name (as written in code) → package index, for the root package's dependencies.
    direct: BTreeMap<String, usize>,
}

fn str_field<'a>(t: &'a toml::Table, k: &str) -> &'a str {
    t.get(k).and_then(toml::Value::as_str).unwrap_or("")
}

impl Lock {
    /// Parses `Cargo.lock` text; `root` is the package whose dependencies code names directly.
    pub fn parse(text: &str, root: &str) -> Result<Lock, CodeError> {
        let bad = |m: String| CodeError::Lock(m);
        let table: toml::Table = toml::from_str(text).map_err(|e| bad(e.to_string()))?;
        let raw: Vec<&toml::Table> = table
            .get("package")
            .and_then(toml::Value::as_array)
            .ok_or_else(|| bad("no [[package]] entries".into()))?
            .iter()
            .filter_map(toml::Value::as_table)
            .collect();
        let packages: Vec<Package> = raw
            .iter()
            .map(|p| Package {
                name: str_field(p, "name").to_string(),
                version: str_field(p, "version").to_string(),
                pin: match str_field(p, "checksum") {
                    "" => str_field(p, "source").to_string(),
                    c => c.to_string(),
                },
            })
            .collect();
        let find = |dep: &str| -> Result<usize, CodeError> {
            let mut parts = dep.split(' ');
            let name = parts.next().unwrap_or("");
            let version = parts.next();
            packages
                .iter()
                .position(|p| p.name == name && version.is_none_or(|v| p.version == v))
                .ok_or_else(|| bad(format!("dependency `{dep}` has no [[package]] entry")))
        };
        let mut deps = Vec::with_capacity(raw.len());
        for p in &raw {
            let list = p.get("dependencies").and_then(toml::Value::as_array);
            let mut d = Vec::new();
            for dep in list.into_iter().flatten().filter_map(toml::Value::as_str) {
                d.push(find(dep)?);
            }
            deps.push(d);
        }
        let root_ix = packages
            .iter()
            .position(|p| p.name == root)
            .ok_or_else(|| bad(format!("no package `{root}`")))?;
        let direct = deps[root_ix]
            .iter()
            .map(|&i| (packages[i].name.replace('-', "_"), i))
            .collect();
        Ok(Lock {
            packages,
            deps,
            direct,
        })
    }

    /// Extern crate names the root package can use.
    pub fn extern_names(&self) -> BTreeSet<String> {
        self.direct.keys().cloned().collect()
    }

    /// The packages of the named extern crates and everything they depend on, transitively.
    pub fn closure<'a>(&self, crates: impl IntoIterator<Item = &'a String>) -> BTreeSet<Package> {
        let mut seen = BTreeSet::new();
        let mut stack: Vec<usize> = crates
            .into_iter()
            .filter_map(|c| self.direct.get(c).copied())
            .collect();
        while let Some(i) = stack.pop() {
            if seen.insert(i) {
                stack.extend(self.deps[i].iter().copied());
            }
        }
        seen.into_iter().map(|i| self.packages[i].clone()).collect()
    }
}
