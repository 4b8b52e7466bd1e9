//! Browser form bodies (urlencoded and multipart, bracketed and flat names),
//! `_method` on POST, and the refusal of forms from other sites.

use reqwest::Method;
use reqwest::blocking::multipart::Form;

use crate::helpers::{Resp, TestApp, id_of, ids_in_list, spawn_app};

/// A form post signed as the manager, from `origin` (or no Origin at all).
fn post_form(app: &TestApp, path: &str, body: &str, origin: Option<&str>) -> Resp {
    let mut request = app
        .request(Method::POST, path)
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(body.to_string());
    if let Some(origin) = origin {
        request = request.header("Origin", origin);
    }
    app.send(request)
}

fn own(app: &TestApp) -> String {
    app.address.clone()
}

fn membership_count(app: &TestApp) -> usize {
    ids_in_list(&app.get("/user-group-memberships.xml").body).len()
}

#[test]
fn urlencoded_bodies_create_memberships_with_bracketed_or_flat_names() {
    let app = spawn_app();
    let (u, g, h) = (
        app.user("alice"),
        app.group("Editors"),
        app.group("Readers"),
    );
    let origin = own(&app);
    let bracketed = format!(
        "user_group_membership%5Buser_id%5D={u}&user_group_membership%5Buser_group_id%5D={g}"
    );
    let r = post_form(
        &app,
        "/user-group-memberships.xml",
        &bracketed,
        Some(&origin),
    );
    assert_eq!(r.status, 201, "{r:?}");
    assert!(r.body.contains(&format!(
        "<user-group-id type=\"integer\">{g}</user-group-id>"
    )));
    let location = r.header("location").unwrap().to_string();
    assert_eq!(
        location,
        format!("/user-group-memberships/{}.xml", id_of(&r.body))
    );

    let flat = format!("user_id={u}&user_group_id={h}");
    let r = post_form(&app, "/user-group-memberships.json", &flat, Some(&origin));
    assert_eq!(r.status, 201, "{r:?}");
    assert!(
        r.body.contains(&format!("\"user_group_id\":{h}")),
        "{}",
        r.body
    );

    // The same pair again: the contract's message, in the requested format.
    let r = post_form(&app, "/user-group-memberships.xml", &flat, Some(&origin));
    assert_eq!(r.status, 422);
    assert_eq!(
        r.errors(),
        vec!["Membership with this User and Group already exists."]
    );
    let r = post_form(
        &app,
        "/user-group-memberships.xml",
        "user_id=&user_group_id=x",
        Some(&origin),
    );
    assert_eq!(r.status, 422);
    assert_eq!(
        r.errors(),
        vec![
            "user-id is missing.",
            "user-group-id must be a positive integer, not \"x\"."
        ]
    );
    assert_eq!(membership_count(&app), 2);
}

#[test]
fn multipart_bodies_create_memberships_and_user_groups() {
    let app = spawn_app();
    let (u, g) = (app.user("alice"), app.group("Editors"));
    let form = Form::new()
        .text("user_group_membership[user_id]", u.to_string())
        .text("user_group_membership[user_group_id]", g.to_string());
    let r = app.send(
        app.request(Method::POST, "/user-group-memberships.xml")
            .header("Origin", own(&app))
            .multipart(form),
    );
    assert_eq!(r.status, 201, "{r:?}");
    assert_eq!(membership_count(&app), 1);

    let form = Form::new()
        .text("user_group[name]", "Writers")
        .text("user_group[description]", "They write.");
    let r = app.send(
        app.request(Method::POST, "/user_groups.xml")
            .header("Origin", own(&app))
            .multipart(form),
    );
    assert_eq!(r.status, 201, "{r:?}");
    assert!(r.body.contains("<name>Writers</name>"));
    assert!(r.body.contains("<description>They write.</description>"));

    // A body cut short is a 400, not a 500 and not a half-read record.
    let r = app.send(
        app.request(Method::POST, "/user_groups.xml")
            .header("Origin", own(&app))
            .header("Content-Type", "multipart/form-data; boundary=XyZ")
            .body("--XyZ\r\nContent-Disposition: form-data; name=\"name\"\r\n\r\nHalf"),
    );
    assert_eq!(r.status, 400);
    assert_eq!(
        r.errors(),
        vec!["The multipart form body could not be read."]
    );
    let r = app.send(
        app.request(Method::POST, "/user_groups.xml")
            .header("Origin", own(&app))
            .header("Content-Type", "multipart/form-data")
            .body("name=x"),
    );
    assert_eq!(r.status, 400);
    assert_eq!(
        r.errors(),
        vec!["A multipart/form-data body needs a boundary."]
    );
}

