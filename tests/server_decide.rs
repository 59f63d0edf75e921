//! End to end: `tailor serve --demo` answers decide requests the way the policies say.
//!
//! The demo's example requests get the decisions `examples/README.md` lists; for a sample of
//! the demo profiles on every placement the server's answer equals the reference interpreter's
//! run in-process on the same policies, catalog and consent; `?explain=true` says which rule
//! removed or kept each candidate; a subject the store has never seen still gets an answer; and
//! the server's OpenAPI document is the one in the repository and describes what it serves.

mod server_support;

use serde_json::{json, Value};
use server_support::{decide_body, root, shown, Server, TempDir, NOW};
use tailor_compiler::interp::{value_from_json, Env};
use tailor_compiler::ir::Type;
use tailor_compiler::{Bundle, SourceMap};

fn request_file(name: &str) -> Value {
    let text = std::fs::read_to_string(root().join("examples/requests").join(name)).expect("request file");
    serde_json::from_str(&text).expect("request json")
}

#[test]
fn the_example_requests_get_the_documented_decisions() {
    let dir = TempDir::new("decide-examples");
    let server = Server::demo(&dir);

    let hero = server.decide(&request_file("home-hero-web.json"));
    assert_eq!(shown(&hero), ["welcome-10"], "{hero}");
    assert_eq!(hero["experiment"]["variant"], "urgent");
    assert_eq!(hero["decisions"][0]["variant"], "urgent");
    assert_eq!(hero["decisions"][0]["priority"], 1);
    assert_eq!(hero["decisions"][0]["ttl"], 900);
    assert_eq!(hero["logged"], true);
    assert_eq!(hero["bundle"]["version"], 1);
    // Late-bound content from examples/http/templates.json.
    assert_eq!(hero["decisions"][0]["content"], "10% off your first order (today only)");

    let recs = server.decide(&request_file("home-recs-web.json"));
    let ids = shown(&recs);
    assert_eq!(ids.len(), 4, "{recs}");
    assert_eq!(ids.last().map(String::as_str), Some("spring-running"));

    let upsell = server.decide(&request_file("checkout-upsell-app.json"));
    assert_eq!(shown(&upsell).len(), 2, "{upsell}");
    assert!(shown(&upsell)
        .iter()
        .all(|id| id.contains("bundle") || id.contains("addon") || !id.is_empty()));

    let banner = server.decide(&request_file("app-home-banner.json"));
    assert_eq!(shown(&banner), ["loyalty-double-points"], "{banner}");

    let winback = server.decide(&request_file("email-winback.json"));
    assert_eq!(shown(&winback), ["winback-20"], "{winback}");

    let cart = server.decide(&request_file("email-cart-reminder.json"));
    assert_eq!(shown(&cart), ["cart-nudge"], "{cart}");

    let wrong = server.decide(&request_file("home-hero-wrong-channel.json"));
    assert_eq!(shown(&wrong), ["hero-brand-story"], "{wrong}");
    assert_eq!(wrong["fallback"]["reason"], "channel_not_allowed");
    assert!(wrong["decisions"][0].get("content_id").is_some());

    // The README's first curl.
    let readme = std::fs::read_to_string(root().join("examples/http/decide.json")).expect("example body");
    let first = server.decide(&serde_json::from_str(&readme).expect("json"));
    assert_eq!(shown(&first), ["welcome-10"]);
}

/// The demo bundle, compiled in-process the way the server does it.
fn demo_bundle() -> Bundle {
    let mut paths: Vec<_> = std::fs::read_dir(root().join("policies/retail"))
        .expect("policies")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "policy"))
        .collect();
    paths.sort();
    let mut map = SourceMap::new();
    for p in paths {
        let name = format!(
            "policies/retail/{}",
            p.file_name().unwrap_or_default().to_string_lossy()
        );
        map.add(name, std::fs::read_to_string(&p).expect("policy"));
    }
    Bundle::compile(map).expect("the demo policies compile")
}

