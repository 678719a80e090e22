//! `cargo xtask tidy`: the workspace's layering, checked from the manifests.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

/// Which mapcache crates each crate may depend on (DESIGN.md, "Workspace").
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

pub fn run() -> Result<()> {
    let v = violations(&workspace_root())?;
    if !v.is_empty() {
        bail!("layering violations:\n{}", v.join("\n"));
    }
    eprintln!("tidy: layering ok");
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
}
