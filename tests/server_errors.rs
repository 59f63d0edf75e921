//! End to end: every kind of bad input gets a 4xx with a JSON `{code, message}` body, and the
//! server neither panics nor answers 500 for a client's mistake (checked at the end through
//! `/metrics`: no 5xx response was ever sent).

mod server_support;

use serde_json::{json, Value};
use server_support::{Server, TempDir};

/// Sends `body` to `path` and checks the status and error code.
fn expect_error(server: &Server, method: &str, path: &str, body: &[u8], status: u16, code: &str) {
    let (got, raw) = server.request(method, path, Some(body));
    let v: Value = serde_json::from_slice(&raw).unwrap_or_else(|_| panic!("{method} {path}: not JSON: {raw:?}"));
    assert_eq!(got, status, "{method} {path} {}: {v}", String::from_utf8_lossy(body));
    assert_eq!(v["code"], code, "{method} {path}: {v}");
    assert!(v["message"].as_str().is_some_and(|m| !m.is_empty()), "{v}");
}

fn decide(server: &Server, body: Value, status: u16, code: &str) {
    expect_error(
        server,
        "POST",
        "/personalization/decide",
        &serde_json::to_vec(&body).unwrap_or_default(),
        status,
        code,
    );
}

fn good() -> Value {
    json!({
        "subject": {"id": "u-00001", "tenant_id": "demo"},
        "context": {"channel": "Web", "placement": "home.hero"},
    })
}

#[test]
fn bad_decide_requests_are_4xx_with_a_code() {
    let dir = TempDir::new("errors-decide");
    let server = Server::demo(&dir);
    let d = "/personalization/decide";
    // Not JSON, or no body at all.
    expect_error(&server, "POST", d, b"{\"subject\": ", 400, "malformed_json");
    expect_error(&server, "POST", d, b"hello", 400, "malformed_json");
    expect_error(&server, "POST", d, b"", 400, "malformed_json");
    // Missing fields, wrong types, unknown fields.
    decide(
        &server,
        json!({"subject": {"id": "u-00001", "tenant_id": "demo"}}),
        422,
        "invalid_request",
    );
    decide(
        &server,
        json!({"context": {"channel": "Web", "placement": "home.hero"}}),
        422,
        "invalid_request",
    );
    decide(&server, json!([1, 2]), 422, "invalid_request");
    let mut wrong_type = good();
    wrong_type["subject"]["id"] = json!(42);
    decide(&server, wrong_type, 422, "invalid_request");
    let mut wrong_type = good();
    wrong_type["constraints"] = json!({"max_variants": "two"});
    decide(&server, wrong_type, 422, "invalid_request");
    let mut unknown_field = good();
    unknown_field["contxt"] = json!({});
    decide(&server, unknown_field, 422, "invalid_request");
    let mut negative = good();
    negative["constraints"] = json!({"max_variants": -1});
    decide(&server, negative, 422, "invalid_request");
    let mut zero = good();
    zero["constraints"] = json!({"max_variants": 0});
    decide(&server, zero, 422, "invalid_request");
    // Unknown tenant, placement, channel; no subject.
    let mut t = good();
    t["subject"]["tenant_id"] = json!("acme");
    decide(&server, t, 404, "unknown_tenant");
    let mut p = good();
    p["context"]["placement"] = json!("home.footer");
    decide(&server, p, 404, "unknown_placement");
    let mut c = good();
    c["context"]["channel"] = json!("Fax");
    decide(&server, c, 422, "invalid_request");
    decide(
        &server,
        json!({"subject": {"tenant_id": "demo"}, "context": {"channel": "Web", "placement": "home.hero"}}),
        422,
        "invalid_request",
    );
    let mut empty = good();
    empty["subject"]["id"] = json!("");
    decide(&server, empty, 422, "invalid_request");
    let mut kind = good();
    kind["subject"]["identifiers"] = json!([{"kind": "ssn", "value": "1"}]);
    decide(&server, kind, 422, "invalid_request");
    // Consent may not be switched off on this server.
    let mut bypass = good();
    bypass["constraints"] = json!({"require_consent": false});
    decide(&server, bypass, 403, "consent_bypass_forbidden");
    // Oversize body (the default limit is 64 KiB).
    let mut huge = good();
    huge["hints"] = json!({"padding": "x".repeat(200_000)});
    decide(&server, huge, 413, "body_too_large");
    // A bad query flag.
    expect_error(
        &server,
        "POST",
        "/personalization/decide?explain=maybe",
        &serde_json::to_vec(&good()).unwrap_or_default(),
        400,
        "bad_request",
    );
    // The server still answers.
    assert_eq!(server.post(d, &good()).0, 200);
    no_server_errors(&server);
}