#[test]
fn user_group_forms_create_update_and_delete() {
    let app = spawn_app();
    let origin = own(&app);
    let r = post_form(
        &app,
        "/user_groups.xml",
        "user_group%5Bname%5D=Editors&user_group%5Bdescription%5D=Edit+things",
        Some(&origin),
    );
    assert_eq!(r.status, 201, "{r:?}");
    let id = id_of(&r.body);
    let r = post_form(&app, "/user_groups.xml", "name=+", Some(&origin));
    assert_eq!(r.status, 422);
    assert_eq!(r.errors(), vec!["Name can't be blank."]);

    for method in ["put", "PATCH"] {
        let r = post_form(
            &app,
            &format!("/user_groups/{id}.xml"),
            &format!("_method={method}&user_group%5Bname%5D=Editors-{method}"),
            Some(&origin),
        );
        assert_eq!(r.status, 200, "{r:?}");
        assert!(r.body.contains(&format!("<name>Editors-{method}</name>")));
        assert!(r.body.contains("<description>Edit things</description>"));
    }
    let member = app.add(app.user("alice"), id);
    let r = post_form(
        &app,
        &format!("/user-groups/{id}.xml"),
        "_method=delete",
        Some(&origin),
    );
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.body, "");
    assert_eq!(app.get(&format!("/user_groups/{id}.xml")).status, 404);
    assert_eq!(
        app.get(&format!("/user-group-memberships/{member}.xml"))
            .status,
        404
    );
}

#[test]
fn underscore_method_delete_on_post_deletes_a_membership() {
    let app = spawn_app();
    let (u, g) = (app.user("alice"), app.group("Editors"));
    let id = app.add(u, g);
    let origin = own(&app);
    let path = format!("/user-group-memberships/{id}");
    let r = post_form(&app, &path, "_method=delete", Some(&origin));
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.body, "");
    assert_eq!(membership_count(&app), 0);
    let r = post_form(&app, &path, "_method=delete", Some(&origin));
    assert_eq!(r.status, 404);
    assert_eq!(r.errors(), vec![format!("Membership {id} does not exist.")]);

    // multipart works the same way.
    let id = app.add(u, g);
    let r = app.send(
        app.request(Method::POST, &format!("/user-group-memberships/{id}.json"))
            .header("Origin", own(&app))
            .multipart(Form::new().text("_method", "delete")),
    );
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(membership_count(&app), 0);
}

#[test]
fn post_to_a_record_without_a_usable_method_is_405() {
    let app = spawn_app();
    let id = app.add(app.user("alice"), app.group("Editors"));
    let origin = own(&app);
    let one = format!("/user-group-memberships/{id}.xml");
    for body in ["", "_method=put", "_method=get", "user_id=1"] {
        let r = post_form(&app, &one, body, Some(&origin));
        assert_eq!(r.status, 405, "{body}");
        assert_eq!(r.header("allow"), Some("GET, HEAD, DELETE"));
    }
    // An XML POST cannot stand in for DELETE.
    let r = app.post_xml(&one, "<_method>delete</_method>");
    assert_eq!(r.status, 405);
    let group = format!("/user_groups/{}.xml", app.group("Readers"));
    let r = post_form(&app, &group, "_method=post", Some(&origin));
    assert_eq!(r.status, 405);
    assert_eq!(r.header("allow"), Some("GET, HEAD, PUT, DELETE"));
    assert_eq!(membership_count(&app), 1);
}

