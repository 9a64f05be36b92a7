//! The layout's rules, checked on the source:
//! - each folder of `src/` uses only the folders below it (x509 → pfx → validate → policy → obtain →
//!   store → publish → rollover), and no two files of one folder import each other, directly or through other
//!   files of that folder;
//! - a layer owns its types' fields: no struct field is visible outside its layer (no `pub(crate)`
//!   field, no `pub` field on a type private to the crate, no `pub(super)` field in a layer's
//!   `mod.rs`), so the compiler keeps every other layer to the type's methods;
//! - a layer adds no `impl` block to another layer's types.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::Path;

/// The layers, lowest first.
const LAYERS: [&str; 8] = ["x509", "pfx", "validate", "policy", "obtain", "store", "publish", "rollover"];

/// Every `crate::a::b` path mentioned in the code (comments excluded), as `(a, b)`.
fn crate_paths(source: &str) -> BTreeSet<(String, String)> {
    let mut out = BTreeSet::new();
    for line in source.lines() {
        let code = line.split("//").next().unwrap_or("");
        let mut rest = code;
        while let Some(i) = rest.find("crate::") {
            rest = &rest[i + "crate::".len()..];
            let mut parts = rest
                .split("::")
                .map(|p| p.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect::<String>());
            let a = parts.next().unwrap_or_default();
            let b = parts.next().unwrap_or_default();
            out.insert((a, b));
        }
    }
    out
}

fn files(folder: &Path) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = fs::read_dir(folder)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "rs"))
        .map(|p| (p.file_stem().unwrap().to_string_lossy().into_owned(), fs::read_to_string(&p).unwrap()))
        .collect();
    out.sort();
    out
}

#[test]
fn folders_use_only_the_layers_below_them() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut offences = Vec::new();
    for (rank, layer) in LAYERS.iter().enumerate() {
        for (file, source) in files(&src.join(layer)) {
            for (a, _) in crate_paths(&source) {
                if let Some(used) = LAYERS.iter().position(|l| *l == a) {
                    if used > rank {
                        offences.push(format!("src/{layer}/{file}.rs uses crate::{a}"));
                    }
                }
            }
        }
    }
    assert!(offences.is_empty(), "layer order broken:\n{}", offences.join("\n"));
}

#[test]
fn no_file_cycles_within_a_folder() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    for layer in LAYERS {
        let files = files(&src.join(layer));
        let names: BTreeSet<String> = files.iter().map(|(f, _)| f.clone()).filter(|f| f != "mod").collect();
        let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for (file, source) in &files {
            if file == "mod" {
                continue;
            }
            for (a, b) in crate_paths(source) {
                if a == layer && names.contains(&b) && b != *file {
                    edges.entry(file.clone()).or_default().insert(b);
                }
            }
        }
        // Depth-first search for a back edge.
        fn visit(
            n: &str,
            edges: &BTreeMap<String, BTreeSet<String>>,
            stack: &mut Vec<String>,
            done: &mut BTreeSet<String>,
        ) -> Option<Vec<String>> {
            if let Some(i) = stack.iter().position(|s| s == n) {
                let mut cycle = stack[i..].to_vec();
                cycle.push(n.to_owned());
                return Some(cycle);
            }
            if done.contains(n) {
                return None;
            }
            stack.push(n.to_owned());
            for m in edges.get(n).into_iter().flatten() {
                if let Some(c) = visit(m, edges, stack, done) {
                    return Some(c);
                }
            }
            stack.pop();
            done.insert(n.to_owned());
            None
        }
        let mut done = BTreeSet::new();
        for n in &names {
            let cycle = visit(n, &edges, &mut Vec::new(), &mut done);
            assert!(cycle.is_none(), "import cycle in src/{layer}: {}", cycle.unwrap().join(" -> "));
        }
    }
}

#[test]
fn the_checker_sees_crate_paths() {
    let paths =
        crate_paths("use crate::x509::cert::Certificate; // crate::store::x\nlet a = crate::pfx::mac::f();");
    assert_eq!(
        paths,
        BTreeSet::from([("x509".to_owned(), "cert".to_owned()), ("pfx".to_owned(), "mac".to_owned())])
    );
}

/// Each line of code (comments and string-free doc lines dropped), trimmed.
fn code_lines(source: &str) -> impl Iterator<Item = &str> {
    source.lines().map(|l| l.split("//").next().unwrap_or("").trim()).filter(|l| !l.is_empty())
}

