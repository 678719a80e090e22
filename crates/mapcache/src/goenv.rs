//! The Go map-cache's environment variables, read with their Go meaning when set
//! (docs/migrating-from-map-cache.md has the table).
//!
//! Precedence, per setting: a flag on the command line, then mapcache's own
//! `MAPCACHE_*` variable, then the Go variable, then mapcache's default. Each Go
//! variable fills only the settings whose flag came from neither of the first two, so
//! `--port 7000` beats `RESP_ADDRESS=:6380`'s port while its host still applies. As in
//! Go, an empty variable counts as unset. Values Go would silently ignore (a port that
//! is not a number, an unknown key mode) stop the start with a one-line error instead.

use std::net::{IpAddr, Ipv4Addr, ToSocketAddrs as _};

use clap::parser::ValueSource;
use clap::ArgMatches;

/// The settings the Go variables can change, as the flags left them.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    pub bind: IpAddr,
    pub http_bind: Option<IpAddr>,
    pub port: u16,
    pub http_port: u16,
    pub resp: bool,
    /// `None`: flat (mapcache's default); else `path` or `preserve`.
    pub key_mode: KeyModeName,
    pub default_cache: String,
    pub maxclients: usize,
    pub log_json: bool,
    pub command_timeout_ms: u64,
}

/// The key mode by its flag value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyModeName {
    Flat,
    Path,
    Preserve,
}

/// Which settings were given as flags or `MAPCACHE_*` variables (a Go variable does
/// not override those).
#[derive(Debug, Clone, Copy, Default)]
pub struct Explicit {
    pub bind: bool,
    pub http_bind: bool,
    pub port: bool,
    pub http_port: bool,
    pub resp: bool,
    pub key_mode: bool,
    pub default_cache: bool,
    pub maxclients: bool,
    pub log_format: bool,
    pub command_timeout: bool,
}

impl Explicit {
    /// Reads clap's record of where each value came from.
    pub fn from_matches(m: &ArgMatches) -> Explicit {
        let given = |id: &str| {
            matches!(
                m.value_source(id),
                Some(ValueSource::CommandLine | ValueSource::EnvVariable)
            )
        };
        Explicit {
            bind: given("bind"),
            http_bind: given("http_bind"),
            port: given("port"),
            http_port: given("http_port"),
            resp: given("resp"),
            key_mode: given("key_mode"),
            default_cache: given("default_cache"),
            maxclients: given("maxclients"),
            log_format: given("log_format"),
            command_timeout: given("command_timeout_ms"),
        }
    }
}

/// `[host]:port` as Go's `net.Listen` reads it: no host is every interface (IPv4
/// here), `[v6]` in brackets, a name is resolved.
pub fn parse_listen(var: &str, text: &str) -> Result<(IpAddr, u16), String> {
    let bad = |why: &str| format!("{var}={text}: {why} (expected [host]:port, e.g. :8080)");
    let (host, port) = text.rsplit_once(':').ok_or_else(|| bad("no port"))?;
    let port: u16 = port.parse().map_err(|_| bad("the port is not a number"))?;
    let host = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    let ip = if host.is_empty() {
        IpAddr::V4(Ipv4Addr::UNSPECIFIED)
    } else if let Ok(ip) = host.parse() {
        ip
    } else {
        (host, port)
            .to_socket_addrs()
            .ok()
            .and_then(|mut a| a.next())
            .map(|a| a.ip())
            .ok_or_else(|| bad("unknown host"))?
    };
    Ok((ip, port))
}

