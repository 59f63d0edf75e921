#!/usr/bin/env python3
"""Writes docs/openapi.json, the OpenAPI 3.1 document of `tailor serve`.

The document is kept in the repository and served at /openapi.json; tests check that every
route of the server is in it and that responses have the documented required fields. Edit this
script, then run it: python3 scripts/openapi.py
"""
import json, os

def ref(name): return {"$ref": f"#/components/schemas/{name}"}
def obj(props, required=(), extra=False, desc=None):
    o = {"type": "object", "properties": props, "required": list(required)}
    if not extra: o["additionalProperties"] = False
    if desc: o["description"] = desc
    return o
S = {"type": "string"}
I = {"type": "integer"}
B = {"type": "boolean"}
N = {"type": "number"}
ANY = {}
def opt(s): return {"oneOf": [s, {"type": "null"}]}

def errors(*codes):
    out = {}
    for c in codes:
        out[str(c)] = {"$ref": f"#/components/responses/E{c}"}
    return out

def json_body(schema, desc=None):
    b = {"required": True, "content": {"application/json": {"schema": schema}}}
    if desc: b["description"] = desc
    return b

def jsonl_body(desc):
    return {"required": True, "description": desc, "content": {"application/x-ndjson": {"schema": S}}}

def ok(schema, desc="OK"):
    return {"200": {"description": desc, "content": {"application/json": {"schema": schema}}}}

tenant_q = {"name": "tenant_id", "in": "query", "required": True, "schema": S}
def path_p(name, desc=None):
    p = {"name": name, "in": "path", "required": True, "schema": S}
    if desc: p["description"] = desc
    return p

