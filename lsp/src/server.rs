//! The protocol side: the [`LanguageServer`] implementation that keeps the workspace current
//! and answers each request from an analysis of the latest text.
//!
//! Every request first asks for a [`Snapshot`] of the current revision; if the text changed
//! since the last analysis, the workspace is analyzed again (on a blocking thread) before
//! answering, so positions always refer to the text the editor has. Diagnostics are pushed by
//! a background task: a change wakes it, it waits a short quiet period (the debounce), analyzes
//! and publishes what changed; changes that arrive meanwhile wake it once more, so a burst of
//! keystrokes costs at most two analyses. Feature code runs on blocking threads (`guarded`),
//! so a bug there costs one answer, not the session. Nothing here panics on
//! what a client sends: unknown documents, positions past the end and bad arguments get empty
//! answers or protocol errors.

use crate::workspace::{self, Snapshot, Workspace};
use crate::{
    code_actions, code_lens, completion, diagnostics, folding, formatting, hover, navigation, rename, selection,
    semantic_tokens, signature_help, symbols,
};
use serde_json::Value;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tailor_compiler::source::SourceFile;
use tailor_compiler::FileId;
use tower_lsp_server::jsonrpc::{Error as RpcError, Result};
use tower_lsp_server::ls_types::request::{GotoTypeDefinitionParams, GotoTypeDefinitionResponse};
use tower_lsp_server::ls_types::*;
use tower_lsp_server::{Client, ClientSocket, LanguageServer, LspService};

/// The default quiet period before diagnostics are computed after a change.
pub const DEFAULT_DEBOUNCE: Duration = Duration::from_millis(10);

/// The service and its socket, ready for `tower_lsp_server::Server`.
pub fn service() -> (LspService<Backend>, ClientSocket) {
    LspService::new(Backend::new)
}

/// The server: the client handle and the shared state.
#[derive(Clone)]
pub struct Backend {
    client: Client,
    state: Arc<State>,
}

struct State {
    workspace: Mutex<Workspace>,
    /// The latest analysis; a request needing a newer one computes it while holding the lock,
    /// so concurrent requests wait for one analysis instead of starting several.
    latest: tokio::sync::Mutex<Option<Arc<Snapshot>>>,
    /// Parses of unchanged files, reused by the next analysis.
    parses: Arc<Mutex<tailor_compiler::ParseCache>>,
    /// Wakes the diagnostics task.
    changed: tokio::sync::Notify,
    debounce: Mutex<Duration>,
    /// What was last published per URI, so unchanged files are not sent again.
    published: tokio::sync::Mutex<HashMap<Uri, Vec<Diagnostic>>>,
    /// Whether the client can watch files for us.
    watch_files: Mutex<bool>,
}

