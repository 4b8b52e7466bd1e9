//! The three creates: bodies clients send, Location, validation, duplicates,
//! nested routes, and concurrent duplicates.

use crate::helpers::{id_of, membership_xml, spawn_app};

#[test]
fn an_active_resource_body_creates_a_membership() {
    let app = spawn_app();
    let (u, g) = (app.user("alice"), app.group("Editors"));
    let body = format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<user-group-membership>
  <user-id type="integer">{u}</user-id>
  <user-group-id type="integer">{g}</user-group-id>
</user-group-membership>
"#
    );
    let r = app.post_xml("/user-group-memberships.xml", &body);
    assert_eq!(r.status, 201, "{r:?}");
    let id = id_of(&r.body);
    assert_eq!(
        r.header("location"),
        Some(format!("/user-group-memberships/{id}.xml").as_str())
    );
    assert_eq!(
        r.header("content-type"),
        Some("application/xml; charset=utf-8")
    );
    assert_eq!(
        r.body,
        format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<user-group-membership>\n  <id type=\"integer\">{id}</id>\n  <user-id type=\"integer\">{u}</user-id>\n  <user-group-id type=\"integer\">{g}</user-group-id>\n</user-group-membership>\n"
        )
    );
    let shown = app.get(&format!("/user-group-memberships/{id}.xml"));
    assert_eq!(shown.body, r.body);
}

#[test]
fn every_body_variant_of_the_contract_is_accepted() {
    let app = spawn_app();
    let g = app.group("Editors");
    let variants = [
        "<user-group-membership><user-id>{u}</user-id><user-group-id>{g}</user-group-id></user-group-membership>",
        "<user_group_membership><user_id>{u}</user_id><user_group_id>{g}</user_group_id></user_group_membership>",
        "<?xml version=\"1.0\"?>\n\n  <user-group-membership>\n\t<user-id type=\"integer\">\n {u} \n</user-id>\n<user-group-id>{g}</user-group-id>\n</user-group-membership>\n\n",
        "<user-group-membership><id>77</id><note>ignored</note><user-id>{u}</user-id><extra><deep/></extra><user-group-id>{g}</user-group-id><created-at>x</created-at></user-group-membership>",
        "<!-- a comment --><user-group-membership><user-id>{u}</user-id><user-group-id><![CDATA[{g}]]></user-group-id></user-group-membership>",
    ];
    for (i, template) in variants.iter().enumerate() {
        let u = app.user(&format!("user{i}"));
        let body = template
            .replace("{u}", &u.to_string())
            .replace("{g}", &g.to_string());
        for ct in ["application/xml", "text/xml; charset=utf-8"] {
            let r = app.send(
                app.request(reqwest::Method::POST, "/user-group-memberships.xml")
                    .header("Content-Type", ct)
                    .body(body.clone()),
            );
            if ct == "application/xml" {
                assert_eq!(r.status, 201, "{body}: {r:?}");
                assert!(
                    r.body
                        .contains(&format!("<user-id type=\"integer\">{u}</user-id>"))
                );
                assert_ne!(id_of(&r.body), 77, "the id in a body is ignored");
            } else {
                assert_eq!(r.status, 422, "the second time is a duplicate: {r:?}");
            }
        }
    }
}

#[test]
fn create_with_include_timestamps_shows_them() {
    let app = spawn_app();
    let (u, g) = (app.user("alice"), app.group("Editors"));
    let r = app.post_xml(
        "/user-group-memberships.xml?include=timestamps,users",
        &membership_xml(u, g),
    );
    assert_eq!(r.status, 201);
    assert_eq!(r.body.matches("<created-at type=\"datetime\">").count(), 2);
    assert!(r.body.contains("<login>alice</login>"));
}

#[test]
fn create_returns_422_for_a_duplicate_membership() {
    let app = spawn_app();
    let (u, g) = (app.user("alice"), app.group("Editors"));
    app.add(u, g);
    let r = app.post_xml("/user-group-memberships.xml", &membership_xml(u, g));
    assert_eq!(r.status, 422);
    assert_eq!(
        r.errors(),
        vec!["Membership with this User and Group already exists."]
    );
    assert_eq!(
        app.get("/user-group-memberships.xml")
            .header("x-total-count"),
        Some("1")
    );
    // One row, and one `added` event for it.
    let feed = app.get(&format!(
        "/membership-events.xml?user_id={u}&user_group_id={g}"
    ));
    assert_eq!(feed.header("x-total-count"), Some("1"));
    assert_eq!(feed.body.matches("<action>added</action>").count(), 1);
}

