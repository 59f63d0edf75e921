//! The catalog: offers and content, validated against the active bundle's candidate schema,
//! and the content templates bound into responses.
//!
//! A tenant's catalog is one [`CatalogDoc`] in the store: the offers (JSON objects of the
//! schema the bundle's decisions choose from, normally `Offer`) and optional templates keyed by
//! offer or content id. It is prepared once per bundle ([`prepare`]): every offer is checked
//! against the schema, ids must be unique, and every template is parsed and its placeholders
//! type-checked against the schemas (`{{ offer.title }}` needs a `title` field in `Offer`,
//! `{{ profile.country }}` one in `Profile`). A catalog or bundle that fails any of this is
//! not deployed. Rendering happens per response, with minijinja, after the decision: the
//! template sees `offer` (the catalog item), `profile`, `context` and `variant`.
//!
//! Catalog files and admin-API bodies may be JSON or YAML ([`parse_catalog`]): both become the
//! same [`CatalogDoc`], so everything after parsing is one path.

use serde::{Deserialize, Serialize};
use serde_json::Value as Json;
use std::collections::{BTreeMap, HashMap};
use tailor_compiler::ir::{Program, SchemaId, Type};
use tailor_compiler::{Bundle, PreparedCatalog};

/// A catalog as stored and as the admin API and `tailor import` accept it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CatalogDoc {
    /// Offers and content, in catalog order (ties in ranking keep this order).
    pub offers: Vec<Json>,
    /// Templates by offer or content id.
    #[serde(default)]
    pub templates: BTreeMap<String, String>,
}

/// Why a catalog cannot be used with a bundle.
#[derive(Debug, thiserror::Error)]
pub enum CatalogLoadError {
    #[error("{0}")]
    Schema(String),
    #[error("catalog item {position}: {message}")]
    Invalid { position: usize, message: String },
    #[error("catalog item {position}: duplicate id `{id}`")]
    DuplicateId { position: usize, id: String },
    #[error("template `{id}`: {message}")]
    Template { id: String, message: String },
}

/// A catalog ready to serve with one bundle.
#[derive(Debug)]
pub struct LoadedCatalog {
    pub prepared: PreparedCatalog,
    /// The offers as JSON, in catalog order, for templates.
    pub offers_json: Vec<Json>,
    /// Catalog position by id.
    pub index: HashMap<String, usize>,
    /// Compiled templates.
    pub templates: minijinja::Environment<'static>,
    /// Template names (offer or content ids) that exist.
    pub template_ids: std::collections::HashSet<String>,
    /// SHA-256 of the catalog document, so audit records name the catalog they saw.
    pub hash: String,
}

/// The schema a bundle's decisions choose candidates from. Every decision must use the same
/// one (the catalog is one list); a bundle without decisions uses its `Offer` schema if any.
pub fn candidate_schema(program: &Program) -> Result<SchemaId, String> {
    let mut schemas: Vec<SchemaId> = program
        .decisions
        .iter()
        .filter_map(|d| program.eligibilities.get(d.candidates as usize).map(|e| e.schema))
        .collect();
    schemas.sort_unstable();
    schemas.dedup();
    match schemas.as_slice() {
        [one] => Ok(*one),
        [] => program
            .schemas
            .iter()
            .position(|s| s.name == "Offer" || s.name.ends_with(".Offer"))
            .map(|i| i as SchemaId)
            .ok_or_else(|| "the bundle has no decisions and no `Offer` schema".to_string()),
        many => Err(format!(
            "the bundle's decisions choose from {} different schemas ({}); the runtime serves one catalog per tenant, so all decisions must use one candidate schema",
            many.len(),
            many.iter()
                .filter_map(|s| program.schemas.get(*s as usize).map(|d| d.name.as_str()))
                .collect::<Vec<_>>()
                .join(", ")
        )),
    }
}

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

