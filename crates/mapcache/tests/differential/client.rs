//! A raw RESP2 client (one request, one reply frame) and a `redis-server` child process.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use bytes::BytesMut;
use mapcache_resp::{decode_frame, Frame, Limits};

/// One reply: the decoded frame and its exact bytes on the wire (so `$-1` and `*-1`,
/// which decode to the same [`Frame::Null`], still compare different).
#[derive(Debug, Clone)]
pub struct Reply {
    pub frame: Frame,
    pub raw: Vec<u8>,
}

/// A connection that sends commands as multibulk requests and reads reply frames.
#[derive(Debug)]
pub struct Conn {
    pub who: &'static str,
    stream: TcpStream,
    buf: BytesMut,
    limits: Limits,
    out: Vec<u8>,
}

impl Conn {
    pub fn connect(addr: SocketAddr, who: &'static str) -> Conn {
        let deadline = Instant::now() + Duration::from_secs(10);
        let stream = loop {
            match TcpStream::connect(addr) {
                Ok(s) => break s,
                Err(e) if Instant::now() > deadline => panic!("connect to {who} at {addr}: {e}"),
                Err(_) => std::thread::sleep(Duration::from_millis(20)),
            }
        };
        stream
            .set_read_timeout(Some(Duration::from_secs(20)))
            .unwrap();
        stream.set_nodelay(true).unwrap();
        Conn {
            who,
            stream,
            buf: BytesMut::with_capacity(64 * 1024),
            limits: Limits {
                max_multibulk_len: i32::MAX as usize,
                ..Limits::default()
            },
            out: Vec::with_capacity(1024),
        }
    }

    /// Sends one command.
    pub fn send(&mut self, args: &[Vec<u8>]) -> Result<(), String> {
        self.out.clear();
        self.out
            .extend_from_slice(format!("*{}\r\n", args.len()).as_bytes());
        for a in args {
            self.out
                .extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
            self.out.extend_from_slice(a);
            self.out.extend_from_slice(b"\r\n");
        }
        self.stream
            .write_all(&self.out)
            .map_err(|e| format!("{}: write failed: {e}", self.who))
    }

    /// Reads exactly one reply frame.
    pub fn read(&mut self) -> Result<Reply, String> {
        let mut chunk = [0u8; 64 * 1024];
        loop {
            let before = self.buf.len();
            let snapshot = self.buf.clone();
            match decode_frame(&mut self.buf, &self.limits) {
                Ok(Some(frame)) => {
                    let used = before - self.buf.len();
                    return Ok(Reply {
                        frame,
                        raw: snapshot[..used].to_vec(),
                    });
                }
                Ok(None) => {}
                Err(e) => {
                    return Err(format!(
                        "{}: undecodable reply ({e}): {:?}",
                        self.who,
                        String::from_utf8_lossy(&self.buf[..self.buf.len().min(200)])
                    ))
                }
            }
            match self.stream.read(&mut chunk) {
                Ok(0) => return Err(format!("{}: connection closed", self.who)),
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
                Err(e) => return Err(format!("{}: read failed: {e}", self.who)),
            }
        }
    }

    pub fn call(&mut self, args: &[Vec<u8>]) -> Result<Reply, String> {
        self.send(args)?;
        self.read()
    }

    /// A call whose reply only matters to the harness (state checks, settling).
    pub fn call_strs(&mut self, args: &[&[u8]]) -> Result<Frame, String> {
        let v: Vec<Vec<u8>> = args.iter().map(|a| a.to_vec()).collect();
        Ok(self.call(&v)?.frame)
    }
}

/// A `redis-server` child on a free loopback port, killed (by its Child handle) on drop.
#[derive(Debug)]
pub struct RedisServer {
    child: Child,
    pub addr: SocketAddr,
}

impl RedisServer {
    pub fn start() -> RedisServer {
        let mut last_err = String::new();
        for _attempt in 0..5 {
            let port = {
                let l = TcpListener::bind("127.0.0.1:0").expect("bind a free port");
                l.local_addr().unwrap().port()
            };
            let child = Command::new(crate::support::tool("redis-server", "redis-server"))
                .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
                .args(["--save", "", "--appendonly", "no", "--daemonize", "no"])
                .args(["--dir", &std::env::temp_dir().to_string_lossy()])
                .args(["--databases", "16"])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn();
            let child = match child {
                Ok(c) => c,
                Err(e) => panic!("cannot run redis-server: {e}"),
            };
            let mut server = RedisServer {
                child,
                addr: SocketAddr::from(([127, 0, 0, 1], port)),
            };
            let deadline = Instant::now() + Duration::from_secs(10);
            while Instant::now() < deadline {
                if let Ok(Some(st)) = server.child.try_wait() {
                    last_err = format!("redis-server exited: {st}");
                    break;
                }
                if let Ok(s) = TcpStream::connect(server.addr) {
                    drop(s);
                    let mut c = Conn::connect(server.addr, "redis");
                    if let Ok(Frame::Simple(s)) = c.call_strs(&[b"PING"]) {
                        if &s[..] == b"PONG" {
                            return server;
                        }
                    }
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            if last_err.is_empty() {
                last_err = "redis-server did not answer PING".into();
            }
        }
        panic!("could not start redis-server: {last_err}");
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
