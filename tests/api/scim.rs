//! SCIM 2.0 at `/scim/v2/` (issue 18, API.md 9), first steps: bearer-only
//! sign-in, SCIM errors, `ServiceProviderConfig`, users and groups read,
//! created and deleted (memberships with `via` `scim`), and groups'
//! versions, which move with every change to their members.

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{Resp, TestApp, insert_user, spawn_app};

fn scim(app: &TestApp, method: Method, path: &str) -> reqwest::blocking::RequestBuilder {
    app.client
        .request(method, app.url(&format!("/scim/v2{path}")))
        .header("Authorization", format!("Bearer {}", app.token))
}

fn get(app: &TestApp, path: &str) -> Resp {
    app.send(scim(app, Method::GET, path))
}

fn post(app: &TestApp, path: &str, body: Value) -> Resp {
    app.send(
        scim(app, Method::POST, path)
            .header("Content-Type", "application/scim+json")
            .body(body.to_string()),
    )
}

fn json_of(r: &Resp) -> Value {
    serde_json::from_str(&r.body).unwrap_or_else(|e| panic!("{e}: {}", r.body))
}

fn assert_scim_error(r: &Resp, status: u16, scim_type: Option<&str>) {
    assert_eq!(r.status, status, "{r:?}");
    assert_eq!(r.header("content-type"), Some("application/scim+json"));
    let e = json_of(r);
    assert_eq!(
        e["schemas"],
        json!(["urn:ietf:params:scim:api:messages:2.0:Error"])
    );
    assert_eq!(e["status"], json!(status.to_string()));
    assert!(e["detail"].as_str().is_some_and(|d| !d.is_empty()), "{e}");
    match scim_type {
        Some(t) => assert_eq!(e["scimType"], json!(t), "{e}"),
        None => assert!(e.get("scimType").is_none(), "{e}"),
    }
}

#[test]
fn only_a_managers_bearer_token_signs_in_and_errors_are_scim_documents() {
    let app = spawn_app();
    let r = get(&app, "/ServiceProviderConfig");
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.header("content-type"), Some("application/scim+json"));
    let config = json_of(&r);
    assert_eq!(config["etag"]["supported"], json!(true));
    assert_eq!(
        config["authenticationSchemes"][0]["type"],
        json!("oauthbearertoken")
    );

    // X-API-KEY and Basic do not sign in here; nothing does not either.
    let url = app.url("/scim/v2/Users");
    for request in [
        app.client.get(&url).header("X-API-KEY", &app.token),
        app.client.get(&url).basic_auth(&app.token, Some("")),
        app.client.get(&url),
    ] {
        let r = app.send(request);
        assert_scim_error(&r, 401, None);
        assert_eq!(
            r.header("www-authenticate"),
            Some("Bearer realm=\"Syncd SCIM\"")
        );
    }
    // A user who is not a manager: 403.
    let (_, token) = insert_user(&app.pool, "pat", false, None);
    let r = app.send(app.client.get(&url).bearer_auth(&token));
    assert_scim_error(&r, 403, None);
    // Unknown ids, and paths that are not ids, are SCIM 404s.
    assert_scim_error(&get(&app, "/Users/999"), 404, None);
    assert_scim_error(&get(&app, "/Groups/abc"), 404, None);
    // Schema ids hold dots; the path is not taken for an extension.
    assert_scim_error(
        &get(&app, "/Users/urn:ietf:params:scim:schemas:core:2.0:User"),
        404,
        None,
    );
}