schemas = {
    "Error": obj({"code": S, "message": S, "details": ANY, "report": ref("WhatIfReport")}, ["code", "message"],
                 desc="Every error: a stable machine-readable code and a sentence for people."),
    "Identifier": obj({"kind": {"type": "string", "enum": ["email", "device_id", "user_id", "account_id", "phone"]},
                       "value": S}, ["kind", "value"]),
    "DecideRequest": obj({
        "subject": obj({"id": S, "tenant_id": S, "identifiers": {"type": "array", "items": ref("Identifier")}},
                       ["tenant_id"], desc="`id`, or identifiers to resolve through the identity graph."),
        "context": obj({"channel": {"type": "string", "enum": ["Web", "App", "Email", "Sms", "Push"]},
                        "placement": S, "scenario": S, "locale": S}, ["channel", "placement"]),
        "constraints": obj({"max_variants": {"type": "integer", "minimum": 1},
                            "require_consent": {"type": "boolean", "default": True}}),
        "hints": {"type": "object", "description": "Free-form; recorded in the audit log. `scenario` and `locale` fill the context."},
    }, ["subject", "context"]),
    "DecisionItem": obj({
        "offer_id": S, "content_id": S, "variant": opt(S), "priority": I, "experiment": opt(S),
        "ttl": {"type": "integer", "description": "Seconds a channel may cache the answer."},
        "score": N, "content": {"type": "string", "description": "The item's template, rendered."},
    }, ["variant", "priority", "experiment", "ttl"], desc="An offer (`offer_id`) or, when falling back, content (`content_id`)."),
    "DecideResponse": obj({
        "decision_id": S, "tenant_id": S, "placement": S, "decision": S,
        "bundle": obj({"version": I, "hash": S}, ["version", "hash"]),
        "decisions": {"type": "array", "items": ref("DecisionItem")},
        "fallback": opt(obj({"content_id": opt(S), "reason": {"type": "string", "enum": [
            "channel_not_allowed", "consent_missing", "holdout", "nothing_eligible", "store_unavailable",
            "deadline_exceeded", "unknown_subject", "profile_invalid", "catalog_unavailable", "evaluation_error"]}},
            ["content_id", "reason"])),
        "experiment": opt(obj({"name": S, "variant": opt(S)}, ["name", "variant"])),
        "ttl": I,
        "logged": {"type": "boolean", "description": "Whether the audit record is durably written."},
        "explain": {"type": "object", "description": "With ?explain=true: which rule kept or removed each candidate."},
    }, ["decision_id", "tenant_id", "placement", "decision", "bundle", "decisions", "fallback", "experiment", "ttl", "logged"]),
    "Event": obj({"decision_id": S, "type": {"type": "string", "enum": ["view", "click", "conversion", "dismissal"]},
                  "offer_id": S, "at": {"type": "string", "format": "date-time"}, "tenant_id": S},
                 ["decision_id", "type"]),
    "ProfileRow": obj({"tenant_id": S, "id": S, "profile": {"type": "object"},
                       "identifiers": {"type": "array", "items": ref("Identifier")}}, ["id", "profile"]),
    "IdentityRow": obj({"tenant_id": S, "subject_id": S, "identifiers": {"type": "array", "items": ref("Identifier")}},
                       ["subject_id", "identifiers"]),
    "ConsentRow": obj({"tenant_id": S, "subject_id": S, "purpose": S, "channel": S, "granted": B,
                       "at": {"type": "string", "format": "date-time"}, "source": S},
                      ["subject_id", "purpose", "granted", "source"]),
    "FeaturesRow": obj({"tenant_id": S, "subject_id": S, "features": {"type": "object"}}, ["subject_id", "features"]),
    "Merge": obj({"tenant_id": S, "from": S, "into": S}, ["tenant_id", "from", "into"]),
    "Accepted": obj({"accepted": I}, ["accepted"]),
    "BulkResult": obj({"accepted": I, "rejected": I, "errors": {"type": "array", "items": obj(
        {"line": I, "code": S, "message": S}, ["line", "code", "message"])}}, ["accepted", "rejected", "errors"]),
    "Source": obj({"name": S, "text": S}, ["name", "text"]),
    "Catalog": obj({"offers": {"type": "array", "items": {"type": "object"}},
                    "templates": {"type": "object", "additionalProperties": S}}, ["offers"]),
    "DeployRequest": obj({"tenant_id": S, "author": S, "message": S,
                          "sources": {"type": "array", "items": ref("Source")}, "catalog": ref("Catalog"),
                          "what_if": obj({"recent": {"type": "integer", "minimum": 1, "maximum": 100000},
                                          "max_changed_fraction": {"type": "number", "minimum": 0, "maximum": 1},
                                          "subject_ids": {"type": "array", "items": S}}, ["recent"],
                                         desc="Replay the tenant's `recent` newest decisions on the candidate first; refuse the deploy (409 `what_if_rejected`) when more than `max_changed_fraction` of the compared decisions change. See docs/replay.md."),
                          "dry_run": {"type": "boolean", "description": "Validate, compile, test and run the what-if, but store and swap nothing."}},
                         ["tenant_id", "author", "sources"]),
    "Deployed": obj({"tenant_id": S, "version": I, "hash": S, "changed": B, "tests_passed": I, "warnings": I,
                     "dry_run": B, "what_if": opt(ref("WhatIfReport"))},
                    ["tenant_id", "changed", "dry_run"],
                    desc="`version`, `hash`, `tests_passed` and `warnings` are absent from a dry run."),
    "ReplayRequest": obj({"tenant_id": S, "since": S, "until": S, "decision_ids": {"type": "array", "items": S},
                          "subject": {"type": "string", "description": "A subject hash, as logged."},
                          "limit": {"type": "integer", "minimum": 1, "maximum": 100000, "default": 10000},
                          "against_version": I, "candidate_sources": {"type": "array", "items": ref("Source")},
                          "subject_ids": {"type": "array", "items": S}}, ["tenant_id"]),
    "ReplayReport": obj({"total": I, "identical": I, "different": I, "unreproducible": I, "not_evaluated": I,
                         "records": {"type": "array", "items": {"type": "object"}}, "truncated": B},
                        ["total", "identical", "different", "unreproducible", "not_evaluated", "records"]),
    "WhatIfReport": obj({"candidate_hash": S, "total": I, "compared": I, "changed": I, "skipped": I,
                         "per_placement": {"type": "object"}, "per_offer": {"type": "object"},
                         "changed_decisions": {"type": "array", "items": S}, "truncated": B},
                        ["candidate_hash", "total", "compared", "changed", "skipped", "changed_decisions"]),
    "Explanation": obj({"decision_id": S, "at": S, "at_ms": I, "tenant_id": S, "subject_hash": S, "placement": S,
                        "decision": opt(S), "channel": ANY, "bundle": obj({"version": I, "hash": S}, ["version", "hash"]),
                        "catalog_hash": S, "backend": S, "logged": B, "inputs": {"type": "object"},
                        "segments": opt({"type": "array", "items": {"type": "object"}}),
                        "policy": opt({"type": "object"}), "experiment": opt({"type": "object"}),
                        "candidates": {"type": "array", "items": {"type": "object"}},
                        "caps_applied": {"type": "array", "items": {"type": "object"}},
                        "fallback": ANY, "response": ref("DecideResponse"), "replay": {"type": "object"},
                        "warnings": {"type": "array", "items": S}},
                       ["decision_id", "at", "tenant_id", "subject_hash", "placement", "bundle", "catalog_hash",
                        "inputs", "candidates", "response", "replay", "warnings"],
                       desc="The full story of one decision; see docs/replay.md."),
    "BundleMeta": obj({"tenant_id": S, "version": I, "hash": S, "author": S, "message": S, "created_at_ms": I,
                       "files": I, "tests_passed": I},
                      ["tenant_id", "version", "hash", "author", "message", "created_at_ms", "files", "tests_passed"]),
    "AuditRecord": obj({"decision_id": S, "at_ms": I, "tenant_id": S, "subject_hash": S, "placement": S,
                        "decision": opt(S), "bundle": obj({"version": I, "hash": S}, ["version", "hash"]),
                        "catalog_hash": S, "backend": S, "inputs": {"type": "object"}, "rule_outcomes": ANY,
                        "experiment": ANY, "response": ref("DecideResponse")},
                       ["decision_id", "at_ms", "tenant_id", "subject_hash", "placement", "bundle", "catalog_hash",
                        "backend", "inputs", "rule_outcomes", "response"]),
    "Faults": obj({"store_down": B, "store_delay_ms": I, "catalog_down": B, "audit_down": B}),
    "BatchPlanSpec": obj({
        "tenant_id": S,
        "placement": {"type": "string", "description": "The placement to fill; give this or `decision`."},
        "decision": {"type": "string", "description": "The decision to run, by name; give this or `placement`."},
        "channel": {"type": "string", "enum": ["Web", "App", "Email", "Sms", "Push"]},
        "scenario": S, "locale": S,
        "segments": {"type": "array", "items": S, "description": "Segment names; empty selects every subject."},
        "match": {"type": "string", "enum": ["all", "any"], "default": "all"},
        "max_variants": {"type": "integer", "minimum": 1},
        "valid_for": {"type": "string", "description": "A policy duration (`7d`, `12h`); default the decision's `ttl`."},
        "limit": {"type": "integer", "minimum": 1, "description": "Stop after this many selected subjects."},
        "render": {"type": "boolean", "default": False, "description": "Render each chosen offer's content template (and the fallback content's) into its row as `content`."},
    }, ["tenant_id", "channel"]),
    "BatchPlanAccepted": obj({"plan_id": S, "status": S, "status_url": S}, ["plan_id", "status", "status_url"]),
    "BatchPlan": obj({
        "plan_id": S, "tenant_id": S,
        "status": {"type": "string", "enum": ["running", "completed", "cancelled", "failed", "interrupted"]},
        "spec": ref("BatchPlanSpec"), "decision": S, "placement": S,
        "bundle_version": I, "bundle_hash": S, "catalog_hash": S, "backend": S,
        "valid_from": {"type": "string", "format": "date-time"}, "valid_until": {"type": "string", "format": "date-time"},
        "submitted_at": S, "finished_at": opt(S),
        "total": opt(I), "processed": I, "selected": I, "fallbacks": I,
        "template_errors": {"type": "integer", "description": "With `render`: templates that failed to render (their rows lack that `content`)."},
        "skipped": {"type": "object", "additionalProperties": I, "description": "Subjects not written, by reason."},
        "offers": {"type": "object", "additionalProperties": I, "description": "Rows per chosen offer."},
        "progress": {"type": "number", "minimum": 0, "maximum": 1},
        "output": opt({"type": "string", "description": "The complete JSON-lines file; set only when completed."}),
        "manifest": opt(S), "sha256": opt(S), "error": opt(S), "status_url": S,
        "cancel_requested": B,
    }, ["plan_id", "tenant_id", "status", "processed", "selected", "progress", "output", "status_url"], extra=True),
}

