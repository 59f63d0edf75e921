//! Shared by the `server_*` end-to-end tests: start the real `tailor serve` binary on a free
//! port with a temporary data directory, talk HTTP/1.1 to it, and kill it when done.
//!
//! The HTTP client is a few lines over `TcpStream` (one request per connection), which is all
//! the tests need and keeps the build free of a client library.

#![allow(dead_code)]

use serde_json::Value;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

/// The request time every test server is frozen at: the reference time of the policy tests and
/// of `examples/`.
pub const NOW: &str = "2026-11-24T10:00:00Z";

static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// A temporary directory, removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(name: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!(
            "tailor-e2e-{name}-{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("temp dir");
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Runs the `tailor` binary with `args` in the repository root, without colour and without a
/// hashing key from the environment: its exit code, stdout and stderr.
pub fn tailor(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_tailor"))
        .args(args)
        .current_dir(root())
        .env("NO_COLOR", "1")
        .env_remove("TAILOR_HASH_KEY")
        .output()
        .expect("run tailor");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Posts a view of `decision`'s offers (at `at`, default now) and expects it taken.
pub fn view(server: &Server, decision: &Value, at: Option<&str>) {
    let mut body = serde_json::json!({"decision_id": decision["decision_id"], "type": "view"});
    if let Some(at) = at {
        body["at"] = serde_json::json!(at);
    }
    let (status, v) = server.post("/personalization/events", &body);
    assert_eq!(status, 200, "{v}");
}

/// The repository root (where `policies/` and `examples/` are).
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A running server; killed on drop.
pub struct Server {
    pub child: Child,
    pub addr: String,
    pub data: PathBuf,
    pub env: Vec<(String, String)>,
    pub demo: bool,
}

impl Server {
    /// `tailor serve --demo` with a fresh data directory in `dir`.
    pub fn demo(dir: &TempDir) -> Server {
        Server::start(&dir.0, true, &[])
    }

    /// Starts the server on a free port with `data` as its store and extra environment.
    pub fn start(data: &Path, demo: bool, env: &[(&str, &str)]) -> Server {
        let env: Vec<(String, String)> = env.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        let (child, addr) = spawn(data, demo, &env);
        Server {
            child,
            addr,
            data: data.to_path_buf(),
            env,
            demo,
        }
    }

    /// Stops the server with SIGKILL (no graceful shutdown) and waits for it.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Kills and starts it again on the same data directory (a new port).
    pub fn restart(&mut self) {
        self.kill();
        let (child, addr) = spawn(&self.data, self.demo, &self.env);
        self.child = child;
        self.addr = addr;
    }

    pub fn request(&self, method: &str, path: &str, body: Option<&[u8]>) -> (u16, Vec<u8>) {
        request(&self.addr, method, path, body)
    }

    /// A JSON request; the response parsed (`Value::Null` for a non-JSON body).
    pub fn json(&self, method: &str, path: &str, body: Option<&Value>) -> (u16, Value) {
        let bytes = body.map(|b| serde_json::to_vec(b).expect("json"));
        let (status, out) = self.request(method, path, bytes.as_deref());
        (status, serde_json::from_slice(&out).unwrap_or(Value::Null))
    }

    pub fn get(&self, path: &str) -> (u16, Value) {
        self.json("GET", path, None)
    }

    pub fn post(&self, path: &str, body: &Value) -> (u16, Value) {
        self.json("POST", path, Some(body))
    }

    /// A decide request that must succeed.
    pub fn decide(&self, body: &Value) -> Value {
        let (status, v) = self.post("/personalization/decide", body);
        assert_eq!(status, 200, "decide failed: {v}");
        v
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

fn spawn(data: &Path, demo: bool, env: &[(String, String)]) -> (Child, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_tailor"));
    cmd.arg("serve")
        .arg("--listen")
        .arg("127.0.0.1:0")
        .arg("--data")
        .arg(data);
    if demo {
        cmd.arg("--demo");
    }
    cmd.current_dir(root())
        .env("TAILOR_FIXED_NOW", NOW)
        // Quiet unless asked: some tests inject faults on purpose, which the server logs.
        .env(
            "TAILOR_LOG",
            std::env::var("TAILOR_TEST_LOG").unwrap_or_else(|_| "off".into()),
        )
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("spawn tailor serve");
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut lines = BufReader::new(stdout).lines();
        while let Some(Ok(line)) = lines.next() {
            if let Some(addr) = line.strip_prefix("listening on http://") {
                let _ = tx.send(addr.to_string());
            }
        }
    });
    match rx.recv_timeout(Duration::from_secs(120)) {
        Ok(addr) => (child, addr),
        Err(_) => {
            let _ = child.kill();
            panic!("tailor serve did not print its address");
        }
    }
}

/// One HTTP/1.1 request on a fresh connection.
pub fn request(addr: &str, method: &str, path: &str, body: Option<&[u8]>) -> (u16, Vec<u8>) {
    try_request(addr, method, path, body).unwrap_or_else(|e| panic!("{method} {path}: {e}"))
}

/// Like [`request`], reporting connection failures instead of panicking.
pub fn try_request(addr: &str, method: &str, path: &str, body: Option<&[u8]>) -> Result<(u16, Vec<u8>), String> {
    try_request_typed(addr, method, path, "application/json", body)
}

/// Like [`try_request`], with the body's `Content-Type`.
pub fn try_request_typed(
    addr: &str,
    method: &str,
    path: &str,
    content_type: &str,
    body: Option<&[u8]>,
) -> Result<(u16, Vec<u8>), String> {
    let mut stream = TcpStream::connect(addr).map_err(|e| e.to_string())?;
    stream
        .set_read_timeout(Some(Duration::from_secs(60)))
        .map_err(|e| e.to_string())?;
    let body = body.unwrap_or_default();
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    // The head and the body in one write: a server that answers without reading a small body
    // (a GET sent one) and closes would otherwise find it unread on the socket, and the kernel
    // resets the connection, sometimes before the answer is read. A server may also answer
    // (413) before reading a large body; a broken pipe is ignored then, and the read below
    // reports what the server said.
    let mut message = head.into_bytes();
    message.extend_from_slice(body);
    let _ = stream.write_all(&message);
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).map_err(|e| e.to_string())?;
    parse_response(&raw)
}