#[test]
fn a_user_created_over_scim_is_an_ordinary_user() {
    let app = spawn_app();
    let r = post(
        &app,
        "/Users",
        json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "userName": "ann.lee@example.com",
            "name": { "givenName": "Ann", "familyName": "Lee" },
            "emails": [
                { "value": "home@example.com", "type": "home" },
                { "value": "ann.lee@example.com", "type": "work", "primary": true }
            ],
            "externalId": "00u1abcd",
            "active": true,
            "password": "never kept",
            "locale": "en-US",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": { "department": "Sales" }
        }),
    );
    assert_eq!(r.status, 201, "{r:?}");
    let u = json_of(&r);
    let id = u["id"].as_str().unwrap().to_string();
    assert_eq!(u["userName"], json!("ann.lee@example.com"));
    assert_eq!(u["name"]["formatted"], json!("Ann Lee"));
    assert_eq!(u["emails"][0]["value"], json!("ann.lee@example.com"));
    assert_eq!(u["externalId"], json!("00u1abcd"));
    assert_eq!(u["active"], json!(true));
    assert!(u.get("password").is_none());
    assert_eq!(r.header("etag"), u["meta"]["version"].as_str());
    assert_eq!(
        r.header("location"),
        Some(app.url(&format!("/scim/v2/Users/{id}")).as_str())
    );
    assert_eq!(
        u["meta"]["location"],
        json!(app.url(&format!("/scim/v2/Users/{id}")))
    );

    // The same user through the XML API: not a manager, no password.
    let xml = app.get(&format!("/users/{id}.xml"));
    assert_eq!(xml.status, 200);
    assert!(xml.body.contains("<login>ann.lee@example.com</login>"));
    assert!(
        xml.body
            .contains("<user-group-manager type=\"boolean\">false</user-group-manager>")
    );

    let again = get(&app, &format!("/Users/{id}"));
    assert_eq!(json_of(&again), u);
    // userName is not case-exact: the same login in capitals is taken.
    let r = post(&app, "/Users", json!({ "userName": "ANN.LEE@example.com" }));
    assert_scim_error(&r, 409, Some("uniqueness"));
    // Entra's "False", in any case, is a disabled user.
    let r = post(
        &app,
        "/Users",
        json!({ "userName": "bo", "active": "False" }),
    );
    assert_eq!(r.status, 201, "{r:?}");
    assert_eq!(json_of(&r)["active"], json!(false));
    // No name given: syncd's name is the login, and SCIM shows none.
    assert!(json_of(&r).get("name").is_none(), "{}", r.body);
    let xml = app.get(&format!(
        "/users/{}.xml",
        json_of(&r)["id"].as_str().unwrap()
    ));
    assert!(xml.body.contains("<name>bo</name>"), "{}", xml.body);
    let r = post(
        &app,
        "/Users",
        json!({ "userName": "cy", "active": "maybe" }),
    );
    assert_scim_error(&r, 400, Some("invalidValue"));
    let r = post(&app, "/Users", json!({ "userName": "no spaces allowed" }));
    assert_scim_error(&r, 400, Some("invalidValue"));
    let r = post(&app, "/Users", json!({ "name": { "formatted": "Nobody" } }));
    assert_scim_error(&r, 400, Some("invalidValue"));
    let r = app.send(
        scim(&app, Method::POST, "/Users")
            .header("Content-Type", "application/scim+json")
            .body("{not json"),
    );
    assert_scim_error(&r, 400, Some("invalidSyntax"));

    // Listed in pages, with the manager first (id 1).
    let page = json_of(&get(&app, "/Users?startIndex=2&count=1"));
    assert_eq!(page["totalResults"], json!(3));
    assert_eq!(page["startIndex"], json!(2));
    assert_eq!(page["itemsPerPage"], json!(1));
    assert_eq!(page["Resources"][0]["id"], json!(id));
    let none = json_of(&get(&app, "/Users?count=0"));
    assert_eq!(none["totalResults"], json!(3));
    assert_eq!(none["Resources"], json!([]));
}