/// Locks a std mutex; a poisoned one (a panic elsewhere) still holds consistent data here, as
/// every critical section is a single assignment or lookup.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Backend {
    pub fn new(client: Client) -> Backend {
        Backend {
            client,
            state: Arc::new(State {
                workspace: Mutex::new(Workspace::new()),
                latest: tokio::sync::Mutex::new(None),
                parses: Arc::default(),
                changed: tokio::sync::Notify::new(),
                debounce: Mutex::new(DEFAULT_DEBOUNCE),
                published: tokio::sync::Mutex::new(HashMap::new()),
                watch_files: Mutex::new(false),
            }),
        }
    }

    /// An analysis of the current revision (computed now if the text changed since the last).
    /// `None` only if analysis itself failed, which is a compiler bug; it is logged.
    async fn snapshot(&self) -> Option<Arc<Snapshot>> {
        let mut latest = self.state.latest.lock().await;
        let inputs = {
            let ws = lock(&self.state.workspace);
            if let Some(s) = latest.as_ref().filter(|s| s.revision == ws.revision()) {
                return Some(s.clone());
            }
            ws.inputs()
        };
        let started = std::time::Instant::now();
        let parses = self.state.parses.clone();
        let analyze = move || Snapshot::analyze_cached(&inputs, &mut lock(&parses));
        match tokio::task::spawn_blocking(analyze).await {
            Ok(snap) => {
                tracing::debug!(revision = snap.revision, elapsed = ?started.elapsed(), "analyzed");
                let snap = Arc::new(snap);
                *latest = Some(snap.clone());
                Some(snap)
            }
            Err(err) => {
                tracing::error!(%err, "analysis failed");
                latest.clone()
            }
        }
    }

    /// The snapshot, the file and the byte offset a text position names.
    async fn locate(&self, doc: &TextDocumentPositionParams) -> Option<(Arc<Snapshot>, FileId, usize)> {
        let snap = self.snapshot().await?;
        let file = snap.file_id(&doc.text_document.uri)?;
        let offset = crate::position::offset(snap.source(file), doc.position);
        Some((snap, file, offset))
    }

    async fn file(&self, uri: &Uri) -> Option<(Arc<Snapshot>, FileId)> {
        let snap = self.snapshot().await?;
        let file = snap.file_id(uri)?;
        Some((snap, file))
    }

    fn changed(&self) {
        self.state.changed.notify_one();
    }

    /// The diagnostics task: after each change and a quiet period, publish what changed.
    async fn publish_loop(self) {
        loop {
            self.state.changed.notified().await;
            let debounce = *lock(&self.state.debounce);
            if !debounce.is_zero() {
                tokio::time::sleep(debounce).await;
            }
            if let Some(snap) = self.snapshot().await {
                self.publish(&snap).await;
            }
        }
    }

    async fn publish(&self, snap: &Snapshot) {
        let mut by_uri: HashMap<Uri, Vec<Diagnostic>> = diagnostics::by_file(snap)
            .into_iter()
            .filter_map(|(id, ds)| Some((snap.uri(id)?.clone(), ds)))
            .collect();
        let mut published = self.state.published.lock().await;
        // Files that left the workspace lose their diagnostics.
        for uri in published.keys() {
            by_uri.entry(uri.clone()).or_default();
        }
        for (uri, ds) in by_uri {
            if published.get(&uri) == Some(&ds) {
                continue;
            }
            self.client.publish_diagnostics(uri.clone(), ds.clone(), None).await;
            if ds.is_empty() {
                published.remove(&uri);
            } else {
                published.insert(uri, ds);
            }
        }
    }

    async fn run_command(&self, command: &str, args: &[Value]) -> Result<Option<Value>> {
        let arg = args.first().and_then(Value::as_str);
        if command == CHECK_WORKSPACE {
            let roots: Vec<_> = lock(&self.state.workspace).roots().to_vec();
            {
                let mut ws = lock(&self.state.workspace);
                for root in roots {
                    for path in workspace::policy_files(&root) {
                        if let Some(uri) = Uri::from_file_path(&path) {
                            ws.disk_changed(&uri);
                        }
                    }
                }
            }
            let Some(snap) = self.snapshot().await else {
                return Ok(None);
            };
            self.publish(&snap).await;
            let summary = format!(
                "{} file(s): {} error(s), {} warning(s)",
                snap.user_files().count(),
                snap.analysis.error_count(),
                snap.analysis.warning_count()
            );
            let typ = if snap.analysis.has_errors() {
                MessageType::WARNING
            } else {
                MessageType::INFO
            };
            self.client.show_message(typ, &summary).await;
            return Ok(Some(
                serde_json::json!({ "ok": !snap.analysis.has_errors(), "summary": summary }),
            ));
        }
        let Some(snap) = self.snapshot().await else {
            return Ok(None);
        };
        let name = arg.map(str::to_string);
        let out = match (command, name) {
            (code_lens::RUN_TEST, Some(name)) => {
                guarded("runTest", move || code_lens::run_tests(&snap, Some(&name))).await
            }
            (code_lens::RUN_ALL_TESTS, _) => guarded("runAllTests", move || code_lens::run_tests(&snap, None)).await,
            (code_lens::EXPLAIN_TEST, Some(name)) => {
                guarded("explainTest", move || code_lens::explain(&snap, &name)).await
            }
            (code_lens::RUN_TEST | code_lens::EXPLAIN_TEST, None) => {
                return Err(RpcError::invalid_params(
                    "the command needs the test's name as its argument",
                ));
            }
            _ => return Err(RpcError::invalid_params(format!("unknown command `{command}`"))),
        };
        let Some(out) = out else {
            return Err(RpcError::internal_error());
        };
        if !out.details.is_empty() {
            self.client.log_message(MessageType::INFO, &out.details).await;
        }
        let typ = if out.ok {
            MessageType::INFO
        } else {
            MessageType::WARNING
        };
        self.client.show_message(typ, &out.summary).await;
        Ok(Some(
            serde_json::json!({ "ok": out.ok, "summary": out.summary, "details": out.details }),
        ))
    }
}