/// The struct fields of `source` that are visible outside its layer, as `struct.field` lines.
fn fields_seen_outside(source: &str, is_layer_root: bool) -> Vec<String> {
    let mut out = Vec::new();
    // (struct name, whether the struct itself is `pub`)
    let mut current: Option<(String, bool)> = None;
    let mut depth = 0usize;
    for line in code_lines(source) {
        if current.is_none() {
            let decl = ["pub struct ", "pub(crate) struct ", "pub(super) struct ", "struct "]
                .iter()
                .find_map(|p| line.strip_prefix(p).map(|rest| (p.starts_with("pub struct"), rest)));
            if let Some((public, rest)) = decl {
                if line.ends_with('{') {
                    let name: String =
                        rest.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
                    current = Some((name, public));
                    depth = 1;
                }
            }
            continue;
        }
        depth += line.matches('{').count();
        depth = depth.saturating_sub(line.matches('}').count());
        if depth == 0 {
            current = None;
            continue;
        }
        let Some((name, public)) = &current else { continue };
        if depth != 1 {
            continue;
        }
        let field = |rest: &str| rest.split(':').next().unwrap_or("").trim().to_owned();
        if let Some(rest) = line.strip_prefix("pub(crate) ") {
            out.push(format!("{name}.{} is pub(crate)", field(rest)));
        } else if let Some(rest) = line.strip_prefix("pub(super) ").filter(|_| is_layer_root) {
            out.push(format!("{name}.{} is pub(super) in a layer's mod.rs", field(rest)));
        } else if let Some(rest) = line.strip_prefix("pub ").filter(|_| !public) {
            if rest.contains(':') {
                out.push(format!("{name}.{} is pub on a type private to the crate", field(rest)));
            }
        }
    }
    out
}

/// The type names each layer declares (structs, enums, traits, type aliases).
fn declared_types(src: &Path) -> BTreeMap<String, &'static str> {
    let mut out = BTreeMap::new();
    for layer in LAYERS {
        for (_, source) in files(&src.join(layer)) {
            for line in code_lines(&source) {
                let line = line.trim_start_matches("pub(crate) ").trim_start_matches("pub(super) ");
                let line = line.trim_start_matches("pub ");
                for keyword in ["struct ", "enum ", "trait ", "type "] {
                    if let Some(rest) = line.strip_prefix(keyword) {
                        let name: String =
                            rest.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
                        if !name.is_empty() {
                            out.insert(name, layer);
                        }
                    }
                }
            }
        }
    }
    out
}

/// The self types of the `impl` blocks of `source` (`impl<..> Type` and `impl<..> Trait for Type`).
fn impl_targets(source: &str) -> Vec<String> {
    let mut out = Vec::new();
    for line in code_lines(source) {
        let Some(rest) = line.strip_prefix("impl") else { continue };
        if !(rest.starts_with(' ') || rest.starts_with('<')) {
            continue;
        }
        // Skip the generic parameters.
        let mut depth = 0i32;
        let mut start = 0;
        for (i, c) in rest.char_indices() {
            match c {
                '<' => depth += 1,
                '>' => depth -= 1,
                _ if depth == 0 && !c.is_whitespace() => {
                    start = i;
                    break;
                }
                _ => {}
            }
        }
        let header = rest[start..].split('{').next().unwrap_or("").split(" where ").next().unwrap_or("");
        let target = header.rsplit(" for ").next().unwrap_or(header).trim();
        let name: String = target
            .trim_start_matches('&')
            .rsplit("::")
            .next()
            .unwrap_or("")
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect();
        out.push(name);
    }
    out
}

#[test]
fn no_field_is_seen_outside_its_layer() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut offences = Vec::new();
    for layer in LAYERS {
        for (file, source) in files(&src.join(layer)) {
            for f in fields_seen_outside(&source, file == "mod") {
                offences.push(format!("src/{layer}/{file}.rs: {f}"));
            }
        }
    }
    assert!(offences.is_empty(), "fields visible outside their layer:\n{}", offences.join("\n"));
}

#[test]
fn no_layer_adds_impl_blocks_to_another_layers_types() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let types = declared_types(&src);
    let mut offences = Vec::new();
    for layer in LAYERS {
        for (file, source) in files(&src.join(layer)) {
            for target in impl_targets(&source) {
                if let Some(owner) = types.get(&target).filter(|owner| **owner != layer) {
                    offences.push(format!("src/{layer}/{file}.rs: impl {target} (a type of {owner})"));
                }
            }
        }
    }
    assert!(offences.is_empty(), "impl blocks on other layers' types:\n{}", offences.join("\n"));
}

#[test]
fn the_checkers_see_fields_and_impl_blocks() {
    let source = "pub struct A {\n    pub(crate) x: u8,\n    pub y: u8,\n}\npub(crate) struct B {\n    pub z: u8,\n    w: u8,\n}\n";
    assert_eq!(
        fields_seen_outside(source, false),
        ["A.x is pub(crate)", "B.z is pub on a type private to the crate"]
    );
    let source = "impl Store {\nimpl<'a> fmt::Display for Jwk<'a> {\nimpl<R: rand_core::CryptoRng> Issuer for SelfSignedIssuer<R> {\nimpl crate::store::Store {";
    assert_eq!(impl_targets(source), ["Store", "Jwk", "SelfSignedIssuer", "Store"]);
}
