//! The three lists: order, start/end with every edge, X-Total-Count,
//! includes, nested 404s, and streaming past one chunk.

use crate::helpers::{TestApp, ids_in_list, spawn_app};

/// An app with `n` memberships (n users in one group); returns their ids.
fn app_with(n: usize) -> (TestApp, Vec<i64>) {
    let app = spawn_app();
    let g = app.group("Editors");
    let ids = (0..n)
        .map(|i| app.add_directly(app.user(&format!("u{i}")), g))
        .collect();
    (app, ids)
}

#[test]
fn lists_are_ordered_by_id_and_carry_the_total() {
    let app = spawn_app();
    let g1 = app.group("g1");
    let g2 = app.group("g2");
    let u = app.user("u");
    let v = app.user("v");
    let a = app.add(v, g2);
    let b = app.add(u, g1);
    let c = app.add(u, g2);
    let r = app.get("/user-group-memberships.xml");
    assert_eq!(r.status, 200);
    assert_eq!(ids_in_list(&r.body), vec![a, b, c]);
    assert_eq!(r.header("x-total-count"), Some("3"));
    assert!(r.body.starts_with(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<user-group-memberships type=\"array\">\n"
    ));
}

#[test]
fn start_and_end_select_a_one_based_inclusive_range() {
    let (app, ids) = app_with(10);
    let cases: &[(&str, &[usize])] = &[
        ("start=1&end=4", &[0, 1, 2, 3]),
        ("start=3", &[2, 3, 4, 5, 6, 7, 8, 9]),
        ("end=2", &[0, 1]),
        ("start=10&end=10", &[9]),
        ("start=8&end=50", &[7, 8, 9]),
        ("start=11", &[]),
        ("start=11&end=20", &[]),
        ("start=&end=", &[0, 1, 2, 3, 4, 5, 6, 7, 8, 9]),
        ("start=2&end=3&start=4&end=5", &[3, 4]),
    ];
    for (query, expected) in cases {
        let r = app.get(&format!("/user-group-memberships.xml?{query}"));
        assert_eq!(r.status, 200, "{query}");
        let want: Vec<i64> = expected.iter().map(|&i| ids[i]).collect();
        assert_eq!(ids_in_list(&r.body), want, "{query}");
        assert_eq!(r.header("x-total-count"), Some("10"), "{query}");
        if expected.is_empty() {
            assert!(
                r.body
                    .ends_with("<user-group-memberships type=\"array\"/>\n"),
                "{query}"
            );
        }
    }
}

#[test]
fn bad_start_or_end_is_400_with_a_message_each() {
    let (app, _) = app_with(2);
    let cases: &[(&str, &[&str])] = &[
        (
            "start=0",
            &["start must be a positive integer (1, 2, 3, ...), not \"0\"."],
        ),
        (
            "start=-1",
            &["start must be a positive integer (1, 2, 3, ...), not \"-1\"."],
        ),
        (
            "end=abc",
            &["end must be a positive integer (1, 2, 3, ...), not \"abc\"."],
        ),
        (
            "start=1.5",
            &["start must be a positive integer (1, 2, 3, ...), not \"1.5\"."],
        ),
        (
            "start=5&end=4",
            &["end (4) must not be less than start (5)."],
        ),
        (
            "start=x&end=y",
            &[
                "start must be a positive integer (1, 2, 3, ...), not \"x\".",
                "end must be a positive integer (1, 2, 3, ...), not \"y\".",
            ],
        ),
        (
            "start=99999999999999999999",
            &["start is too large: the largest value is 9223372036854775807."],
        ),
        (
            "include=nope&start=0",
            &[
                "include has an unknown name \"nope\": the valid names are users, user_groups and timestamps.",
                "start must be a positive integer (1, 2, 3, ...), not \"0\".",
            ],
        ),
    ];
    for (query, messages) in cases {
        let r = app.get(&format!("/user-group-memberships.xml?{query}"));
        assert_eq!(r.status, 400, "{query}");
        assert_eq!(r.errors(), messages.to_vec(), "{query}");
    }
}