#[test]
fn create_returns_422_for_missing_or_bad_ids_one_error_each() {
    let app = spawn_app();
    let (u, g) = (app.user("alice"), app.group("Editors"));
    let cases: Vec<(String, Vec<String>)> = vec![
        (
            "<user-group-membership></user-group-membership>".into(),
            vec![
                "user-id is missing.".into(),
                "user-group-id is missing.".into(),
            ],
        ),
        (
            format!(
                "<user-group-membership><user-group-id>{g}</user-group-id></user-group-membership>"
            ),
            vec!["user-id is missing.".into()],
        ),
        (
            format!(
                "<user-group-membership><user-id nil=\"true\"/><user-group-id>{g}</user-group-id></user-group-membership>"
            ),
            vec!["user-id is missing.".into()],
        ),
        (
            format!(
                "<user-group-membership><user-id>  </user-id><user-group-id>{g}</user-group-id></user-group-membership>"
            ),
            vec!["user-id is missing.".into()],
        ),
        (
            format!(
                "<user-group-membership><user-id>abc</user-id><user-group-id>{g}</user-group-id></user-group-membership>"
            ),
            vec!["user-id must be a positive integer, not \"abc\".".into()],
        ),
        (
            format!(
                "<user-group-membership><user-id>{u}</user-id><user-group-id>-4</user-group-id></user-group-membership>"
            ),
            vec!["user-group-id must be a positive integer, not \"-4\".".into()],
        ),
        (
            format!(
                "<user-group-membership><user-id>{u}</user-id><user-group-id>1.0</user-group-id></user-group-membership>"
            ),
            vec!["user-group-id must be a positive integer, not \"1.0\".".into()],
        ),
        (
            membership_xml(999, g),
            vec!["User 999 does not exist.".into()],
        ),
        (
            membership_xml(u, 998),
            vec!["User group 998 does not exist.".into()],
        ),
        (
            membership_xml(999, 998),
            vec![
                "User 999 does not exist.".into(),
                "User group 998 does not exist.".into(),
            ],
        ),
    ];
    for (body, messages) in cases {
        let r = app.post_xml("/user-group-memberships.xml", &body);
        assert_eq!(r.status, 422, "{body}");
        assert_eq!(r.errors(), messages, "{body}");
    }
    assert_eq!(
        app.get("/user-group-memberships.xml")
            .header("x-total-count"),
        Some("0")
    );
}

#[test]
fn nested_create_under_a_group_takes_only_the_user() {
    let app = spawn_app();
    let (u, g) = (app.user("alice"), app.group("Editors"));
    for prefix in ["/user_groups", "/user-groups"] {
        let u = app.user(&format!("via{}", &prefix[5..6]));
        let r = app.post_xml(
            &format!("{prefix}/{g}/user-group-memberships.xml"),
            &format!("<user-group-membership><user-id type=\"integer\">{u}</user-id></user-group-membership>"),
        );
        assert_eq!(r.status, 201, "{prefix}: {r:?}");
        assert!(r.body.contains(&format!(
            "<user-group-id type=\"integer\">{g}</user-group-id>"
        )));
        assert!(
            r.header("location")
                .unwrap()
                .starts_with("/user-group-memberships/")
        );
    }
    // The same group id in the body is fine; a different one is not.
    let r = app.post_xml(
        &format!("/user_groups/{g}/user-group-memberships.xml"),
        &membership_xml(u, g),
    );
    assert_eq!(r.status, 201);
    let other = app.group("Other");
    let r = app.post_xml(
        &format!("/user_groups/{g}/user-group-memberships.xml"),
        &membership_xml(u, other),
    );
    assert_eq!(r.status, 422);
    assert_eq!(
        r.errors(),
        vec![format!(
            "user-group-id in the body ({other}) does not match the one in the path ({g})."
        )]
    );
}

#[test]
fn nested_create_under_a_user_takes_only_the_group() {
    let app = spawn_app();
    let (u, g) = (app.user("alice"), app.group("Editors"));
    let r = app.post_xml(
        &format!("/users/{u}/user-group-memberships.xml"),
        &format!(
            "<user-group-membership><user-group-id>{g}</user-group-id></user-group-membership>"
        ),
    );
    assert_eq!(r.status, 201, "{r:?}");
    assert!(
        r.body
            .contains(&format!("<user-id type=\"integer\">{u}</user-id>"))
    );
    let r = app.post_xml(
        &format!("/users/{u}/user-group-memberships.xml"),
        "<user-group-membership/>",
    );
    assert_eq!(r.status, 422);
    assert_eq!(r.errors(), vec!["user-group-id is missing."]);
}

#[test]
fn nested_create_under_a_missing_parent_is_404() {
    let app = spawn_app();
    let (u, g) = (app.user("alice"), app.group("Editors"));
    let r = app.post_xml(
        "/user_groups/999/user-group-memberships.xml",
        &membership_xml(u, 999),
    );
    assert_eq!(r.status, 404);
    assert_eq!(r.errors(), vec!["User group 999 does not exist."]);
    let r = app.post_xml(
        "/users/999/user-group-memberships.xml",
        &membership_xml(999, g),
    );
    assert_eq!(r.status, 404);
    assert_eq!(r.errors(), vec!["User 999 does not exist."]);
    // The parent is checked before the body's contents.
    let r = app.post_xml(
        "/users/999/user-group-memberships.xml",
        "<user-group-membership/>",
    );
    assert_eq!(r.status, 404);
}

#[test]
fn twenty_concurrent_duplicate_creates_give_exactly_one_201() {
    let app = std::sync::Arc::new(spawn_app());
    let (u, g) = (app.user("alice"), app.group("Editors"));
    let barrier = std::sync::Arc::new(std::sync::Barrier::new(20));
    let handles: Vec<_> = (0..20)
        .map(|_| {
            let app = app.clone();
            let barrier = barrier.clone();
            std::thread::spawn(move || {
                barrier.wait();
                app.post_xml("/user-group-memberships.xml", &membership_xml(u, g))
            })
        })
        .collect();
    let responses: Vec<_> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    let created = responses.iter().filter(|r| r.status == 201).count();
    let duplicates = responses.iter().filter(|r| r.status == 422).count();
    assert_eq!((created, duplicates), (1, 19), "{responses:?}");
    for r in responses.iter().filter(|r| r.status == 422) {
        assert_eq!(
            r.errors(),
            vec!["Membership with this User and Group already exists."]
        );
    }
    assert_eq!(
        app.get("/user-group-memberships.xml")
            .header("x-total-count"),
        Some("1")
    );
    // One row, and one `added` event for it.
    let feed = app.get(&format!(
        "/membership-events.xml?user_id={u}&user_group_id={g}"
    ));
    assert_eq!(feed.header("x-total-count"), Some("1"));
    assert_eq!(feed.body.matches("<action>added</action>").count(), 1);
}
