//! A small blocking HTTP/1.1 client for the API tests: hyper's client over a tokio
//! `TcpStream`, one connection per request, driven by a current-thread runtime.
#![allow(dead_code)]

use std::net::SocketAddr;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::Request;
use hyper_util::rt::TokioIo;

/// An answer: status, headers, body.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: hyper::HeaderMap,
    pub body: Bytes,
}

impl Reply {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .map(|v| v.to_str().unwrap().to_string())
    }

    /// Asserts the status and the exact body text.
    #[track_caller]
    pub fn is(&self, status: u16, body: &str) {
        assert_eq!((self.status, self.text().as_str()), (status, body));
    }

    /// Asserts an API error: its status, and a Go-shaped body `{"message": ...}` (with
    /// mapcache's optional `detail`) whose text contains `part`.
    #[track_caller]
    pub fn is_error(&self, status: u16, part: &str) {
        let text = self.text();
        assert_eq!(self.status, status, "{text}");
        assert!(
            text.starts_with(r#"{"message":""#),
            "not an error body: {text}"
        );
        assert!(text.ends_with("\"}"), "not an error body: {text}");
        assert!(text.contains(part), "{text:?} does not mention {part:?}");
        assert_eq!(
            self.header("content-type").as_deref(),
            Some("application/json")
        );
    }

    /// Asserts an API error whose `message` is exactly `message` (the Go server's
    /// words), whatever its `detail`.
    #[track_caller]
    pub fn is_message(&self, status: u16, message: &str) {
        let text = self.text();
        assert_eq!(self.status, status, "{text}");
        let exact = format!(r#"{{"message":"{message}"}}"#);
        let with_detail = format!(r#"{{"message":"{message}","detail":""#);
        assert!(
            text == exact || text.starts_with(&with_detail),
            "{text:?} is not the error {message:?}"
        );
        assert_eq!(
            self.header("content-type").as_deref(),
            Some("application/json")
        );
    }
}

/// A client of one server, sending `headers` with every request.
pub struct Http {
    rt: tokio::runtime::Runtime,
    pub addr: SocketAddr,
    headers: Vec<(String, String)>,
}

impl Http {
    pub fn new(addr: SocketAddr) -> Http {
        Http {
            rt: tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap(),
            addr,
            headers: Vec::new(),
        }
    }

    /// This client with one more header on every request.
    pub fn with_header(mut self, name: &str, value: &str) -> Http {
        self.headers.push((name.into(), value.into()));
        self
    }

    pub fn request(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: impl Into<Bytes>,
    ) -> Reply {
        let mut b = Request::builder()
            .method(method)
            .uri(path)
            .header("host", "127.0.0.1");
        for (k, v) in &self.headers {
            b = b.header(k.as_str(), v.as_str());
        }
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        let req = b.body(Full::new(body.into())).unwrap();
        let addr = self.addr;
        self.rt.block_on(async move {
            let stream = tokio::net::TcpStream::connect(addr)
                .await
                .expect("connect http");
            let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
                .await
                .expect("handshake");
            tokio::spawn(async move {
                let _ = conn.await;
            });
            let resp =
                tokio::time::timeout(std::time::Duration::from_secs(30), sender.send_request(req))
                    .await
                    .expect("HTTP reply within 30 s")
                    .expect("send request");
            let status = resp.status().as_u16();
            let headers = resp.headers().clone();
            let body = resp.into_body().collect().await.expect("body").to_bytes();
            Reply {
                status,
                headers,
                body,
            }
        })
    }

    pub fn get(&self, path: &str) -> Reply {
        self.request("GET", path, &[], Bytes::new())
    }

    pub fn post(&self, path: &str, body: &str) -> Reply {
        self.request("POST", path, &[], body.to_string())
    }

    pub fn put(&self, path: &str, body: &str) -> Reply {
        self.request("PUT", path, &[], body.to_string())
    }

    pub fn patch(&self, path: &str, body: &str) -> Reply {
        self.request("PATCH", path, &[], body.to_string())
    }

    pub fn delete(&self, path: &str) -> Reply {
        self.request("DELETE", path, &[], Bytes::new())
    }
}
