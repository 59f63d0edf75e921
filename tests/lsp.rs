//! End-to-end tests of `tailor lsp`: the real binary, spoken to in JSON-RPC over stdio, as an
//! editor would.
//!
//! Each test writes a small workspace to its own directory, starts the server on it and walks
//! through one feature: diagnostics, hover, completion, definition and rename across files,
//! formatting, semantic tokens, code actions, and robustness against malformed messages. One
//! helper, [`Session`], frames messages and waits for answers, so a protocol detail changes in
//! one place.

use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

/// How long to wait for one message before declaring the server stuck. Generous: a guard
/// against hanging forever, not a measurement.
const PATIENCE: Duration = Duration::from_secs(60);

const SCHEMA: &str = "\
package shop.schema

enum Tier { Standard, Premium }

/// What we know about a customer.
schema Profile {
  /// Age in years.
  age: Int
  tier: Tier
  email: String?
}
";

const SEGMENTS: &str = "\
package shop.segments

import shop.schema.{Tier}

/// Grown-ups.
segment adult = profile.age >= 18

segment premium = profile.tier == Tier.Premium
";

const USES: &str = "\
package shop.uses

import shop.segments.{adult}

segment adult_only = adult
";

/// A running server and what it has sent that nobody asked for yet.
struct Session {
    child: Child,
    stdin: ChildStdin,
    incoming: Receiver<Value>,
    /// Notifications received while waiting for responses.
    notifications: Vec<Value>,
    next_id: i64,
    root: PathBuf,
    /// What the server announced at `initialize`.
    capabilities: Value,
}

impl Session {
    /// Starts `tailor lsp` on a workspace holding `files` and initializes it.
    fn start(name: &str, files: &[(&str, &str)]) -> Session {
        let root = temp_dir(name);
        for (path, text) in files {
            let path = root.join(path);
            std::fs::create_dir_all(path.parent().expect("a parent")).expect("parent is created");
            std::fs::write(path, text).expect("file is written");
        }
        let mut child = Command::new(env!("CARGO_BIN_EXE_tailor"))
            .arg("lsp")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .env_remove("RUST_LOG")
            .spawn()
            .expect("the tailor binary starts");
        let stdin = child.stdin.take().expect("stdin is piped");
        let stdout = child.stdout.take().expect("stdout is piped");
        let (tx, incoming) = mpsc::channel();
        std::thread::spawn(move || {
            let mut reader = BufReader::new(stdout);
            while let Some(message) = read_message(&mut reader) {
                if tx.send(message).is_err() {
                    break;
                }
            }
        });
        let mut s = Session {
            child,
            stdin,
            incoming,
            notifications: Vec::new(),
            next_id: 1,
            root,
            capabilities: Value::Null,
        };
        let root_uri = s.uri("");
        let result = s.request(
            "initialize",
            json!({
                "processId": null,
                "rootUri": root_uri,
                "capabilities": {},
                "initializationOptions": { "debounceMs": 0 },
            }),
        );
        assert!(
            result["capabilities"]["hoverProvider"].as_bool().unwrap_or(false),
            "{result}"
        );
        s.capabilities = result["capabilities"].clone();
        s.notify("initialized", json!({}));
        s
    }

    fn uri(&self, relative: &str) -> String {
        let path = self.root.join(relative);
        format!("file://{}", path.display()).trim_end_matches('/').to_string()
    }

    fn send(&mut self, message: &Value) {
        self.send_raw(&serde_json::to_vec(message).expect("JSON serializes"));
    }

    fn send_raw(&mut self, body: &[u8]) {
        let header = format!("Content-Length: {}\r\n\r\n", body.len());
        self.stdin.write_all(header.as_bytes()).expect("the server reads stdin");
        self.stdin.write_all(body).expect("the server reads stdin");
        self.stdin.flush().expect("the server reads stdin");
    }

    fn notify(&mut self, method: &str, params: Value) {
        self.send(&json!({ "jsonrpc": "2.0", "method": method, "params": params }));
    }

    /// Sends a request and returns its whole response (`result` or `error`).
    fn call(&mut self, method: &str, params: Value) -> Value {
        let id = self.next_id;
        self.next_id += 1;
        self.send(&json!({ "jsonrpc": "2.0", "id": id, "method": method, "params": params }));
        self.response(json!(id))
    }

