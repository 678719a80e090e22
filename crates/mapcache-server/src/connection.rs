//! The RESP side: accept loop and one task per connection.
//!
//! Per connection: read whatever the socket has, decode every complete command in the
//! buffer, execute each inline against the store, encode every reply into one output
//! buffer, and write it with one call. No lock is held across an `.await`: commands run
//! synchronously between reads and writes.
//!
//! An idle connection holds no buffers: the read buffer is taken only once the socket
//! is readable, and both buffers are given back when a batch leaves nothing unread
//! (jemalloc's thread cache makes taking them again cheap). Ten thousand idle clients
//! then cost their tasks and sockets, not 32 KiB of buffers each.

use std::net::SocketAddr;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use mapcache_commands::{execute_traced, Reply, Session};
use mapcache_resp::{Limits, Version};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tracing::Instrument;

use crate::metrics::ConnObserver;
use crate::Inner;

/// Replies are flushed mid-batch once this much is buffered, so a deep pipeline of
/// large replies does not grow the output buffer without bound.
const FLUSH_AT: usize = 64 * 1024;
/// Read buffer growth step.
const READ_CHUNK: usize = 16 * 1024;
/// The reply buffer a batch starts with.
const REPLY_CHUNK: usize = 16 * 1024;

pub(crate) async fn accept_loop(listener: TcpListener, inner: Arc<Inner>) {
    let mut shutdown = inner.shutdown.clone();
    loop {
        let accepted = tokio::select! {
            r = listener.accept() => r,
            _ = shutdown.changed() => break,
        };
        match accepted {
            Ok((stream, peer)) => admit(stream, peer, &inner),
            Err(e) => {
                // Out of file descriptors and the like: back off instead of spinning.
                tracing::warn!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    }
    tracing::debug!("RESP listener closed");
}

fn admit(mut stream: TcpStream, peer: SocketAddr, inner: &Arc<Inner>) {
    let shared = &inner.shared;
    shared
        .stats
        .connections_received
        .fetch_add(1, Ordering::Relaxed);
    let maxclients = shared.config.read().maxclients;
    if inner.connected.fetch_add(1, Ordering::AcqRel) >= maxclients {
        inner.connected.fetch_sub(1, Ordering::AcqRel);
        shared
            .stats
            .rejected_connections
            .fetch_add(1, Ordering::Relaxed);
        tokio::spawn(async move {
            let _ = stream
                .write_all(b"-ERR max number of clients reached\r\n")
                .await;
            let _ = stream.shutdown().await;
        });
        return;
    }
    let _ = stream.set_nodelay(true);
    let laddr = stream
        .local_addr()
        .map(|a| a.to_string())
        .unwrap_or_default();
    let client = shared.clients.register(peer.to_string(), laddr);
    let span = tracing::info_span!("conn", id = client.id, %peer);
    let authenticated = shared.config.read().requirepass.is_none();
    let mut session = Session::new(client, authenticated);
    session.select_default(shared);
    let inner2 = inner.clone();
    inner.tracker.spawn(
        async move {
            let guard = ConnGuard {
                inner: inner2.clone(),
                id: session.client.id,
            };
            tracing::debug!("connected");
            match serve(stream, session, &inner2).await {
                Ok(()) => tracing::debug!("closed"),
                Err(e) => tracing::debug!(error = %e, "closed with error"),
            }
            drop(guard);
        }
        .instrument(span),
    );
}

/// Unregisters the client and frees its slot however the task ends.
struct ConnGuard {
    inner: Arc<Inner>,
    id: u64,
}

impl Drop for ConnGuard {
    fn drop(&mut self) {
        self.inner.shared.clients.unregister(self.id);
        self.inner.connected.fetch_sub(1, Ordering::AcqRel);
    }
}

async fn serve(mut stream: TcpStream, mut session: Session, inner: &Inner) -> std::io::Result<()> {
    let shared = &*inner.shared;
    let limits = Limits {
        max_bulk_len: inner.config.proto_max_bulk_len,
        ..Limits::default()
    };
    let mut shutdown = inner.shutdown.clone();
    // CLIENT KILL (and, for a MONITOR client, a command to show) from another
    // connection wakes this task through the client's waker.
    let killed = Arc::new(tokio::sync::Notify::new());
    let wake = killed.clone();
    session
        .client
        .set_waker(Box::new(move || wake.notify_one()));
    let mut input = BytesMut::new();
    // Both buffers are taken when a batch starts (see the module's comment).
    let mut reply = Reply {
        buf: BytesMut::new(),
        version: Version::Resp2,
    };
    let mut args: Vec<Bytes> = Vec::with_capacity(8);
    let mut obs = ConnObserver::new(inner);
    loop {
        let idle = shared.config.read().timeout;
        let read = tokio::select! {
            r = read_when_ready(&mut stream, &mut input) => r?,
            _ = shutdown.changed() => {
                close_gracefully(&mut stream).await;
                return Ok(());
            }
            _ = idle_timer(idle) => {
                tracing::debug!(idle, "idle timeout");
                return Ok(());
            }
            _ = killed.notified() => {
                if session.client.is_killed() {
                    tracing::debug!("killed by CLIENT KILL");
                    close_gracefully(&mut stream).await;
                    return Ok(());
                }
                // A MONITOR client: the lines other clients' commands made.
                let lines = session.client.take_monitor_output();
                if !lines.is_empty() {
                    stream.write_all(&lines).await?;
                    shared
                        .stats
                        .net_output_bytes
                        .fetch_add(lines.len() as u64, Ordering::Relaxed);
                }
                continue;
            }
        };
        if read == 0 {
            return Ok(());
        }
        // Killed while its next command arrived (the select above may take the read
        // first when both are ready): a killed client's command never runs, as in Redis.
        if session.client.is_killed() {
            tracing::debug!("killed by CLIENT KILL");
            close_gracefully(&mut stream).await;
            return Ok(());
        }
        shared
            .stats
            .net_input_bytes
            .fetch_add(read as u64, Ordering::Relaxed);

        if reply.buf.capacity() == 0 {
            reply.buf.reserve(REPLY_CHUNK);
        }
        let mut close = false;
        obs.begin_batch();
        loop {
            match mapcache_resp::decode_command(&mut input, &limits, &mut args) {
                Ok(true) if args.is_empty() => continue,
                Ok(true) => {
                    if shared.clients.any_pause() {
                        // CLIENT PAUSE: send what is done, then wait for the pause to end.
                        obs.flush();
                        flush(&mut stream, &mut reply, shared).await?;
                        wait_while_paused(shared, &session, &args).await;
                        obs.resume();
                    }
                    // A script may run for long (and wait for SCRIPT KILL from another
                    // connection): off the worker, so other connections' tasks move on.
                    let script = mapcache_commands::scripting::may_run_script(&session, &args);
                    let mut run = || {
                        std::panic::catch_unwind(AssertUnwindSafe(|| {
                            execute_traced(shared, &mut session, &args, &mut reply)
                        }))
                    };
                    let ran = if script {
                        tokio::task::block_in_place(run)
                    } else {
                        run()
                    };
                    let Ok(outcome) = ran else {
                        // A bug, not the client's fault: answer, log, and drop only this client.
                        tracing::error!("command panicked; closing this connection");
                        reply.error("ERR internal error");
                        close = true;
                        break;
                    };
                    obs.finish(&outcome, &args, &session);
                    if session.close || session.client.is_killed() {
                        close = true;
                        break;
                    }
                    if reply.buf.len() >= FLUSH_AT {
                        obs.flush();
                        flush(&mut stream, &mut reply, shared).await?;
                        obs.resume();
                    }
                }
                Ok(false) => break,
                Err(e) => {
                    tracing::debug!(error = %e, "protocol error");
                    mapcache_resp::encode::protocol_error(&mut reply.buf, &e);
                    close = true;
                    break;
                }
            }
        }
        args.clear();
        obs.end_batch();
        obs.flush();
        flush(&mut stream, &mut reply, shared).await?;
        if close {
            close_gracefully(&mut stream).await;
            return Ok(());
        }
        if input.is_empty() {
            // Nothing pending: the connection may now idle without its buffers.
            input = BytesMut::new();
            reply.buf = BytesMut::new();
        }
        if input.len() > inner.config.query_buffer_limit {
            tracing::warn!(
                len = input.len(),
                "closing client that reached max query buffer length"
            );
            return Ok(());
        }
    }
}

/// Holds a command while CLIENT PAUSE applies to it: every command under ALL, those
/// that may write under WRITE (a write command, EVAL/EVALSHA/FCALL, an EXEC whose
/// queue writes), as Redis's processCommand decides.
async fn wait_while_paused(shared: &mapcache_commands::Shared, session: &Session, args: &[Bytes]) {
    use mapcache_commands::table::flags::WRITE;
    let may_write = |name: &[u8]| {
        mapcache_commands::lookup(name)
            .is_some_and(|c| c.has(WRITE) || matches!(c.name, "eval" | "evalsha" | "fcall"))
    };
    let write = may_write(&args[0])
        || (args[0].eq_ignore_ascii_case(b"exec")
            && session
                .transaction
                .as_ref()
                .is_some_and(|t| t.queue.iter().any(|q| may_write(&q[0]))));
    while let Some(left) = shared.clients.paused_for(write) {
        tokio::time::sleep(left.min(Duration::from_millis(10))).await;
    }
}

/// Waits until the socket is readable, then reads into `input`, reserving room first
/// (an idle connection has none). One `recv` per readable event, as `read_buf` does: a
/// read shorter than the room given clears tokio's readiness without a second call.
async fn read_when_ready(stream: &mut TcpStream, input: &mut BytesMut) -> std::io::Result<usize> {
    std::future::poll_fn(|cx| {
        std::task::ready!(stream.poll_read_ready(cx))?;
        if input.capacity() - input.len() < READ_CHUNK / 4 {
            input.reserve(READ_CHUNK);
        }
        tokio_util::io::poll_read_buf(std::pin::Pin::new(&mut *stream), cx, input)
    })
    .await
}

async fn flush(
    stream: &mut TcpStream,
    reply: &mut Reply,
    shared: &mapcache_commands::Shared,
) -> std::io::Result<()> {
    if reply.buf.is_empty() {
        return Ok(());
    }
    stream.write_all(&reply.buf).await?;
    shared
        .stats
        .net_output_bytes
        .fetch_add(reply.buf.len() as u64, Ordering::Relaxed);
    reply.buf.clear();
    Ok(())
}

/// Closes our side first (FIN) and discards what the client still sends for a moment:
/// closing a socket with unread input makes the kernel send RST, and an RST can make
/// the client drop replies it has received but not yet read.
async fn close_gracefully(stream: &mut TcpStream) {
    let _ = stream.shutdown().await;
    // On the heap: an array here would be part of every connection's task for its
    // whole life (the task's future holds the state of every `.await` in `serve`).
    let mut sink = vec![0u8; 4096];
    let drain = async {
        while let Ok(n) = stream.read(&mut sink).await {
            if n == 0 {
                break;
            }
        }
    };
    let _ = tokio::time::timeout(Duration::from_millis(200), drain).await;
}

/// Sleeps `secs` seconds, or forever when 0 (no idle timeout).
async fn idle_timer(secs: u64) {
    if secs == 0 {
        std::future::pending::<()>().await;
    }
    tokio::time::sleep(Duration::from_secs(secs)).await;
}