fn parse_response(raw: &[u8]) -> Result<(u16, Vec<u8>), String> {
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| format!("no header end in {} bytes", raw.len()))?;
    let head = String::from_utf8_lossy(&raw[..split]).to_string();
    let status: u16 = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("bad status line: {head}"))?;
    let mut body = raw[split + 4..].to_vec();
    if head.to_ascii_lowercase().contains("transfer-encoding: chunked") {
        let mut out = Vec::new();
        let mut rest = &body[..];
        while let Some(eol) = rest.windows(2).position(|w| w == b"\r\n") {
            let size = usize::from_str_radix(String::from_utf8_lossy(&rest[..eol]).trim(), 16).unwrap_or(0);
            if size == 0 {
                break;
            }
            let start = eol + 2;
            out.extend_from_slice(&rest[start..(start + size).min(rest.len())]);
            rest = &rest[(start + size + 2).min(rest.len())..];
        }
        body = out;
    }
    Ok((status, body))
}

/// A decide body.
pub fn decide_body(subject: &str, channel: &str, placement: &str) -> Value {
    serde_json::json!({
        "subject": { "id": subject, "tenant_id": "demo" },
        "context": { "channel": channel, "placement": placement },
    })
}

/// The ids a decide response shows (offers, or the fallback content).
pub fn shown(response: &Value) -> Vec<String> {
    response["decisions"]
        .as_array()
        .map(|items| {
            items
                .iter()
                .filter_map(|d| d.get("offer_id").or_else(|| d.get("content_id")))
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// The demo policy sources as a deploy body's `sources`, with `edit` applied to each text.
pub fn demo_sources(edit: impl Fn(&str, String) -> String) -> Value {
    let mut files: Vec<PathBuf> = std::fs::read_dir(root().join("policies/retail"))
        .expect("policies")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "policy"))
        .collect();
    files.sort();
    let sources: Vec<Value> = files
        .iter()
        .map(|p| {
            let name = format!(
                "policies/retail/{}",
                p.file_name().unwrap_or_default().to_string_lossy()
            );
            let text = std::fs::read_to_string(p).expect("policy");
            serde_json::json!({ "name": name, "text": edit(&name, text) })
        })
        .collect();
    Value::Array(sources)
}
