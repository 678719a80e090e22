//! `--key-mode path` end to end: the real binary, redis-cli as the client
//! (docs/key-modes.md).

mod support;
use support::{redis_cli, Server};

#[test]
fn redis_cli_reaches_one_tree_through_paths() {
    let server = Server::start(&["--key-mode", "path"]);
    let cli = |args: &[&str]| redis_cli(server.port(), args);
    assert_eq!(cli(&["HSET", "user:100", "name", "Alice"]), "1\n");
    assert_eq!(cli(&["SET", "user:100:email", "a@example.com"]), "OK\n");
    assert_eq!(cli(&["GET", "user:100:name"]), "Alice\n");
    assert_eq!(
        cli(&["HGETALL", "user:100"]),
        "name\nAlice\nemail\na@example.com\n"
    );
    assert_eq!(
        cli(&["HGETALL", "user"]),
        "100\n{\"name\":\"Alice\",\"email\":\"a@example.com\"}\n"
    );
    // KEYS as the Go map-cache answers it: each `*` one segment, the nodes there.
    assert_eq!(cli(&["KEYS", "user:*"]), "user:100\n");
    assert_eq!(
        cli(&["KEYS", "user:*:*"]),
        "user:100:name\nuser:100:email\n"
    );
    assert_eq!(cli(&["TYPE", "user:100"]), "hash\n");
    assert_eq!(
        cli(&["SET", "user:100:name:first", "A"]),
        "ERR path 'user:100:name:first' crosses a non-object value at 'user:100:name'\n\n"
    );
    assert_eq!(cli(&["DEL", "user:100"]), "1\n");
    assert_eq!(cli(&["EXISTS", "user"]), "0\n");
    assert_eq!(cli(&["DBSIZE"]), "0\n");
    let info = cli(&["INFO", "server"]);
    assert!(info.contains("mapcache_key_mode:path"), "{info}");
}

/// A TTL on a nested path: the sweeper removes that subtree by itself (INFO counts it
/// as an actively expired key before any client touches the tree again).
#[test]
fn a_nested_ttl_is_swept_without_any_access() {
    let server = Server::start(&["--key-mode", "path"]);
    let cli = |args: &[&str]| redis_cli(server.port(), args);
    assert_eq!(cli(&["HSET", "user:1", "name", "a", "token", "t"]), "2\n");
    assert_eq!(cli(&["SET", "user:2:name", "b"]), "OK\n");
    // Long enough that the next redis-cli still finds it on a loaded machine (150 ms
    // was not: PTTL answered -2 under a load average of 7 on 2 cores).
    assert_eq!(cli(&["PEXPIRE", "user:1", "1000"]), "1\n");
    let ttl: i64 = cli(&["PTTL", "user:1:token"]).trim().parse().unwrap();
    assert!((1..=1000).contains(&ttl), "{ttl}");
    assert_eq!(cli(&["PTTL", "user:2:name"]), "-1\n");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let stats = cli(&["INFO", "stats"]);
        if stats.contains("expired_keys:1\r") {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "not swept: {stats}");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert_eq!(cli(&["KEYS", "user:*:*"]), "user:2:name\n");
    assert_eq!(cli(&["EXISTS", "user:1"]), "0\n");
}