/// Validates `doc` against `bundle` and prepares it.
pub fn prepare(bundle: &Bundle, doc: &CatalogDoc) -> Result<LoadedCatalog, CatalogLoadError> {
    let program = bundle.program();
    let schema = candidate_schema(program).map_err(CatalogLoadError::Schema)?;
    let prepared = bundle.prepare_catalog_json(schema, &doc.offers).map_err(|e| match e {
        tailor_compiler::bundle::CatalogError::Invalid { position, message } => {
            CatalogLoadError::Invalid { position, message }
        }
        other => CatalogLoadError::Schema(other.to_string()),
    })?;
    let mut index = HashMap::new();
    for (position, offer) in doc.offers.iter().enumerate() {
        if let Some(id) = offer.get("id").and_then(Json::as_str) {
            if index.insert(id.to_string(), position).is_some() {
                return Err(CatalogLoadError::DuplicateId {
                    position,
                    id: id.to_string(),
                });
            }
        }
    }
    let mut templates = minijinja::Environment::new();
    let mut template_ids = std::collections::HashSet::new();
    for (id, text) in &doc.templates {
        templates
            .add_template_owned(id.clone(), text.clone())
            .map_err(|e| CatalogLoadError::Template {
                id: id.clone(),
                message: e.to_string(),
            })?;
        let template = templates.get_template(id).map_err(|e| CatalogLoadError::Template {
            id: id.clone(),
            message: e.to_string(),
        })?;
        let mut vars: Vec<String> = template.undeclared_variables(true).into_iter().collect();
        vars.sort();
        for var in vars {
            check_placeholder(program, schema, &var).map_err(|message| CatalogLoadError::Template {
                id: id.clone(),
                message,
            })?;
        }
        template_ids.insert(id.clone());
    }
    let bytes = serde_json::to_vec(doc).unwrap_or_default();
    Ok(LoadedCatalog {
        prepared,
        offers_json: doc.offers.clone(),
        index,
        templates,
        template_ids,
        hash: sha256_hex(&bytes),
    })
}

/// Checks one placeholder path (`offer.title`, `profile.country`, `variant`) against the
/// schemas.
fn check_placeholder(program: &Program, offer: SchemaId, path: &str) -> Result<(), String> {
    let mut parts = path.split('.');
    let root = parts.next().unwrap_or_default();
    let mut ty = match root {
        "offer" => Type::Record(offer),
        "profile" => match program.profile {
            Some(p) => Type::Record(p),
            None => return Err("`profile` is used but the bundle has no `Profile` schema".into()),
        },
        "context" => Type::Record(program.builtins.context),
        "variant" | "experiment" => Type::String,
        other => {
            return Err(format!(
            "unknown placeholder `{other}` (templates see `offer`, `profile`, `context`, `variant` and `experiment`)"
        ))
        }
    };
    let mut seen = root.to_string();
    for field in parts {
        let inner = match &ty {
            Type::Optional(t) => t.as_ref().clone(),
            t => t.clone(),
        };
        let Type::Record(s) = inner else {
            return Err(format!(
                "`{seen}` is a {}, which has no field `{field}`",
                program.type_name(&ty)
            ));
        };
        let Some(def) = program.schemas.get(s as usize) else {
            return Err(format!("`{seen}` has an unknown type"));
        };
        let Some(f) = def.fields.iter().find(|f| f.name == field) else {
            let names: Vec<&str> = def.fields.iter().map(|f| f.name.as_str()).collect();
            return Err(format!(
                "`{}` has no field `{field}` (fields: {})",
                program.type_name(&Type::Record(s)),
                names.join(", ")
            ));
        };
        ty = f.ty.clone();
        seen = format!("{seen}.{field}");
    }
    Ok(())
}

/// What a template sees.
#[derive(Serialize)]
pub struct TemplateInput<'a> {
    pub offer: Option<&'a Json>,
    pub profile: Option<&'a Json>,
    pub context: &'a Json,
    pub variant: Option<&'a str>,
    pub experiment: Option<&'a str>,
}

impl LoadedCatalog {
    /// Renders the template of `id`, if it has one. A rendering error is reported, not served.
    pub fn render(&self, id: &str, input: &TemplateInput<'_>) -> Option<Result<String, String>> {
        if !self.template_ids.contains(id) {
            return None;
        }
        let template = match self.templates.get_template(id) {
            Ok(t) => t,
            Err(e) => return Some(Err(e.to_string())),
        };
        Some(template.render(input).map_err(|e| e.to_string()))
    }

    /// The catalog item with this id.
    pub fn item(&self, id: &str) -> Option<&Json> {
        self.index.get(id).and_then(|i| self.offers_json.get(*i))
    }
}

/// The text formats a catalog may be written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CatalogFormat {
    Json,
    Yaml,
}

impl CatalogFormat {
    /// YAML for `.yaml` and `.yml` files, JSON otherwise.
    pub fn from_path(path: &std::path::Path) -> CatalogFormat {
        match path.extension().and_then(|x| x.to_str()) {
            Some(x) if x.eq_ignore_ascii_case("yaml") || x.eq_ignore_ascii_case("yml") => CatalogFormat::Yaml,
            _ => CatalogFormat::Json,
        }
    }

    /// YAML for the YAML media types (`application/yaml`, `application/x-yaml`, `text/yaml`,
    /// with or without parameters), JSON for anything else.
    pub fn from_content_type(content_type: Option<&str>) -> CatalogFormat {
        let media = content_type
            .and_then(|c| c.split(';').next())
            .map(|m| m.trim().to_ascii_lowercase())
            .unwrap_or_default();
        match media.as_str() {
            "application/yaml" | "application/x-yaml" | "text/yaml" | "text/x-yaml" => CatalogFormat::Yaml,
            _ => CatalogFormat::Json,
        }
    }
}

