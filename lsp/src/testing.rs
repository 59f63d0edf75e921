//! Helpers for the unit tests of every feature: a snapshot from in-memory files, and cursors
//! marked in the text with `$0`.

use crate::workspace::{Snapshot, Workspace};
use tailor_compiler::FileId;
use tower_lsp_server::ls_types::Uri;

/// The URI a test file gets.
pub fn uri(name: &str) -> Uri {
    format!("untitled:{name}").parse().expect("a valid test URI")
}

/// Analyzes files given as `(name, text)`; returns the snapshot and the files' ids in order.
pub fn snapshot(files: &[(&str, &str)]) -> (Snapshot, Vec<FileId>) {
    let mut ws = Workspace::new();
    for (name, text) in files {
        ws.open(uri(name), text.to_string());
    }
    let snap = Snapshot::analyze(&ws.inputs());
    let ids = files
        .iter()
        .map(|(name, _)| snap.file_id(&uri(name)).expect("every test file is in the snapshot"))
        .collect();
    (snap, ids)
}

/// Like [`snapshot`], where the first file marks a cursor with `$0`; returns its byte offset.
pub fn snapshot_at(files: &[(&str, &str)]) -> (Snapshot, Vec<FileId>, usize) {
    let (name, marked) = files[0];
    let cursor = marked.find("$0").expect("the first file marks the cursor with $0");
    let text = marked.replacen("$0", "", 1);
    let mut all: Vec<(&str, &str)> = vec![(name, &text)];
    all.extend_from_slice(&files[1..]);
    let (snap, ids) = snapshot(&all);
    (snap, ids, cursor)
}
