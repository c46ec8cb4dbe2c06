//! The layer rules of bsm-core (ARCHITECTURE.md), checked by reading its
//! sources: no module uses a module that uses it back (the `use` graph has
//! no cycle), and no file is longer than [`MAX_LINES`] lines (its docs
//! and comments counted) before its tests.
//!
//! A module's uses are the `crate::NAME` paths in its code (comments and
//! its `#[cfg(test)] mod tests` left out), where `NAME` is a module or an
//! item `lib.rs` re-exports from one. A call of a method that another
//! file's `impl SessionManager` block defines names no path and is not
//! seen: those blocks are the manager's facets, the top layers.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// The longest a file of bsm-core may be, its tests left out.
pub const MAX_LINES: usize = 600;

/// The module graph: each module and the modules it uses, with the names
/// that make each edge.
pub type Graph = BTreeMap<String, BTreeMap<String, BTreeSet<String>>>;

/// Checks the sources in `src` (bsm-core's `src` folder). `Ok` holds the
/// graph as `module -> uses` lines; `Err` says which rule broke and where.
pub fn check(src: &Path) -> Result<String, String> {
    let mut sources = BTreeMap::new();
    let entries =
        std::fs::read_dir(src).map_err(|e| format!("cannot read {}: {e}", src.display()))?;
    for entry in entries {
        let path = entry
            .map_err(|e| format!("cannot read {}: {e}", src.display()))?
            .path();
        let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
            continue;
        };
        if let Some(module) = name.strip_suffix(".rs") {
            let text = std::fs::read_to_string(&path)
                .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
            sources.insert(module.to_owned(), text);
        }
    }
    let lib = sources.remove("lib").ok_or("bsm-core has no lib.rs")?;
    let mut problems = Vec::new();
    for (module, text) in &sources {
        // Every line before the tests, docs and comments included.
        let lines = before_tests(text).lines().count();
        if lines > MAX_LINES {
            problems.push(format!(
                "{module}.rs has {lines} lines outside its tests (at most {MAX_LINES}): split a concept out"
            ));
        }
    }
    let graph = graph(&lib, &sources);
    for cycle in cycles(&graph) {
        let edges: Vec<String> = cycle
            .iter()
            .flat_map(|from| {
                graph[from]
                    .iter()
                    .filter(|(to, _)| cycle.contains(*to))
                    .map(move |(to, names)| {
                        let names: Vec<&str> = names.iter().map(String::as_str).collect();
                        format!("  {from} -> {to} ({})", names.join(", "))
                    })
            })
            .collect();
        problems.push(format!(
            "these modules use each other in a circle (ARCHITECTURE.md, \"Layers\"):\n{}",
            edges.join("\n")
        ));
    }
    if problems.is_empty() {
        Ok(graph
            .iter()
            .map(|(m, uses)| {
                let uses: Vec<&str> = uses.keys().map(String::as_str).collect();
                format!("{m} -> {}", uses.join(" "))
            })
            .collect::<Vec<_>>()
            .join("\n"))
    } else {
        Err(problems.join("\n"))
    }
}

/// What comes before a file's `#[cfg(test)] mod tests` (bsm-core keeps its
/// tests at the end of each file).
fn before_tests(text: &str) -> &str {
    text.split("\n#[cfg(test)]\nmod tests")
        .next()
        .unwrap_or(text)
}

/// `text` before its tests, without its comments.
fn code_of(text: &str) -> String {
    let before_tests = before_tests(text);
    before_tests
        .lines()
        .map(|line| match line.find("//") {
            // `//` inside a string ("http://") is kept: only a comment
            // that starts the line's code is dropped.
            Some(at) if line[..at].trim().is_empty() => "",
            _ => line,
        })
        .filter(|line| !line.trim().is_empty())
        .collect::<Vec<_>>()
        .join("\n")
}

/// Which module each re-exported name of `lib.rs` comes from
/// (`pub use module::{A, B};`).
fn reexports(lib: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for stmt in code_of(lib).split(';') {
        // `#[cfg(...)] pub use ...`: the attributes are not the statement.
        let mut stmt = stmt.trim();
        while stmt.starts_with("#[") {
            stmt = stmt
                .find(']')
                .map_or("", |end| stmt[end + 1..].trim_start());
        }
        let Some(rest) = stmt.strip_prefix("pub use ") else {
            continue;
        };
        let Some((module, names)) = rest.split_once("::") else {
            continue;
        };
        for name in names.trim_matches(|c| c == '{' || c == '}').split(',') {
            let name = name.trim();
            if !name.is_empty() {
                out.insert(name.to_owned(), module.to_owned());
            }
        }
    }
    out
}

