//! The workspace: every `.policy` file under the opened folders, with the editor's open
//! documents laid over what is on disk.
//!
//! Policies are checked as one bundle (a segment in one file is used by a decision in another),
//! so the unit of analysis is the whole workspace, not a file. [`Workspace`] holds the current
//! text of every file and a revision number that grows with every change; [`Snapshot`] is one
//! analysis of one revision. Files keep their position in a `BTreeMap`, so a file's [`FileId`]
//! is stable between snapshots while the set of files does not change.

use crate::position;
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tailor_compiler::source::SourceFile;
use tailor_compiler::syntax::ast;
use tailor_compiler::{Analysis, FileId, ParseCache, SourceMap, Span};
use tower_lsp_server::ls_types::{Location, TextDocumentContentChangeEvent, Uri};

/// The file extension of policies.
pub const EXTENSION: &str = "policy";

/// One file the workspace knows: its URI as the editor names it, its text, and whether the
/// editor has it open (an open document's text wins over the disk).
#[derive(Debug, Clone)]
struct Document {
    uri: Uri,
    text: Arc<str>,
    open: bool,
}

/// The current text of every file.
#[derive(Debug, Default)]
pub struct Workspace {
    roots: Vec<PathBuf>,
    /// Keyed by [`key`]: the file path for `file:` URIs (so two spellings of one path agree),
    /// the URI text otherwise.
    docs: BTreeMap<String, Document>,
    revision: u64,
}

/// The files of one revision, cheap to clone (texts are shared).
#[derive(Debug, Clone)]
pub struct Inputs {
    pub revision: u64,
    pub files: Vec<(Uri, Arc<str>)>,
}

/// The key a URI is stored under.
pub fn key(uri: &Uri) -> String {
    match file_path(uri) {
        Some(path) => path.to_string_lossy().into_owned(),
        None => uri.as_str().to_string(),
    }
}

/// The path of a `file:` URI (`Uri::to_file_path` does not look at the scheme).
pub fn file_path(uri: &Uri) -> Option<PathBuf> {
    if !uri.scheme().as_str().eq_ignore_ascii_case("file") {
        return None;
    }
    uri.to_file_path().map(|p| p.into_owned())
}

impl Workspace {
    pub fn new() -> Workspace {
        Workspace::default()
    }

    pub fn revision(&self) -> u64 {
        self.revision
    }

    pub fn roots(&self) -> &[PathBuf] {
        &self.roots
    }

    /// Adds a folder and reads every `.policy` file under it that is not open in the editor.
    pub fn add_root(&mut self, root: PathBuf) {
        for path in policy_files(&root) {
            self.load_from_disk(&path);
        }
        self.roots.push(root);
        self.revision += 1;
    }

    /// Reads one file from disk unless the editor has it open. Unreadable files are skipped
    /// (and logged): one bad file must not stop the others from being checked.
    fn load_from_disk(&mut self, path: &Path) -> bool {
        let Some(uri) = Uri::from_file_path(path) else {
            return false;
        };
        let k = key(&uri);
        if self.docs.get(&k).is_some_and(|d| d.open) {
            return false;
        }
        match std::fs::read_to_string(path) {
            Ok(text) => {
                self.docs.insert(
                    k,
                    Document {
                        uri,
                        text: text.into(),
                        open: false,
                    },
                );
                true
            }
            Err(err) => {
                tracing::warn!(path = %path.display(), %err, "cannot read policy file");
                self.docs.remove(&k).is_some()
            }
        }
    }

    /// The editor opened a document.
    pub fn open(&mut self, uri: Uri, text: String) {
        self.docs.insert(
            key(&uri),
            Document {
                uri,
                text: text.into(),
                open: true,
            },
        );
        self.revision += 1;
    }

    /// The editor changed a document. Changes apply in order, each to the text the previous
    /// one produced, as the protocol says. A change to a document that is not open is ignored.
    pub fn change(&mut self, uri: &Uri, changes: Vec<TextDocumentContentChangeEvent>) {
        let Some(doc) = self.docs.get_mut(&key(uri)) else {
            tracing::warn!(uri = uri.as_str(), "change to a document that is not open");
            return;
        };
        let mut text = doc.text.to_string();
        for change in changes {
            match change.range {
                None => text = change.text,
                Some(range) => {
                    let file = SourceFile::new("", std::mem::take(&mut text));
                    let start = position::offset(&file, range.start);
                    let end = position::offset(&file, range.end).max(start);
                    let mut t = file.text;
                    t.replace_range(start..end, &change.text);
                    text = t;
                }
            }
        }
        doc.text = text.into();
        self.revision += 1;
    }

    /// The editor closed a document: from now on the disk has the truth. A closed file that is
    /// not under a workspace folder, or no longer on disk, leaves the workspace.
    pub fn close(&mut self, uri: &Uri) {
        let k = key(uri);
        if let Some(doc) = self.docs.get_mut(&k) {
            doc.open = false;
        }
        let on_disk = file_path(uri).filter(|p| self.roots.iter().any(|r| p.starts_with(r)) && p.is_file());
        match on_disk {
            Some(path) => {
                self.load_from_disk(&path);
            }
            None => {
                self.docs.remove(&k);
            }
        }
        self.revision += 1;
    }