/// Runs a feature's computation on a blocking thread: analysis-sized work stays off the I/O
/// threads, and a bug that panics costs one empty answer (logged), never the session.
async fn guarded<T: Send + 'static>(what: &'static str, f: impl FnOnce() -> T + Send + 'static) -> Option<T> {
    match tokio::task::spawn_blocking(f).await {
        Ok(v) => Some(v),
        Err(err) => {
            tracing::error!(%err, request = what, "a request failed");
            None
        }
    }
}

/// Re-reads every policy file from disk and reports the workspace's error count.
pub const CHECK_WORKSPACE: &str = "tailor.checkWorkspace";

/// Options the client may pass at `initialize`: `{ "debounceMs": 10 }`.
fn debounce_option(options: Option<&Value>) -> Option<Duration> {
    let ms = options?.get("debounceMs")?.as_u64()?;
    Some(Duration::from_millis(ms.min(5_000)))
}

impl LanguageServer for Backend {
    async fn initialize(&self, params: InitializeParams) -> Result<InitializeResult> {
        let mut roots: Vec<std::path::PathBuf> = params
            .workspace_folders
            .iter()
            .flatten()
            .filter_map(|f| workspace::file_path(&f.uri))
            .collect();
        #[allow(deprecated)] // Older clients send only `rootUri`.
        if roots.is_empty() {
            roots.extend(params.root_uri.as_ref().and_then(workspace::file_path));
        }
        if let Some(d) = debounce_option(params.initialization_options.as_ref()) {
            *lock(&self.state.debounce) = d;
        }
        let dynamic_watch = params
            .capabilities
            .workspace
            .as_ref()
            .and_then(|w| w.did_change_watched_files.as_ref())
            .and_then(|w| w.dynamic_registration)
            .unwrap_or(false);
        *lock(&self.state.watch_files) = dynamic_watch;
        let state = self.state.clone();
        let scan = tokio::task::spawn_blocking(move || {
            let mut ws = lock(&state.workspace);
            for root in roots {
                tracing::info!(root = %root.display(), "workspace folder");
                ws.add_root(root);
            }
        });
        if let Err(err) = scan.await {
            tracing::error!(%err, "scanning the workspace failed");
        }
        let commands: Vec<String> = code_lens::COMMANDS
            .iter()
            .chain([&CHECK_WORKSPACE])
            .map(|c| c.to_string())
            .collect();
        Ok(InitializeResult {
            server_info: Some(ServerInfo {
                name: "tailor-lsp".into(),
                version: Some(env!("CARGO_PKG_VERSION").into()),
            }),
            capabilities: ServerCapabilities {
                position_encoding: Some(PositionEncodingKind::UTF16),
                text_document_sync: Some(TextDocumentSyncCapability::Options(TextDocumentSyncOptions {
                    open_close: Some(true),
                    change: Some(TextDocumentSyncKind::INCREMENTAL),
                    will_save: None,
                    will_save_wait_until: None,
                    save: None,
                })),
                hover_provider: Some(HoverProviderCapability::Simple(true)),
                completion_provider: Some(CompletionOptions {
                    trigger_characters: Some(vec![".".into()]),
                    ..CompletionOptions::default()
                }),
                signature_help_provider: Some(SignatureHelpOptions {
                    trigger_characters: Some(vec!["(".into(), ",".into()]),
                    retrigger_characters: None,
                    work_done_progress_options: WorkDoneProgressOptions::default(),
                }),
                definition_provider: Some(OneOf::Left(true)),
                type_definition_provider: Some(TypeDefinitionProviderCapability::Simple(true)),
                references_provider: Some(OneOf::Left(true)),
                document_highlight_provider: Some(OneOf::Left(true)),
                rename_provider: Some(OneOf::Right(RenameOptions {
                    prepare_provider: Some(true),
                    work_done_progress_options: WorkDoneProgressOptions::default(),
                })),
                document_symbol_provider: Some(OneOf::Left(true)),
                workspace_symbol_provider: Some(OneOf::Left(true)),
                document_formatting_provider: Some(OneOf::Left(true)),
                semantic_tokens_provider: Some(SemanticTokensServerCapabilities::SemanticTokensOptions(
                    SemanticTokensOptions {
                        work_done_progress_options: WorkDoneProgressOptions::default(),
                        legend: semantic_tokens::legend(),
                        range: None,
                        full: Some(SemanticTokensFullOptions::Bool(true)),
                    },
                )),
                folding_range_provider: Some(FoldingRangeProviderCapability::Simple(true)),
                selection_range_provider: Some(SelectionRangeProviderCapability::Simple(true)),
                code_action_provider: Some(CodeActionProviderCapability::Options(CodeActionOptions {
                    code_action_kinds: Some(vec![CodeActionKind::QUICKFIX]),
                    work_done_progress_options: WorkDoneProgressOptions::default(),
                    resolve_provider: None,
                })),
                code_lens_provider: Some(CodeLensOptions {
                    resolve_provider: Some(false),
                }),
                execute_command_provider: Some(ExecuteCommandOptions {
                    commands,
                    work_done_progress_options: WorkDoneProgressOptions::default(),
                }),
                workspace: Some(WorkspaceServerCapabilities {
                    workspace_folders: Some(WorkspaceFoldersServerCapabilities {
                        supported: Some(true),
                        change_notifications: Some(OneOf::Left(true)),
                    }),
                    file_operations: None,
                }),
                ..ServerCapabilities::default()
            },
            offset_encoding: None,
        })
    }

