//! `cargo xtask test`: the README's test command. Installs the Debian packages whose
//! programs the end-to-end tests run (apt-get, when running as root; otherwise it prints
//! the command to run and stops), then runs `cargo test --workspace` with the
//! arguments given.

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::Command;

use anyhow::{bail, Context, Result};

/// Every program the tests (crates/mapcache/tests, through `support::tool`) and .ci/run
/// run, and the Debian package that ships it. The one list: `tests_ask_only_for_listed_tools`
/// fails when a test asks for a program that is not here.
pub const TOOLS: &[(&str, &str)] = &[
    ("redis-server", "redis-server"),
    ("redis-cli", "redis-tools"),
    ("prometheus", "prometheus"),
    ("promtool", "prometheus"),
    ("nutcracker", "nutcracker"),
    // The client matrix (crates/mapcache/tests/client_matrix.rs) installs redis-py with
    // pip and ioredis/node-redis with npm, pinned, into the target directory.
    ("python3", "python3"),
    ("pip3", "python3-pip"),
    ("node", "nodejs"),
    ("npm", "npm"),
    // The Swagger UI test (crates/mapcache/tests/swagger_ui.rs): headless.
    ("chromium", "chromium"),
];

/// Where a program is looked for: `PATH`, then /usr/sbin and /sbin (Debian installs
/// nutcracker in /usr/sbin, which a non-root `PATH` often lacks). The tests look in
/// the same places.
fn search_dirs() -> Vec<PathBuf> {
    let paths = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&paths)
        .chain([PathBuf::from("/usr/sbin"), PathBuf::from("/sbin")])
        .collect()
}

/// The first executable regular file called `name` in `dirs`.
fn find_in(dirs: &[PathBuf], name: &str) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt as _;
    dirs.iter().map(|d| d.join(name)).find(|p| {
        std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    })
}

/// The packages of the programs not found in `dirs`, each once, in `TOOLS` order.
fn missing_packages(dirs: &[PathBuf]) -> Vec<&'static str> {
    let mut missing: Vec<&'static str> = Vec::new();
    for &(tool, package) in TOOLS {
        if find_in(dirs, tool).is_none() && !missing.contains(&package) {
            missing.push(package);
        }
    }
    missing
}

/// The command that installs `packages`, as a person would type it (`sudo` when not root).
fn install_command(packages: &[&str], sudo: bool) -> String {
    let sudo = if sudo { "sudo " } else { "" };
    format!(
        "{sudo}apt-get update && {sudo}env DEBIAN_FRONTEND=noninteractive apt-get install -y \
         --no-install-recommends {}",
        packages.join(" ")
    )
}

/// Whether this process runs as root (effective uid 0, from /proc/self/status).
fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Uid:"))
                .and_then(|ids| ids.split_whitespace().nth(1).map(|e| e == "0"))
        })
        .unwrap_or(false)
}

/// `cargo test` arguments: `--workspace` and then `args`, unless `args` pick packages
/// themselves (`-p`, `--package`, `--manifest-path`), which `--workspace` would override.
fn cargo_test_args(args: &[OsString]) -> Vec<OsString> {
    let picks_packages = args
        .iter()
        .take_while(|a| *a != "--")
        .filter_map(|a| a.to_str())
        .any(|a| {
            a.starts_with("-p")
                || a == "--package"
                || a.starts_with("--package=")
                || a == "--manifest-path"
                || a.starts_with("--manifest-path=")
        });
    let mut out: Vec<OsString> = vec!["test".into()];
    if !picks_packages {
        out.push("--workspace".into());
    }
    out.extend(args.iter().cloned());
    out
}

fn apt_get(args: &[&str]) -> Result<()> {
    let status = Command::new("apt-get")
        .args(args)
        .env("DEBIAN_FRONTEND", "noninteractive")
        .status()
        .context("running apt-get")?;
    if !status.success() {
        bail!("apt-get {} failed: {status}", args.join(" "));
    }
    Ok(())
}

/// Installs what is missing (or says how and fails), then runs the tests; exits with
/// cargo test's status.
pub fn run(args: &[OsString]) -> Result<()> {
    let dirs = search_dirs();
    let missing = missing_packages(&dirs);
    if !missing.is_empty() {
        let list = missing.join(" ");
        if !is_root() {
            eprintln!(
                "cargo xtask test: the tests need the Debian packages {list}, which are not \
                 installed. Install them (as root) and run cargo xtask test again:\n    {}",
                install_command(&missing, true)
            );
            std::process::exit(1);
        }
        if find_in(&dirs, "apt-get").is_none() {
            bail!("the tests need the Debian packages {list}, and apt-get is not here to install them");
        }
        eprintln!("cargo xtask test: installing {list}");
        apt_get(&["update", "-qq"])?;
        let mut install = vec!["install", "-y", "-qq", "--no-install-recommends"];
        install.extend(&missing);
        apt_get(&install)?;
        let still = missing_packages(&dirs);
        if !still.is_empty() {
            bail!(
                "apt-get installed {list}, but the programs of {} are still not found",
                still.join(" ")
            );
        }
    }
    let found: Vec<String> = TOOLS
        .iter()
        .filter_map(|&(tool, _)| find_in(&dirs, tool).map(|p| p.display().to_string()))
        .collect();
    eprintln!("cargo xtask test: test programs: {}", found.join(" "));

    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let status = Command::new(cargo)
        .args(cargo_test_args(args))
        .current_dir(workspace_root())
        .status()
        .context("running cargo test")?;
    std::process::exit(status.code().unwrap_or(1));
}