#[test]
fn groups_are_created_with_their_members_read_without_them_and_deleted_via_scim() {
    let app = spawn_app();
    let ann = app.user("ann");
    let bob = app.user("bob");
    let r = post(
        &app,
        "/Groups",
        json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
            "displayName": "Sales",
            "externalId": "grp-1",
            "members": [{ "value": ann.to_string() }, { "value": bob.to_string(), "display": "bob" }]
        }),
    );
    assert_eq!(r.status, 201, "{r:?}");
    let g = json_of(&r);
    let id = g["id"].as_str().unwrap().to_string();
    let values: Vec<&str> = g["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["value"].as_str().unwrap())
        .collect();
    assert_eq!(values, vec![ann.to_string(), bob.to_string()]);
    assert_eq!(
        g["members"][0]["$ref"],
        json!(app.url(&format!("/scim/v2/Users/{ann}")))
    );
    let events = app.get(&format!("/membership-events.json?user_group_id={id}"));
    let events: Value = serde_json::from_str(&events.body).unwrap();
    assert_eq!(events.as_array().unwrap().len(), 2);
    assert!(
        events
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["via"] == "scim"),
        "{events}"
    );

    let lean = json_of(&get(
        &app,
        &format!("/Groups/{id}?excludedAttributes=members"),
    ));
    assert!(lean.get("members").is_none(), "{lean}");
    assert_eq!(lean["displayName"], json!("Sales"));
    let listed = json_of(&get(&app, "/Groups?excludedAttributes=members"));
    assert_eq!(listed["totalResults"], json!(1));
    assert!(listed["Resources"][0].get("members").is_none());

    // A taken name (in any case), and an unknown member: nothing is made.
    assert_scim_error(
        &post(&app, "/Groups", json!({ "displayName": "SALES" })),
        409,
        Some("uniqueness"),
    );
    let r = post(
        &app,
        "/Groups",
        json!({ "displayName": "Ghosts", "members": [{ "value": ann.to_string() }, { "value": "9999" }] }),
    );
    assert_scim_error(&r, 400, Some("invalidValue"));
    assert_eq!(json_of(&get(&app, "/Groups"))["totalResults"], json!(1));

    // Deleting the user over SCIM removes its membership, via scim.
    let r = app.send(scim(&app, Method::DELETE, &format!("/Users/{bob}")));
    assert_eq!(r.status, 204, "{r:?}");
    assert_scim_error(&get(&app, &format!("/Users/{bob}")), 404, None);
    let r = app.send(scim(&app, Method::DELETE, &format!("/Groups/{id}")));
    assert_eq!(r.status, 204, "{r:?}");
    assert_scim_error(
        &app.send(scim(&app, Method::DELETE, &format!("/Groups/{id}"))),
        404,
        None,
    );
    let events = app.get(&format!("/membership-events.json?user_group_id={id}"));
    let events: Value = serde_json::from_str(&events.body).unwrap();
    let removed: Vec<&Value> = events
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "removed")
        .collect();
    assert_eq!(removed.len(), 2, "{events}");
    assert!(removed.iter().all(|e| e["via"] == "scim"), "{events}");
}