    async fn initialized(&self, _: InitializedParams) {
        tokio::spawn(self.clone().publish_loop());
        if *lock(&self.state.watch_files) {
            let options = DidChangeWatchedFilesRegistrationOptions {
                watchers: vec![FileSystemWatcher {
                    glob_pattern: GlobPattern::String(format!("**/*.{}", workspace::EXTENSION)),
                    kind: None,
                }],
            };
            let registration = Registration {
                id: "tailor-policy-files".into(),
                method: "workspace/didChangeWatchedFiles".into(),
                register_options: serde_json::to_value(options).ok(),
            };
            if let Err(err) = self.client.register_capability(vec![registration]).await {
                tracing::warn!(%err, "the client did not accept a file watcher");
            }
        }
        // Diagnostics for the files on disk, before anything is opened.
        self.changed();
    }

    async fn shutdown(&self) -> Result<()> {
        Ok(())
    }

    async fn did_open(&self, params: DidOpenTextDocumentParams) {
        let doc = params.text_document;
        lock(&self.state.workspace).open(doc.uri, doc.text);
        self.changed();
    }

    async fn did_change(&self, params: DidChangeTextDocumentParams) {
        lock(&self.state.workspace).change(&params.text_document.uri, params.content_changes);
        self.changed();
    }

    async fn did_close(&self, params: DidCloseTextDocumentParams) {
        lock(&self.state.workspace).close(&params.text_document.uri);
        self.changed();
    }

    async fn did_change_watched_files(&self, params: DidChangeWatchedFilesParams) {
        {
            let mut ws = lock(&self.state.workspace);
            for change in &params.changes {
                ws.disk_changed(&change.uri);
            }
        }
        self.changed();
    }