#[test]
fn bad_events_ingestion_and_admin_requests_are_4xx_with_a_code() {
    let dir = TempDir::new("errors-other");
    let server = Server::demo(&dir);
    let decision = server.decide(&good());
    let id = decision["decision_id"].as_str().expect("id").to_string();
    let ev = |body: Value, status, code| {
        expect_error(
            &server,
            "POST",
            "/personalization/events",
            &serde_json::to_vec(&body).unwrap_or_default(),
            status,
            code,
        )
    };
    ev(json!({"decision_id": "nope", "type": "view"}), 404, "unknown_decision");
    ev(json!({"decision_id": id, "type": "like"}), 422, "invalid_request");
    ev(
        json!({"decision_id": id, "type": "view", "offer_id": "not-shown"}),
        422,
        "invalid_request",
    );
    ev(
        json!({"decision_id": id, "type": "view", "at": "last tuesday"}),
        422,
        "invalid_request",
    );
    ev(
        json!({"decision_id": id, "type": "view", "tenant_id": "acme"}),
        404,
        "unknown_decision",
    );
    ev(json!("view"), 422, "invalid_request");
    ev(json!({"type": "view"}), 422, "invalid_request");
    expect_error(&server, "POST", "/personalization/events", b"[{", 400, "malformed_json");

    let post = |path: &str, body: Value, status, code| {
        expect_error(
            &server,
            "POST",
            path,
            &serde_json::to_vec(&body).unwrap_or_default(),
            status,
            code,
        )
    };
    post(
        "/ingest/profiles",
        json!({"tenant_id": "demo", "id": "x", "profile": {"lifecycle": "Asleep"}}),
        422,
        "invalid_request",
    );
    post(
        "/ingest/profiles",
        json!({"id": "x", "profile": {}}),
        422,
        "invalid_request",
    );
    post(
        "/ingest/profiles",
        json!({"tenant_id": "acme", "id": "x", "profile": {}}),
        404,
        "unknown_tenant",
    );
    post(
        "/ingest/consent",
        json!({"tenant_id": "demo", "subject_id": "u-1", "purpose": "marketing", "granted": "yes", "source": "t"}),
        422,
        "invalid_request",
    );
    post(
        "/ingest/consent",
        json!({"tenant_id": "demo", "subject_id": "u-1", "purpose": "marketing", "channel": "Fax", "granted": true, "source": "t"}),
        422,
        "invalid_request",
    );
    post(
        "/ingest/features",
        json!({"tenant_id": "demo", "subject_id": "u-1", "features": {"shoe_size": 44}}),
        422,
        "invalid_request",
    );
    post(
        "/ingest/features",
        json!({"tenant_id": "demo", "subject_id": "u-1", "features": {"orders": "many"}}),
        422,
        "invalid_request",
    );
    post(
        "/ingest/identity",
        json!({"tenant_id": "demo", "subject_id": "u-1", "identifiers": [{"kind": "ssn", "value": "1"}]}),
        422,
        "invalid_request",
    );
    post(
        "/ingest/identity/merge",
        json!({"tenant_id": "demo", "from": "u-00001", "into": "u-00001"}),
        422,
        "invalid_request",
    );
    expect_error(
        &server,
        "POST",
        "/ingest/profiles/bulk?tenant_id=acme",
        b"{}\n",
        404,
        "unknown_tenant",
    );

    post(
        "/admin/bundles",
        json!({"tenant_id": "demo", "author": "ann"}),
        422,
        "invalid_request",
    );
    post(
        "/admin/bundles",
        json!({"tenant_id": "demo", "author": "ann", "sources": []}),
        422,
        "invalid_request",
    );
    post(
        "/admin/bundles",
        json!({"tenant_id": "Not A Tenant", "author": "ann", "sources": [{"name": "a.policy", "text": "package a"}]}),
        422,
        "invalid_request",
    );
    post(
        "/admin/bundles/demo/rollback",
        json!({"version": 99, "author": "ann"}),
        404,
        "unknown_version",
    );
    post(
        "/admin/bundles/acme/rollback",
        json!({"version": 1, "author": "ann"}),
        404,
        "unknown_tenant",
    );
    post("/admin/faults", json!({"store_down": true}), 404, "faults_disabled");
    expect_error(&server, "GET", "/admin/bundles/demo/one", b"", 400, "bad_request");
    expect_error(&server, "GET", "/admin/bundles/demo/7", b"", 404, "unknown_version");
    expect_error(&server, "GET", "/admin/bundles/acme", b"", 404, "unknown_tenant");
    expect_error(
        &server,
        "GET",
        "/admin/bundles/demo/diff?from=1",
        b"",
        400,
        "bad_request",
    );
    expect_error(&server, "GET", "/admin/audit/nope", b"", 404, "unknown_decision");
    expect_error(&server, "GET", "/admin/audit", b"", 400, "bad_request");
    expect_error(
        &server,
        "GET",
        "/admin/audit?tenant_id=demo&limit=0",
        b"",
        400,
        "bad_request",
    );
    expect_error(
        &server,
        "PUT",
        "/admin/catalog/demo",
        b"[{\"id\": 5}]",
        422,
        "invalid_catalog",
    );
    expect_error(&server, "PUT", "/admin/catalog/acme", b"[]", 404, "unknown_tenant");
    // Unknown endpoints and methods.
    expect_error(
        &server,
        "GET",
        "/personalization/decide",
        b"",
        405,
        "method_not_allowed",
    );
    expect_error(&server, "POST", "/nowhere", b"{}", 404, "not_found");
    no_server_errors(&server);
}

