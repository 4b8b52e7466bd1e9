//! JSON on every route: by `.json` and by `Accept`, bodies in every shape the
//! contract lists, and errors with the same statuses and messages as XML.

use reqwest::Method;

use crate::helpers::{TestApp, execute_sql, spawn_app};

const PINNED: &str = "2008-01-08 03:47:52";

fn pin(app: &TestApp) {
    for table in ["users", "user_groups", "user_group_memberships"] {
        execute_sql(
            &app.pool,
            &format!("UPDATE {table} SET created_at = '{PINNED}', updated_at = '{PINNED}'"),
        );
    }
}

fn post_json(app: &TestApp, path: &str, body: &str) -> crate::helpers::Resp {
    app.send(
        app.request(Method::POST, path)
            .header("Content-Type", "application/json")
            .body(body.to_string()),
    )
}

#[test]
fn records_and_lists_in_json_exactly() {
    let app = spawn_app();
    let (u, g) = (app.user("alice"), app.group("Editors"));
    let id = app.add(u, g);
    pin(&app);
    let r = app.get(&format!("/user-group-memberships/{id}.json"));
    assert_eq!(r.status, 200);
    assert_eq!(
        r.header("content-type"),
        Some("application/json; charset=utf-8")
    );
    assert_eq!(
        r.body,
        format!("{{\"id\":{id},\"user_id\":{u},\"user_group_id\":{g}}}\n")
    );

    let r = app.get(&format!(
        "/user-group-memberships/{id}.json?include=users,user_groups,timestamps"
    ));
    assert_eq!(
        r.body,
        format!(
            concat!(
                "{{\"id\":{id},",
                "\"user\":{{\"id\":{u},\"login\":\"alice\",\"name\":\"alice name\",\"email_address\":null,\"user_group_manager\":false,",
                "\"created_at\":\"2008-01-08T03:47:52Z\",\"updated_at\":\"2008-01-08T03:47:52Z\"}},",
                "\"user_group\":{{\"id\":{g},\"name\":\"Editors\",\"description\":null,",
                "\"created_at\":\"2008-01-08T03:47:52Z\",\"updated_at\":\"2008-01-08T03:47:52Z\"}},",
                "\"created_at\":\"2008-01-08T03:47:52Z\",\"updated_at\":\"2008-01-08T03:47:52Z\"}}\n"
            ),
            id = id,
            u = u,
            g = g
        )
    );
    let r = app.get("/user-group-memberships.json");
    assert_eq!(
        r.body,
        format!("[{{\"id\":{id},\"user_id\":{u},\"user_group_id\":{g}}}]\n")
    );
    assert_eq!(r.header("x-total-count"), Some("1"));
    let r = app.get("/user-group-memberships.json?start=5");
    assert_eq!(r.body, "[]\n");
    let r = app.get(&format!("/user_groups/{g}.json"));
    assert_eq!(
        r.body,
        format!("{{\"id\":{g},\"name\":\"Editors\",\"description\":null}}\n")
    );
    let r = app.get("/me.json");
    let me: serde_json::Value = serde_json::from_str(&r.body).unwrap();
    assert_eq!(me["login"], "manager");
    assert_eq!(me["user_group_manager"], true);
}

#[test]
fn accept_chooses_json_on_a_path_without_extension_and_xml_stays_default() {
    let app = spawn_app();
    let id = app.add(app.user("alice"), app.group("Editors"));
    let path = format!("/user-group-memberships/{id}");
    let as_json = app.send(
        app.request(Method::GET, &path)
            .header("Accept", "application/json"),
    );
    assert_eq!(
        as_json.header("content-type"),
        Some("application/json; charset=utf-8")
    );
    assert!(as_json.body.starts_with('{'));
    for accept in [
        None,
        Some("*/*"),
        Some("application/xml"),
        Some("text/html,application/xml;q=0.9,*/*;q=0.8"),
    ] {
        let mut request = app.request(Method::GET, &path);
        if let Some(a) = accept {
            request = request.header("Accept", a);
        }
        let r = app.send(request);
        assert_eq!(
            r.header("content-type"),
            Some("application/xml; charset=utf-8"),
            "{accept:?}"
        );
    }
    // The extension wins over Accept.
    let r = app.send(
        app.request(Method::GET, &format!("{path}.xml"))
            .header("Accept", "application/json"),
    );
    assert!(r.body.starts_with("<?xml"));
    // Errors follow Accept too.
    let r = app.send(
        app.request(Method::GET, "/user-group-memberships/999")
            .header("Accept", "application/json"),
    );
    assert_eq!(r.status, 404);
    assert_eq!(r.body, "{\"errors\":[\"Membership 999 does not exist.\"]}");
}

