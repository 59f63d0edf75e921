//! End-to-end tests of the `tailor` binary: exit codes, output streams and formats, and the
//! generated `docs/diagnostics.md`.
//!
//! Each test runs the built binary in a fresh directory under Cargo's per-target temporary
//! directory, so tests never see each other's files. One helper, [`tailor`], runs the binary and
//! collects its output, so a change in how it is invoked edits one function.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

/// A schema-only policy: valid, and with nothing the checker could warn about.
const VALID_POLICY: &str = "\
package demo

enum Tier { Standard, Premium }

/// What we know about a customer.
schema Profile {
  tier: Tier
}
";

/// What a run of the binary produced.
struct Output {
    code: i32,
    stdout: String,
    stderr: String,
}

/// Runs `tailor` with `args` in `dir`, with colour and logging settings fixed.
fn tailor(dir: &Path, args: &[&str]) -> Output {
    let output = Command::new(env!("CARGO_BIN_EXE_tailor"))
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .env_remove("RUST_LOG")
        .output()
        .expect("the tailor binary runs");
    Output {
        code: output.status.code().expect("tailor exits normally"),
        stdout: String::from_utf8(output.stdout).expect("stdout is UTF-8"),
        stderr: String::from_utf8(output.stderr).expect("stderr is UTF-8"),
    }
}

/// A fresh, empty directory for one test.
fn temp_dir(name: &str) -> PathBuf {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("cli-{}-{n}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir is created");
    dir
}

fn write(dir: &Path, relative: &str, text: impl AsRef<[u8]>) {
    let path = dir.join(relative);
    std::fs::create_dir_all(path.parent().expect("a parent")).expect("parent is created");
    std::fs::write(path, text).expect("file is written");
}

// ---- check: usage and IO errors exit with 2 ------------------------------------------------