/// The names a piece of code reaches through `crate::` (first segment of
/// each path, and each name of a `use crate::{...}` group).
fn crate_names(code: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut rest = code;
    while let Some(at) = rest.find("crate::") {
        rest = &rest[at + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let end = group.find('}').unwrap_or(group.len());
            for name in group[..end].split(',') {
                let mut parts = name.trim().split("::");
                let head = parts.next().unwrap_or("").trim();
                let tail = parts.last().unwrap_or(head).trim();
                if !head.is_empty() {
                    out.push((head.to_owned(), tail.to_owned()));
                }
            }
        } else {
            let ident = |s: &str| {
                s.chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect::<String>()
            };
            let head = ident(rest);
            let tail = rest[head.len()..]
                .strip_prefix("::")
                .map(ident)
                .filter(|t| !t.is_empty())
                .unwrap_or_else(|| head.clone());
            out.push((head, tail));
        }
    }
    out
}

fn graph(lib: &str, sources: &BTreeMap<String, String>) -> Graph {
    let reexports = reexports(lib);
    let mut graph = Graph::new();
    for (module, text) in sources {
        let uses = graph.entry(module.clone()).or_default();
        for (head, name) in crate_names(&code_of(text)) {
            let target = if sources.contains_key(&head) {
                Some(head)
            } else {
                reexports.get(&head).cloned()
            };
            if let Some(target) = target.filter(|t| t != module && sources.contains_key(t)) {
                uses.entry(target).or_default().insert(name);
            }
        }
    }
    graph
}

/// The strongly connected components of more than one module (Tarjan's
/// algorithm), each sorted.
fn cycles(graph: &Graph) -> Vec<Vec<String>> {
    struct Walk<'a> {
        graph: &'a Graph,
        index: BTreeMap<&'a str, usize>,
        low: BTreeMap<&'a str, usize>,
        stack: Vec<&'a str>,
        on_stack: BTreeSet<&'a str>,
        found: Vec<Vec<String>>,
    }
    impl<'a> Walk<'a> {
        fn visit(&mut self, v: &'a str) {
            let i = self.index.len();
            self.index.insert(v, i);
            self.low.insert(v, i);
            self.stack.push(v);
            self.on_stack.insert(v);
            for w in self.graph[v].keys() {
                let w = w.as_str();
                if !self.index.contains_key(w) {
                    self.visit(w);
                    let lw = self.low[w];
                    let lv = self.low.get_mut(v).expect("visited");
                    *lv = (*lv).min(lw);
                } else if self.on_stack.contains(w) {
                    let iw = self.index[w];
                    let lv = self.low.get_mut(v).expect("visited");
                    *lv = (*lv).min(iw);
                }
            }
            if self.low[v] == self.index[v] {
                let mut component = Vec::new();
                while let Some(w) = self.stack.pop() {
                    self.on_stack.remove(w);
                    component.push(w.to_owned());
                    if w == v {
                        break;
                    }
                }
                if component.len() > 1 {
                    component.sort();
                    self.found.push(component);
                }
            }
        }
    }
    let mut walk = Walk {
        graph,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        found: Vec::new(),
    };
    for v in graph.keys() {
        if !walk.index.contains_key(v.as_str()) {
            walk.visit(v);
        }
    }
    walk.found
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sources(files: &[(&str, &str)]) -> BTreeMap<String, String> {
        files
            .iter()
            .map(|(m, t)| ((*m).to_owned(), (*t).to_owned()))
            .collect()
    }

    #[test]
    fn a_circle_is_found_with_the_names_that_make_it() {
        let lib = "mod a;\nmod b;\nmod c;\n#[cfg(feature = \"x\")]\npub use b::{Thing, Other};\n";
        let files = sources(&[
            ("a", "use crate::Thing;\n"),
            ("b", "fn f() { crate::c::g() }\n"),
            (
                "c",
                "use crate::{a::Helper, error::Error};\n// crate::b in a comment\n",
            ),
        ]);
        let g = graph(lib, &files);
        assert_eq!(g["a"].keys().collect::<Vec<_>>(), ["b"]);
        assert_eq!(g["a"]["b"].iter().collect::<Vec<_>>(), ["Thing"]);
        assert_eq!(
            g["c"].keys().collect::<Vec<_>>(),
            ["a"],
            "comments are not uses"
        );
        assert_eq!(cycles(&g), [["a", "b", "c"]]);
    }

    #[test]
    fn tests_do_not_count_and_one_way_layers_pass() {
        let lib = "mod a;\nmod b;\n";
        let files = sources(&[
            ("a", "use crate::b::X;\n"),
            (
                "b",
                "pub struct X;\n#[cfg(test)]\nmod tests { use crate::a::*; }\n",
            ),
        ]);
        assert!(cycles(&graph(lib, &files)).is_empty());
    }

    #[test]
    fn bsm_cores_layers_are_one_way_and_its_files_short() {
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("../crates/bsm-core/src");
        if let Err(e) = check(&src) {
            panic!("{e}");
        }
    }
}