responses = {}
for code, desc in [(400, "Malformed request: not JSON (or YAML where accepted), a bad query or path parameter (`malformed_json`, `malformed_yaml`, `bad_request`)."),
                   (401, "Missing or wrong admin token (`unauthorized`)."),
                   (403, "Not allowed (`consent_bypass_forbidden`)."),
                   (404, "Unknown tenant, placement, version, decision, batch plan or endpoint."),
                   (409, "A deploy refused by its what-if replay (`what_if_rejected`, with the report as `report`), or a batch plan that already finished (`plan_finished`)."),
                   (413, "The body is larger than the endpoint accepts (`body_too_large`)."),
                   (429, "Too many batch plans running at once (`too_many_plans`, the limit is `batch.max_running`); submit again when one has ended."),
                   (422, "Well-formed JSON with wrong content: missing fields, wrong types, unknown fields (`invalid_request`), or a deploy that fails validation (`invalid_bundle`, `tests_failed`, `invalid_catalog`)."),
                   (503, "The store is unavailable or the request timed out (`store_unavailable`, `timeout`, `not_ready`).")]:
    responses[f"E{code}"] = {"description": desc, "content": {"application/json": {"schema": ref("Error")}}}

admin_sec = [{"bearer": []}]
paths = {
    "/healthz": {"get": {"summary": "Liveness", "operationId": "healthz",
                         "responses": ok(obj({"status": S}, ["status"]))}},
    "/readyz": {"get": {"summary": "Readiness: the store answers", "operationId": "readyz",
                        "responses": {**ok(obj({"status": S, "tenants": {"type": "array", "items": S}}, ["status", "tenants"])), **errors(503)}}},
    "/metrics": {"get": {"summary": "Prometheus metrics", "operationId": "metrics",
                         "responses": {"200": {"description": "Text exposition format", "content": {"text/plain": {"schema": S}}}}}},
    "/openapi.json": {"get": {"summary": "This document", "operationId": "openapi",
                              "responses": {"200": {"description": "OpenAPI 3.1", "content": {"application/json": {"schema": {"type": "object"}}}}}}},
    "/personalization/decide": {"post": {
        "summary": "Decide what a subject sees at a placement", "operationId": "decide",
        "parameters": [{"name": "explain", "in": "query", "required": False, "schema": B,
                        "description": "Add which rule kept or removed each candidate."}],
        "requestBody": json_body(ref("DecideRequest")),
        "responses": {**ok(ref("DecideResponse")), **errors(400, 403, 404, 413, 422)}}},
    "/personalization/events": {"post": {
        "summary": "Record views, clicks, conversions and dismissals", "operationId": "events",
        "requestBody": json_body({"oneOf": [ref("Event"), {"type": "array", "items": ref("Event"), "maxItems": 1000}]}),
        "responses": {**ok(ref("Accepted")), **errors(400, 404, 413, 422)}}},
}
for name, row in [("profiles", "ProfileRow"), ("identity", "IdentityRow"), ("consent", "ConsentRow"), ("features", "FeaturesRow")]:
    paths[f"/ingest/{name}"] = {"post": {"summary": f"Ingest one {name} row", "operationId": f"ingest_{name}",
        "security": admin_sec, "requestBody": json_body(ref(row), "With `tenant_id`."),
        "responses": {**ok(ref("Accepted")), **errors(400, 401, 404, 413, 422)}}}
    paths[f"/ingest/{name}/bulk"] = {"post": {"summary": f"Ingest {name} rows from JSON lines", "operationId": f"ingest_{name}_bulk",
        "security": admin_sec, "parameters": [dict(tenant_q, required=False)],
        "requestBody": jsonl_body(f"One {row} per line."),
        "responses": {**ok(ref("BulkResult")), **errors(400, 401, 404, 413)}}}