/// Applies the Go variables `get` finds to `s`, except where `explicit` says a flag
/// or `MAPCACHE_*` variable chose the value. Answers the variables it applied, for
/// the log.
pub fn apply(
    s: &mut Settings,
    explicit: Explicit,
    get: &dyn Fn(&str) -> Option<String>,
) -> Result<Vec<&'static str>, String> {
    let var = |name: &str| get(name).filter(|v| !v.is_empty());
    let mut applied = Vec::new();
    if let Some(v) = var("LISTEN_ADDRESS") {
        let (ip, port) = parse_listen("LISTEN_ADDRESS", &v)?;
        if !explicit.http_bind && !explicit.bind {
            s.http_bind = Some(ip);
        }
        if !explicit.http_port {
            s.http_port = port;
        }
        applied.push("LISTEN_ADDRESS");
    }
    let resp_enabled = var("RESP_ENABLED");
    if let Some(v) = &resp_enabled {
        // Go: only "true" and "1" turn it on.
        if !explicit.resp {
            s.resp = v == "true" || v == "1";
        }
        applied.push("RESP_ENABLED");
    }
    if let Some(v) = var("RESP_ADDRESS") {
        let (ip, port) = parse_listen("RESP_ADDRESS", &v)?;
        if !explicit.bind {
            s.bind = ip;
        }
        if !explicit.port {
            s.port = port;
        }
        applied.push("RESP_ADDRESS");
    }
    match var("RESP_KEY_MODE").as_deref() {
        Some(v) => {
            let mode = match v {
                "translate" => KeyModeName::Path,
                "preserve" => KeyModeName::Preserve,
                _ => return Err(format!("RESP_KEY_MODE={v}: expected translate or preserve")),
            };
            if !explicit.key_mode {
                s.key_mode = mode;
            }
            applied.push("RESP_KEY_MODE");
        }
        // A Go deployment that turned RESP on relied on Go's default, translate.
        None if s.resp && resp_enabled.is_some() && !explicit.key_mode => {
            s.key_mode = KeyModeName::Path;
        }
        None => {}
    }
    if let Some(v) = var("RESP_DEFAULT_CACHE") {
        if !explicit.default_cache {
            s.default_cache = v;
        }
        applied.push("RESP_DEFAULT_CACHE");
    }
    if let Some(v) = var("RESP_MAX_CONNECTIONS") {
        let n: usize = v
            .parse()
            .map_err(|_| format!("RESP_MAX_CONNECTIONS={v}: expected a number"))?;
        if !explicit.maxclients {
            s.maxclients = n;
        }
        applied.push("RESP_MAX_CONNECTIONS");
    }
    if let Some(v) = var("KEY_DELIMITER") {
        if v != "/" {
            return Err(format!(
                "KEY_DELIMITER={v}: mapcache's paths are separated by / only"
            ));
        }
        applied.push("KEY_DELIMITER");
    }
    if let Some(v) = var("LOG_FORMAT") {
        // Go: "json" is JSON, anything else text.
        if !explicit.log_format {
            s.log_json = v == "json";
        }
        applied.push("LOG_FORMAT");
    }
    if let Some(v) = var("COMMAND_TIMEOUT_MS") {
        let ms: u64 = v
            .parse()
            .ok()
            .filter(|&ms| ms > 0)
            .ok_or_else(|| format!("COMMAND_TIMEOUT_MS={v}: expected a positive number"))?;
        if !explicit.command_timeout {
            s.command_timeout_ms = ms;
        }
        applied.push("COMMAND_TIMEOUT_MS");
    }
    Ok(applied)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn defaults() -> Settings {
        Settings {
            bind: IpAddr::from([127, 0, 0, 1]),
            http_bind: None,
            port: 6379,
            http_port: 8080,
            resp: true,
            key_mode: KeyModeName::Flat,
            default_cache: "default".into(),
            maxclients: 10_000,
            log_json: false,
            command_timeout_ms: 10_000,
        }
    }

    fn with(vars: &[(&str, &str)], explicit: Explicit) -> Result<Settings, String> {
        let mut s = defaults();
        let vars: Vec<(String, String)> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let get = move |k: &str| vars.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
        apply(&mut s, explicit, &get)?;
        Ok(s)
    }

    #[test]
    fn the_go_variables_have_their_go_meaning() {
        let s = with(
            &[
                ("LISTEN_ADDRESS", ":9000"),
                ("RESP_ENABLED", "true"),
                ("RESP_ADDRESS", "127.0.0.2:7000"),
                ("RESP_DEFAULT_CACHE", "users"),
                ("RESP_MAX_CONNECTIONS", "50"),
                ("KEY_DELIMITER", "/"),
                ("LOG_FORMAT", "json"),
                ("COMMAND_TIMEOUT_MS", "250"),
            ],
            Explicit::default(),
        )
        .unwrap();
        assert_eq!(s.http_bind, Some(IpAddr::from([0, 0, 0, 0])));
        assert_eq!((s.http_port, s.port), (9000, 7000));
        assert_eq!(s.bind, IpAddr::from([127, 0, 0, 2]));
        assert!(s.resp && s.log_json);
        // RESP on without RESP_KEY_MODE: Go's default, translate.
        assert_eq!(s.key_mode, KeyModeName::Path);
        assert_eq!(
            (s.default_cache.as_str(), s.maxclients, s.command_timeout_ms),
            ("users", 50, 250)
        );
        let s = with(&[("RESP_KEY_MODE", "preserve")], Explicit::default()).unwrap();
        assert_eq!(s.key_mode, KeyModeName::Preserve);
        for off in ["false", "0", "no"] {
            assert!(
                !with(&[("RESP_ENABLED", off)], Explicit::default())
                    .unwrap()
                    .resp
            );
        }
        assert_eq!(
            with(&[("RESP_ENABLED", "false")], Explicit::default())
                .unwrap()
                .key_mode,
            KeyModeName::Flat
        );
        assert_eq!(
            with(&[("LISTEN_ADDRESS", "")], Explicit::default()).unwrap(),
            defaults()
        );
        assert_eq!(
            with(&[("LISTEN_ADDRESS", "[::1]:81")], Explicit::default())
                .unwrap()
                .http_bind,
            Some("::1".parse().unwrap())
        );
        assert!(
            !with(&[("LOG_FORMAT", "text")], Explicit::default())
                .unwrap()
                .log_json
        );
    }

    #[test]
    fn flags_beat_the_go_variables() {
        let explicit = Explicit {
            port: true,
            resp: true,
            key_mode: true,
            bind: true,
            ..Explicit::default()
        };
        let s = with(
            &[
                ("RESP_ENABLED", "false"),
                ("RESP_ADDRESS", "0.0.0.0:7000"),
                ("RESP_KEY_MODE", "preserve"),
                ("LISTEN_ADDRESS", ":9000"),
            ],
            explicit,
        )
        .unwrap();
        assert!(s.resp);
        assert_eq!((s.port, s.http_port), (6379, 9000));
        assert_eq!(s.bind, IpAddr::from([127, 0, 0, 1]));
        // --bind covers the HTTP listener too.
        assert_eq!(s.http_bind, None);
        assert_eq!(s.key_mode, KeyModeName::Flat);
    }

    #[test]
    fn bad_values_are_named() {
        let e = |vars: &[(&str, &str)]| with(vars, Explicit::default()).unwrap_err();
        assert_eq!(
            e(&[("RESP_KEY_MODE", "flat")]),
            "RESP_KEY_MODE=flat: expected translate or preserve"
        );
        assert_eq!(
            e(&[("LISTEN_ADDRESS", "8080")]),
            "LISTEN_ADDRESS=8080: no port (expected [host]:port, e.g. :8080)"
        );
        assert_eq!(
            e(&[("RESP_ADDRESS", ":x")]),
            "RESP_ADDRESS=:x: the port is not a number (expected [host]:port, e.g. :8080)"
        );
        assert_eq!(
            e(&[("KEY_DELIMITER", ".")]),
            "KEY_DELIMITER=.: mapcache's paths are separated by / only"
        );
        assert_eq!(
            e(&[("COMMAND_TIMEOUT_MS", "0")]),
            "COMMAND_TIMEOUT_MS=0: expected a positive number"
        );
        assert_eq!(
            e(&[("RESP_MAX_CONNECTIONS", "-1")]),
            "RESP_MAX_CONNECTIONS=-1: expected a number"
        );
    }
}