#[test]
fn check_missing_path_exits_2() {
    let dir = temp_dir("missing");
    let out = tailor(&dir, &["check", "no/such/dir"]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(out.stderr.contains("`no/such/dir` does not exist"), "{}", out.stderr);
    assert!(out.stdout.is_empty());
}

#[test]
fn check_without_policy_files_exits_2() {
    let dir = temp_dir("empty");
    write(&dir, "policies/README.md", "not a policy");
    // Hidden directories are not searched.
    write(&dir, "policies/.drafts/a.policy", VALID_POLICY);
    let out = tailor(&dir, &["check", "policies"]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr.contains("no `.policy` files found in `policies`"),
        "{}",
        out.stderr
    );
}

#[test]
fn check_non_utf8_file_exits_2() {
    let dir = temp_dir("latin1");
    write(&dir, "p/bad.policy", b"package demo\n// caf\xe9\n");
    let out = tailor(&dir, &["check", "p"]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr.contains("`p/bad.policy` is not valid UTF-8"),
        "{}",
        out.stderr
    );
}

#[test]
fn check_usage_errors_exit_2() {
    let dir = temp_dir("usage");
    write(&dir, "a.policy", VALID_POLICY);
    for args in [
        &["check"][..],
        &["check", "a.policy", "--format", "xml"],
        &["check", "a.policy", "--no-such-flag"],
        &["no-such-command"],
    ] {
        let out = tailor(&dir, args);
        assert_eq!(out.code, 2, "{args:?}: {}", out.stderr);
    }
}

// ---- check: clean policies -------------------------------------------------------------------

#[test]
fn check_clean_policies_exits_0_with_summary_and_version() {
    let dir = temp_dir("clean");
    write(&dir, "policies/retail/schema.policy", VALID_POLICY);
    write(&dir, "policies/retail/notes.txt", "ignored");
    write(&dir, "policies/other/more.policy", "package more\n");
    let out = tailor(&dir, &["check", "policies"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stderr.contains("checked 2 files"), "{}", out.stderr);
    assert!(out.stdout.starts_with("bundle version: "), "{}", out.stdout);
}

#[test]
fn check_counts_a_file_named_twice_once() {
    let dir = temp_dir("dedup");
    write(&dir, "p/a.policy", VALID_POLICY);
    let out = tailor(&dir, &["check", "p", "p/a.policy", "./p/a.policy"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stderr.contains("checked 1 file:"), "{}", out.stderr);
}

#[test]
fn check_json_prints_an_array_on_stdout() {
    let dir = temp_dir("json");
    write(&dir, "p/a.policy", VALID_POLICY);
    let out = tailor(&dir, &["check", "p", "--format", "json"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let value: serde_json::Value = serde_json::from_str(&out.stdout).expect("stdout is JSON");
    assert!(value.is_array(), "{value}");
    assert!(out.stderr.contains("bundle version: "), "{}", out.stderr);
}

#[test]
fn check_sarif_prints_a_log_on_stdout() {
    let dir = temp_dir("sarif");
    write(&dir, "p/a.policy", VALID_POLICY);
    let out = tailor(&dir, &["check", "p", "--format", "sarif", "--deny-warnings"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let log: serde_json::Value = serde_json::from_str(&out.stdout).expect("stdout is JSON");
    assert_eq!(log["version"], "2.1.0");
    let driver = &log["runs"][0]["tool"]["driver"];
    assert_eq!(driver["name"], "tailor");
    assert_eq!(driver["version"], env!("CARGO_PKG_VERSION"));
    assert!(driver["rules"].as_array().is_some_and(|r| !r.is_empty()));
}

// ---- explain-code ----------------------------------------------------------------------------

#[test]
fn explain_code_prints_a_known_code() {
    let dir = temp_dir("explain-known");
    for code in ["E0102", "e0102", "unknown-field"] {
        let out = tailor(&dir, &["explain-code", code]);
        assert_eq!(out.code, 0, "{}", out.stderr);
        assert!(
            out.stdout.starts_with("E0102 unknown-field (error): "),
            "{}",
            out.stdout
        );
        assert!(out.stdout.contains("lifetime_valeu"), "the example is shown");
    }
}

#[test]
fn explain_code_rejects_an_unknown_code() {
    let dir = temp_dir("explain-unknown");
    let out = tailor(&dir, &["explain-code", "unknown-feild"]);
    assert_eq!(out.code, 2);
    assert!(out.stdout.is_empty());
    assert!(
        out.stderr.contains("unknown diagnostic code `unknown-feild`"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("did you mean `unknown-field`?"), "{}", out.stderr);
}

#[test]
fn docs_diagnostics_md_is_up_to_date() {
    let dir = temp_dir("docs");
    let out = tailor(&dir, &["explain-code", "--all", "--markdown"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/diagnostics.md");
    let on_disk = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        on_disk == out.stdout,
        "docs/diagnostics.md is out of date; regenerate it with\n  \
         cargo run -q -- explain-code --all --markdown > docs/diagnostics.md"
    );
}

// ---- test, fmt, explain -------------------------------------------------------------------------

const TESTED_POLICY: &str = r#"package shop

schema Profile {
  orders: Int
}

schema Offer {
  id: String
  min_orders: Int
}

eligibility offers for offer: Offer {
  require enough_orders: profile.orders >= offer.min_orders because "too few orders"
}

decision home {
  placement "home"
  candidates offers
  fallback "generic"
}

const catalog_a: List<Offer> = [Offer { id: "loyal", min_orders: 5 }, Offer { id: "any", min_orders: 0 }]

test "a loyal customer gets the loyal offer" {
  profile { orders: 9 }
  catalog catalog_a
  expect home.first == "loyal"
}

test "a new customer gets the other one" {
  profile { orders: 0 }
  catalog catalog_a
  expect home.first == "loyal"
}
"#;

#[test]
fn test_runs_tests_and_explains_failures() {
    let dir = temp_dir("test");
    write(&dir, "a.policy", TESTED_POLICY);
    let out = tailor(&dir, &["test", "a.policy"]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(
        out.stderr.contains("test a loyal customer gets the loyal offer ... ok"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("test a new customer gets the other one ... FAILED"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("\"any\""),
        "the failure shows the actual value: {}",
        out.stderr
    );
    assert!(
        out.stderr.contains("enough_orders"),
        "the failure names the rule: {}",
        out.stderr
    );
    assert!(out.stderr.contains("1 passed, 1 failed"), "{}", out.stderr);
    let filtered = tailor(&dir, &["test", "a.policy", "--filter", "loyal customer"]);
    assert_eq!(filtered.code, 0, "{}", filtered.stderr);
    assert!(filtered.stderr.contains("1 passed, 0 failed"), "{}", filtered.stderr);
    let json = tailor(&dir, &["test", "a.policy", "--format", "json"]);
    let v: serde_json::Value = serde_json::from_str(&json.stdout).expect("json report");
    assert!(v.to_string().contains("a new customer gets the other one"));
}

#[test]
fn explain_tells_which_rule_removed_each_candidate() {
    let dir = temp_dir("explain");
    write(&dir, "a.policy", TESTED_POLICY);
    let out = tailor(&dir, &["explain", "a.policy", "--test", "new customer"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stdout.contains("loyal"), "{}", out.stdout);
    assert!(out.stdout.contains("enough_orders"), "{}", out.stdout);
    let missing = tailor(&dir, &["explain", "a.policy", "--test", "no such test"]);
    assert_eq!(missing.code, 2);
}

#[test]
fn fmt_check_then_fmt_then_check_again() {
    let dir = temp_dir("fmt");
    write(
        &dir,
        "a.policy",
        "package shop


// keep me
segment   s =   true  and false // and me
",
    );
    let out = tailor(&dir, &["fmt", "--check", "a.policy"]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(out.stderr.contains("would reformat"), "{}", out.stderr);
    let out = tailor(&dir, &["fmt", "a.policy"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let text = std::fs::read_to_string(dir.join("a.policy")).expect("formatted file");
    assert!(text.contains("// keep me") && text.contains("// and me"), "{text}");
    assert!(text.contains("segment s = true and false"), "{text}");
    let out = tailor(&dir, &["fmt", "--check", "a.policy"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    write(
        &dir,
        "b.policy",
        "package shop
segment s = (
",
    );
    let out = tailor(&dir, &["fmt", "b.policy"]);
    assert_eq!(out.code, 1);
    assert_eq!(
        std::fs::read_to_string(dir.join("b.policy")).unwrap_or_default(),
        "package shop\nsegment s = (\n"
    );
}

#[test]
fn help_shows_examples() {
    let dir = temp_dir("help");
    let out = tailor(&dir, &["check", "--help"]);
    assert_eq!(out.code, 0);
    assert!(out.stdout.contains("Examples:"), "{}", out.stdout);
    assert!(out.stdout.contains("--deny-warnings"), "{}", out.stdout);
}

#[test]
fn docs_stdlib_md_is_up_to_date() {
    let dir = temp_dir("stdlib");
    let out = tailor(&dir, &["stdlib", "--markdown"]);
    assert_eq!(out.code, 0);
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/stdlib.md");
    let current = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        current == out.stdout,
        "docs/stdlib.md is out of date; regenerate it with\n  cargo run -q -- stdlib --markdown > docs/stdlib.md"
    );
}