del paths["/ingest/identity/bulk"]["post"]["parameters"]
paths["/ingest/identity/bulk"]["post"]["parameters"] = [dict(tenant_q, required=False)]
paths["/ingest/identity/merge"] = {"post": {"summary": "Merge one subject into another", "operationId": "merge",
    "security": admin_sec, "requestBody": json_body(ref("Merge")),
    "responses": {**ok(obj({"merged": B, "into_subject_hash": S}, ["merged"])), **errors(400, 401, 404, 422)}}}
paths["/admin/tenants"] = {"get": {"summary": "Tenants and what they serve", "operationId": "tenants", "security": admin_sec,
    "responses": {**ok(obj({"tenants": {"type": "array", "items": {"type": "object"}}}, ["tenants"])), **errors(401)}}}
paths["/admin/bundles"] = {"post": {"summary": "Validate, compile, test and deploy a bundle", "operationId": "deploy",
    "security": admin_sec, "requestBody": json_body(ref("DeployRequest")),
    "responses": {**ok(ref("Deployed")), **errors(400, 401, 404, 409, 413, 422)}}}
paths["/admin/bundles/{tenant}"] = {"get": {"summary": "Version history and deploy log", "operationId": "history",
    "security": admin_sec, "parameters": [path_p("tenant")],
    "responses": {**ok(obj({"tenant_id": S, "active": opt(I), "versions": {"type": "array", "items": ref("BundleMeta")},
                            "events": {"type": "array", "items": {"type": "object"}}}, ["tenant_id", "versions", "events"])),
                  **errors(401, 404)}}}