    /// Sends a request and returns its result, failing on an error response.
    fn request(&mut self, method: &str, params: Value) -> Value {
        let response = self.call(method, params);
        assert!(response.get("error").is_none(), "{method} failed: {response}");
        response["result"].clone()
    }

    fn response(&mut self, id: Value) -> Value {
        loop {
            let message = self.next_message();
            if message.get("id") == Some(&id) && message.get("method").is_none() {
                return message;
            }
            if message.get("method").is_some() && message.get("id").is_none() {
                self.notifications.push(message);
            }
        }
    }

    fn next_message(&mut self) -> Value {
        match self.incoming.recv_timeout(PATIENCE) {
            Ok(m) => m,
            Err(RecvTimeoutError::Timeout) => panic!("the server sent nothing for {PATIENCE:?}"),
            Err(RecvTimeoutError::Disconnected) => panic!("the server closed its output"),
        }
    }

    /// Waits for diagnostics of `uri` that satisfy `pred`, and returns them.
    fn diagnostics_where(&mut self, uri: &str, pred: impl Fn(&[Value]) -> bool) -> Vec<Value> {
        let deadline = Instant::now() + PATIENCE;
        let mut seen = std::mem::take(&mut self.notifications).into_iter();
        loop {
            assert!(Instant::now() < deadline, "no matching diagnostics for {uri}");
            let message = match seen.next() {
                Some(m) => m,
                None => self.next_message(),
            };
            if message["method"] == "textDocument/publishDiagnostics" && message["params"]["uri"] == uri {
                let list = message["params"]["diagnostics"].as_array().cloned().unwrap_or_default();
                if pred(&list) {
                    self.notifications.extend(seen);
                    return list;
                }
            }
        }
    }

    fn open(&mut self, relative: &str) -> String {
        let uri = self.uri(relative);
        let text = std::fs::read_to_string(self.root.join(relative)).expect("the file exists");
        self.notify(
            "textDocument/didOpen",
            json!({ "textDocument": { "uri": uri, "languageId": "tailor", "version": 1, "text": text } }),
        );
        uri
    }

    fn change(&mut self, uri: &str, version: i64, changes: Value) {
        self.notify(
            "textDocument/didChange",
            json!({ "textDocument": { "uri": uri, "version": version }, "contentChanges": changes }),
        );
    }