    async fn did_change_workspace_folders(&self, params: DidChangeWorkspaceFoldersParams) {
        let added: Vec<_> = params
            .event
            .added
            .iter()
            .filter_map(|f| workspace::file_path(&f.uri))
            .collect();
        let state = self.state.clone();
        let _ = tokio::task::spawn_blocking(move || {
            let mut ws = lock(&state.workspace);
            for root in added {
                ws.add_root(root);
            }
        })
        .await;
        self.changed();
    }

    async fn hover(&self, params: HoverParams) -> Result<Option<Hover>> {
        let Some((snap, file, offset)) = self.locate(&params.text_document_position_params).await else {
            return Ok(None);
        };
        Ok(guarded("hover", move || hover::hover(&snap, file, offset))
            .await
            .flatten())
    }

    async fn completion(&self, params: CompletionParams) -> Result<Option<CompletionResponse>> {
        let Some((snap, file, offset)) = self.locate(&params.text_document_position).await else {
            return Ok(None);
        };
        // Completion after a dot may analyze the workspace again (see `completion.rs`).
        let items = guarded("completion", move || completion::complete(&snap, file, offset)).await;
        Ok(items.map(CompletionResponse::Array))
    }

    async fn signature_help(&self, params: SignatureHelpParams) -> Result<Option<SignatureHelp>> {
        let Some((snap, file, offset)) = self.locate(&params.text_document_position_params).await else {
            return Ok(None);
        };
        Ok(guarded("signatureHelp", move || {
            signature_help::signature_help(&snap, file, offset)
        })
        .await
        .flatten())
    }

    async fn goto_definition(&self, params: GotoDefinitionParams) -> Result<Option<GotoDefinitionResponse>> {
        let Some((snap, file, offset)) = self.locate(&params.text_document_position_params).await else {
            return Ok(None);
        };
        let location = guarded("definition", move || navigation::definition(&snap, file, offset))
            .await
            .flatten();
        Ok(location.map(GotoDefinitionResponse::Scalar))
    }

    async fn goto_type_definition(
        &self,
        params: GotoTypeDefinitionParams,
    ) -> Result<Option<GotoTypeDefinitionResponse>> {
        let Some((snap, file, offset)) = self.locate(&params.text_document_position_params).await else {
            return Ok(None);
        };
        let location = guarded("typeDefinition", move || {
            navigation::type_definition(&snap, file, offset)
        })
        .await
        .flatten();
        Ok(location.map(GotoDefinitionResponse::Scalar))
    }

    async fn references(&self, params: ReferenceParams) -> Result<Option<Vec<Location>>> {
        let Some((snap, file, offset)) = self.locate(&params.text_document_position).await else {
            return Ok(None);
        };
        let with_definition = params.context.include_declaration;
        Ok(guarded("references", move || {
            navigation::references(&snap, file, offset, with_definition)
        })
        .await)
    }

    async fn document_highlight(&self, params: DocumentHighlightParams) -> Result<Option<Vec<DocumentHighlight>>> {
        let Some((snap, file, offset)) = self.locate(&params.text_document_position_params).await else {
            return Ok(None);
        };
        Ok(guarded("documentHighlight", move || navigation::highlights(&snap, file, offset)).await)
    }

    async fn prepare_rename(&self, params: TextDocumentPositionParams) -> Result<Option<PrepareRenameResponse>> {
        let Some((snap, file, offset)) = self.locate(&params).await else {
            return Ok(None);
        };
        match guarded("prepareRename", move || rename::prepare(&snap, file, offset)).await {
            Some(Ok(range)) => Ok(Some(PrepareRenameResponse::Range(range))),
            Some(Err(err)) => Err(RpcError::invalid_params(err.to_string())),
            None => Err(RpcError::internal_error()),
        }
    }

    async fn rename(&self, params: RenameParams) -> Result<Option<WorkspaceEdit>> {
        let Some((snap, file, offset)) = self.locate(&params.text_document_position).await else {
            return Ok(None);
        };
        let new_name = params.new_name;
        match guarded("rename", move || rename::rename(&snap, file, offset, &new_name)).await {
            Some(Ok(edit)) => Ok(Some(edit)),
            Some(Err(err)) => Err(RpcError::invalid_params(err.to_string())),
            None => Err(RpcError::internal_error()),
        }
    }