#[test]
fn the_admin_token_guards_admin_and_ingestion() {
    let dir = TempDir::new("errors-token");
    let server = Server::start(&dir.0, true, &[("TAILOR_ADMIN_TOKEN", "s3cret")]);
    expect_error(&server, "GET", "/admin/tenants", b"", 401, "unauthorized");
    expect_error(&server, "POST", "/ingest/consent", b"{}", 401, "unauthorized");
    let (status, raw) = {
        use std::io::{Read, Write};
        let mut s = std::net::TcpStream::connect(&server.addr).expect("connect");
        write!(
            s,
            "GET /admin/tenants HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer s3cret\r\nConnection: close\r\n\r\n"
        )
        .expect("write");
        let mut raw = String::new();
        s.read_to_string(&mut raw).expect("read");
        (raw.split_whitespace().nth(1).unwrap_or_default().to_string(), raw)
    };
    assert_eq!(status, "200", "{raw}");
    // Decisions need no token.
    assert_eq!(server.post("/personalization/decide", &good()).0, 200);
}

fn no_server_errors(server: &Server) {
    let (_, metrics) = server.request("GET", "/metrics", None);
    let text = String::from_utf8_lossy(&metrics);
    assert!(!text.contains("status=\"5"), "a 5xx was answered:\n{text}");
}
