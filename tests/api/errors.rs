//! 404 for unknown routes, 405 with Allow, 406 for other formats.

use reqwest::Method;

use crate::helpers::spawn_app;

#[test]
fn unknown_routes_are_404_with_an_errors_body() {
    let app = spawn_app();
    for path in [
        "/",
        "/nope.xml",
        "/user-group-memberships/1/extra.xml",
        "/users.xml/x",
    ] {
        let r = app.get(path);
        assert_eq!(r.status, 404, "{path}");
        assert_eq!(r.errors().len(), 1, "{path}");
    }
}

#[test]
fn a_wrong_method_is_405_with_allow() {
    let app = spawn_app();
    let (u, g) = (app.user("alice"), app.group("Editors"));
    let id = app.add(u, g);
    let cases = [
        (
            Method::PUT,
            "/user-group-memberships.xml".to_string(),
            "GET, HEAD, POST",
        ),
        (
            Method::DELETE,
            "/user-group-memberships.xml".to_string(),
            "GET, HEAD, POST",
        ),
        (
            Method::POST,
            format!("/user-group-memberships/{id}.xml"),
            "GET, HEAD, DELETE",
        ),
        (
            Method::PUT,
            format!("/user-group-memberships/{id}.json"),
            "GET, HEAD, DELETE",
        ),
        (
            Method::DELETE,
            format!("/users/{u}/user-group-memberships.xml"),
            "GET, HEAD, POST",
        ),
        (
            Method::PATCH,
            format!("/user_groups/{g}/user-group-memberships.xml"),
            "GET, HEAD, POST",
        ),
        (
            Method::PUT,
            format!("/user-groups/{g}/user-group-memberships.xml"),
            "GET, HEAD, POST",
        ),
        (Method::POST, "/me.xml".to_string(), "GET, HEAD"),
        (Method::DELETE, "/users.xml".to_string(), "GET, HEAD"),
        (Method::PUT, format!("/users/{u}.xml"), "GET, HEAD"),
        (
            Method::DELETE,
            "/user_groups.xml".to_string(),
            "GET, HEAD, POST",
        ),
        (
            Method::POST,
            format!("/user-groups/{g}.xml"),
            "GET, HEAD, PUT, DELETE",
        ),
        (
            Method::PATCH,
            format!("/user_groups/{g}"),
            "GET, HEAD, PUT, DELETE",
        ),
    ];
    for (method, path, allow) in cases {
        let r = app.send(app.request(method.clone(), &path));
        assert_eq!(r.status, 405, "{method} {path}");
        assert_eq!(r.header("allow"), Some(allow), "{method} {path}");
        let message = format!("This resource only allows {allow}.");
        if path.ends_with(".json") {
            assert_eq!(r.body, format!("{{\"errors\":[\"{message}\"]}}"));
        } else {
            assert_eq!(r.errors(), vec![message]);
        }
    }
    // Nothing was deleted.
    assert_eq!(
        app.get(&format!("/user-group-memberships/{id}.xml")).status,
        200
    );
}

#[test]
fn formats_other_than_xml_and_json_are_406() {
    let app = spawn_app();
    let id = app.add(app.user("alice"), app.group("Editors"));
    for ext in ["csv", "yaml"] {
        for path in [
            format!("/user-group-memberships/{id}.{ext}"),
            format!("/user-group-memberships.{ext}"),
            format!("/me.{ext}"),
            format!("/user_groups.{ext}"),
        ] {
            let r = app.get(&path);
            assert_eq!(r.status, 406, "{path}");
            assert!(!r.errors()[0].is_empty());
        }
    }
    // HTML only where there is a page; elsewhere the 406 is itself a page.
    assert_eq!(app.get("/user-group-memberships.html").status, 200);
    for path in [
        format!("/user-group-memberships/{id}.html"),
        "/me.html".to_string(),
        "/user_groups.html".to_string(),
    ] {
        let r = app.get(&path);
        assert_eq!(r.status, 406, "{path}");
        assert_eq!(r.header("content-type"), Some("text/html; charset=utf-8"));
        assert!(
            r.body
                .contains("There is no .html version of this resource"),
            "{path}: {}",
            r.body
        );
    }
    // Accept naming only formats syncd does not serve is 406 as well.
    let r = app.send(
        app.request(Method::GET, &format!("/user-group-memberships/{id}"))
            .header("Accept", "text/csv, application/yaml"),
    );
    assert_eq!(r.status, 406);
    assert_eq!(
        r.errors(),
        vec![
            "None of the types in Accept is served here: ask for application/xml or application/json."
        ]
    );
    // Upper-case extensions are the same formats.
    assert_eq!(
        app.get(&format!("/user-group-memberships/{id}.XML")).status,
        200
    );
}