    /// Shuts down and checks that the server exits cleanly.
    fn finish(mut self) {
        self.request("shutdown", Value::Null);
        self.notify("exit", Value::Null);
        let deadline = Instant::now() + PATIENCE;
        loop {
            if let Some(status) = self.child.try_wait().expect("the server can be waited for") {
                assert!(status.success(), "the server exited with {status}");
                return;
            }
            assert!(Instant::now() < deadline, "the server did not exit");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Reads one `Content-Length`-framed message; `None` at the end of the stream.
fn read_message(reader: &mut impl BufRead) -> Option<Value> {
    let mut length = None;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).ok()? == 0 {
            return None;
        }
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some(v) = line.strip_prefix("Content-Length:") {
            length = v.trim().parse::<usize>().ok();
        }
    }
    let mut body = vec![0; length?];
    reader.read_exact(&mut body).ok()?;
    serde_json::from_slice(&body).ok()
}

fn temp_dir(name: &str) -> PathBuf {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("lsp-{}-{n}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir is created");
    dir
}

fn position(line: u32, character: u32) -> Value {
    json!({ "line": line, "character": character })
}

fn at(uri: &str, line: u32, character: u32) -> Value {
    json!({ "textDocument": { "uri": uri }, "position": position(line, character) })
}

fn codes(list: &[Value]) -> Vec<String> {
    list.iter()
        .filter_map(|d| d["code"].as_str().map(str::to_string))
        .collect()
}

// ---- diagnostics -----------------------------------------------------------------------------

#[test]
fn diagnostics_for_an_opened_file_with_errors() {
    let mut s = Session::start(
        "diagnostics",
        &[
            ("schema.policy", SCHEMA),
            (
                "bad.policy",
                "package shop.bad\n\nimport shop.schema.{Profile}\n\nsegment old = profile.agee >= 65\n",
            ),
        ],
    );
    let uri = s.open("bad.policy");
    let list = s.diagnostics_where(&uri, |l| !l.is_empty());
    let unknown = list
        .iter()
        .find(|d| d["code"] == "E0102")
        .unwrap_or_else(|| panic!("{list:?}"));
    assert_eq!(unknown["severity"], 1);
    assert_eq!(unknown["source"], "tailor");
    assert_eq!(unknown["range"]["start"], position(4, 22));
    assert_eq!(unknown["range"]["end"], position(4, 26));
    assert!(
        unknown["message"]
            .as_str()
            .unwrap_or_default()
            .contains("did you mean `age`?"),
        "{unknown}"
    );
    // The unused segment is a warning, greyed out as unnecessary.
    let unused = list
        .iter()
        .find(|d| d["code"] == "W0001")
        .unwrap_or_else(|| panic!("{list:?}"));
    assert_eq!(unused["severity"], 2);
    assert_eq!(unused["tags"], json!([1]));
    s.finish();
}

#[test]
fn diagnostics_follow_edits_and_carry_related_information() {
    let mut s = Session::start("edits", &[("a.policy", "package a\n\nsegment x = true\n")]);
    let uri = s.open("a.policy");
    s.change(
        &uri,
        2,
        json!([{ "range": { "start": position(2, 16), "end": position(2, 16) }, "text": "\nsegment x = false" }]),
    );
    let list = s.diagnostics_where(&uri, |l| codes(l).contains(&"E0106".to_string()));
    let dup = list
        .iter()
        .find(|d| d["code"] == "E0106")
        .expect("a duplicate definition");
    assert_eq!(dup["range"]["start"], position(3, 8));
    assert_eq!(
        dup["relatedInformation"][0]["location"]["range"]["start"],
        position(2, 8)
    );
    assert_eq!(dup["relatedInformation"][0]["message"], "first defined here");
    s.change(
        &uri,
        3,
        json!([{ "range": { "start": position(3, 8), "end": position(3, 9) }, "text": "y" }]),
    );
    s.diagnostics_where(&uri, |l| !codes(l).contains(&"E0106".to_string()));
    s.finish();
}

#[test]
fn files_on_disk_are_checked_and_followed() {
    let mut s = Session::start("disk", &[("schema.policy", SCHEMA), ("segments.policy", SEGMENTS)]);
    // Without opening anything, the workspace's files are checked: the unused segments warn.
    let segments = s.uri("segments.policy");
    s.diagnostics_where(&segments, |l| codes(l).contains(&"W0001".to_string()));
    // A file that appears on disk is read when the editor's watcher says so.
    std::fs::write(
        s.root.join("new.policy"),
        "package shop.fresh\n\nsegment broken = profile.nope\n",
    )
    .expect("file is written");
    let new = s.uri("new.policy");
    s.notify(
        "workspace/didChangeWatchedFiles",
        json!({ "changes": [{ "uri": new, "type": 1 }] }),
    );
    s.diagnostics_where(&new, |l| codes(l).contains(&"E0102".to_string()));
    // And one that is deleted leaves, taking its diagnostics with it.
    std::fs::remove_file(s.root.join("new.policy")).expect("file is removed");
    s.notify(
        "workspace/didChangeWatchedFiles",
        json!({ "changes": [{ "uri": new, "type": 3 }] }),
    );
    s.diagnostics_where(&new, |l| l.is_empty());
    s.finish();
}

// ---- hover, completion, signature help -------------------------------------------------------

#[test]
fn hover_shows_field_type_and_doc_and_segment_definition() {
    let mut s = Session::start("hover", &[("schema.policy", SCHEMA), ("segments.policy", SEGMENTS)]);
    let uri = s.open("segments.policy");
    let hover = s.request("textDocument/hover", at(&uri, 5, 26));
    let text = hover["contents"]["value"].as_str().unwrap_or_default();
    assert!(text.contains("age: Int") && text.contains("Age in years."), "{hover}");
    let uses = s.open_text("uses.policy", USES);
    let hover = s.request("textDocument/hover", at(&uses, 4, 22));
    let text = hover["contents"]["value"].as_str().unwrap_or_default();
    assert!(
        text.contains("segment adult = profile.age >= 18") && text.contains("Grown-ups."),
        "{hover}"
    );
    s.finish();
}

#[test]
fn completion_after_profile_dot_lists_the_fields() {
    let mut s = Session::start(
        "completion",
        &[("schema.policy", SCHEMA), ("segments.policy", SEGMENTS)],
    );
    let uri = s.open("segments.policy");
    // Type `segment young = profile.` on a new last line: the declaration does not parse yet.
    s.change(
        &uri,
        2,
        json!([{ "range": { "start": position(8, 0), "end": position(8, 0) }, "text": "segment young = profile." }]),
    );
    let result = s.request(
        "textDocument/completion",
        json!({ "textDocument": { "uri": uri }, "position": position(8, 24), "context": { "triggerKind": 2, "triggerCharacter": "." } }),
    );
    let items = result
        .as_array()
        .cloned()
        .or_else(|| result["items"].as_array().cloned())
        .unwrap_or_default();
    let labels: Vec<&str> = items.iter().filter_map(|i| i["label"].as_str()).collect();
    assert_eq!(labels, ["age", "tier", "email"], "{result}");
    assert_eq!(items[0]["detail"], "Int");
    assert_eq!(items[2]["detail"], "String?");
    s.finish();
}

#[test]
fn signature_help_inside_a_call() {
    let mut s = Session::start(
        "signature",
        &[("a.policy", "package a\n\nconst c: Int = clamp(1, 2, 3)\n")],
    );
    let uri = s.open("a.policy");
    let help = s.request("textDocument/signatureHelp", at(&uri, 2, 24));
    assert_eq!(help["signatures"][0]["label"], "clamp(x: T, lo: T, hi: T) -> T");
    assert_eq!(help["activeParameter"], 1);
    s.finish();
}

// ---- navigation and rename across files ------------------------------------------------------

#[test]
fn definition_and_references_across_files() {
    let mut s = Session::start(
        "definition",
        &[
            ("schema.policy", SCHEMA),
            ("segments.policy", SEGMENTS),
            ("uses.policy", USES),
        ],
    );
    let uses = s.open("uses.policy");
    let def = s.request("textDocument/definition", at(&uses, 4, 22));
    let def = if def.is_array() { def[0].clone() } else { def };
    assert_eq!(def["uri"], s.uri("segments.policy"));
    assert_eq!(def["range"]["start"], position(5, 8));
    // Into the schema, from a file that is not open (read from disk).
    let segments = s.uri("segments.policy");
    let def = s.request("textDocument/definition", at(&segments, 5, 25));
    assert_eq!(def["uri"], s.uri("schema.policy"));
    assert_eq!(def["range"]["start"], position(7, 2));
    let refs = s.request(
        "textDocument/references",
        json!({ "textDocument": { "uri": uses }, "position": position(4, 22), "context": { "includeDeclaration": true } }),
    );
    assert_eq!(refs.as_array().map(Vec::len), Some(3), "{refs}");
    s.finish();
}

#[test]
fn rename_across_files_and_refusing_invalid_names() {
    let mut s = Session::start(
        "rename",
        &[
            ("schema.policy", SCHEMA),
            ("segments.policy", SEGMENTS),
            ("uses.policy", USES),
        ],
    );
    let uses = s.open("uses.policy");
    let prepared = s.request("textDocument/prepareRename", at(&uses, 4, 22));
    assert_eq!(prepared["start"], position(4, 21));
    let edit = s.request(
        "textDocument/rename",
        json!({ "textDocument": { "uri": uses }, "position": position(4, 22), "newName": "grown_up" }),
    );
    let changes = edit["changes"].as_object().cloned().unwrap_or_default();
    assert_eq!(changes.len(), 2, "{edit}");
    assert_eq!(changes[&s.uri("segments.policy")].as_array().map(Vec::len), Some(1));
    assert_eq!(changes[&uses].as_array().map(Vec::len), Some(2));
    for e in changes.values().flat_map(|v| v.as_array().cloned().unwrap_or_default()) {
        assert_eq!(e["newText"], "grown_up");
    }
    for bad in ["2x", "not", "premium"] {
        let response = s.call(
            "textDocument/rename",
            json!({ "textDocument": { "uri": uses }, "position": position(4, 22), "newName": bad }),
        );
        assert!(
            response.get("error").is_some(),
            "renaming to {bad} was accepted: {response}"
        );
    }
    s.finish();
}

// ---- formatting, semantic tokens, symbols, folding -------------------------------------------

#[test]
fn formatting_gives_the_tailor_fmt_layout() {
    let messy = "package a\nsegment   x =true\n";
    let mut s = Session::start("format", &[("a.policy", messy)]);
    let uri = s.open("a.policy");
    let edits = s.request(
        "textDocument/formatting",
        json!({ "textDocument": { "uri": uri }, "options": { "tabSize": 2, "insertSpaces": true } }),
    );
    let formatted = tailor_compiler_format(messy);
    assert_eq!(edits[0]["newText"], formatted.as_str());
    assert_eq!(edits[0]["range"]["start"], position(0, 0));
    s.finish();
}

/// What `tailor fmt` makes of a text (through the binary, as users run it).
fn tailor_compiler_format(text: &str) -> String {
    let dir = temp_dir("fmt");
    std::fs::write(dir.join("x.policy"), text).expect("file is written");
    let status = Command::new(env!("CARGO_BIN_EXE_tailor"))
        .args(["fmt", "x.policy"])
        .current_dir(&dir)
        .status()
        .expect("tailor fmt runs");
    assert!(status.success());
    std::fs::read_to_string(dir.join("x.policy")).expect("the formatted file")
}

#[test]
fn semantic_tokens_symbols_and_folding() {
    let mut s = Session::start("tokens", &[("schema.policy", SCHEMA), ("segments.policy", SEGMENTS)]);
    let uri = s.open("segments.policy");
    let init_legend = s.legend();
    let tokens = s.request(
        "textDocument/semanticTokens/full",
        json!({ "textDocument": { "uri": uri } }),
    );
    let data: Vec<u64> = tokens["data"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .filter_map(Value::as_u64)
        .collect();
    assert_eq!(data.len() % 5, 0);
    // Decode to (line, column, length, type name).
    let (mut line, mut col) = (0, 0);
    let mut decoded = Vec::new();
    for t in data.chunks(5) {
        line += t[0];
        col = if t[0] == 0 { col + t[1] } else { t[1] };
        decoded.push((line, col, t[2], init_legend[t[3] as usize].clone()));
    }
    assert!(decoded.contains(&(0, 0, 7, "keyword".to_string())), "{decoded:?}");
    // `adult` declared on line 5, `profile.age` a property, `Tier.Premium` an enum member.
    assert!(decoded.contains(&(5, 8, 5, "variable".to_string())), "{decoded:?}");
    assert!(decoded.contains(&(5, 24, 3, "property".to_string())), "{decoded:?}");
    assert!(decoded.contains(&(7, 39, 7, "enumMember".to_string())), "{decoded:?}");
    let symbols = s.request("textDocument/documentSymbol", json!({ "textDocument": { "uri": uri } }));
    let names: Vec<&str> = symbols
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|s| s["name"].as_str())
        .collect();
    assert_eq!(names, ["shop.segments", "adult", "premium"]);
    let found = s.request("workspace/symbol", json!({ "query": "Profile" }));
    assert_eq!(found[0]["name"], "Profile");
    let schema = s.uri("schema.policy");
    let folds = s.request(
        "textDocument/foldingRange",
        json!({ "textDocument": { "uri": schema } }),
    );
    assert!(folds.as_array().is_some_and(|f| !f.is_empty()), "{folds}");
    s.finish();
}

// ---- code actions ----------------------------------------------------------------------------

#[test]
fn code_action_fix_clears_the_error() {
    let text = "package shop.bad\n\nimport shop.schema.{Profile}\n\nsegment old = profile.agee >= 65\n";
    let mut s = Session::start("actions", &[("schema.policy", SCHEMA), ("bad.policy", text)]);
    let uri = s.open("bad.policy");
    let list = s.diagnostics_where(&uri, |l| codes(l).contains(&"E0102".to_string()));
    let diagnostic = list.iter().find(|d| d["code"] == "E0102").cloned().expect("E0102");
    let actions = s.request(
        "textDocument/codeAction",
        json!({ "textDocument": { "uri": uri }, "range": diagnostic["range"], "context": { "diagnostics": [diagnostic] } }),
    );
    let action = actions
        .as_array()
        .into_iter()
        .flatten()
        .find(|a| a["title"] == "replace with `age`")
        .cloned()
        .unwrap_or_else(|| panic!("{actions}"));
    assert_eq!(action["kind"], "quickfix");
    assert_eq!(action["diagnostics"][0]["code"], "E0102");
    // Apply the edit as the editor would, and the error is gone.
    let edits = action["edit"]["changes"][&uri].as_array().cloned().unwrap_or_default();
    assert_eq!(edits.len(), 1);
    s.change(
        &uri,
        2,
        json!([{ "range": edits[0]["range"], "text": edits[0]["newText"] }]),
    );
    s.diagnostics_where(&uri, |l| {
        !codes(l).contains(&"E0102".to_string()) && !l.iter().any(|d| d["severity"] == 1)
    });
    s.finish();
}

// ---- code lenses and commands ----------------------------------------------------------------

#[test]
fn code_lens_runs_a_test() {
    let text = "package a\n\nsegment yes = true\n\ntest \"yes holds\" {\n  expect yes\n}\n";
    let mut s = Session::start("lens", &[("a.policy", text)]);
    let uri = s.open("a.policy");
    let lenses = s.request("textDocument/codeLens", json!({ "textDocument": { "uri": uri } }));
    let run = lenses
        .as_array()
        .into_iter()
        .flatten()
        .find(|l| l["command"]["command"] == "tailor.runTest")
        .cloned();
    let run = run.unwrap_or_else(|| panic!("{lenses}"));
    let result = s.request(
        "workspace/executeCommand",
        json!({ "command": run["command"]["command"], "arguments": run["command"]["arguments"] }),
    );
    assert_eq!(result["ok"], true, "{result}");
    assert_eq!(result["summary"], "test \"yes holds\" passed");
    s.finish();
}

// ---- robustness ------------------------------------------------------------------------------

#[test]
fn malformed_and_unknown_messages_do_not_crash_the_server() {
    let mut s = Session::start("robust", &[("a.policy", "package a\n\nsegment x = true\n")]);
    let uri = s.open("a.policy");
    // Not JSON at all, JSON that is not a message, an unknown notification.
    s.send_raw(b"{ this is not json");
    s.send_raw(b"[1, 2, 3]");
    s.notify("tailor/unknownNotification", json!({ "x": 1 }));
    // An unknown request gets "method not found".
    let response = s.call("tailor/unknownRequest", json!({}));
    assert_eq!(response["error"]["code"], -32601, "{response}");
    // Requests with wrong parameters get errors, not a crash.
    let response = s.call("textDocument/hover", json!({ "textDocument": 42 }));
    assert!(response.get("error").is_some(), "{response}");
    // Positions past the end, unknown documents, edits to closed documents.
    let hover = s.call("textDocument/hover", at(&uri, 999, 999));
    assert!(hover.get("error").is_none(), "{hover}");
    let unknown = s.uri("nope.policy");
    let hover = s.call("textDocument/hover", at(&unknown, 0, 0));
    assert_eq!(hover["result"], Value::Null);
    s.change(&unknown, 2, json!([{ "text": "package z\n" }]));
    s.change(
        &uri,
        2,
        json!([{ "range": { "start": position(50, 3), "end": position(1, 0) }, "text": "é" }]),
    );
    let response = s.call(
        "workspace/executeCommand",
        json!({ "command": "tailor.noSuchCommand", "arguments": [] }),
    );
    assert!(response.get("error").is_some(), "{response}");
    // Still serving.
    let symbols = s.request("textDocument/documentSymbol", json!({ "textDocument": { "uri": uri } }));
    assert!(symbols.is_array(), "{symbols}");
    s.finish();
}

impl Session {
    fn open_text(&mut self, relative: &str, text: &str) -> String {
        std::fs::write(self.root.join(relative), text).expect("file is written");
        self.open(relative)
    }

    /// The semantic token type names, from the legend the server announced.
    fn legend(&self) -> Vec<String> {
        self.capabilities["semanticTokensProvider"]["legend"]["tokenTypes"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|v| v.as_str().map(str::to_string))
            .collect()
    }
}