#[test]
fn json_bodies_in_every_shape_create_memberships() {
    let app = spawn_app();
    let g = app.group("Editors");
    let shapes = [
        "{\"user-group-membership\": {\"user-id\": {u}, \"user-group-id\": {g}}}",
        "{\"user_group_membership\": {\"user_id\": {u}, \"user_group_id\": {g}}}",
        "{\"user_id\": {u}, \"user_group_id\": {g}}",
        "{\"user_id\": \"{u}\", \"user_group_id\": \"{g}\", \"unknown\": [1, 2]}",
    ];
    for (i, shape) in shapes.iter().enumerate() {
        let u = app.user(&format!("json{i}"));
        let body = shape
            .replace("{u}", &u.to_string())
            .replace("{g}", &g.to_string());
        let r = post_json(&app, "/user-group-memberships.json", &body);
        assert_eq!(r.status, 201, "{body}: {r:?}");
        let created: serde_json::Value = serde_json::from_str(&r.body).unwrap();
        assert_eq!(created["user_id"], u);
        assert_eq!(
            r.header("location"),
            Some(format!("/user-group-memberships/{}.json", created["id"]).as_str())
        );
    }
}

#[test]
fn the_syncano_body_adds_a_user_to_a_group() {
    let app = spawn_app();
    let g = app.group("witchers");
    for (i, user_value) in ["{u}", "\"{u}\""].iter().enumerate() {
        let u = app.user(&format!("geralt{i}"));
        let body = format!(
            "{{\"user\": {}}}",
            user_value.replace("{u}", &u.to_string())
        );
        let r = post_json(
            &app,
            &format!("/user_groups/{g}/user-group-memberships.json"),
            &body,
        );
        assert_eq!(r.status, 201, "{body}: {r:?}");
        let created: serde_json::Value = serde_json::from_str(&r.body).unwrap();
        assert_eq!(
            (
                created["user_id"].as_i64(),
                created["user_group_id"].as_i64()
            ),
            (Some(u), Some(g))
        );
        // Again: the Syncano duplicate message, as JSON.
        let r = post_json(
            &app,
            &format!("/user_groups/{g}/user-group-memberships.json"),
            &body,
        );
        assert_eq!(r.status, 422);
        assert_eq!(
            r.body,
            "{\"errors\":[\"Membership with this User and Group already exists.\"]}"
        );
    }
    let r = post_json(
        &app,
        &format!("/user_groups/{g}/user-group-memberships.json"),
        "{\"user\": 9.5}",
    );
    assert_eq!(r.status, 422);
    assert_eq!(
        r.body,
        "{\"errors\":[\"user-id must be a positive integer, not \\\"9.5\\\".\"]}"
    );
}