    async fn document_symbol(&self, params: DocumentSymbolParams) -> Result<Option<DocumentSymbolResponse>> {
        let Some((snap, file)) = self.file(&params.text_document.uri).await else {
            return Ok(None);
        };
        let symbols = guarded("documentSymbol", move || symbols::document_symbols(&snap, file)).await;
        Ok(symbols.map(DocumentSymbolResponse::Nested))
    }

    async fn symbol(&self, params: WorkspaceSymbolParams) -> Result<Option<WorkspaceSymbolResponse>> {
        let Some(snap) = self.snapshot().await else {
            return Ok(None);
        };
        let found = guarded("symbol", move || symbols::workspace_symbols(&snap, &params.query)).await;
        Ok(found.map(WorkspaceSymbolResponse::Nested))
    }

    async fn formatting(&self, params: DocumentFormattingParams) -> Result<Option<Vec<TextEdit>>> {
        let Some(text) = lock(&self.state.workspace).text(&params.text_document.uri) else {
            return Ok(None);
        };
        Ok(guarded("formatting", move || formatting::format(&text)).await)
    }

    async fn semantic_tokens_full(&self, params: SemanticTokensParams) -> Result<Option<SemanticTokensResult>> {
        let Some((snap, file)) = self.file(&params.text_document.uri).await else {
            return Ok(None);
        };
        let data = guarded("semanticTokens", move || semantic_tokens::tokens(&snap, file)).await;
        Ok(data.map(|data| SemanticTokensResult::Tokens(SemanticTokens { result_id: None, data })))
    }

    async fn folding_range(&self, params: FoldingRangeParams) -> Result<Option<Vec<FoldingRange>>> {
        let Some(text) = lock(&self.state.workspace).text(&params.text_document.uri) else {
            return Ok(None);
        };
        Ok(guarded("foldingRange", move || {
            folding::folding_ranges(&SourceFile::new("", text.to_string()))
        })
        .await)
    }

    async fn code_action(&self, params: CodeActionParams) -> Result<Option<CodeActionResponse>> {
        let Some((snap, file)) = self.file(&params.text_document.uri).await else {
            return Ok(None);
        };
        let range = params.range;
        let actions = guarded("codeAction", move || {
            let source = snap.source(file);
            let start = crate::position::offset(source, range.start);
            let end = crate::position::offset(source, range.end).max(start);
            code_actions::code_actions(&snap, file, start, end)
        });
        Ok(actions.await)
    }

    async fn selection_range(&self, params: SelectionRangeParams) -> Result<Option<Vec<SelectionRange>>> {
        let Some((snap, file)) = self.file(&params.text_document.uri).await else {
            return Ok(None);
        };
        let positions = params.positions;
        Ok(guarded("selectionRange", move || {
            let source = snap.source(file);
            positions
                .iter()
                .map(|p| selection::selection_range(&snap, file, crate::position::offset(source, *p)))
                .collect()
        })
        .await)
    }

    async fn code_lens(&self, params: CodeLensParams) -> Result<Option<Vec<CodeLens>>> {
        let Some((snap, file)) = self.file(&params.text_document.uri).await else {
            return Ok(None);
        };
        Ok(guarded("codeLens", move || code_lens::code_lenses(&snap, file)).await)
    }

    async fn execute_command(&self, params: ExecuteCommandParams) -> Result<Option<LSPAny>> {
        self.run_command(&params.command, &params.arguments).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debounce_comes_from_initialization_options() {
        let opts = serde_json::json!({ "debounceMs": 5 });
        assert_eq!(debounce_option(Some(&opts)), Some(Duration::from_millis(5)));
        assert_eq!(debounce_option(Some(&serde_json::json!({ "debounceMs": "x" }))), None);
        assert_eq!(debounce_option(None), None);
    }
}