/// Why a catalog text could not be read: the message names the line and column for YAML and
/// JSON syntax errors.
#[derive(Debug, thiserror::Error)]
pub enum CatalogParseError {
    #[error("not valid JSON: {0}")]
    Json(String),
    #[error("not valid YAML: {0}")]
    Yaml(String),
    #[error("expected a list of offers or a document with `offers` (and optional `templates`): {0}")]
    Shape(String),
}

/// Parses a catalog: a list of offers, or a `{offers, templates}` document, in JSON or YAML.
/// YAML is read into the same JSON data model first (mappings with string keys, sequences,
/// numbers, strings, booleans, null), so validation against the bundle's schema is identical.
pub fn parse_catalog(text: &str, format: CatalogFormat) -> Result<CatalogDoc, CatalogParseError> {
    let value: Json = match format {
        CatalogFormat::Json => serde_json::from_str(text).map_err(|e| CatalogParseError::Json(e.to_string()))?,
        CatalogFormat::Yaml => from_yaml(text)?,
    };
    match value {
        Json::Array(offers) => Ok(CatalogDoc {
            offers,
            templates: BTreeMap::new(),
        }),
        other => serde_json::from_value(other).map_err(|e| CatalogParseError::Shape(e.to_string())),
    }
}

/// Parses a templates file (`{"offer id": "template"}`), in JSON or YAML.
pub fn parse_templates(text: &str, format: CatalogFormat) -> Result<BTreeMap<String, String>, CatalogParseError> {
    match format {
        CatalogFormat::Json => serde_json::from_str(text).map_err(|e| CatalogParseError::Json(e.to_string())),
        CatalogFormat::Yaml => from_yaml(text),
    }
}

