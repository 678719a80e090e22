//! A small RESP2 client for the tests that need whole replies (nested arrays, nil,
//! a closed connection told apart from an answer): `Conn` sends commands as RESP
//! arrays of bulk strings and reads one complete reply each.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;

use crate::support::Server;

/// One RESP2 reply.
#[derive(Debug, Clone, PartialEq)]
pub enum Resp {
    Simple(String),
    Error(String),
    Int(i64),
    Bulk(Option<Vec<u8>>),
    Array(Option<Vec<Resp>>),
    /// The server closed the connection instead of answering.
    Closed,
}

pub const NIL: Resp = Resp::Bulk(None);

pub fn empty_array() -> Resp {
    Resp::Array(Some(Vec::new()))
}

/// A RESP connection that reads whole replies.
pub struct Conn {
    pub w: TcpStream,
    pub r: BufReader<TcpStream>,
}

impl Conn {
    pub fn open(server: &Server) -> Conn {
        let w = server.connect();
        let r = BufReader::new(w.try_clone().unwrap());
        Conn { w, r }
    }

    /// Sends one command as a RESP array of bulk strings and reads its reply.
    pub fn cmd(&mut self, args: &[&str]) -> Resp {
        let mut out = format!("*{}\r\n", args.len()).into_bytes();
        for a in args {
            out.extend_from_slice(format!("${}\r\n{a}\r\n", a.len()).as_bytes());
        }
        if self.w.write_all(&out).is_err() {
            return Resp::Closed;
        }
        read_reply(&mut self.r)
    }

    /// Runs `args`, then PING on the same connection; answers the first reply and
    /// asserts PONG (so the connection survived the command).
    #[track_caller]
    pub fn cmd_then_ping(&mut self, args: &[&str]) -> Resp {
        let reply = self.cmd(args);
        assert_ne!(reply, Resp::Closed, "{args:?}: connection closed");
        assert!(
            !matches!(&reply, Resp::Error(e) if e.contains("internal error")),
            "{args:?} answered {reply:?}"
        );
        let pong = self.cmd(&["PING"]);
        assert_eq!(
            pong,
            Resp::Simple("PONG".into()),
            "PING after {args:?} (which answered {reply:?})"
        );
        reply
    }
}

fn read_line(r: &mut BufReader<TcpStream>) -> Option<String> {
    let mut line = String::new();
    match r.read_line(&mut line) {
        Ok(0) | Err(_) => None,
        Ok(_) => Some(line.trim_end_matches("\r\n").to_string()),
    }
}

pub fn read_reply(r: &mut BufReader<TcpStream>) -> Resp {
    let Some(line) = read_line(r) else {
        return Resp::Closed;
    };
    let (kind, rest) = line.split_at(1);
    match kind {
        "+" => Resp::Simple(rest.into()),
        "-" => Resp::Error(rest.into()),
        ":" => Resp::Int(rest.parse().expect("integer reply")),
        "$" => {
            let n: i64 = rest.parse().expect("bulk length");
            if n < 0 {
                return Resp::Bulk(None);
            }
            let mut body = vec![0u8; n as usize + 2];
            if r.read_exact(&mut body).is_err() {
                return Resp::Closed;
            }
            body.truncate(n as usize);
            Resp::Bulk(Some(body))
        }
        "*" => {
            let n: i64 = rest.parse().expect("array length");
            if n < 0 {
                return Resp::Array(None);
            }
            let mut items = Vec::new();
            for _ in 0..n {
                match read_reply(r) {
                    Resp::Closed => return Resp::Closed,
                    item => items.push(item),
                }
            }
            Resp::Array(Some(items))
        }
        other => panic!("not a RESP2 reply: {other}{rest}"),
    }
}

impl Resp {
    /// A bulk string reply's text (`None` for nil or any other reply).
    pub fn text(&self) -> Option<String> {
        match self {
            Resp::Bulk(Some(b)) => Some(String::from_utf8_lossy(b).into_owned()),
            _ => None,
        }
    }
}