paths["/admin/bundles/{tenant}/{version}"] = {"get": {"summary": "One version with its sources", "operationId": "version",
    "security": admin_sec, "parameters": [path_p("tenant"), path_p("version", "A version number.")],
    "responses": {**ok(obj({"meta": ref("BundleMeta"), "sources": {"type": "array", "items": ref("Source")}}, ["meta", "sources"])),
                  **errors(400, 401, 404)}}}
paths["/admin/bundles/{tenant}/diff"] = {"get": {"summary": "Source diff between two versions", "operationId": "diff",
    "security": admin_sec, "parameters": [path_p("tenant"),
        {"name": "from", "in": "query", "required": True, "schema": I},
        {"name": "to", "in": "query", "required": True, "schema": I}],
    "responses": {**ok({"type": "object"}), **errors(400, 401, 404)}}}
paths["/admin/bundles/{tenant}/rollback"] = {"post": {"summary": "Make a stored version active again", "operationId": "rollback",
    "security": admin_sec, "parameters": [path_p("tenant")],
    "requestBody": json_body(obj({"version": I, "author": S}, ["version", "author"])),
    "responses": {**ok(obj({"tenant_id": S, "version": I, "hash": S}, ["tenant_id", "version", "hash"])), **errors(400, 401, 404, 422)}}}
paths["/admin/catalog/{tenant}"] = {
    "get": {"summary": "The tenant's catalog", "operationId": "get_catalog", "security": admin_sec,
            "parameters": [path_p("tenant")], "responses": {**ok(ref("Catalog")), **errors(401, 404)}},
    "put": {"summary": "Replace the catalog (validated against the active bundle)", "operationId": "put_catalog",
            "security": admin_sec, "parameters": [path_p("tenant")],
            "description": "The body is JSON, or YAML (the same document) with `Content-Type: application/yaml` (also `application/x-yaml`, `text/yaml`); a YAML syntax error is 400 `malformed_yaml`.",
            "requestBody": {"required": True, "content": {
                "application/json": {"schema": {"oneOf": [ref("Catalog"), {"type": "array", "items": {"type": "object"}}]}},
                "application/yaml": {"schema": {"oneOf": [ref("Catalog"), {"type": "array", "items": {"type": "object"}}]}}}},
            "responses": {**ok(obj({"tenant_id": S, "offers": I, "hash": S}, ["tenant_id", "offers", "hash"])), **errors(400, 401, 404, 413, 422)}}}
paths["/admin/audit"] = {"get": {"summary": "The newest audit records of a tenant", "operationId": "audit_latest",
    "security": admin_sec, "parameters": [tenant_q, {"name": "limit", "in": "query", "required": False,
                                                      "schema": {"type": "integer", "minimum": 1, "maximum": 1000}}],
    "responses": {**ok(obj({"records": {"type": "array", "items": ref("AuditRecord")}}, ["records"])), **errors(400, 401)}}}