#[test]
fn lists_by_user_and_by_group_hold_only_theirs() {
    let app = spawn_app();
    let (u1, u2) = (app.user("u1"), app.user("u2"));
    let (g1, g2) = (app.group("g1"), app.group("g2"));
    let m11 = app.add(u1, g1);
    let m12 = app.add(u1, g2);
    let m21 = app.add(u2, g1);
    let r = app.get(&format!("/users/{u1}/user-group-memberships.xml"));
    assert_eq!(r.status, 200);
    assert_eq!(ids_in_list(&r.body), vec![m11, m12]);
    assert_eq!(r.header("x-total-count"), Some("2"));
    for prefix in ["/user_groups", "/user-groups"] {
        let r = app.get(&format!("{prefix}/{g1}/user-group-memberships.xml"));
        assert_eq!(r.status, 200, "{prefix}");
        assert_eq!(ids_in_list(&r.body), vec![m11, m21], "{prefix}");
        assert_eq!(r.header("x-total-count"), Some("2"));
    }
    let r = app.get(&format!(
        "/user_groups/{g1}/user-group-memberships.xml?start=2&include=users"
    ));
    assert_eq!(ids_in_list(&r.body), vec![m21]);
    assert!(r.body.contains("<login>u2</login>"));
    let empty_user = app.user("u3");
    let r = app.get(&format!("/users/{empty_user}/user-group-memberships.xml"));
    assert_eq!(r.status, 200);
    assert!(
        r.body
            .ends_with("<user-group-memberships type=\"array\"/>\n")
    );
}

#[test]
fn nested_lists_of_a_missing_user_or_group_are_404() {
    let app = spawn_app();
    let r = app.get("/users/999/user-group-memberships.xml");
    assert_eq!(r.status, 404);
    assert_eq!(r.errors(), vec!["User 999 does not exist."]);
    let r = app.get("/user_groups/998/user-group-memberships.xml");
    assert_eq!(r.status, 404);
    assert_eq!(r.errors(), vec!["User group 998 does not exist."]);
    let r = app.get("/users/zero/user-group-memberships.xml");
    assert_eq!(r.status, 400);
}

#[test]
fn includes_apply_to_every_record_in_a_list() {
    let app = spawn_app();
    let g = app.group("g");
    for i in 0..3 {
        app.add(app.user(&format!("user{i}")), g);
    }
    let r = app.get("/user-group-memberships.xml?include=users,user_groups,timestamps");
    assert_eq!(r.body.matches("<user>").count(), 3);
    assert_eq!(r.body.matches("<user-group>").count(), 3);
    assert_eq!(r.body.matches("<created-at type=\"datetime\">").count(), 9);
    assert!(!r.body.contains("<user-id"));
}

#[test]
fn long_lists_stream_in_order_across_chunks() {
    // More than two chunks of 1000, with every include, and ranges that
    // cross chunk boundaries.
    let app = spawn_app();
    let groups: Vec<i64> = (0..50).map(|i| app.group(&format!("g{i}"))).collect();
    let mut ids = Vec::new();
    {
        let mut conn = app.pool.get().unwrap();
        for u in 0..50 {
            let user = crate::helpers::insert_user(&app.pool, &format!("u{u}"), false, None).0;
            for &g in &groups {
                ids.push(
                    syncd::db::queries::changes::add(&mut conn, user, g, crate::helpers::SEEDED)
                        .unwrap()
                        .unwrap()
                        .id,
                );
            }
        }
    }
    let r = app.get("/user-group-memberships.xml?include=users,user_groups");
    assert_eq!(r.status, 200);
    assert_eq!(r.header("x-total-count"), Some("2500"));
    assert_eq!(ids_in_list(&r.body), ids);
    assert!(r.body.ends_with("</user-group-memberships>\n"));
    assert_eq!(r.body.matches("<user>").count(), 2500);

    let r = app.get("/user-group-memberships.xml?start=999&end=2001");
    assert_eq!(ids_in_list(&r.body), ids[998..2001].to_vec());
    let r = app.get("/user-group-memberships.xml?start=2400");
    assert_eq!(ids_in_list(&r.body), ids[2399..].to_vec());
}
