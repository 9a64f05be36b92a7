//! The layout's rule, checked on the source: each folder of `src/` uses only the folders below it
//! (x509 → pfx → validate → store → issue), and no two files of one folder import each other, directly or
//! through other files of that folder.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::Path;

/// The layers, lowest first.
const LAYERS: [&str; 6] = ["x509", "pfx", "validate", "store", "issue", "rollover"];

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