    /// A file changed, appeared or disappeared on disk (the editor's file watcher said so).
    pub fn disk_changed(&mut self, uri: &Uri) {
        let Some(path) = file_path(uri) else {
            return;
        };
        if path.extension().and_then(|e| e.to_str()) != Some(EXTENSION) {
            return;
        }
        let k = key(uri);
        if self.docs.get(&k).is_some_and(|d| d.open) {
            return;
        }
        if path.is_file() {
            self.load_from_disk(&path);
        } else {
            self.docs.remove(&k);
        }
        self.revision += 1;
    }

    /// The text of a document, if the workspace has it.
    pub fn text(&self, uri: &Uri) -> Option<Arc<str>> {
        self.docs.get(&key(uri)).map(|d| d.text.clone())
    }

    pub fn inputs(&self) -> Inputs {
        Inputs {
            revision: self.revision,
            files: self.docs.values().map(|d| (d.uri.clone(), d.text.clone())).collect(),
        }
    }
}

/// Every `.policy` file under `root`, sorted. Hidden directories, `target` and `node_modules`
/// are skipped: they hold build output and packages, never a user's policies.
pub fn policy_files(root: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let name = entry.file_name();
            let name = name.to_string_lossy();
            let Ok(kind) = entry.file_type() else { continue };
            if kind.is_dir() {
                if !name.starts_with('.') && name != "target" && name != "node_modules" {
                    stack.push(path);
                }
            } else if path.extension().and_then(|e| e.to_str()) == Some(EXTENSION) {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

/// One analysis of one revision of the workspace, and the way between URIs and file ids.
#[derive(Debug)]
pub struct Snapshot {
    pub revision: u64,
    pub analysis: Analysis,
    /// The URI of each user file, indexed by its [`FileId`].
    uris: Vec<Uri>,
    by_key: HashMap<String, FileId>,
    /// `(file index, declaration index)` → the declaration's id, the reverse of
    /// `Symbols::decls`.
    decl_refs: HashMap<(usize, usize), tailor_compiler::resolve::DeclRef>,
}

impl Snapshot {
    /// Analyzes one revision.
    pub fn analyze(inputs: &Inputs) -> Snapshot {
        Snapshot::analyze_with(inputs, None)
    }

    /// Analyzes one revision, parsing only the files whose text changed since the last
    /// analysis with `cache` (file ids are stable while the set of files is).
    pub fn analyze_cached(inputs: &Inputs, cache: &mut ParseCache) -> Snapshot {
        Snapshot::analyze_with(inputs, Some(cache))
    }

    fn analyze_with(inputs: &Inputs, cache: Option<&mut ParseCache>) -> Snapshot {
        let mut sources = SourceMap::new();
        let mut uris = Vec::with_capacity(inputs.files.len());
        let mut by_key = HashMap::with_capacity(inputs.files.len());
        for (uri, text) in &inputs.files {
            let name = file_path(uri)
                .map(|p| p.to_string_lossy().into_owned())
                .unwrap_or_else(|| uri.as_str().to_string());
            let id = sources.add(name, text.to_string());
            by_key.insert(key(uri), id);
            uris.push(uri.clone());
        }
        let analysis = match cache {
            Some(cache) => tailor_compiler::analyze_cached(sources, cache),
            None => tailor_compiler::analyze(sources),
        };
        let decl_refs = analysis
            .facts
            .symbols
            .decls
            .iter()
            .map(|(r, info)| ((info.file_index, info.decl_index), *r))
            .collect();
        Snapshot {
            revision: inputs.revision,
            analysis,
            uris,
            by_key,
            decl_refs,
        }
    }

    /// The same workspace with `insert` added at `offset` of `file`, analyzed again. Completion
    /// uses it to make a half-typed expression (`profile.`) parse, so that the checker itself
    /// says what the receiver's type is.
    pub fn with_insertion(&self, file: FileId, offset: usize, insert: &str) -> Snapshot {
        let files = self
            .user_files()
            .map(|(id, uri)| {
                let mut text = self.source(id).text.clone();
                if id == file && text.is_char_boundary(offset) {
                    text.insert_str(offset, insert);
                }
                (uri.clone(), Arc::from(text))
            })
            .collect();
        Snapshot::analyze(&Inputs {
            revision: self.revision,
            files,
        })
    }

    pub fn file_id(&self, uri: &Uri) -> Option<FileId> {
        self.by_key.get(&key(uri)).copied()
    }

    /// The URI of a user file (the prelude has none).
    pub fn uri(&self, id: FileId) -> Option<&Uri> {
        self.uris.get(id.0 as usize)
    }

    /// The user files' ids with their URIs.
    pub fn user_files(&self) -> impl Iterator<Item = (FileId, &Uri)> {
        self.uris.iter().enumerate().map(|(i, u)| (FileId(i as u32), u))
    }

    pub fn source(&self, id: FileId) -> &SourceFile {
        self.analysis.sources.get(id)
    }

    /// The index of a file in the checked list (`Analysis::files`, `Symbols::scopes`).
    pub fn file_index(&self, id: FileId) -> Option<usize> {
        self.analysis.files.iter().position(|(f, _)| *f == id)
    }

    pub fn ast(&self, id: FileId) -> Option<&ast::File> {
        self.analysis.files.iter().find(|(f, _)| *f == id).map(|(_, a)| a)
    }

    /// The id of the declaration `decl_index` of the file with index `file_index`.
    pub fn decl_ref(&self, file_index: usize, decl_index: usize) -> Option<tailor_compiler::resolve::DeclRef> {
        self.decl_refs.get(&(file_index, decl_index)).copied()
    }

    /// The declaration an id names, with the index of its file.
    pub fn decl(&self, r: tailor_compiler::resolve::DeclRef) -> Option<(usize, &ast::Decl)> {
        let info = self.analysis.facts.symbols.info(r)?;
        let (_, file) = self.analysis.files.get(info.file_index)?;
        Some((info.file_index, file.decls.get(info.decl_index)?))
    }

    /// Whether a file is the prelude (which has no URI and cannot be edited).
    pub fn is_prelude(&self, id: FileId) -> bool {
        id == self.analysis.prelude
    }

    /// The editor's location of a span; `None` for the prelude.
    pub fn location(&self, span: Span) -> Option<Location> {
        let uri = self.uri(span.file)?.clone();
        Some(Location {
            uri,
            range: position::range(self.source(span.file), span),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tower_lsp_server::ls_types::{Position, Range};

    fn uri(s: &str) -> Uri {
        s.parse().expect("a valid test URI")
    }

    #[test]
    fn incremental_changes_apply_in_order() {
        let mut ws = Workspace::new();
        let u = uri("untitled:a.policy");
        ws.open(u.clone(), "package a\nsegment x = true\n".into());
        let edit = |l1, c1, l2, c2, text: &str| TextDocumentContentChangeEvent {
            range: Some(Range::new(Position::new(l1, c1), Position::new(l2, c2))),
            range_length: None,
            text: text.into(),
        };
        ws.change(&u, vec![edit(1, 8, 1, 9, "young"), edit(1, 16, 1, 20, "false")]);
        assert_eq!(&*ws.text(&u).unwrap(), "package a\nsegment young = false\n");
        ws.change(
            &u,
            vec![TextDocumentContentChangeEvent {
                range: None,
                range_length: None,
                text: "package b\n".into(),
            }],
        );
        assert_eq!(&*ws.text(&u).unwrap(), "package b\n");
    }

    #[test]
    fn snapshot_maps_uris_to_files() {
        let mut ws = Workspace::new();
        let a = uri("untitled:a.policy");
        let b = uri("untitled:b.policy");
        ws.open(b.clone(), "package b\n".into());
        ws.open(a.clone(), "package a\n".into());
        let snap = Snapshot::analyze(&ws.inputs());
        let id = snap.file_id(&b).unwrap();
        assert_eq!(snap.uri(id).unwrap().as_str(), b.as_str());
        assert!(!snap.is_prelude(id));
        assert_eq!(snap.user_files().count(), 2);
    }

    #[test]
    fn closing_an_unsaved_file_removes_it() {
        let mut ws = Workspace::new();
        let a = uri("untitled:a.policy");
        ws.open(a.clone(), "package a\n".into());
        ws.close(&a);
        assert!(ws.text(&a).is_none());
    }

    #[test]
    fn files_on_disk_are_read_and_open_documents_win() {
        let root = std::env::temp_dir().join(format!("tailor-lsp-ws-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(root.join("sub")).unwrap();
        std::fs::create_dir_all(root.join(".hidden")).unwrap();
        std::fs::write(root.join("sub/a.policy"), "package a\n").unwrap();
        std::fs::write(root.join(".hidden/b.policy"), "package b\n").unwrap();
        std::fs::write(root.join("notes.txt"), "not a policy").unwrap();
        let mut ws = Workspace::new();
        ws.add_root(root.clone());
        let a = Uri::from_file_path(root.join("sub/a.policy")).unwrap();
        assert_eq!(ws.inputs().files.len(), 1);
        assert_eq!(&*ws.text(&a).unwrap(), "package a\n");
        ws.open(a.clone(), "package edited\n".into());
        std::fs::write(root.join("sub/a.policy"), "package on_disk\n").unwrap();
        ws.disk_changed(&a);
        assert_eq!(&*ws.text(&a).unwrap(), "package edited\n");
        ws.close(&a);
        assert_eq!(&*ws.text(&a).unwrap(), "package on_disk\n");
        std::fs::remove_file(root.join("sub/a.policy")).unwrap();
        ws.disk_changed(&a);
        assert!(ws.text(&a).is_none());
        let _ = std::fs::remove_dir_all(&root);
    }
}
