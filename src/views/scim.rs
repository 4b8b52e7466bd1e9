//! SCIM 2.0 documents (RFC 7643, API.md 9): users, groups, list responses
//! and the discovery documents, as `application/scim+json`. The schema
//! URIs and attribute names are SCIM's words, written only here.

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse};
use chrono::NaiveDateTime;
use serde_json::{Value, json};

use crate::db::queries::scim::{ScimGroup, ScimUser};

pub const USER_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
pub const GROUP_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
pub const LIST_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";
pub const SERVICE_PROVIDER_CONFIG_SCHEMA: &str =
    "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig";

/// The largest page a list answers (`count` above it is lowered to it).
pub const MAX_PAGE: i64 = 1000;

/// `https://host/scim/v2`, as the client reached syncd.
pub fn base_url(req: &HttpRequest) -> String {
    let info = req.connection_info();
    format!("{}://{}/scim/v2", info.scheme(), info.host())
}

fn datetime(t: NaiveDateTime) -> String {
    t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// `meta.version` and the `ETag`: weak, since it names a version of the
/// resource and not its bytes.
pub fn version_tag(version: i64) -> String {
    format!("W/\"{version}\"")
}

pub fn user(base: &str, u: &ScimUser) -> Value {
    let mut doc = json!({
        "schemas": [USER_SCHEMA],
        "id": u.id.to_string(),
        "userName": u.login,
        "meta": {
            "resourceType": "User",
            "created": datetime(u.created_at),
            "lastModified": datetime(u.updated_at),
            "location": format!("{base}/Users/{}", u.id),
            "version": version_tag(u.version),
        },
    });
    // A name never given is the login (syncd needs one): left out, so that
    // what a client removed reads back as absent.
    if u.name != u.login {
        doc["name"] = json!({ "formatted": u.name });
    }
    // A disabled user is always `active: false`.
    if !u.active_unset || u.disabled_at.is_some() {
        doc["active"] = json!(u.disabled_at.is_none());
    }
    if let Some(email) = &u.email_address {
        // One address, kept verbatim: published with `value` only, since
        // a client compares every sub-attribute it sent with what comes
        // back (its `type` is taken as `work` in filters).
        doc["emails"] = json!([{ "value": email }]);
    }
    if let Some(external) = &u.external_id {
        doc["externalId"] = json!(external);
    }
    doc
}

/// A group with its members (when they were read), serialized member by
/// member: a group of 100,000 as a `serde_json::Value` tree was 200 MiB of
/// peak RSS for 10 MB of JSON (bench --scim).
pub struct GroupOut<'a> {
    pub doc: Value,
    pub members: Option<(&'a [i64], String)>,
}

impl serde::Serialize for GroupOut<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let fields = self.doc.as_object();
        let mut map = s.serialize_map(None)?;
        for (k, v) in fields.into_iter().flatten() {
            map.serialize_entry(k, v)?;
        }
        if let Some((ids, base)) = &self.members {
            map.serialize_entry("members", &MemberList(ids, base))?;
        }
        map.end()
    }
}

struct MemberList<'a>(&'a [i64], &'a str);

impl serde::Serialize for MemberList<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::{SerializeMap, SerializeSeq};
        struct Member<'a>(i64, &'a str);
        impl serde::Serialize for Member<'_> {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                let mut m = s.serialize_map(Some(2))?;
                m.serialize_entry("value", &self.0.to_string())?;
                m.serialize_entry("$ref", &format!("{}/Users/{}", self.1, self.0))?;
                m.end()
            }
        }
        let mut seq = s.serialize_seq(Some(self.0.len()))?;
        for id in self.0 {
            seq.serialize_element(&Member(*id, self.1))?;
        }
        seq.end()
    }
}

/// A group's document, members left to [`GroupOut`].
pub fn group_without_members(base: &str, g: &ScimGroup) -> Value {
    let mut doc = json!({
        "schemas": [GROUP_SCHEMA],
        "id": g.id.to_string(),
        "displayName": g.name,
        "meta": {
            "resourceType": "Group",
            "created": datetime(g.created_at),
            "lastModified": datetime(g.updated_at),
            "location": format!("{base}/Groups/{}", g.id),
            "version": version_tag(g.version),
        },
    });
    if let Some(external) = &g.external_id {
        doc["externalId"] = json!(external);
    }
    doc
}

