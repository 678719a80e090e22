//! `cargo xtask tidy`: the workspace's layering, checked from the manifests, and the
//! rules every Rust source file keeps (a `//!` doc comment at its top, no
//! `should_panic` test).

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

/// Which mapcache crates each crate may depend on (docs/ARCHITECTURE.md, "Code map").
pub const ALLOWED: &[(&str, &[&str])] = &[
    ("mapcache-resp", &[]),
    ("mapcache-expiry", &[]),
    ("mapcache-store", &["mapcache-expiry"]),
    ("mapcache-programs", &["mapcache-store", "mapcache-expiry"]),
    (
        "mapcache-commands",
        &[
            "mapcache-store",
            "mapcache-resp",
            "mapcache-expiry",
            "mapcache-programs",
        ],
    ),
    (
        "mapcache-server",
        &[
            "mapcache-resp",
            "mapcache-expiry",
            "mapcache-store",
            "mapcache-programs",
            "mapcache-commands",
        ],
    ),
    ("mapcache", &["mapcache-server", "mapcache-commands"]),
];

pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives in the workspace root")
        .to_path_buf()
}

/// The mapcache crates a manifest depends on (normal and build dependencies; dev
/// dependencies are free, tests may use anything).
pub fn mapcache_deps(manifest: &str) -> Vec<String> {
    let mut deps = Vec::new();
    let mut in_deps = false;
    for line in manifest.lines() {
        let line = line.trim();
        if line.starts_with('[') {
            in_deps = line == "[dependencies]" || line == "[build-dependencies]";
            continue;
        }
        if in_deps {
            let name = line.split(['=', '.', ' ']).next().unwrap_or("");
            if name.starts_with("mapcache") {
                deps.push(name.to_string());
            }
        }
    }
    deps
}

/// Every violation of the layering, as readable lines.
pub fn violations(root: &Path) -> Result<Vec<String>> {
    let mut out = Vec::new();
    for (krate, allowed) in ALLOWED {
        let path = root.join("crates").join(krate).join("Cargo.toml");
        let manifest = std::fs::read_to_string(&path)
            .with_context(|| format!("reading {}", path.display()))?;
        for dep in mapcache_deps(&manifest) {
            if !allowed.contains(&dep.as_str()) {
                out.push(format!(
                    "{krate} must not depend on {dep} (allowed: {allowed:?})"
                ));
            }
        }
    }
    let listed: Vec<&str> = ALLOWED.iter().map(|(k, _)| *k).collect();
    for entry in std::fs::read_dir(root.join("crates"))? {
        let name = entry?.file_name().to_string_lossy().into_owned();
        if !listed.contains(&name.as_str()) {
            out.push(format!("crates/{name} is not in xtask's layering table: add it with its allowed dependencies"));
        }
    }
    Ok(out)
}

/// Every `.rs` file of the workspace under `root` (not in `target` or hidden
/// directories), sorted.
pub fn rust_files(root: &Path) -> Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    let mut dirs = vec![root.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for entry in
            std::fs::read_dir(&dir).with_context(|| format!("reading {}", dir.display()))?
        {
            let entry = entry?;
            let path = entry.path();
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if entry.file_type()?.is_dir() {
                if name != "target" && !name.starts_with('.') {
                    dirs.push(path);
                }
            } else if name.ends_with(".rs") {
                files.push(path);
            }
        }
    }
    files.sort();
    Ok(files)
}

/// What is wrong with one source file's text, as readable lines (without its path):
/// its first non-blank line must be a `//!` doc comment saying what the file is, and no
/// test may be `#[should_panic]` (a test asserts the error or result it expects, so it
/// cannot pass on the wrong panic).
pub fn source_problems(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let first = text.lines().map(str::trim).find(|l| !l.is_empty());
    if !first.is_some_and(|l| l.starts_with("//!")) {
        out.push("does not start with a `//!` doc comment saying what the file is".to_string());
    }
    for (i, line) in text.lines().enumerate() {
        if line.trim_start().starts_with("#[should_panic") {
            out.push(format!(
                "line {}: #[should_panic]: assert the error or result instead",
                i + 1
            ));
        }
    }
    out
}

/// Every source file breaking [`source_problems`]' rules, as readable lines.
pub fn source_violations(root: &Path) -> Result<Vec<String>> {
    let mut out = Vec::new();
    for path in rust_files(root)? {
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("reading {}", path.display()))?;
        let shown = path
            .strip_prefix(root)
            .unwrap_or(&path)
            .display()
            .to_string();
        for problem in source_problems(&text) {
            out.push(format!("{shown}: {problem}"));
        }
    }
    Ok(out)
}

pub fn run() -> Result<()> {
    let root = workspace_root();
    let v = violations(&root)?;
    if !v.is_empty() {
        bail!("layering violations:\n{}", v.join("\n"));
    }
    let v = source_violations(&root)?;
    if !v.is_empty() {
        bail!("source files breaking the rules:\n{}", v.join("\n"));
    }
    eprintln!("tidy: layering and source files ok");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workspace_respects_the_layering() {
        let v = violations(&workspace_root()).unwrap();
        assert!(v.is_empty(), "{}", v.join("\n"));
    }

    #[test]
    fn a_forbidden_edge_is_reported() {
        let manifest = "[package]\nname = \"x\"\n[dependencies]\nmapcache-store.workspace = true\n[dev-dependencies]\nmapcache-server.workspace = true\n";
        assert_eq!(mapcache_deps(manifest), vec!["mapcache-store".to_string()]);
    }

    #[test]
    fn every_source_file_keeps_the_rules() {
        let v = source_violations(&workspace_root()).unwrap();
        assert!(v.is_empty(), "{}", v.join("\n"));
    }

    #[test]
    fn source_rules() {
        assert!(source_problems("//! What this is.\n\nfn f() {}\n").is_empty());
        assert!(source_problems("\n//! Blank lines first are fine.\n").is_empty());
        assert_eq!(
            source_problems("/// An item doc is not a file doc.\nfn f() {}\n"),
            vec!["does not start with a `//!` doc comment saying what the file is"]
        );
        assert_eq!(source_problems("").len(), 1);
        let attr = concat!("#[", "should_panic", "]");
        assert_eq!(
            source_problems(&format!("//! Tests.\n#[test]\n    {attr}\nfn t() {{}}\n")),
            vec!["line 3: #[should_panic]: assert the error or result instead"]
        );
        // Named in a comment or a string, it is not an attribute.
        assert!(source_problems(
            "//! Tidy forbids #[should_panic].\nconst S: &str = \"#[should_panic]\";\n"
        )
        .is_empty());
    }

    #[test]
    fn walks_sources_outside_target_and_hidden_directories() {
        let files = rust_files(&workspace_root()).unwrap();
        assert!(files.iter().any(|f| f.ends_with("xtask/src/tidy.rs")));
        assert!(files
            .iter()
            .any(|f| f.ends_with("crates/mapcache-store/src/snapshot/parse.rs")));
        let root = workspace_root();
        assert!(files.iter().all(|f| !f
            .strip_prefix(&root)
            .unwrap()
            .components()
            .any(
                |c| c.as_os_str() == "target" || c.as_os_str().to_string_lossy().starts_with('.')
            )));
    }
}
