//! Project tooling, run as `cargo xtask <task>`.
//!
//! - `tidy`: checks the workspace's shape (the dependency direction DESIGN.md fixes).
//! - `stress`, `profile`, `bench`: load and profiling tools (see docs/PERFORMANCE.md).

mod tidy;

use anyhow::{bail, Result};

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("tidy") => tidy::run(),
        Some(other) => bail!("unknown task {other:?}; try: tidy"),
        None => bail!("usage: cargo xtask <tidy>"),
    }
}