/// The same request in XML and in JSON: same status, same messages.
#[test]
fn json_errors_have_the_statuses_and_messages_of_xml() {
    let app = spawn_app();
    let (u, g) = (app.user("alice"), app.group("Editors"));
    app.add(u, g);
    let (_, plain) = crate::helpers::insert_user(&app.pool, "plain", false, None);
    type Case = (
        Method,
        String,
        Option<(&'static str, String)>,
        Option<String>,
    );
    let cases: Vec<Case> = vec![
        (
            Method::GET,
            "/user-group-memberships/999".into(),
            None,
            None,
        ),
        (
            Method::GET,
            "/user-group-memberships/abc".into(),
            None,
            None,
        ),
        (
            Method::GET,
            "/user-group-memberships?include=bogus&start=0".into(),
            None,
            None,
        ),
        (Method::DELETE, "/user-group-memberships".into(), None, None),
        (Method::GET, "/users/999".into(), None, None),
        (
            Method::GET,
            "/user_groups/999/user-group-memberships".into(),
            None,
            None,
        ),
        (Method::GET, "/me".into(), None, Some("".into())),
        (Method::GET, "/users".into(), None, Some(plain.clone())),
        (
            Method::POST,
            "/user-group-memberships".into(),
            Some(("duplicate", format!("{u}|{g}"))),
            None,
        ),
        (
            Method::POST,
            "/user-group-memberships".into(),
            Some(("missing", String::new())),
            None,
        ),
        (
            Method::POST,
            "/user_groups".into(),
            Some(("blank-group", String::new())),
            None,
        ),
    ];
    for (method, path, body, token) in cases {
        let mut messages = Vec::new();
        let mut statuses = Vec::new();
        for ext in ["xml", "json"] {
            let url = match path.split_once('?') {
                Some((p, q)) => format!("{p}.{ext}?{q}"),
                None => format!("{path}.{ext}"),
            };
            let mut request = app.client.request(method.clone(), app.url(&url));
            match &token {
                Some(t) if !t.is_empty() => request = request.header("X-API-KEY", t),
                Some(_) => {}
                None => request = request.header("X-API-KEY", &app.token),
            }
            if let Some((kind, data)) = &body {
                let (ct, text) = match (*kind, ext) {
                    ("duplicate", "xml") => {
                        let (u, g) = data.split_once('|').unwrap();
                        (
                            "application/xml",
                            format!(
                                "<user-group-membership><user-id>{u}</user-id><user-group-id>{g}</user-group-id></user-group-membership>"
                            ),
                        )
                    }
                    ("duplicate", _) => {
                        let (u, g) = data.split_once('|').unwrap();
                        (
                            "application/json",
                            format!("{{\"user_id\":{u},\"user_group_id\":{g}}}"),
                        )
                    }
                    ("missing", "xml") => {
                        ("application/xml", "<user-group-membership/>".to_string())
                    }
                    ("missing", _) => ("application/json", "{}".to_string()),
                    ("blank-group", "xml") => (
                        "application/xml",
                        "<user-group><name> </name></user-group>".to_string(),
                    ),
                    _ => (
                        "application/json",
                        "{\"user_group\":{\"name\":\" \"}}".to_string(),
                    ),
                };
                request = request.header("Content-Type", ct).body(text);
            }
            let r = app.send(request);
            statuses.push(r.status);
            if ext == "xml" {
                messages.push(r.errors());
            } else {
                assert_eq!(
                    r.header("content-type"),
                    Some("application/json; charset=utf-8"),
                    "{url}"
                );
                let v: serde_json::Value = serde_json::from_str(&r.body).unwrap();
                let list: Vec<String> = v["errors"]
                    .as_array()
                    .unwrap_or_else(|| panic!("{url}: {}", r.body))
                    .iter()
                    .map(|m| m.as_str().unwrap().to_string())
                    .collect();
                messages.push(list);
            }
        }
        assert!(statuses[0] >= 400, "{method} {path}: {statuses:?}");
        assert_eq!(statuses[0], statuses[1], "{method} {path}");
        assert_eq!(messages[0], messages[1], "{method} {path}");
        assert!(!messages[0].is_empty());
    }
}

#[test]
fn malformed_json_is_400() {
    let app = spawn_app();
    for (body, message) in [
        (
            "{\"user_id\": ",
            "The request body is not valid JSON (line 1, column 12).",
        ),
        ("[1, 2]", "The JSON body must be an object."),
        ("", "The request body is empty."),
    ] {
        let r = post_json(&app, "/user-group-memberships.json", body);
        assert_eq!(r.status, 400, "{body}");
        assert_eq!(r.body, format!("{{\"errors\":[\"{message}\"]}}"));
    }
}
