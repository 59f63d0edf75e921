//! End to end: `tailor import` loads files into a stopped server's store, and the restarted
//! server decides with them.

mod server_support;

use server_support::{decide_body, root, shown, Server, TempDir};
use std::process::Command;

fn import(data: &std::path::Path, kind: &str, file: &std::path::Path) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_tailor"))
        .args(["import", kind])
        .arg(file)
        .args(["--tenant", "demo", "--data"])
        .arg(data)
        .current_dir(root())
        .output()
        .expect("run tailor import")
}

#[test]
fn import_loads_rows_into_a_stopped_server() {
    let dir = TempDir::new("import");
    let mut server = Server::demo(&dir);
    let winback = decide_body("u-00028", "Email", "email.winback");
    assert_eq!(shown(&server.decide(&winback)), ["winback-20"]);

    // While the server runs, the store is locked: import says so.
    let files = TempDir::new("import-files");
    let consent = files.0.join("consent.jsonl");
    std::fs::write(
        &consent,
        "{\"subject_id\": \"u-00028\", \"purpose\": \"marketing\", \"granted\": false, \"at\": \"2026-11-20T00:00:00Z\", \"source\": \"crm\"}\n{\"subject_id\": 7}\n",
    )
    .expect("write");
    let locked = import(&dir.0, "consent", &consent);
    assert_eq!(locked.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&locked.stderr).contains("another `tailor serve`"));

    server.kill();
    let out = import(&dir.0, "consent", &consent);
    assert_eq!(
        out.status.code(),
        Some(1),
        "one bad line: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("imported 1, rejected 1"));
    assert!(String::from_utf8_lossy(&out.stderr).contains("line 2"));

    let catalog = root().join("examples/catalog-1000.json");
    let out = import(&dir.0, "catalog", &catalog);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));

    server.restart();
    assert_eq!(server.decide(&winback)["fallback"]["reason"], "consent_missing");
    let (_, tenants) = server.get("/admin/tenants");
    assert_eq!(tenants["tenants"][0]["catalog"]["offers"], 1000);
}
