//! Sign-in by token (X-API-KEY, Basic TOKEN:X) and by login:password; 401
//! and 403; the manager check on every manager route.

use reqwest::Method;

use crate::helpers::{basic, insert_user, membership_xml, spawn_app};

#[test]
fn no_credentials_is_401_with_www_authenticate() {
    let app = spawn_app();
    for path in [
        "/user-group-memberships.xml",
        "/me.xml",
        "/user-group-memberships/1.xml",
    ] {
        let r = app.send(app.client.get(app.url(path)));
        assert_eq!(r.status, 401, "{path}");
        assert_eq!(r.header("www-authenticate"), Some("Basic realm=\"Syncd\""));
        assert_eq!(r.errors().len(), 1);
    }
}

#[test]
fn wrong_credentials_are_401() {
    let app = spawn_app();
    insert_user(&app.pool, "alice", true, Some("right-password"));
    let wrong = [
        ("X-API-KEY", "0".repeat(64)),
        ("X-API-KEY", format!("{}x", app.token)),
        ("Authorization", basic("nobody-token", "X")),
        ("Authorization", basic("alice", "wrong-password")),
        ("Authorization", basic("alice", "")),
        ("Authorization", basic("nobody", "right-password")),
        ("Authorization", "Basic not-base64!".to_string()),
        ("Authorization", "Digest username=alice".to_string()),
    ];
    for (header, value) in wrong {
        let r = app.send(app.client.get(app.url("/me.xml")).header(header, &value));
        assert_eq!(r.status, 401, "{header}: {value}");
        assert_eq!(r.header("www-authenticate"), Some("Basic realm=\"Syncd\""));
    }
}

#[test]
fn a_token_works_as_x_api_key_and_as_basic_user_name() {
    let app = spawn_app();
    let r = app.send(
        app.client
            .get(app.url("/me.xml"))
            .header("X-API-KEY", &app.token),
    );
    assert_eq!(r.status, 200);
    for password in ["X", "", "anything at all"] {
        let r = app.send(
            app.client
                .get(app.url("/user-group-memberships.xml"))
                .header("Authorization", basic(&app.token, password)),
        );
        assert_eq!(r.status, 200, "password {password:?}");
    }
}

#[test]
fn login_and_password_work_and_repeat_quickly() {
    let app = spawn_app();
    let (id, _) = insert_user(&app.pool, "alice", true, Some("correct horse"));
    for _ in 0..3 {
        let r = app.send(
            app.client
                .get(app.url("/me.xml"))
                .header("Authorization", basic("alice", "correct horse")),
        );
        assert_eq!(r.status, 200);
        assert!(r.body.contains(&format!("<id type=\"integer\">{id}</id>")));
    }
    // The remembered sign-in does not let a wrong password through.
    let r = app.send(
        app.client
            .get(app.url("/me.xml"))
            .header("Authorization", basic("alice", "correct horsf")),
    );
    assert_eq!(r.status, 401);
}

#[test]
fn a_signed_in_non_manager_gets_403_on_every_manager_route_and_changes_nothing() {
    let app = spawn_app();
    let (u, g) = (app.user("alice"), app.group("Editors"));
    let id = app.add(u, g);
    let (_, token) = insert_user(&app.pool, "plain", false, Some("pw"));
    let routes = [
        (Method::GET, "/user-group-memberships.xml".to_string()),
        (Method::GET, format!("/user-group-memberships/{id}.xml")),
        (
            Method::GET,
            format!("/users/{u}/user-group-memberships.xml"),
        ),
        (
            Method::GET,
            format!("/user_groups/{g}/user-group-memberships.xml"),
        ),
        (
            Method::GET,
            format!("/user-groups/{g}/user-group-memberships.xml"),
        ),
        (Method::POST, "/user-group-memberships.xml".to_string()),
        (
            Method::POST,
            format!("/users/{u}/user-group-memberships.xml"),
        ),
        (
            Method::POST,
            format!("/user_groups/{g}/user-group-memberships.xml"),
        ),
        (Method::DELETE, format!("/user-group-memberships/{id}.xml")),
    ];
    let other = app.group("Other");
    for (method, path) in routes {
        for auth in [
            ("X-API-KEY", token.clone()),
            ("Authorization", basic("plain", "pw")),
        ] {
            let r = app.send(
                app.client
                    .request(method.clone(), app.url(&path))
                    .header(auth.0, &auth.1)
                    .header("Content-Type", "application/xml")
                    .body(membership_xml(u, other)),
            );
            assert_eq!(r.status, 403, "{method} {path}");
            assert_eq!(
                r.errors(),
                vec![
                    "Only User Group Managers can see or change user groups and their memberships."
                ]
            );
        }
    }
    let list = app.get("/user-group-memberships.xml");
    assert_eq!(crate::helpers::ids_in_list(&list.body), vec![id]);
    // /me is open to them.
    assert_eq!(app.get_as(&token, "/me.xml").status, 200);
}

#[test]
fn unknown_routes_are_404_even_without_credentials() {
    let app = spawn_app();
    let r = app.send(app.client.get(app.url("/secret-admin.xml")));
    assert_eq!(r.status, 404);
}