/// A list response (RFC 7644 3.4.2) of users, groups (with their members,
/// serialized one by one) or discovery documents.
#[derive(serde::Serialize)]
pub struct ListOut<T: serde::Serialize> {
    pub schemas: [&'static str; 1],
    #[serde(rename = "totalResults")]
    pub total_results: i64,
    #[serde(rename = "startIndex")]
    pub start_index: i64,
    #[serde(rename = "itemsPerPage")]
    pub items_per_page: usize,
    #[serde(rename = "Resources")]
    pub resources: Vec<T>,
}

impl<T: serde::Serialize> ListOut<T> {
    pub fn new(total: i64, start: i64, resources: Vec<T>) -> ListOut<T> {
        ListOut {
            schemas: [LIST_SCHEMA],
            total_results: total,
            start_index: start,
            items_per_page: resources.len(),
            resources,
        }
    }
}

/// What syncd supports, honestly (RFC 7643 5).
pub fn service_provider_config(base: &str) -> Value {
    json!({
        "schemas": [SERVICE_PROVIDER_CONFIG_SCHEMA],
        "documentationUri": "https://github.com/syncd/syncd/blob/main/docs/SCIM.md",
        "patch": { "supported": true },
        "bulk": { "supported": false, "maxOperations": 0, "maxPayloadSize": 0 },
        "filter": { "supported": true, "maxResults": MAX_PAGE },
        "changePassword": { "supported": false },
        "sort": { "supported": false },
        "etag": { "supported": true },
        "authenticationSchemes": [{
            "type": "oauthbearertoken",
            "name": "Bearer token",
            "description": "A User Group Manager's API token (syncd users token LOGIN), as Authorization: Bearer TOKEN.",
            "primary": true,
        }],
        "meta": {
            "resourceType": "ServiceProviderConfig",
            "location": format!("{base}/ServiceProviderConfig"),
        },
    })
}

/// A SCIM document as a response; `version` becomes the `ETag`.
pub fn respond(
    status: StatusCode,
    doc: &impl serde::Serialize,
    version: Option<i64>,
) -> HttpResponse {
    let mut response = HttpResponse::build(status);
    response.content_type("application/scim+json");
    if let Some(v) = version {
        response.insert_header((header::ETAG, version_tag(v)));
    }
    response.body(serde_json::to_vec(doc).unwrap_or_default())
}

pub const SCHEMA_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Schema";
pub const RESOURCE_TYPE_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:ResourceType";

/// One attribute's definition (RFC 7643 7), with the defaults syncd uses.
fn attribute(name: &str, kind: &str, description: &str) -> Value {
    json!({
        "name": name,
        "type": kind,
        "multiValued": false,
        "description": description,
        "required": false,
        "caseExact": false,
        "mutability": "readWrite",
        "returned": "default",
        "uniqueness": "none",
    })
}

/// The User schema: exactly the attributes syncd keeps and returns.
fn user_schema(base: &str) -> Value {
    let mut user_name = attribute("userName", "string", "The user's login in syncd.");
    user_name["required"] = json!(true);
    user_name["uniqueness"] = json!("server");
    let mut formatted = attribute("formatted", "string", "The user's name in syncd.");
    formatted["required"] = json!(false);
    let mut name = attribute("name", "complex", "The user's name.");
    name["subAttributes"] = json!([formatted]);
    let mut value = attribute("value", "string", "The email address.");
    value["required"] = json!(false);
    let mut emails = attribute("emails", "complex", "syncd keeps one address.");
    emails["multiValued"] = json!(true);
    emails["subAttributes"] = json!([value]);
    let active = attribute("active", "boolean", "False for a disabled user.");
    json!({
        "schemas": [SCHEMA_SCHEMA],
        "id": USER_SCHEMA,
        "name": "User",
        "description": "A syncd user: provisioned users are not managers and have no password.",
        "attributes": [user_name, name, emails, active],
        "meta": { "resourceType": "Schema", "location": format!("{base}/Schemas/{USER_SCHEMA}") },
    })
}

/// The Group schema: the name and the members (user ids).
fn group_schema(base: &str) -> Value {
    let mut display_name = attribute("displayName", "string", "The user group's name in syncd.");
    display_name["required"] = json!(true);
    display_name["uniqueness"] = json!("server");
    let mut value = attribute("value", "string", "The member's user id.");
    value["mutability"] = json!("immutable");
    let mut reference = attribute("$ref", "reference", "The member's URI.");
    reference["mutability"] = json!("immutable");
    reference["referenceTypes"] = json!(["User"]);
    reference["caseExact"] = json!(true);
    let mut members = attribute("members", "complex", "The group's members (users).");
    members["multiValued"] = json!(true);
    members["subAttributes"] = json!([value, reference]);
    json!({
        "schemas": [SCHEMA_SCHEMA],
        "id": GROUP_SCHEMA,
        "name": "Group",
        "description": "A syncd user group.",
        "attributes": [display_name, members],
        "meta": { "resourceType": "Schema", "location": format!("{base}/Schemas/{GROUP_SCHEMA}") },
    })
}

/// Every schema syncd serves, by id.
pub fn schemas(base: &str) -> Vec<Value> {
    vec![user_schema(base), group_schema(base)]
}

/// The resource types, `User` and `Group`.
pub fn resource_types(base: &str) -> Vec<Value> {
    [("User", "/Users", USER_SCHEMA), ("Group", "/Groups", GROUP_SCHEMA)]
        .into_iter()
        .map(|(id, endpoint, schema)| {
            json!({
                "schemas": [RESOURCE_TYPE_SCHEMA],
                "id": id,
                "name": id,
                "endpoint": endpoint,
                "schema": schema,
                "meta": { "resourceType": "ResourceType", "location": format!("{base}/ResourceTypes/{id}") },
            })
        })
        .collect()
}

/// Leaves in `doc` only what `attributes` names, or all but what
/// `excluded` names (RFC 7644 3.4.2.5; comma-separated names, any case, as
/// `name`, `name.formatted` or with the schema URI first). `schemas`, `id`
/// and `meta` always stay.
pub fn project(doc: &mut Value, attributes: Option<&str>, excluded: Option<&str>) {
    let Some(object) = doc.as_object_mut() else {
        return;
    };
    let names = |list: &str| -> Vec<(String, Option<String>)> {
        list.split(',')
            .map(|n| n.trim())
            .filter(|n| !n.is_empty())
            .map(|n| {
                // `urn:...:User:name.formatted` -> `name.formatted`.
                let n = n.rsplit(':').next().unwrap_or(n).to_ascii_lowercase();
                match n.split_once('.') {
                    Some((a, s)) => (a.to_string(), Some(s.to_string())),
                    None => (n, None),
                }
            })
            .collect()
    };
    let always = |key: &str| matches!(key, "schemas" | "id" | "meta");
    if let Some(list) = attributes.filter(|l| !l.trim().is_empty()) {
        let wanted = names(list);
        object.retain(|key, value| {
            let key_lower = key.to_ascii_lowercase();
            if always(&key_lower) {
                return true;
            }
            let subs: Vec<&Option<String>> = wanted
                .iter()
                .filter(|(a, _)| *a == key_lower)
                .map(|(_, s)| s)
                .collect();
            if subs.is_empty() {
                return false;
            }
            if subs.iter().all(|s| s.is_some()) {
                keep_subs(value, &subs);
            }
            true
        });
    } else if let Some(list) = excluded {
        for (attribute, sub) in names(list) {
            let keys: Vec<String> = object
                .keys()
                .filter(|k| k.eq_ignore_ascii_case(&attribute) && !always(&attribute))
                .cloned()
                .collect();
            for key in keys {
                match &sub {
                    None => {
                        object.remove(&key);
                    }
                    Some(sub) => remove_sub(object.get_mut(&key), sub),
                }
            }
        }
    }
}

fn keep_subs(value: &mut Value, subs: &[&Option<String>]) {
    let keep = |o: &mut serde_json::Map<String, Value>| {
        o.retain(|k, _| {
            subs.iter()
                .any(|s| s.as_deref().is_some_and(|s| s.eq_ignore_ascii_case(k)))
        })
    };
    match value {
        Value::Object(o) => keep(o),
        Value::Array(items) => items
            .iter_mut()
            .filter_map(Value::as_object_mut)
            .for_each(keep),
        _ => {}
    }
}

fn remove_sub(value: Option<&mut Value>, sub: &str) {
    let drop =
        |o: &mut serde_json::Map<String, Value>| o.retain(|k, _| !k.eq_ignore_ascii_case(sub));
    match value {
        Some(Value::Object(o)) => drop(o),
        Some(Value::Array(items)) => items
            .iter_mut()
            .filter_map(Value::as_object_mut)
            .for_each(drop),
        _ => {}
    }
}

/// Whether a projection leaves a group's members out (so they need not be
/// read at all).
pub fn leaves_out(attributes: Option<&str>, excluded: Option<&str>, name: &str) -> bool {
    let named = |list: &str| {
        list.split(',').any(|n| {
            let n = n.trim();
            let n = n.rsplit(':').next().unwrap_or(n);
            let top = n.split('.').next().unwrap_or(n);
            top.eq_ignore_ascii_case(name)
        })
    };
    match attributes.filter(|l| !l.trim().is_empty()) {
        Some(list) => !named(list),
        None => excluded.is_some_and(named),
    }
}