#[test]
fn decisions_for_demo_profiles_equal_the_interpreters() {
    let dir = TempDir::new("decide-interp");
    let server = Server::demo(&dir);
    let bundle = demo_bundle();
    let p = bundle.program();
    let schema = p
        .eligibilities
        .get(p.decisions[0].candidates as usize)
        .expect("eligibility")
        .schema;
    let catalog_json: Vec<Value> =
        serde_json::from_str(&std::fs::read_to_string(root().join("examples/catalog.json")).expect("catalog"))
            .expect("catalog json");
    let catalog = bundle
        .prepare_catalog_json(schema, &catalog_json)
        .expect("catalog fits");
    let profiles = std::fs::read_to_string(root().join("examples/profiles.jsonl")).expect("profiles");
    let now_ms = tailor_compiler::interp::time::parse_rfc3339(NOW).expect("now");
    let mut compared = 0;
    for line in profiles.lines().step_by(97).take(40) {
        let row: Value = serde_json::from_str(line).expect("row");
        let id = row["id"].as_str().expect("id");
        let profile = value_from_json(p, &Type::Record(p.profile.expect("Profile")), &row["profile"]).expect("profile");
        let consents = if row["profile"]["email_domain"].is_null() {
            vec![]
        } else {
            vec!["marketing".to_string()]
        };
        for (d, decision) in p.decisions.iter().enumerate() {
            let channel = match decision.placement.split('.').next() {
                Some("email") => "Email",
                Some("app") => "App",
                _ => "Web",
            };
            let context = value_from_json(
                p,
                &Type::Record(p.builtins.context),
                &json!({"channel": channel, "placement": decision.placement}),
            )
            .expect("context");
            let env = Env {
                profile: Some(profile.clone()),
                context,
                now_ms,
                subject: id.into(),
                consents: consents.clone(),
                impressions: vec![],
            };
            let expected = bundle
                .decide(tailor_compiler::Backend::Interpreter, &env, d as u32, &catalog, None)
                .expect("interpreter decides");
            let got = server.decide(&decide_body(id, channel, &decision.placement));
            let mut want: Vec<String> = expected.offers.iter().map(|o| o.id.to_string()).collect();
            if let Some(f) = &expected.fallback {
                want = f.content_id.iter().cloned().collect();
            }
            assert_eq!(shown(&got), want, "{id} at {}: {got}", decision.placement);
            assert_eq!(got["experiment"]["variant"].as_str(), expected.variant.as_deref());
            assert_eq!(got["bundle"]["hash"].as_str(), Some(bundle.version()));
            compared += 1;
        }
    }
    assert_eq!(compared, 40 * p.decisions.len());
}

#[test]
fn explain_says_which_rule_kept_or_removed_each_candidate() {
    let dir = TempDir::new("decide-explain");
    let server = Server::demo(&dir);
    let (status, v) = server.post(
        "/personalization/decide?explain=true",
        &request_file("email-winback.json"),
    );
    assert_eq!(status, 200);
    let candidates = v["explain"]["candidates"].as_array().expect("candidates");
    assert_eq!(candidates.len(), 323, "every catalog offer is traced");
    let winback = candidates
        .iter()
        .find(|c| c["id"] == "winback-20")
        .expect("winback-20 traced");
    assert_eq!(winback["outcome"], "kept");
    assert_eq!(winback["rank"], 1);
    let removed = candidates
        .iter()
        .find(|c| c["outcome"] == "removed")
        .expect("some removed");
    assert!(
        removed["rule"].as_str().is_some_and(|r| r.starts_with("retail.")),
        "{removed}"
    );
    assert!(v["explain"]["text"].as_str().is_some_and(|t| t.contains("winback-20")));
    // Without the flag there is no explanation.
    let plain = server.decide(&request_file("email-winback.json"));
    assert!(plain.get("explain").is_none());
}

#[test]
fn subjects_the_store_has_never_seen_still_get_an_answer() {
    let dir = TempDir::new("decide-unknown");
    let server = Server::demo(&dir);
    for (channel, placement) in [("Web", "home.hero"), ("Web", "home.recs"), ("Email", "email.winback")] {
        let v = server.decide(&decide_body("someone-new", channel, placement));
        assert!(v["fallback"].is_object(), "{v}");
        assert!(!shown(&v).is_empty(), "the fallback content is served: {v}");
        assert_eq!(v["logged"], true);
    }
    // Identified only by an identifier nobody is linked to: an anonymous subject.
    let v = server.decide(&json!({
        "subject": {"tenant_id": "demo", "identifiers": [{"kind": "device_id", "value": "dev-1"}]},
        "context": {"channel": "Web", "placement": "home.hero"},
    }));
    assert!(v["fallback"].is_object(), "{v}");
}

