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

#[test]
fn yaml_catalogs_load_from_files_and_over_the_admin_api() {
    let dir = TempDir::new("import-yaml");
    let mut server = Server::demo(&dir);
    let yaml = std::fs::read(root().join("examples/catalog-demo.yaml")).expect("catalog-demo.yaml");
    let put = |content_type: &str, body: &[u8]| {
        let (status, raw) =
            server_support::try_request_typed(&server.addr, "PUT", "/admin/catalog/demo", content_type, Some(body))
                .expect("request");
        (
            status,
            serde_json::from_slice::<serde_json::Value>(&raw).unwrap_or_default(),
        )
    };

    // Over the admin API, by content type.
    let (status, body) = put("application/yaml; charset=utf-8", &yaml);
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["offers"], 23);
    let (_, catalog) = server.get("/admin/catalog/demo");
    assert_eq!(catalog["offers"][0]["id"], "welcome-10");
    assert_eq!(catalog["offers"][0]["margin"], 4.0);
    assert_eq!(
        shown(&server.decide(&decide_body("u-00024", "Web", "home.hero"))),
        ["welcome-10"]
    );
    // A YAML syntax error is 400 with the line; YAML of the wrong shape, or offers that do not
    // fit the schema, 422; the catalog is unchanged.
    let (status, body) = put("text/yaml", b"offers:\n  - id: a\n   title: [\n");
    assert_eq!((status, body["code"].as_str()), (400, Some("malformed_yaml")), "{body}");
    assert!(body["message"].as_str().unwrap_or_default().contains("line"), "{body}");
    let (status, body) = put("application/yaml", b"offers: 3\n");
    assert_eq!(
        (status, body["code"].as_str()),
        (422, Some("invalid_request")),
        "{body}"
    );
    let (status, body) = put("application/x-yaml", b"- {id: x, title: 5}\n");
    assert_eq!(
        (status, body["code"].as_str()),
        (422, Some("invalid_catalog")),
        "{body}"
    );
    let (_, catalog) = server.get("/admin/catalog/demo");
    assert_eq!(catalog["offers"].as_array().map(Vec::len), Some(23));

    // From a file, by extension: `tailor import catalog FILE.yaml` into the stopped server's store.
    let (status, _) = put(
        "application/json",
        &std::fs::read(root().join("examples/catalog.json")).expect("json"),
    );
    assert_eq!(status, 200);
    server.kill();
    let out = import(&dir.0, "catalog", &root().join("examples/catalog-demo.yaml"));
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    server.restart();
    let (_, tenants) = server.get("/admin/tenants");
    assert_eq!(tenants["tenants"][0]["catalog"]["offers"], 23);
}