#[test]
fn forms_from_other_sites_or_from_nowhere_are_refused_and_change_nothing() {
    let app = spawn_app();
    let (u, g) = (app.user("alice"), app.group("Editors"));
    let id = app.add(u, g);
    let body = format!("user_id={u}&user_group_id={}", app.group("Readers"));
    let delete = format!("/user-group-memberships/{id}");
    for origin in [
        Some("http://evil.example.com"),
        Some("null"),
        Some("http://127.0.0.1:1"),
        None,
    ] {
        for (path, body) in [
            ("/user-group-memberships.xml", body.as_str()),
            (delete.as_str(), "_method=delete"),
            ("/user_groups.xml", "name=Evil"),
        ] {
            let r = post_form(&app, path, body, origin);
            assert_eq!(r.status, 403, "{origin:?} {path}");
            assert!(r.errors()[0].starts_with("This form was refused"), "{r:?}");
        }
    }
    // Without Origin, the Referer decides.
    let refused = app.send(
        app.request(Method::POST, "/user_groups.xml")
            .header("Content-Type", "application/x-www-form-urlencoded")
            .header("Referer", "http://evil.example.com/page.html")
            .body("name=Evil"),
    );
    assert_eq!(refused.status, 403);
    let accepted = app.send(
        app.request(Method::POST, "/user_groups.xml")
            .header("Content-Type", "application/x-www-form-urlencoded")
            .header(
                "Referer",
                format!("{}/user-group-memberships.html", app.address),
            )
            .body("name=Fine"),
    );
    assert_eq!(accepted.status, 201, "{accepted:?}");
    // A JSON client learns why too.
    let r = post_form(&app, "/user_groups.json", "name=Evil", None);
    assert_eq!(r.status, 403);
    assert!(r.body.starts_with("{\"errors\":[\"This form was refused"));

    assert_eq!(
        ids_in_list(&app.get("/user-group-memberships.xml").body),
        vec![id]
    );
    let groups = app.get("/user_groups.xml").body;
    assert!(!groups.contains("Evil"), "{groups}");
}

#[test]
fn xml_and_json_from_scripts_need_no_origin() {
    let app = spawn_app();
    let (u, g) = (app.user("alice"), app.group("Editors"));
    let r = app.send(
        app.request(Method::POST, "/user-group-memberships.json")
            .header("Content-Type", "application/json")
            .header("Origin", "http://evil.example.com")
            .body(format!(r#"{{"user_id": {u}, "user_group_id": {g}}}"#)),
    );
    assert_eq!(r.status, 201, "{r:?}");
    let id = id_of(&app.get("/user-group-memberships.xml").body);
    assert_eq!(
        app.delete(&format!("/user-group-memberships/{id}.xml"))
            .status,
        200
    );
    // A form content type on a read is not a state change.
    let r = app.send(
        app.request(Method::GET, "/user-group-memberships.xml")
            .header("Content-Type", "application/x-www-form-urlencoded"),
    );
    assert_eq!(r.status, 200);
}

#[test]
fn allowed_origins_may_post_forms() {
    let app = TestApp::builder()
        .allowing("https://intranet.example.com, http://tools.example.com:8080")
        .spawn();
    let (u, g) = (app.user("alice"), app.group("Editors"));
    let body = format!("user_id={u}&user_group_id={g}");
    let r = post_form(
        &app,
        "/user-group-memberships.xml",
        &body,
        Some("https://intranet.example.com"),
    );
    assert_eq!(r.status, 201, "{r:?}");
    let r = post_form(
        &app,
        "/user_groups.xml",
        "name=Tools",
        Some("http://tools.example.com:8080"),
    );
    assert_eq!(r.status, 201, "{r:?}");
    for origin in [
        "http://intranet.example.com",
        "https://tools.example.com:8080",
    ] {
        let r = post_form(&app, "/user_groups.xml", "name=Other", Some(origin));
        assert_eq!(r.status, 403, "{origin}");
    }
}

#[test]
fn the_cross_site_check_comes_before_sign_in() {
    let app = spawn_app();
    let r = app.send(
        app.client
            .post(app.url("/user-group-memberships.xml"))
            .header("Content-Type", "application/x-www-form-urlencoded")
            .header("Origin", "http://evil.example.com")
            .body("user_id=1&user_group_id=1"),
    );
    // No login prompt for a page on another site.
    assert_eq!(r.status, 403);
    assert_eq!(r.header("www-authenticate"), None);
}