#[test]
fn the_openapi_document_is_the_repositorys_and_describes_the_server() {
    let dir = TempDir::new("decide-openapi");
    let server = Server::demo(&dir);
    let (status, body) = server.request("GET", "/openapi.json", None);
    assert_eq!(status, 200);
    let file = std::fs::read(root().join("docs/openapi.json")).expect("docs/openapi.json");
    assert_eq!(body, file, "the served document is docs/openapi.json");
    let doc: Value = serde_json::from_slice(&file).expect("json");

    // Every documented operation exists: it never answers with the router's 404 or 405.
    for (path, ops) in doc["paths"].as_object().expect("paths") {
        let concrete = path
            .replace("{tenant}", "demo")
            .replace("{version}", "1")
            .replace("{decision_id}", "nope")
            .replace("{subject_id}", "u-00001");
        for method in ops.as_object().expect("ops").keys() {
            let (status, v) = server.request(&method.to_uppercase(), &concrete, Some(b"{}"));
            let code = serde_json::from_slice::<Value>(&v)
                .ok()
                .and_then(|v| v["code"].as_str().map(String::from));
            assert!(
                !(status == 404 && code.as_deref() == Some("not_found")) && status != 405,
                "{method} {path} is documented but not served ({status})"
            );
        }
    }

    // A decide response has every property the schema requires, and no undocumented one.
    let response = server.decide(&request_file("home-hero-web.json"));
    let schema = &doc["components"]["schemas"]["DecideResponse"];
    for required in schema["required"].as_array().expect("required") {
        let name = required.as_str().expect("name");
        assert!(response.get(name).is_some(), "decide response lacks `{name}`");
    }
    for key in response.as_object().expect("object").keys() {
        assert!(schema["properties"].get(key).is_some(), "`{key}` is not documented");
    }
    let item_schema = &doc["components"]["schemas"]["DecisionItem"];
    for key in response["decisions"][0].as_object().expect("item").keys() {
        assert!(
            item_schema["properties"].get(key).is_some(),
            "decision item `{key}` is not documented"
        );
    }
    // Error bodies have the documented shape.
    let (status, err) = server.post("/personalization/decide", &json!({}));
    assert_eq!(status, 422);
    for required in doc["components"]["schemas"]["Error"]["required"]
        .as_array()
        .expect("required")
    {
        assert!(err.get(required.as_str().expect("name")).is_some());
    }
}

#[test]
fn health_readiness_and_metrics() {
    let dir = TempDir::new("decide-metrics");
    let server = Server::demo(&dir);
    assert_eq!(server.get("/healthz"), (200, json!({"status": "ok"})));
    let (status, ready) = server.get("/readyz");
    assert_eq!(status, 200);
    assert_eq!(ready["tenants"], json!(["demo"]));
    server.decide(&request_file("home-hero-web.json"));
    server.decide(&request_file("home-hero-wrong-channel.json"));
    let _ = server.post("/personalization/decide", &json!({"nope": 1}));
    let (status, text) = server.request("GET", "/metrics", None);
    assert_eq!(status, 200);
    let text = String::from_utf8(text).expect("utf-8");
    assert!(
        text.contains("tailor_decision_latency_seconds_bucket{tenant=\"demo\",placement=\"home.hero\",le=\"+Inf\"} 2"),
        "{text}"
    );
    assert!(text.contains("tailor_decisions_total{tenant=\"demo\",placement=\"home.hero\"} 2"));
    assert!(text
        .contains("tailor_fallbacks_total{tenant=\"demo\",placement=\"home.hero\",reason=\"channel_not_allowed\"} 1"));
    assert!(text.contains("tailor_errors_total{code=\"invalid_request\"} 1"));
    // Every response carries a request id; a caller's own is echoed.
    let mut stream = std::net::TcpStream::connect(&server.addr).expect("connect");
    use std::io::{Read, Write};
    write!(
        stream,
        "GET /healthz HTTP/1.1\r\nHost: x\r\nx-request-id: abc-123\r\nConnection: close\r\n\r\n"
    )
    .expect("write");
    let mut raw = String::new();
    stream.read_to_string(&mut raw).expect("read");
    assert!(raw.to_ascii_lowercase().contains("x-request-id: abc-123"), "{raw}");
}

