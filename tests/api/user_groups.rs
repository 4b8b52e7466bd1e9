//! User groups: list, show, create, update, delete, the alias, and their
//! bodies in XML and JSON.

use reqwest::Method;

use crate::helpers::{TestApp, id_of, ids_in_list, insert_user, spawn_app};

fn send_body(
    app: &TestApp,
    method: Method,
    path: &str,
    ct: &str,
    body: &str,
) -> crate::helpers::Resp {
    app.send(
        app.request(method, path)
            .header("Content-Type", ct)
            .body(body.to_string()),
    )
}

#[test]
fn create_show_update_and_list_a_group() {
    let app = spawn_app();
    let r = send_body(
        &app,
        Method::POST,
        "/user_groups.xml",
        "application/xml",
        "<user-group><name> Editors </name><description>People &amp; pens</description></user-group>",
    );
    assert_eq!(r.status, 201, "{r:?}");
    let id = id_of(&r.body);
    assert_eq!(
        r.header("location"),
        Some(format!("/user_groups/{id}.xml").as_str())
    );
    assert_eq!(
        r.body,
        format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<user-group>\n  <id type=\"integer\">{id}</id>\n  <name>Editors</name>\n  <description>People &amp; pens</description>\n</user-group>\n"
        )
    );
    assert_eq!(app.get(&format!("/user_groups/{id}.xml")).body, r.body);
    assert_eq!(app.get(&format!("/user-groups/{id}.xml")).body, r.body);

    // PUT changes only what it names; nil clears the description.
    let r = send_body(
        &app,
        Method::PUT,
        &format!("/user_groups/{id}.xml"),
        "application/xml",
        "<user_group><name>Writers</name></user_group>",
    );
    assert_eq!(r.status, 200, "{r:?}");
    assert!(
        r.body.contains("<name>Writers</name>")
            && r.body
                .contains("<description>People &amp; pens</description>")
    );
    let r = send_body(
        &app,
        Method::PUT,
        &format!("/user-groups/{id}.json"),
        "application/json",
        "{\"user_group\": {\"description\": null}}",
    );
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(
        r.body,
        format!("{{\"id\":{id},\"name\":\"Writers\",\"description\":null}}\n")
    );

    let r = send_body(
        &app,
        Method::POST,
        "/user-groups.json?include=timestamps",
        "application/json",
        "{\"name\": \"Readers\"}",
    );
    assert_eq!(r.status, 201);
    let created: serde_json::Value = serde_json::from_str(&r.body).unwrap();
    assert!(created["created_at"].as_str().unwrap().ends_with('Z'));
    assert_eq!(
        r.header("location"),
        Some(format!("/user_groups/{}.json", created["id"]).as_str())
    );

    let r = app.get("/user_groups.xml?include=timestamps");
    assert_eq!(r.header("x-total-count"), Some("2"));
    assert_eq!(r.body.matches("<user-group>").count(), 2);
    assert_eq!(r.body.matches("<created-at").count(), 2);
    assert!(
        r.body.starts_with(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<user-groups type=\"array\">\n"
        )
    );
    assert_eq!(
        app.get("/user_groups.xml?start=2")
            .body
            .matches("<name>Readers</name>")
            .count(),
        1
    );
}

#[test]
fn invalid_groups_are_422() {
    let app = spawn_app();
    let g = app.group("Editors");
    let cases = [
        (
            Method::POST,
            "/user_groups.xml".to_string(),
            "<user-group><name>  </name></user-group>",
            "Name can't be blank.",
        ),
        (
            Method::POST,
            "/user_groups.xml".to_string(),
            "<user-group><description>x</description></user-group>",
            "Name can't be blank.",
        ),
        (
            Method::POST,
            "/user_groups.xml".to_string(),
            "<user-group><name>Editors</name></user-group>",
            "A user group named \"Editors\" already exists.",
        ),
        (
            Method::PUT,
            format!("/user_groups/{g}.xml"),
            "<user-group><name></name></user-group>",
            "Name can't be blank.",
        ),
        (
            Method::PUT,
            format!("/user_groups/{g}.xml"),
            "<user-group><name nil=\"true\"/></user-group>",
            "Name can't be blank.",
        ),
    ];
    for (method, path, body, message) in cases {
        let r = send_body(&app, method.clone(), &path, "application/xml", body);
        assert_eq!(r.status, 422, "{method} {body}");
        assert_eq!(r.errors(), vec![message], "{method} {body}");
    }
    let long = format!("<user-group><name>{}</name></user-group>", "x".repeat(256));
    let r = send_body(
        &app,
        Method::POST,
        "/user_groups.xml",
        "application/xml",
        &long,
    );
    assert_eq!(r.status, 422);
    let other = app.group("Other");
    let r = send_body(
        &app,
        Method::PUT,
        &format!("/user_groups/{other}.xml"),
        "application/xml",
        "<user-group><name>Editors</name></user-group>",
    );
    assert_eq!(
        r.errors(),
        vec!["A user group named \"Editors\" already exists."]
    );
    let r = send_body(
        &app,
        Method::PUT,
        "/user_groups/999.xml",
        "application/xml",
        "<user-group><name>X</name></user-group>",
    );
    assert_eq!(r.status, 404);
    let r = send_body(
        &app,
        Method::POST,
        "/user_groups.xml",
        "application/xml",
        "<user-group-membership/>",
    );
    assert_eq!(r.status, 400);
    assert_eq!(
        r.errors(),
        vec!["The XML root element must be <user-group>, not <user-group-membership>."]
    );
}

#[test]
fn deleting_a_group_deletes_its_memberships_with_it() {
    let app = spawn_app();
    let (u, v) = (app.user("alice"), app.user("bob"));
    let (g, h) = (app.group("Editors"), app.group("Other"));
    app.add(u, g);
    app.add(v, g);
    let kept = app.add(u, h);
    let r = app.delete(&format!("/user_groups/{g}.xml"));
    assert_eq!(r.status, 200);
    assert_eq!(r.body, "");
    assert_eq!(app.get(&format!("/user_groups/{g}.xml")).status, 404);
    assert_eq!(
        app.get(&format!("/user_groups/{g}/user-group-memberships.xml"))
            .status,
        404
    );
    assert_eq!(
        ids_in_list(&app.get("/user-group-memberships.xml").body),
        vec![kept]
    );
    let r = app.delete(&format!("/user-groups/{g}.json"));
    assert_eq!(r.status, 404);
    assert_eq!(
        r.body,
        format!("{{\"errors\":[\"User group {g} does not exist.\"]}}")
    );
}

#[test]
fn group_routes_are_for_managers_only() {
    let app = spawn_app();
    let g = app.group("Editors");
    let (_, token) = insert_user(&app.pool, "plain", false, None);
    for (method, path) in [
        (Method::GET, "/user_groups.xml".to_string()),
        (Method::GET, format!("/user_groups/{g}.xml")),
        (Method::POST, "/user_groups.xml".to_string()),
        (Method::PUT, format!("/user_groups/{g}.xml")),
        (Method::DELETE, format!("/user-groups/{g}.xml")),
    ] {
        let r = app.send(
            app.client
                .request(method.clone(), app.url(&path))
                .header("X-API-KEY", &token)
                .header("Content-Type", "application/xml")
                .body("<user-group><name>Hacked</name></user-group>"),
        );
        assert_eq!(r.status, 403, "{method} {path}");
    }
    assert!(
        app.get(&format!("/user_groups/{g}.xml"))
            .body
            .contains("<name>Editors</name>")
    );
    assert_eq!(
        app.get("/user_groups.xml").header("x-total-count"),
        Some("1")
    );
}
