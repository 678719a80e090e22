//! `docs/commands.md` is generated from the command table; this test fails when the
//! two disagree. Regenerate with `UPDATE_DOCS=1 cargo test -p mapcache-commands --test docs`.

use std::fmt::Write as _;
use std::path::Path;

use mapcache_commands::table::{self, Command};

fn arity(c: &Command) -> String {
    if c.arity < 0 {
        format!("≥ {}", -c.arity)
    } else {
        c.arity.to_string()
    }
}

fn flags(c: &Command) -> String {
    table::flags::NAMES
        .iter()
        .filter(|(bit, _)| c.has(*bit))
        .map(|(_, n)| *n)
        .collect::<Vec<_>>()
        .join(", ")
}

fn render() -> String {
    let mut md = String::new();
    md.push_str("# Commands\n\n");
    md.push_str(
        "Generated from the command table (`crates/mapcache-commands/src/families/`) by\n\
         `UPDATE_DOCS=1 cargo test -p mapcache-commands --test docs`; a test fails when this\n\
         file and the table disagree.\n\n\
         In the default `flat` key mode every command answers exactly as Redis 7.0 does: same\n\
         reply types, same error texts. The differential test (`crates/mapcache/tests/differential.rs`)\n\
         checks this against a real `redis-server`. Known differences are listed at the end.\n\n\
         Arity counts the command name, as Redis's `COMMAND INFO` does (`≥ n`: at least n).\n\n",
    );
    let mut groups: Vec<&str> = table::all().iter().map(|c| c.group).collect();
    groups.sort_unstable();
    groups.dedup();
    for group in groups {
        let _ = writeln!(md, "## {group}\n");
        md.push_str("| command | arity | flags | keys (first, last, step) | since | summary |\n");
        md.push_str("|---|---|---|---|---|---|\n");
        for c in table::all().iter().filter(|c| c.group == group) {
            let row = |name: String, c: &Command| {
                format!(
                    "| `{}` | {} | {} | {} | {} | {} |\n",
                    name,
                    arity(c),
                    flags(c),
                    if c.keys == (0, 0, 0) {
                        "—".to_string()
                    } else {
                        format!("{}, {}, {}", c.keys.0, c.keys.1, c.keys.2)
                    },
                    c.since,
                    c.summary
                )
            };
            md.push_str(&row(c.name.to_ascii_uppercase(), c));
            for sub in c.subcommands {
                md.push_str(&row(
                    format!(
                        "{} {}",
                        c.name.to_ascii_uppercase(),
                        sub.name.to_ascii_uppercase()
                    ),
                    sub,
                ));
            }
        }
        md.push('\n');
    }
    md.push_str(&std::fs::read_to_string(differences_path()).unwrap_or_default());
    md
}

fn differences_path() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/commands-differences.md")
}

#[test]
fn commands_md_matches_the_table() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/commands.md");
    let want = render();
    if std::env::var_os("UPDATE_DOCS").is_some() {
        std::fs::write(&path, &want).unwrap();
        return;
    }
    let have = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        have == want,
        "docs/commands.md is stale: run `UPDATE_DOCS=1 cargo test -p mapcache-commands --test docs`"
    );
}