#[test]
fn the_jit_backend_decides_like_the_interpreter() {
    let (a, b) = (TempDir::new("decide-backend-i"), TempDir::new("decide-backend-j"));
    let interp = Server::demo(&a);
    let jit = Server::start(&b.0, true, &[("TAILOR_BACKEND", "jit")]);
    let placements = [
        ("Web", "home.hero"),
        ("Web", "home.recs"),
        ("App", "checkout.upsell"),
        ("App", "app.home_banner"),
        ("Email", "email.winback"),
        ("Email", "email.cart_reminder"),
    ];
    for i in (1..=5000).step_by(211) {
        let id = format!("u-{i:05}");
        for (channel, placement) in placements {
            let body = decide_body(&id, channel, placement);
            let (x, y) = (interp.decide(&body), jit.decide(&body));
            assert_eq!(shown(&x), shown(&y), "{id} at {placement}");
            assert_eq!(x["fallback"], y["fallback"], "{id} at {placement}");
            assert_eq!(x["experiment"], y["experiment"], "{id} at {placement}");
        }
    }
}

#[test]
fn an_audit_record_is_enough_to_run_the_decision_again() {
    let dir = TempDir::new("decide-replay");
    let server = Server::demo(&dir);
    let first = server.decide(&decide_body("u-00024", "Web", "home.hero"));
    for _ in 0..3 {
        server_support::view(&server, &first, None);
    }
    // Capped now: the record's inputs include the impressions.
    let decided = server.decide(&decide_body("u-00024", "Web", "home.hero"));
    let (_, record) = server.get(&format!(
        "/admin/audit/{}",
        decided["decision_id"].as_str().unwrap_or_default()
    ));
    assert_eq!(record["inputs"]["impressions"].as_array().map(Vec::len), Some(3));

    // Rebuild everything from the record, the stored bundle version and the catalog.
    let (_, version) = server.get(&format!("/admin/bundles/demo/{}", record["bundle"]["version"]));
    let mut map = SourceMap::new();
    for s in version["sources"].as_array().expect("sources") {
        map.add(
            s["name"].as_str().unwrap_or_default(),
            s["text"].as_str().unwrap_or_default(),
        );
    }
    let bundle = Bundle::compile(map).expect("the recorded version compiles");
    assert_eq!(bundle.version(), record["bundle"]["hash"].as_str().unwrap_or_default());
    let p = bundle.program();
    let (_, catalog) = server.get("/admin/catalog/demo");
    let schema = p.eligibilities[p.decisions[0].candidates as usize].schema;
    let offers = catalog["offers"].as_array().expect("offers").clone();
    let catalog = bundle.prepare_catalog_json(schema, &offers).expect("catalog");
    let inputs = &record["inputs"];
    let channels = &p.enums[p.builtins.channel as usize].variants;
    let env = Env {
        profile: Some(
            value_from_json(p, &Type::Record(p.profile.expect("Profile")), &inputs["profile"]).expect("profile"),
        ),
        context: value_from_json(p, &Type::Record(p.builtins.context), &inputs["context"]).expect("context"),
        now_ms: inputs["now_ms"].as_i64().expect("now"),
        // The one input not in the record: the subject id (only its hash is stored).
        subject: "u-00024".into(),
        consents: serde_json::from_value(inputs["consents"].clone()).expect("consents"),
        impressions: inputs["impressions"]
            .as_array()
            .expect("impressions")
            .iter()
            .map(|i| tailor_compiler::interp::Impression {
                offer_id: i["offer_id"].as_str().unwrap_or_default().into(),
                placement: i["placement"].as_str().unwrap_or_default().into(),
                channel: channels.iter().position(|c| i["channel"] == c.as_str()).unwrap_or(0) as u32,
                at_ms: i["at_ms"].as_i64().unwrap_or(0),
            })
            .collect(),
    };
    let d = p.decision_for_placement("home.hero").expect("decision");
    let again = bundle
        .decide(tailor_compiler::Backend::Interpreter, &env, d, &catalog, None)
        .expect("decides");
    let ids: Vec<String> = match &again.fallback {
        Some(f) => f.content_id.iter().cloned().collect(),
        None => again.offers.iter().map(|o| o.id.to_string()).collect(),
    };
    assert_eq!(ids, shown(&record["response"]));
    assert_eq!(again.variant.as_deref(), record["experiment"]["variant"].as_str());
    let kept: Vec<&str> = record["rule_outcomes"]["kept"]
        .as_array()
        .expect("kept")
        .iter()
        .filter_map(|k| k["id"].as_str())
        .collect();
    let capped = record["rule_outcomes"]["capped"].as_array().expect("capped");
    assert!(
        capped.iter().any(|c| c["id"] == "welcome-10"),
        "{}",
        record["rule_outcomes"]
    );
    assert!(kept.iter().all(|k| again.trace.iter().any(|t| &*t.id == *k)));
}
