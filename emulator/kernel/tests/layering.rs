//! The kernel crate's module layering: no module imports from a module that imports it back,
//! directly or around a longer circle, except the pairs named in [`ALLOWED`] with their reason.
//!
//! Every source file under `src/` is one module (`a/mod.rs` is `a`, `a/b.rs` is `a::b`). A
//! module depends on another when its code (tests and comments left out) names it: in a `use`
//! of `crate::`, `super::` or `self::`, or in a path such as `crate::signal::delivery::send`.
//! A path names the deepest module it reaches; a folder's `mod.rs` declaring its children is
//! not a dependency on them.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Module pairs that may import each other, and why. None today: the data modules
/// (`task::types`, `signal::info`, `fork`, `fork::respawn::wire`, `syscalls::ctx`) import no
/// mechanism, and the mechanisms reach each other only downwards.
const ALLOWED: &[(&str, &str, &str)] = &[];

type Graph = BTreeMap<String, BTreeSet<String>>;

fn source_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("src is readable") {
        let path = entry.expect("a directory entry").path();
        if path.is_dir() {
            source_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// `src/a/b.rs` is `a::b`, `src/a/mod.rs` is `a`, `src/lib.rs` is the crate root ("").
fn module_of(src: &Path, file: &Path) -> String {
    let rel = file.strip_prefix(src).expect("under src").with_extension("");
    let mut parts: Vec<String> =
        rel.components().map(|c| c.as_os_str().to_string_lossy().into_owned()).collect();
    if parts.last().is_some_and(|p| p == "mod" || p == "lib") {
        parts.pop();
    }
    parts.join("::")
}

/// The code of a file without its tests and comments.
fn code_of(text: &str) -> String {
    let text = text.split("#[cfg(test)]").next().unwrap_or_default();
    text.lines()
        .map(|line| match line.find("//") {
            Some(i) if line[..i].matches('"').count() % 2 == 0 => &line[..i],
            _ => line,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Splits a `{ a, b::{c, d} }` group's inside at its top-level commas.
fn split_group(group: &str) -> Vec<&str> {
    let (mut depth, mut start, mut parts) = (0, 0, Vec::new());
    for (i, c) in group.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(group[start..i].trim());
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(group[start..].trim());
    parts.into_iter().filter(|p| !p.is_empty()).collect()
}

/// Every module path (as segments after the anchor) a piece of code starting right after
/// `crate::`, `super::` or `self::` names, expanding `{...}` groups.
fn paths_after(code: &str) -> Vec<Vec<String>> {
    let mut segments = Vec::new();
    let mut rest = code;
    loop {
        let ident: String =
            rest.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
        if ident.is_empty() {
            if let Some(inner) = rest.strip_prefix('{') {
                let mut depth = 1;
                let end = inner
                    .char_indices()
                    .find(|&(_, c)| {
                        match c {
                            '{' => depth += 1,
                            '}' => depth -= 1,
                            _ => {}
                        }
                        depth == 0
                    })
                    .map_or(inner.len(), |(i, _)| i);
                let mut out = Vec::new();
                for part in split_group(&inner[..end]) {
                    for tail in paths_after(part) {
                        let mut path = segments.clone();
                        path.extend(tail);
                        out.push(path);
                    }
                }
                return out;
            }
            return vec![segments];
        }
        rest = &rest[ident.len()..];
        if ident == "self" {
            return vec![segments];
        }
        segments.push(ident);
        match rest.strip_prefix("::") {
            Some(r) => rest = r,
            None => return vec![segments],
        }
    }
}

/// The deepest known module `base` + `path` reaches.
fn resolve(modules: &BTreeSet<String>, base: &[String], path: &[String]) -> Option<String> {
    let mut full: Vec<String> = base.to_vec();
    let mut best = None;
    for seg in path {
        full.push(seg.clone());
        let name = full.join("::");
        if modules.contains(&name) {
            best = Some(name);
        } else {
            break;
        }
    }
    best
}

fn dependencies(src: &Path) -> Graph {
    let mut files = Vec::new();
    source_files(src, &mut files);
    files.retain(|f| f.file_name().is_some_and(|n| n != "main.rs"));
    let modules: BTreeSet<String> = files.iter().map(|f| module_of(src, f)).collect();
    let mut graph = Graph::new();
    for file in &files {
        let me = module_of(src, file);
        let own: Vec<String> =
            if me.is_empty() { vec![] } else { me.split("::").map(String::from).collect() };
        // `self` is this module; `super` is the module that declares it.
        let self_base = own.clone();
        let super_base = own[..own.len().saturating_sub(1)].to_vec();
        let code = code_of(&std::fs::read_to_string(file).expect("readable"));
        let mut deps = BTreeSet::new();
        // A `use` may also name a child module without `self::` (2018 paths).
        for (at, _) in code.match_indices("use ") {
            let before = code[..at].chars().next_back();
            if before.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_') {
                continue;
            }
            for path in paths_after(&code[at + 4..]) {
                if let Some(target) = resolve(&modules, &self_base, &path) {
                    if target != me {
                        deps.insert(target);
                    }
                }
            }
        }
        for (anchor, base) in
            [("crate::", Vec::new()), ("super::", super_base), ("self::", self_base.clone())]
        {
            let mut at = 0;
            while let Some(i) = code[at..].find(anchor) {
                let start = at + i;
                at = start + anchor.len();
                let before = code[..start].chars().next_back();
                if before.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_') {
                    continue;
                }
                for path in paths_after(&code[at..]) {
                    if let Some(target) = resolve(&modules, &base, &path) {
                        if target != me && !target.is_empty() {
                            deps.insert(target);
                        }
                    }
                }
            }
        }
        graph.insert(me, deps);
    }
    graph
}

/// Tarjan's strongly connected components with more than one module.
fn circles(graph: &Graph) -> Vec<Vec<String>> {
    struct State<'a> {
        graph: &'a Graph,
        index: BTreeMap<&'a str, usize>,
        low: BTreeMap<&'a str, usize>,
        stack: Vec<&'a str>,
        on_stack: BTreeSet<&'a str>,
        found: Vec<Vec<String>>,
    }
    fn visit<'a>(s: &mut State<'a>, v: &'a str) {
        let n = s.index.len();
        s.index.insert(v, n);
        s.low.insert(v, n);
        s.stack.push(v);
        s.on_stack.insert(v);
        for w in s.graph.get(v).into_iter().flatten() {
            let w = w.as_str();
            if !s.index.contains_key(w) {
                visit(s, w);
                let low = s.low[v].min(s.low[w]);
                s.low.insert(v, low);
            } else if s.on_stack.contains(w) {
                let low = s.low[v].min(s.index[w]);
                s.low.insert(v, low);
            }
        }
        if s.low[v] == s.index[v] {
            let mut component = Vec::new();
            while let Some(w) = s.stack.pop() {
                s.on_stack.remove(w);
                component.push(w.to_string());
                if w == v {
                    break;
                }
            }
            if component.len() > 1 {
                component.sort();
                s.found.push(component);
            }
        }
    }
    let mut s = State {
        graph,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        found: Vec::new(),
    };
    for v in graph.keys() {
        if !s.index.contains_key(v.as_str()) {
            visit(&mut s, v);
        }
    }
    s.found
}

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

#[test]
fn test_no_module_imports_one_that_imports_it_back() {
    let mut graph = dependencies(&src());
    for (a, b, reason) in ALLOWED {
        assert!(!reason.is_empty());
        let mutual = graph.get(*a).is_some_and(|d| d.contains(*b))
            && graph.get(*b).is_some_and(|d| d.contains(*a));
        assert!(mutual, "{a} and {b} no longer import each other: drop them from ALLOWED");
        graph.get_mut(*a).map(|d| d.remove(*b));
        graph.get_mut(*b).map(|d| d.remove(*a));
    }
    let found = circles(&graph);
    let report: Vec<String> = found
        .iter()
        .map(|c| {
            let edges: Vec<String> = c
                .iter()
                .flat_map(|a| {
                    graph[a].iter().filter(|b| c.contains(b)).map(move |b| format!("{a} -> {b}"))
                })
                .collect();
            format!("{{{}}}: {}", c.join(", "), edges.join("; "))
        })
        .collect();
    assert!(found.is_empty(), "modules in an import circle:\n{}", report.join("\n"));
}

#[test]
fn test_the_checker_sees_paths_groups_and_circles() {
    let paths = paths_after("signal::{delivery, info::{SigInfo, SA_RESTART}};");
    assert_eq!(
        paths,
        vec![
            vec!["signal".to_string(), "delivery".into()],
            vec!["signal".into(), "info".into(), "SigInfo".into()],
            vec!["signal".into(), "info".into(), "SA_RESTART".into()],
        ]
    );
    let modules: BTreeSet<String> =
        ["signal", "signal::info"].into_iter().map(String::from).collect();
    assert_eq!(
        resolve(&modules, &[], &paths[1]),
        Some("signal::info".into()),
        "a path names the deepest module"
    );
    let mut graph = Graph::new();
    graph.insert("a".into(), ["b".into()].into());
    graph.insert("b".into(), ["c".into()].into());
    graph.insert("c".into(), ["a".into()].into());
    graph.insert("d".into(), ["a".into()].into());
    assert_eq!(circles(&graph), vec![vec!["a".to_string(), "b".into(), "c".into()]]);
    assert_eq!(code_of("use crate::a; // crate::b\n#[cfg(test)]\nuse crate::c;"), "use crate::a; ");
}
