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
