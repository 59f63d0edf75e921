// The Tailor extension: starts the language server (`tailor lsp`) and adds commands.
//
// Everything a user sees about policies (diagnostics, hover, completion, navigation, rename,
// formatting, semantic colours, code actions, code lenses over tests) comes from the server;
// this file only starts it, restarts it when its settings change, and offers palette commands
// that ask it to check the workspace or run the tests. Highlighting before the server is up
// comes from the TextMate grammar in `syntaxes/`.

import * as path from "path";
import * as vscode from "vscode";
import {
  ExecuteCommandRequest,
  LanguageClient,
  LanguageClientOptions,
  ServerOptions,
} from "vscode-languageclient/node";

let client: LanguageClient | undefined;
let output: vscode.LogOutputChannel;

/** The server's answer to one of its commands. */
interface CommandResult {
  ok: boolean;
  summary: string;
  details?: string;
}

export async function activate(context: vscode.ExtensionContext): Promise<void> {
  output = vscode.window.createOutputChannel("Tailor", { log: true });
  context.subscriptions.push(
    output,
    vscode.commands.registerCommand("tailor.check", () => serverCommand("tailor.checkWorkspace", true)),
    vscode.commands.registerCommand("tailor.test", () => serverCommand("tailor.runAllTests", false)),
    vscode.commands.registerCommand("tailor.restartServer", restart),
    vscode.workspace.onDidChangeConfiguration((e) => {
      if (e.affectsConfiguration("tailor.server") || e.affectsConfiguration("tailor.diagnostics")) {
        void restart();
      }
    }),
  );
  await start();
}

export async function deactivate(): Promise<void> {
  await stop();
}

/** The executable to run: a bare name is looked up on PATH, a relative path in the workspace. */
function serverPath(): string {
  const configured = vscode.workspace.getConfiguration("tailor").get<string>("server.path") || "tailor";
  if (path.isAbsolute(configured) || !configured.includes("/") && !configured.includes("\\")) {
    return configured;
  }
  const folder = vscode.workspace.workspaceFolders?.[0];
  return folder ? path.join(folder.uri.fsPath, configured) : configured;
}

async function start(): Promise<void> {
  const command = serverPath();
  const config = vscode.workspace.getConfiguration("tailor");
  const serverOptions: ServerOptions = {
    run: { command, args: ["lsp"] },
    debug: { command, args: ["lsp"], options: { env: { ...process.env, RUST_LOG: "tailor_lsp=debug" } } },
  };
  const clientOptions: LanguageClientOptions = {
    documentSelector: [
      { scheme: "file", language: "tailor" },
      { scheme: "untitled", language: "tailor" },
    ],
    synchronize: {
      // The server re-reads files that change on disk while they are not open.
      fileEvents: vscode.workspace.createFileSystemWatcher("**/*.policy"),
    },
    initializationOptions: {
      debounceMs: config.get<number>("diagnostics.debounceMs", 10),
    },
    outputChannel: output,
  };
  client = new LanguageClient("tailor", "Tailor Language Server", serverOptions, clientOptions);
  try {
    await client.start();
  } catch (err) {
    client = undefined;
    const choice = await vscode.window.showErrorMessage(
      `Could not start the Tailor language server (\`${command} lsp\`): ${err}. ` +
        "Install `tailor` on your PATH or set `tailor.server.path`.",
      "Open Settings",
    );
    if (choice === "Open Settings") {
      await vscode.commands.executeCommand("workbench.action.openSettings", "tailor.server.path");
    }
  }
}

async function stop(): Promise<void> {
  const running = client;
  client = undefined;
  if (running) {
    await running.stop();
  }
}

async function restart(): Promise<void> {
  await stop();
  await start();
}

/** Runs a server command and shows its result; `problems` opens the Problems view after. */
async function serverCommand(command: string, problems: boolean): Promise<void> {
  if (!client) {
    void vscode.window.showErrorMessage("The Tailor language server is not running.");
    return;
  }
  const result = (await client.sendRequest(ExecuteCommandRequest.type, { command, arguments: [] })) as
    | CommandResult
    | null;
  if (result?.details) {
    output.appendLine(result.details);
    output.show(true);
  }
  if (problems) {
    await vscode.commands.executeCommand("workbench.actions.view.problems");
  }
}