fn workspace_root() -> PathBuf {
    crate::tidy::workspace_root()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    /// The `tool("name", "package")` calls in the test sources under `dir`.
    fn tool_calls(dir: &Path, out: &mut Vec<(PathBuf, String, String)>) {
        for entry in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
            let path = entry.unwrap().path();
            if path.is_dir() {
                tool_calls(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let text = std::fs::read_to_string(&path).unwrap();
                for (at, _) in text.match_indices("tool(\"") {
                    let quoted: Vec<&str> = text[at + 5..].split('"').collect();
                    // tool("name", "package"): [ "", name, ", ", package, ...]
                    if quoted.len() > 3 && quoted[2].trim() == "," {
                        out.push((path.clone(), quoted[1].to_string(), quoted[3].to_string()));
                    }
                }
            }
        }
    }

    #[test]
    fn tests_ask_only_for_listed_tools() {
        let dir = workspace_root().join("crates/mapcache/tests");
        let mut calls = Vec::new();
        tool_calls(&dir, &mut calls);
        let names: Vec<&str> = calls.iter().map(|c| c.1.as_str()).collect();
        for needed in ["redis-server", "redis-cli", "prometheus", "nutcracker"] {
            assert!(
                names.contains(&needed),
                "no test asks for {needed}: {calls:?}"
            );
        }
        for (file, tool, package) in &calls {
            assert!(
                TOOLS.contains(&(tool.as_str(), package.as_str())),
                "{}: tool({tool:?}, {package:?}) is not in xtask's TOOLS, so cargo xtask test \
                 would not install it",
                file.display()
            );
        }
    }

    /// A test that runs an external program by its bare name bypasses `tool`, so a
    /// missing program would fail with a bare "No such file or directory".
    #[test]
    fn tests_run_listed_programs_only_through_tool() {
        fn scan(dir: &Path, bad: &mut Vec<String>) {
            for entry in std::fs::read_dir(dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    scan(&path, bad);
                } else if path.extension().is_some_and(|e| e == "rs") {
                    let text = std::fs::read_to_string(&path).unwrap();
                    for &(tool, _) in TOOLS {
                        if text.contains(&format!("Command::new(\"{tool}\")")) {
                            bad.push(format!("{}: Command::new(\"{tool}\")", path.display()));
                        }
                    }
                }
            }
        }
        let mut bad = Vec::new();
        scan(&workspace_root().join("crates"), &mut bad);
        assert!(bad.is_empty(), "use support::tool: {bad:?}");
    }

    #[test]
    fn finds_only_executable_files() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = std::env::temp_dir().join(format!("xtask-test-find-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("redis-server")).unwrap(); // a directory
        std::fs::write(dir.join("redis-cli"), "").unwrap(); // not executable
        std::fs::write(dir.join("prometheus"), "#!/bin/sh\n").unwrap();
        std::fs::set_permissions(
            dir.join("prometheus"),
            std::fs::Permissions::from_mode(0o755),
        )
        .unwrap();
        let dirs = vec![dir.clone()];
        assert_eq!(find_in(&dirs, "prometheus"), Some(dir.join("prometheus")));
        assert_eq!(find_in(&dirs, "redis-cli"), None);
        assert_eq!(find_in(&dirs, "redis-server"), None);
        // prometheus is found but promtool (same package) is not: listed once.
        assert_eq!(
            missing_packages(&dirs),
            [
                "redis-server",
                "redis-tools",
                "prometheus",
                "nutcracker",
                "python3",
                "python3-pip",
                "nodejs",
                "npm",
                "chromium"
            ]
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn install_command_is_the_one_to_paste() {
        assert_eq!(
            install_command(&["redis-tools", "nutcracker"], true),
            "sudo apt-get update && sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y \
             --no-install-recommends redis-tools nutcracker"
        );
        assert!(install_command(&["x"], false).starts_with("apt-get update && env "));
    }

    #[test]
    fn arguments_pass_on_and_package_picks_replace_workspace() {
        let os = |v: &[&str]| v.iter().map(OsString::from).collect::<Vec<_>>();
        assert_eq!(
            cargo_test_args(&os(&["--", "--nocapture"])),
            os(&["test", "--workspace", "--", "--nocapture"])
        );
        assert_eq!(
            cargo_test_args(&os(&["-p", "mapcache", "--test", "startup"])),
            os(&["test", "-p", "mapcache", "--test", "startup"])
        );
        assert_eq!(
            cargo_test_args(&os(&["--package=xtask"])),
            os(&["test", "--package=xtask"])
        );
        // After `--` the words are the test binary's, not cargo's.
        assert_eq!(
            cargo_test_args(&os(&["--", "-p"])),
            os(&["test", "--workspace", "--", "-p"])
        );
    }
}