paths["/admin/audit/{decision_id}"] = {"get": {"summary": "One audit record", "operationId": "audit_record",
    "security": admin_sec, "parameters": [path_p("decision_id")],
    "responses": {**ok(ref("AuditRecord")), **errors(401, 404)}}}
paths["/admin/audit/{decision_id}/explain"] = {"get": {"summary": "The full story of one decision, re-run on its recorded bundle",
    "operationId": "audit_explain", "security": admin_sec,
    "parameters": [path_p("decision_id"), {"name": "subject_id", "in": "query", "required": False, "schema": S,
                   "description": "The decision's subject id, to re-run it when the store has no identity link for it (the log keeps only the hash). Repeatable."}],
    "responses": {**ok(ref("Explanation")), **errors(401, 404)}}}
paths["/admin/replay"] = {"post": {"summary": "Replay logged decisions (or a what-if on another version or candidate sources)",
    "operationId": "replay", "security": admin_sec, "requestBody": json_body(ref("ReplayRequest")),
    "responses": {**ok({"oneOf": [ref("ReplayReport"), ref("WhatIfReport")]}), **errors(400, 401, 404, 413, 422)}}}
paths["/admin/subjects/{tenant}/{subject_id}"] = {"get": {"summary": "A subject's stored data (identifiers only as hashes)",
    "operationId": "subject", "security": admin_sec, "parameters": [path_p("tenant"), path_p("subject_id")],
    "responses": {**ok({"type": "object"}), **errors(401, 404)}}}
paths["/admin/subjects/{tenant}/{subject_id}"]["delete"] = {"summary": "Erase a subject: profile, features, consent, impressions, events, identity links and audit records",
    "operationId": "erase", "security": admin_sec, "parameters": [path_p("tenant"), path_p("subject_id")],
    "responses": {**ok(obj({"erased": B, "subject_hash": S, "identifiers": I, "audit_records": I},
                           ["erased", "subject_hash", "identifiers", "audit_records"])), **errors(401, 404, 422)}}
paths["/admin/faults"] = {"post": {"summary": "Inject faults (only when `[faults] enabled = true`)", "operationId": "faults",
    "security": admin_sec, "requestBody": json_body(ref("Faults")),
    "responses": {**ok(ref("Faults")), **errors(401, 404, 422)}}}

paths["/personalization/batch-plan"] = {"post": {
    "summary": "Start a batch plan: decide a placement for every subject of the selected segments (docs/batch.md)",
    "operationId": "batch_plan_submit", "security": admin_sec, "requestBody": json_body(ref("BatchPlanSpec")),
    "responses": {"202": {"description": "Started; poll `status_url`.",
                          "content": {"application/json": {"schema": ref("BatchPlanAccepted")}}},
                  **errors(400, 401, 404, 413, 422, 429)}}}
paths["/personalization/batch-plan/{id}"] = {
    "get": {"summary": "A batch plan's status, progress and output", "operationId": "batch_plan_status",
            "security": admin_sec, "parameters": [path_p("id")],
            "responses": {**ok(ref("BatchPlan")), **errors(401, 404)}},
    "delete": {"summary": "Cancel a running batch plan", "operationId": "batch_plan_cancel",
               "security": admin_sec, "parameters": [path_p("id")],
               "responses": {"202": {"description": "Cancelling; the status becomes `cancelled`.",
                                     "content": {"application/json": {"schema": ref("BatchPlanAccepted")}}},
                             **errors(401, 404, 409)}}}

doc = {
    "openapi": "3.1.0",
    "info": {"title": "Tailor decision runtime", "version": "0.1.0",
             "description": "The HTTP API of `tailor serve`. See docs/runtime.md."},
    "servers": [{"url": "http://127.0.0.1:8080"}],
    "paths": paths,
    "components": {"schemas": schemas, "responses": responses,
                   "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer",
                       "description": "Required only when an admin token is configured."}}},
}
root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
with open(os.path.join(root, "docs", "openapi.json"), "w") as f:
    json.dump(doc, f, indent=2)
    f.write("\n")