#[test]
fn a_groups_version_moves_with_every_change_to_its_members_whatever_makes_it() {
    let app = spawn_app();
    let ann = app.user("ann");
    let bob = app.user("bob");
    let g = app.group("Editors");
    let version = || {
        let r = get(&app, &format!("/Groups/{g}?excludedAttributes=members"));
        assert_eq!(r.status, 200, "{r:?}");
        let tag = r.header("etag").unwrap().to_string();
        assert_eq!(json_of(&r)["meta"]["version"], json!(tag));
        tag
    };
    let mut seen = vec![version()];
    let mut moved = |what: &str| {
        let now = version();
        assert!(
            !seen.contains(&now),
            "{what}: the version did not move ({now})"
        );
        seen.push(now);
    };
    let id = app.add(ann, g);
    moved("a create through the XML API");
    assert_eq!(
        app.delete(&format!("/user-group-memberships/{id}.xml"))
            .status,
        200
    );
    moved("a delete");
    let r = app.send(app.request(Method::PUT, &format!("/user_groups/{g}/users/{bob}.xml")));
    assert_eq!(r.status, 201);
    moved("a pair PUT");
    let r = app.send(
        app.request(Method::PUT, &format!("/user_groups/{g}/members.json"))
            .header("Content-Type", "application/json")
            .body(format!(r#"{{"user-ids": [{ann}]}}"#)),
    );
    assert_eq!(r.status, 200, "{r:?}");
    moved("a member-set PUT");
    let r = app.send(
        app.request(Method::PUT, &format!("/user_groups/{g}.xml"))
            .header("Content-Type", "application/xml")
            .body("<user-group><name>Writers</name></user-group>"),
    );
    assert_eq!(r.status, 200);
    moved("a rename");
    // Reading moves nothing.
    assert_eq!(version(), *seen.last().unwrap());
}

/// The ids of a list response's resources.
fn ids(r: &Resp) -> Vec<String> {
    assert_eq!(r.status, 200, "{r:?}");
    json_of(r)["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["id"].as_str().unwrap().to_string())
        .collect()
}

fn filtered(app: &TestApp, resource: &str, filter: &str) -> Resp {
    app.send(
        scim(app, Method::GET, &format!("/{resource}"))
            .query(&[("filter", filter), ("excludedAttributes", "members")]),
    )
}

#[test]
fn filters_find_what_providers_look_for_and_refuse_what_cannot_run() {
    let app = spawn_app();
    let mut made = Vec::new();
    for (login, email, external, active) in [
        ("ann.lee@example.com", "ann.lee@example.com", "00u1", true),
        ("bo_x", "bo@example.org", "00u2", false),
        ("box", "box@example.com", "00u3", true),
    ] {
        let r = post(
            &app,
            "/Users",
            json!({ "userName": login, "externalId": external, "active": active,
                    "emails": [{ "value": email, "type": "work", "primary": true }] }),
        );
        assert_eq!(r.status, 201, "{r:?}");
        made.push(json_of(&r)["id"].as_str().unwrap().to_string());
    }
    let (ann, bo, bx) = (&made[0], &made[1], &made[2]);
    for (filter, want) in [
        // Okta looks a user up by userName (not case-exact) before creating it.
        (r#"userName eq "ANN.LEE@example.com""#, vec![ann]),
        (r#"externalId eq "00u2""#, vec![bo]),
        (r#"externalId eq "00U2""#, vec![]),
        // Entra's form.
        (
            r#"emails[type eq "work"].value eq "box@example.com""#,
            vec![bx],
        ),
        (
            r#"emails[type eq "home"].value eq "box@example.com""#,
            vec![],
        ),
        (r#"emails.value co "example.com""#, vec![ann, bx]),
        (r#"emails ew ".org""#, vec![bo]),
        (r#"userName sw "bo""#, vec![bo, bx]),
        // LIKE's own characters are plain characters in a SCIM filter.
        (r#"userName co "_""#, vec![bo]),
        (r#"active eq false"#, vec![bo]),
        (r#"active eq true and not (userName sw "ann")"#, vec![bx]),
        (
            r#"userName eq "box" or externalId eq "00u1""#,
            vec![ann, bx],
        ),
        (
            r#"meta.lastModified gt "2000-01-01T00:00:00Z" and id eq "999""#,
            vec![],
        ),
        (
            r#"urn:ietf:params:scim:schemas:core:2.0:User:userName eq "box""#,
            vec![bx],
        ),
    ] {
        let r = filtered(&app, "Users", filter);
        let mut got = ids(&r);
        got.retain(|id| id != "1"); // the manager of the test app
        let got: Vec<&String> = got.iter().collect();
        assert_eq!(got, want, "{filter}");
    }

    let g = post(
        &app,
        "/Groups",
        json!({ "displayName": "Sales", "externalId": "g-1",
        "members": [{ "value": ann }] }),
    );
    let g = json_of(&g)["id"].as_str().unwrap().to_string();
    for (filter, want) in [
        (r#"displayName eq "sales""#, vec![&g]),
        (r#"externalId eq "g-1""#, vec![&g]),
        (&format!(r#"members[value eq "{ann}"]"#) as &str, vec![&g]),
        (&format!(r#"members[value eq "{bo}"]"#), vec![]),
        (r#"displayName eq "Sales" and members pr"#, vec![&g]),
    ] {
        let got = ids(&filtered(&app, "Groups", filter));
        let got: Vec<&String> = got.iter().collect();
        assert_eq!(got, want, "{filter}");
    }

    for (resource, filter) in [
        ("Users", "userName eq"),
        ("Users", "userName xx \"a\""),
        ("Users", "password eq \"secret\""),
        (
            "Users",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department eq \"x\"",
        ),
        ("Users", "active gt true"),
        ("Users", "meta.lastModified gt \"yesterday\""),
        ("Groups", "members[display eq \"ann\"]"),
        (
            "Users",
            &format!("{}userName eq \"a\"{}", "(".repeat(40), ")".repeat(40)),
        ),
        ("Users", &vec!["userName eq \"a\""; 100].join(" or ")),
    ] {
        let r = filtered(&app, resource, filter);
        assert_scim_error(&r, 400, Some("invalidFilter"));
    }
}

fn patch(app: &TestApp, path: &str, operations: Value, if_match: Option<&str>) -> Resp {
    let mut request = scim(app, Method::PATCH, path)
        .header("Content-Type", "application/scim+json")
        .body(
            json!({
                "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                "Operations": operations
            })
            .to_string(),
        );
    if let Some(tag) = if_match {
        request = request.header("If-Match", tag);
    }
    app.send(request)
}

fn members(app: &TestApp, g: &str) -> Vec<String> {
    let r = get(app, &format!("/Groups/{g}"));
    json_of(&r)["members"]
        .as_array()
        .map(|m| {
            m.iter()
                .map(|m| m["value"].as_str().unwrap().to_string())
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn providers_patch_users_and_groups_in_their_own_shapes() {
    let app = spawn_app();
    let u = post(
        &app,
        "/Users",
        json!({ "userName": "dee", "name": { "givenName": "Dee", "familyName": "Ray" } }),
    );
    let u = json_of(&u);
    let id = u["id"].as_str().unwrap().to_string();
    let v1 = u["meta"]["version"].as_str().unwrap().to_string();

    // Okta deprovisions with active false (no path, an object value).
    let r = patch(
        &app,
        &format!("/Users/{id}"),
        json!([{ "op": "replace", "value": { "active": false } }]),
        None,
    );
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(json_of(&r)["active"], json!(false));
    // The XML API's user is disabled: its token would not sign in.
    let v2 = r.header("etag").unwrap().to_string();
    assert_ne!(v1, v2);
    // Entra: capitalised ops, a name part, a string boolean.
    let r = patch(
        &app,
        &format!("/Users/{id}"),
        json!([
            { "op": "Replace", "path": "name.givenName", "value": "Dee" },
            { "op": "Replace", "path": "name.familyName", "value": "Roe" },
            { "op": "Replace", "path": "active", "value": "True" },
            { "op": "Add", "path": "emails[type eq \"work\"].value", "value": "dee@example.com" },
            { "op": "Add", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department", "value": "Ops" }
        ]),
        Some(&v2),
    );
    assert_eq!(r.status, 200, "{r:?}");
    let now = json_of(&r);
    assert_eq!(now["name"]["formatted"], json!("Dee Roe"));
    assert_eq!(now["active"], json!(true));
    assert_eq!(now["emails"][0]["value"], json!("dee@example.com"));
    // A stale If-Match changes nothing.
    let r = patch(
        &app,
        &format!("/Users/{id}"),
        json!([{ "op": "replace", "path": "active", "value": false }]),
        Some(&v2),
    );
    assert_scim_error(&r, 412, Some("invalidVers"));
    assert_eq!(
        json_of(&get(&app, &format!("/Users/{id}")))["active"],
        json!(true)
    );
    let r = patch(
        &app,
        &format!("/Users/{id}"),
        json!([{ "op": "remove", "path": "userName" }]),
        None,
    );
    assert_scim_error(&r, 400, Some("mutability"));
    // PUT replaces; a login taken in another case is refused.
    post(&app, "/Users", json!({ "userName": "eve" }));
    let r = app.send(
        scim(&app, Method::PUT, &format!("/Users/{id}"))
            .header("Content-Type", "application/scim+json")
            .body(json!({ "userName": "EVE" }).to_string()),
    );
    assert_scim_error(&r, 409, Some("uniqueness"));
    let r = app.send(
        scim(&app, Method::PUT, &format!("/Users/{id}"))
            .header("Content-Type", "application/scim+json")
            .body(json!({ "userName": "dee2", "externalId": "x9" }).to_string()),
    );
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(json_of(&r)["userName"], json!("dee2"));
    assert!(
        json_of(&r).get("emails").is_none(),
        "a PUT replaces everything"
    );

    // Groups.
    let ann = app.user("ann").to_string();
    let bob = app.user("bob").to_string();
    let cy = app.user("cy").to_string();
    let g = post(
        &app,
        "/Groups",
        json!({ "displayName": "Ops", "members": [{ "value": ann }] }),
    );
    let g = json_of(&g)["id"].as_str().unwrap().to_string();
    let at = format!("/Groups/{g}");
    // Entra adds with a value list and capitalised op.
    let r = patch(
        &app,
        &at,
        json!([{ "op": "Add", "path": "members", "value": [{ "value": bob }, { "value": cy }] }]),
        None,
    );
    assert_eq!(r.status, 204, "{r:?}");
    assert!(r.header("etag").is_some());
    assert_eq!(
        members(&app, &g),
        vec![ann.clone(), bob.clone(), cy.clone()]
    );
    // Okta removes one member by filter.
    let r = patch(
        &app,
        &at,
        json!([{ "op": "remove", "path": format!("members[value eq \"{bob}\"]") }]),
        None,
    );
    assert_eq!(r.status, 204, "{r:?}");
    assert_eq!(members(&app, &g), vec![ann.clone(), cy.clone()]);
    // Entra removes with a value list: only those.
    let r = patch(
        &app,
        &at,
        json!([{ "op": "Remove", "path": "members", "value": [{ "value": cy }] }]),
        None,
    );
    assert_eq!(r.status, 204);
    assert_eq!(members(&app, &g), vec![ann.clone()]);
    // An unknown member: 400, nothing changes (not even the name).
    let r = patch(
        &app,
        &at,
        json!([
            { "op": "replace", "path": "displayName", "value": "Renamed" },
            { "op": "add", "path": "members", "value": [{ "value": bob }, { "value": "9999" }] }
        ]),
        None,
    );
    assert_scim_error(&r, 400, Some("invalidValue"));
    assert_eq!(members(&app, &g), vec![ann.clone()]);
    assert_eq!(json_of(&get(&app, &at))["displayName"], json!("Ops"));
    // Okta renames with a path-less replace; replace sets the members.
    let r = patch(
        &app,
        &at,
        json!([
            { "op": "replace", "value": { "id": g, "displayName": "Operations" } },
            { "op": "replace", "path": "members", "value": [{ "value": bob }] }
        ]),
        None,
    );
    assert_eq!(r.status, 204, "{r:?}");
    let now = json_of(&get(&app, &at));
    assert_eq!(now["displayName"], json!("Operations"));
    assert_eq!(members(&app, &g), vec![bob.clone()]);
    // remove of members with neither filter nor value: all of them.
    let r = patch(
        &app,
        &at,
        json!([{ "op": "remove", "path": "members" }]),
        None,
    );
    assert_eq!(r.status, 204);
    assert_eq!(members(&app, &g), Vec::<String>::new());
    // PUT with If-Match; a stale one is 412.
    let tag = get(&app, &at).header("etag").unwrap().to_string();
    let put = |tag: &str| {
        app.send(
            scim(&app, Method::PUT, &at)
                .header("Content-Type", "application/scim+json")
                .header("If-Match", tag)
                .body(json!({ "displayName": "Operations", "members": [{ "value": ann }, { "value": cy }] }).to_string()),
        )
    };
    let r = put(&tag);
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(members(&app, &g), vec![ann.clone(), cy.clone()]);
    assert_scim_error(&put(&tag), 412, Some("invalidVers"));
    // Every membership change above was recorded with via scim.
    let events = app.get(&format!("/membership-events.json?user_group_id={g}"));
    let events: Value = serde_json::from_str(&events.body).unwrap();
    assert_eq!(events.as_array().unwrap().len(), 10, "{events}");
    assert!(
        events
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["via"] == "scim"),
        "{events}"
    );
}

#[test]
fn discovery_lists_the_resource_types_and_exactly_the_attributes_kept() {
    let app = spawn_app();
    let types = json_of(&get(&app, "/ResourceTypes"));
    assert_eq!(types["totalResults"], json!(2));
    for t in types["Resources"].as_array().unwrap() {
        let id = t["id"].as_str().unwrap();
        assert_eq!(json_of(&get(&app, &format!("/ResourceTypes/{id}"))), *t);
        let schema = get(&app, &format!("/Schemas/{}", t["schema"].as_str().unwrap()));
        assert_eq!(schema.status, 200, "{schema:?}");
    }
    let user = json_of(&get(
        &app,
        "/Schemas/urn:ietf:params:scim:schemas:core:2.0:User",
    ));
    let names: Vec<&str> = user["attributes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, vec!["userName", "name", "emails", "active"]);
    let config = json_of(&get(&app, "/ServiceProviderConfig"));
    for feature in ["patch", "filter", "etag"] {
        assert_eq!(config[feature]["supported"], json!(true), "{feature}");
    }
    for path in [
        "/ResourceTypes/Nope",
        "/Schemas/urn:nope",
        "/6f1c2d9e-not-here",
    ] {
        assert_scim_error(&get(&app, path), 404, None);
    }
    for method in [Method::POST, Method::PUT, Method::PATCH, Method::DELETE] {
        for path in ["/ServiceProviderConfig", "/ResourceTypes", "/Schemas"] {
            let r = app.send(scim(&app, method.clone(), path));
            assert_eq!(r.status, 405, "{method} {path}");
        }
    }
}

#[test]
fn a_group_body_may_name_more_members_than_64_kib_holds() {
    let app = spawn_app();
    crate::helpers::execute_sql(
        &app.pool,
        "INSERT INTO users (login, name, user_group_manager, created_at, updated_at) \
         WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < 4999) \
         SELECT 'bulk' || i, 'Bulk ' || i, false, '2026-01-01 00:00:00', '2026-01-01 00:00:00' FROM n",
    );
    // Users 2..=5001: about 95 KB of members.
    let members: Vec<Value> = (2..=5001)
        .map(|id| json!({ "value": id.to_string() }))
        .collect();
    let body = json!({ "displayName": "Everyone", "members": members });
    assert!(body.to_string().len() > 64 * 1024);
    let r = post(&app, "/Groups?excludedAttributes=members", body);
    assert_eq!(r.status, 201, "{}", &r.body[..r.body.len().min(300)]);
    let g = json_of(&r)["id"].as_str().unwrap().to_string();
    assert_eq!(members_of_count(&app, &g), 5000);
}

fn members_of_count(app: &TestApp, g: &str) -> usize {
    json_of(&get(app, &format!("/Groups/{g}")))["members"]
        .as_array()
        .map_or(0, Vec::len)
}

#[test]
fn active_false_disables_the_user_as_the_command_line_does_and_true_enables_it() {
    let app = spawn_app();
    let (id, token) = insert_user(&app.pool, "kim", false, None);
    let g = app.group("Staff");
    app.add(id, g);
    let me = |token: &str| {
        app.send(
            app.client
                .get(app.url("/me.xml"))
                .header("X-API-KEY", token),
        )
        .status
    };
    assert_eq!(me(&token), 200);
    let r = patch(
        &app,
        &format!("/Users/{id}"),
        json!([{ "op": "replace", "path": "active", "value": false }]),
        None,
    );
    assert_eq!(r.status, 200, "{r:?}");
    // Signed-in tokens are taken on trust for a second (TOKEN_CACHE_TTL).
    let since = std::time::Instant::now();
    while me(&token) != 401 {
        assert!(
            since.elapsed() < std::time::Duration::from_millis(1500),
            "still signs in"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    // Disabled, not removed: the membership stays, and `users list` says so.
    assert_eq!(members(&app, &g.to_string()), vec![id.to_string()]);
    let listed = crate::cli::syncd(&app_url(&app), &["users", "list"]);
    let line = crate::cli::stdout(&listed);
    let kim = line
        .lines()
        .find(|l| l.contains("kim"))
        .unwrap_or_default()
        .to_string();
    assert!(kim.contains("disabled"), "{line}");
    let r = patch(
        &app,
        &format!("/Users/{id}"),
        json!([{ "op": "replace", "path": "active", "value": true }]),
        None,
    );
    assert_eq!(json_of(&r)["active"], json!(true));
    assert_eq!(me(&token), 200);
}

/// The database URL of a test app (for the command line beside it).
fn app_url(app: &TestApp) -> String {
    app.database_url().to_string()
}