/// YAML 1.2 scalars only: `no`, `on` and `off` stay strings (a country list `[DE, NO]` must not
/// turn Norway into `false`), zero-prefixed numbers such as postcodes stay strings, and a key
/// given twice is an error rather than a silent overwrite.
fn from_yaml<T: serde::de::DeserializeOwned>(text: &str) -> Result<T, CatalogParseError> {
    let options = serde_saphyr::options! {
        strict_booleans: true,
        leading_zero_numbers_as_strings: true,
        duplicate_keys: serde_saphyr::options::DuplicateKeyPolicy::Error,
    };
    serde_saphyr::from_str_with_options(text, options).map_err(|e| CatalogParseError::Yaml(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use tailor_compiler::SourceMap;

    const POLICY: &str = r#"
package demo

schema Profile { tier: String }
schema Offer { id: String, title: String, min_tier: String }

eligibility offers for offer: Offer {
  require gold: offer.min_tier != "gold" or profile.tier == "gold" because "gold only"
}

decision home {
  placement "home"
  candidates offers
  max 2
  fallback "story"
}
"#;

    fn bundle() -> Bundle {
        let mut sources = SourceMap::new();
        sources.add("demo.policy", POLICY);
        Bundle::compile(sources).unwrap()
    }

    impl CatalogDoc {
        fn with_title(mut self, id: &str, title: &str) -> CatalogDoc {
            for o in &mut self.offers {
                if o["id"] == id {
                    o["title"] = serde_json::json!(title);
                }
            }
            self
        }
    }

    fn doc(templates: &[(&str, &str)]) -> CatalogDoc {
        CatalogDoc {
            offers: vec![
                serde_json::json!({"id": "a", "title": "A", "min_tier": "gold"}),
                serde_json::json!({"id": "b", "title": "B", "min_tier": "none"}),
            ],
            templates: templates.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
        }
    }

    #[test]
    fn yaml_and_json_catalogs_are_the_same_document() {
        let yaml = r#"
# Comments are why people write catalogs in YAML.
offers:
  - id: a
    title: "A: the gold one"
    min_tier: gold
  - {id: b, title: B, min_tier: none}
templates:
  a: "{{ offer.title }} for {{ profile.tier }}"
"#;
        let from_yaml = parse_catalog(yaml, CatalogFormat::Yaml).unwrap();
        assert_eq!(
            from_yaml,
            doc(&[("a", "{{ offer.title }} for {{ profile.tier }}")]).with_title("a", "A: the gold one")
        );
        let json = serde_json::to_string(&from_yaml).unwrap();
        assert_eq!(parse_catalog(&json, CatalogFormat::Json).unwrap(), from_yaml);
        // A bare list of offers, and `none`/`no`/`on` stay strings (YAML 1.2), so they validate
        // against a `String` field.
        let list = "- {id: a, title: A, min_tier: no}\n- {id: b, title: 0123, min_tier: on}\n";
        let offers = parse_catalog(list, CatalogFormat::Yaml).unwrap();
        assert_eq!(offers.offers[0]["min_tier"], "no");
        assert_eq!(offers.offers[1]["min_tier"], "on");
        assert_eq!(offers.offers[1]["title"], "0123");
        assert!(prepare(&bundle(), &offers).is_ok());
    }

    #[test]
    fn bad_yaml_catalogs_say_where_and_why() {
        let e = parse_catalog("offers:\n  - id: a\n   title: [unclosed\n", CatalogFormat::Yaml).unwrap_err();
        assert!(matches!(e, CatalogParseError::Yaml(_)), "{e}");
        assert!(e.to_string().contains("line"), "{e}");
        let e = parse_catalog("offers: 3\n", CatalogFormat::Yaml).unwrap_err();
        assert!(matches!(e, CatalogParseError::Shape(_)), "{e}");
        let e = parse_catalog("offers: []\nextra: 1\n", CatalogFormat::Yaml).unwrap_err();
        assert!(e.to_string().contains("extra"), "{e}");
        let e = parse_catalog("- {id: a, id: b}\n", CatalogFormat::Yaml).unwrap_err();
        assert!(
            matches!(e, CatalogParseError::Yaml(_)),
            "a duplicate key is an error: {e}"
        );
        // A number where the schema wants a string is the schema's error, as for JSON.
        let wrong = parse_catalog("- {id: a, title: 5, min_tier: gold}\n", CatalogFormat::Yaml).unwrap();
        assert!(prepare(&bundle(), &wrong).is_err());
    }

    #[test]
    fn formats_come_from_the_file_name_or_the_content_type() {
        use std::path::Path;
        assert_eq!(CatalogFormat::from_path(Path::new("c.yaml")), CatalogFormat::Yaml);
        assert_eq!(CatalogFormat::from_path(Path::new("dir/c.YML")), CatalogFormat::Yaml);
        assert_eq!(CatalogFormat::from_path(Path::new("c.json")), CatalogFormat::Json);
        assert_eq!(CatalogFormat::from_path(Path::new("yaml")), CatalogFormat::Json);
        assert_eq!(
            CatalogFormat::from_content_type(Some("application/yaml; charset=utf-8")),
            CatalogFormat::Yaml
        );
        assert_eq!(CatalogFormat::from_content_type(Some("Text/YAML")), CatalogFormat::Yaml);
        assert_eq!(
            CatalogFormat::from_content_type(Some("application/json")),
            CatalogFormat::Json
        );
        assert_eq!(CatalogFormat::from_content_type(None), CatalogFormat::Json);
    }

    #[test]
    fn a_good_catalog_prepares_and_renders() {
        let b = bundle();
        let c = prepare(&b, &doc(&[("a", "{{ offer.title }} for {{ profile.tier }}")])).unwrap();
        assert_eq!(c.prepared.len(), 2);
        let profile = serde_json::json!({"tier": "gold"});
        let context = serde_json::json!({});
        let out = c.render(
            "a",
            &TemplateInput {
                offer: c.item("a"),
                profile: Some(&profile),
                context: &context,
                variant: None,
                experiment: None,
            },
        );
        assert_eq!(out, Some(Ok("A for gold".to_string())));
        assert!(c
            .render(
                "b",
                &TemplateInput {
                    offer: None,
                    profile: None,
                    context: &context,
                    variant: None,
                    experiment: None
                }
            )
            .is_none());
    }

    #[test]
    fn placeholders_are_type_checked_against_the_schemas() {
        let b = bundle();
        let err = prepare(&b, &doc(&[("a", "{{ offer.price }}")]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("has no field `price`"), "{err}");
        let err = prepare(&b, &doc(&[("a", "{{ shopper.name }}")]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("unknown placeholder `shopper`"), "{err}");
        let err = prepare(&b, &doc(&[("a", "{{ offer.title.length }}")]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("has no field `length`"), "{err}");
        let err = prepare(&b, &doc(&[("a", "{{ offer.title ")])).unwrap_err().to_string();
        assert!(err.contains("template `a`"), "{err}");
    }

    #[test]
    fn bad_offers_and_duplicate_ids_are_rejected() {
        let b = bundle();
        let mut d = doc(&[]);
        d.offers.push(serde_json::json!({"id": "c"}));
        assert!(matches!(
            prepare(&b, &d),
            Err(CatalogLoadError::Invalid { position: 2, .. })
        ));
        let mut d = doc(&[]);
        d.offers
            .push(serde_json::json!({"id": "a", "title": "again", "min_tier": "x"}));
        assert!(matches!(
            prepare(&b, &d),
            Err(CatalogLoadError::DuplicateId { position: 2, .. })
        ));
    }
}
