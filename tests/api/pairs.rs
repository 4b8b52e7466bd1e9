//! Scripts that can retry (API.md 8.1 to 8.3): a membership by its user and
//! group, logins and names where ids go, filtered lists and their `Link`
//! headers. Runs on SQLite, and on PostgreSQL in the second pass.

use reqwest::Method;
use serde_json::Value;

use crate::helpers::{Resp, TestApp, id_of, ids_in_list, membership_xml, spawn_app};

fn put(app: &TestApp, path: &str) -> Resp {
    app.send(app.request(Method::PUT, path))
}

fn send_body(app: &TestApp, method: Method, path: &str, kind: &str, body: &str) -> Resp {
    app.send(
        app.request(method, path)
            .header("Content-Type", kind)
            .header("Origin", app.address.clone())
            .body(body.to_string()),
    )
}

/// The feed's events as (action, membership id, via).
fn events(app: &TestApp) -> Vec<(String, i64, String)> {
    let r = app.get("/membership-events.json");
    let list: Vec<Value> = serde_json::from_str(&r.body).unwrap();
    list.iter()
        .map(|e| {
            (
                e["action"].as_str().unwrap().to_string(),
                e["membership_id"].as_i64().unwrap(),
                e["via"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[test]
fn a_membership_by_its_user_and_group_can_be_read_put_and_deleted_again_and_again() {
    let app = spawn_app();
    let (alice, editors) = (app.user("alice"), app.group("Editors"));
    let pair = format!("/user_groups/{editors}/users/{alice}");
    let mirror = format!("/users/{alice}/user_groups/{editors}");

    let r = app.get(&format!("{pair}.xml"));
    assert_eq!(r.status, 404);
    assert_eq!(
        r.errors(),
        vec![format!(
            "User {alice} is not a member of user group {editors}."
        )]
    );
    let head = app.send(app.request(Method::HEAD, &format!("{mirror}.xml")));
    assert_eq!(head.status, 404);

    // The first PUT adds it: 201 and where it lives.
    let r = put(&app, &format!("{pair}.xml"));
    assert_eq!(r.status, 201, "{r:?}");
    let id = id_of(&r.body);
    assert_eq!(
        r.header("location"),
        Some(format!("/user-group-memberships/{id}.xml").as_str())
    );
    assert!(
        r.body
            .contains(&format!("<user-id type=\"integer\">{alice}</user-id>"))
    );
    // Again, from either side: 200 with the same body, nothing added.
    let again = put(&app, &format!("{mirror}.xml"));
    assert_eq!(again.status, 200);
    assert_eq!(again.body, r.body);
    assert_eq!(again.header("location"), None);
    assert_eq!(
        put(&app, &format!("/user-groups/{editors}/users/{alice}.xml")).status,
        200
    );

    let r = app.get(&format!("{mirror}.json?include=users,user_groups"));
    assert_eq!(r.status, 200);
    let m: Value = serde_json::from_str(&r.body).unwrap();
    assert_eq!(m["id"].as_i64(), Some(id));
    assert_eq!(m["user"]["login"], "alice");
    assert_eq!(m["user_group"]["name"], "Editors");
    let head = app.send(app.request(Method::HEAD, &format!("{pair}.xml")));
    assert_eq!((head.status, head.body.as_str()), (200, ""));

    // DELETE is 200 whether or not there was one.
    for _ in 0..2 {
        let r = app.delete(&format!("{pair}.xml"));
        assert_eq!((r.status, r.body.as_str()), (200, ""));
    }
    assert_eq!(app.get(&format!("{pair}.xml")).status, 404);
    // One event per real change: the first PUT and the first DELETE.
    assert_eq!(
        events(&app),
        vec![
            ("added".into(), id, "api".into()),
            ("removed".into(), id, "api".into()),
        ]
    );
}

#[test]
fn a_missing_user_or_group_is_404_naming_it_and_bad_ids_are_400() {
    let app = spawn_app();
    let (alice, editors) = (app.user("alice"), app.group("Editors"));
    for (method, path, message) in [
        (
            Method::GET,
            format!("/user_groups/{editors}/users/999.xml"),
            "User 999 does not exist.",
        ),
        (
            Method::PUT,
            format!("/user_groups/{editors}/users/999.xml"),
            "User 999 does not exist.",
        ),
        (
            Method::DELETE,
            format!("/users/999/user_groups/{editors}.xml"),
            "User 999 does not exist.",
        ),
        (
            Method::GET,
            format!("/user_groups/999/users/{alice}.xml"),
            "User group 999 does not exist.",
        ),
        (
            Method::PUT,
            format!("/users/{alice}/user_groups/999.xml"),
            "User group 999 does not exist.",
        ),
        (
            Method::DELETE,
            format!("/user_groups/999/users/{alice}.xml"),
            "User group 999 does not exist.",
        ),
    ] {
        let r = app.send(app.request(method.clone(), &path));
        assert_eq!(r.status, 404, "{method} {path}");
        assert_eq!(r.errors(), vec![message.to_string()], "{method} {path}");
    }
    let r = app.get(&format!("/user_groups/x/users/{alice}.xml"));
    assert_eq!(r.status, 400);
    let r = app.send(app.request(
        Method::PATCH,
        &format!("/user_groups/{editors}/users/{alice}.xml"),
    ));
    assert_eq!(r.status, 405);
    assert_eq!(r.header("allow"), Some("GET, HEAD, PUT, DELETE"));
    assert!(events(&app).is_empty());
}

#[test]
fn a_put_body_is_optional_and_must_agree_with_the_path() {
    let app = spawn_app();
    let (alice, bob, editors) = (app.user("alice"), app.user("bob"), app.group("Editors"));
    let pair = format!("/user_groups/{editors}/users/{alice}.xml");
    // Disagreeing by id, by login, by group name: 422, nothing added.
    let xml = "application/xml";
    for (body, message) in [
        (
            membership_xml(bob, editors),
            format!("user-id in the body ({bob}) does not match the one in the path ({alice})."),
        ),
        (
            "<user-group-membership><user-login>bob</user-login></user-group-membership>".into(),
            format!("user-login \"bob\" in the body is user {bob}, not the one in the path ({alice})."),
        ),
        (
            "<user-group-membership><user-group-name>Nobody</user-group-name></user-group-membership>".into(),
            "There is no user group named \"Nobody\".".into(),
        ),
    ] {
        let r = send_body(&app, Method::PUT, &pair, xml, &body);
        assert_eq!(r.status, 422, "{body}");
        assert_eq!(r.errors(), vec![message]);
    }
    assert!(events(&app).is_empty());
    // Agreeing bodies, in XML, JSON, and ActiveResource's `<user>` element.
    let r = send_body(
        &app,
        Method::PUT,
        &pair,
        xml,
        &membership_xml(alice, editors),
    );
    assert_eq!(r.status, 201, "{r:?}");
    let r = send_body(
        &app,
        Method::PUT,
        &pair,
        "application/json",
        r#"{"user_login": "alice", "user_group_name": "Editors"}"#,
    );
    assert_eq!(r.status, 200, "{r:?}");
    let r = send_body(
        &app,
        Method::PUT,
        &format!("/user_groups/{editors}/users/{bob}.xml"),
        xml,
        &format!(
            "<?xml version=\"1.0\"?><user><id type=\"integer\">{bob}</id><name>Bob</name></user>"
        ),
    );
    assert_eq!(r.status, 201, "{r:?}");
    let r = send_body(
        &app,
        Method::PUT,
        &format!("/user_groups/{editors}/users/{bob}.xml"),
        xml,
        &format!("<user><id type=\"integer\">{alice}</id></user>"),
    );
    assert_eq!(r.status, 422);
    let r = send_body(
        &app,
        Method::PUT,
        &format!("/user_groups/{editors}/users/{bob}.json"),
        "application/json",
        &format!(r#"{{"user": {{"id": {bob}}}}}"#),
    );
    assert_eq!(r.status, 200, "{r:?}");
    // A body with no content type is 415; an empty one needs none.
    let r = app.send(app.request(Method::PUT, &pair).body("<x/>"));
    assert_eq!(r.status, 415);
    assert_eq!(events(&app).len(), 2);
}

#[test]
fn forms_reach_put_and_delete_with_method() {
    let app = spawn_app();
    let (alice, editors) = (app.user("alice"), app.group("Editors"));
    let pair = format!("/user_groups/{editors}/users/{alice}");
    let form = "application/x-www-form-urlencoded";
    let r = send_body(&app, Method::POST, &pair, form, "_method=put");
    assert_eq!(r.status, 201, "{r:?}");
    let id = id_of(&r.body);
    let r = send_body(
        &app,
        Method::POST,
        &pair,
        form,
        "_method=put&user_login=alice",
    );
    assert_eq!(r.status, 200, "{r:?}");
    let r = send_body(&app, Method::POST, &pair, form, "_method=delete");
    assert_eq!(r.status, 200, "{r:?}");
    let r = send_body(&app, Method::POST, &pair, form, "_method=delete");
    assert_eq!(r.status, 200, "{r:?}");
    // Not a form, or no _method: 405.
    let r = send_body(&app, Method::POST, &pair, "application/xml", "<x/>");
    assert_eq!(r.status, 405);
    let r = send_body(&app, Method::POST, &pair, form, "a=b");
    assert_eq!(r.status, 405);
    // A form from another site is refused before anything.
    let r = app.send(
        app.request(Method::POST, &pair)
            .header("Content-Type", form)
            .header("Origin", "https://evil.example")
            .body("_method=put"),
    );
    assert_eq!(r.status, 403);
    assert_eq!(
        events(&app),
        vec![
            ("added".into(), id, "form".into()),
            ("removed".into(), id, "form".into()),
        ]
    );
}

#[test]
fn twenty_concurrent_puts_of_one_pair_give_one_201_nineteen_200_one_row_one_event() {
    let app = std::sync::Arc::new(spawn_app());
    let (alice, editors) = (app.user("alice"), app.group("Editors"));
    let barrier = std::sync::Arc::new(std::sync::Barrier::new(20));
    let handles: Vec<_> = (0..20)
        .map(|_| {
            let (app, barrier) = (app.clone(), barrier.clone());
            std::thread::spawn(move || {
                barrier.wait();
                let r = put(&app, &format!("/user_groups/{editors}/users/{alice}.xml"));
                (r.status, id_of(&r.body))
            })
        })
        .collect();
    let answers: Vec<(u16, i64)> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    let created = answers.iter().filter(|(s, _)| *s == 201).count();
    let ok = answers.iter().filter(|(s, _)| *s == 200).count();
    assert_eq!((created, ok), (1, 19), "{answers:?}");
    assert!(
        answers.iter().all(|(_, id)| *id == answers[0].1),
        "one membership: {answers:?}"
    );
    assert_eq!(
        ids_in_list(&app.get("/user-group-memberships.xml").body).len(),
        1
    );
    assert_eq!(events(&app).len(), 1);
}

#[test]
fn logins_and_group_names_go_where_ids_go() {
    let app = spawn_app();
    let (alice, bob) = (app.user("alice"), app.user("bob"));
    let (editors, readers) = (app.group("Editors"), app.group("Readers"));
    let created = |r: Resp| -> Value {
        assert_eq!(r.status, 201, "{r:?}");
        let json: Value = serde_json::from_str(&r.body).unwrap();
        json
    };
    // XML, JSON, bracketed and flat forms, nested routes.
    let m = created(send_body(
        &app,
        Method::POST,
        "/user-group-memberships.json",
        "application/xml",
        "<user-group-membership><user-login>alice</user-login><user-group-name>Editors</user-group-name></user-group-membership>",
    ));
    assert_eq!(
        (m["user_id"].as_i64(), m["user_group_id"].as_i64()),
        (Some(alice), Some(editors))
    );
    let m = created(send_body(
        &app,
        Method::POST,
        "/user-group-memberships.json",
        "application/json",
        &format!(
            r#"{{"user-group-membership": {{"user-login": "bob", "user-group-id": {editors}}}}}"#
        ),
    ));
    assert_eq!(
        (m["user_id"].as_i64(), m["user_group_id"].as_i64()),
        (Some(bob), Some(editors))
    );
    let m = created(send_body(
        &app,
        Method::POST,
        "/user-group-memberships.json",
        "application/x-www-form-urlencoded",
        "user_group_membership[user_login]=alice&user_group_membership[user_group_name]=Readers",
    ));
    assert_eq!(
        (m["user_id"].as_i64(), m["user_group_id"].as_i64()),
        (Some(alice), Some(readers))
    );
    let m = created(send_body(
        &app,
        Method::POST,
        &format!("/user_groups/{readers}/user-group-memberships.json"),
        "application/x-www-form-urlencoded",
        "user_login=bob",
    ));
    assert_eq!(
        (m["user_id"].as_i64(), m["user_group_id"].as_i64()),
        (Some(bob), Some(readers))
    );

    // Unknown or disagreeing names: 422 naming them; nothing added.
    let before = events(&app).len();
    for (body, messages) in [
        (
            r#"{"user_login": "zed", "user_group_name": "Nobody"}"#.to_string(),
            vec![
                "There is no user with the login \"zed\".".to_string(),
                "There is no user group named \"Nobody\".".to_string(),
            ],
        ),
        (
            format!(r#"{{"user_id": {bob}, "user_login": "alice", "user_group_id": {editors}}}"#),
            vec![format!(
                "user-id {bob} and user-login \"alice\" name different users."
            )],
        ),
        (
            format!(
                r#"{{"user_login": "alice", "user_group_id": {editors}, "user_group_name": "Readers"}}"#
            ),
            vec![format!(
                "user-group-id {editors} and user-group-name \"Readers\" name different user groups."
            )],
        ),
    ] {
        let r = send_body(
            &app,
            Method::POST,
            "/user-group-memberships.xml",
            "application/json",
            &body,
        );
        assert_eq!(r.status, 422, "{body}");
        assert_eq!(r.errors(), messages, "{body}");
    }
    assert_eq!(events(&app).len(), before);

    // ?login= and ?name= list the one match, or nothing.
    let r = app.get("/users.xml?login=bob");
    assert_eq!(r.header("x-total-count"), Some("1"));
    assert!(r.body.contains("<login>bob</login>") && !r.body.contains("alice"));
    let r = app.get("/users.json?login=nobody");
    assert_eq!(
        (r.header("x-total-count"), r.body.trim()),
        (Some("0"), "[]")
    );
    let r = app.get("/user_groups.xml?name=Readers");
    assert_eq!(r.header("x-total-count"), Some("1"));
    assert!(r.body.contains("<name>Readers</name>") && !r.body.contains("Editors"));
    let r = app.get("/user_groups.xml?name=readers");
    assert_eq!(r.header("x-total-count"), Some("0"));
}

#[test]
fn membership_lists_filter_by_users_and_groups_and_slices_link_to_their_neighbours() {
    let app = spawn_app();
    let users: Vec<i64> = (0..4).map(|i| app.user(&format!("u{i}"))).collect();
    let groups: Vec<i64> = (0..3).map(|i| app.group(&format!("g{i}"))).collect();
    let mut all = Vec::new();
    for &u in &users {
        for &g in &groups {
            all.push((app.add_directly(u, g), u, g));
        }
    }
    let expect = |f: &dyn Fn(i64, i64) -> bool| -> Vec<i64> {
        all.iter()
            .filter(|(_, u, g)| f(*u, *g))
            .map(|(id, _, _)| *id)
            .collect()
    };

    let q = format!(
        "user_id={},{}&user_group_id={}",
        users[1], users[3], groups[2]
    );
    let r = app.get(&format!("/user-group-memberships.xml?{q}"));
    assert_eq!(
        ids_in_list(&r.body),
        expect(&|u, g| (u == users[1] || u == users[3]) && g == groups[2])
    );
    assert_eq!(r.header("x-total-count"), Some("2"));
    // Nested lists narrow further.
    let r = app.get(&format!(
        "/users/{}/user-group-memberships.xml?user_group_id={},{}",
        users[0], groups[0], groups[1]
    ));
    assert_eq!(
        ids_in_list(&r.body),
        expect(&|u, g| u == users[0] && g != groups[2])
    );
    let r = app.get(&format!(
        "/user_groups/{}/user-group-memberships.xml?user_id={}",
        groups[1], users[2]
    ));
    assert_eq!(
        ids_in_list(&r.body),
        expect(&|u, g| u == users[2] && g == groups[1])
    );
    // The feed takes the same filters.
    let r = app.get(&format!("/membership-events.xml?user_id={}", users[0]));
    assert_eq!(r.header("x-total-count"), Some("3"));
    // A bad id is 400.
    let r = app.get("/user-group-memberships.xml?user_id=1,two");
    assert_eq!(r.status, 400);
    assert_eq!(
        r.errors(),
        vec!["user_id must be ids (positive integers) separated by commas, not \"1,two\"."]
    );

    // Slices: X-Total-Count counts the filtered list, Link names the
    // neighbours with the same path, format and parameters.
    let f = format!("user_group_id={}", groups[0]);
    let r = app.get(&format!("/user-group-memberships.xml?{f}&start=2&end=3"));
    assert_eq!(r.header("x-total-count"), Some("4"));
    assert_eq!(
        ids_in_list(&r.body),
        expect(&|_, g| g == groups[0])[1..3].to_vec()
    );
    assert_eq!(
        r.header("link"),
        Some(
            format!(
                "</user-group-memberships.xml?{f}&start=4&end=5>; rel=\"next\", </user-group-memberships.xml?{f}&start=1&end=1>; rel=\"prev\""
            )
            .as_str()
        )
    );
    let r = app.get("/users.json?start=1&end=2");
    assert_eq!(
        r.header("link"),
        Some("</users.json?start=3&end=4>; rel=\"next\"")
    );
    let r = app.get("/user_groups?end=2&start=2");
    assert_eq!(
        r.header("link"),
        Some(
            "</user_groups?start=3&end=3>; rel=\"next\", </user_groups?start=1&end=1>; rel=\"prev\""
        )
    );
    // The last slice has no next (five users with the manager: start=4 is
    // 4 to 5, n = 2); a whole list has no Link.
    let r = app.get("/users.xml?start=4");
    assert_eq!(
        r.header("link"),
        Some("</users.xml?start=2&end=3>; rel=\"prev\"")
    );
    assert_eq!(app.get("/user-group-memberships.xml").header("link"), None);
    assert_eq!(
        app.get("/user-group-memberships.xml?start=1&end=100")
            .header("link"),
        None
    );
}

#[test]
fn a_filtered_list_longer_than_a_chunk_streams_with_a_weak_etag() {
    let app = spawn_app();
    let users: Vec<i64> = (0..3).map(|i| app.user(&format!("u{i}"))).collect();
    let groups: Vec<i64> = (0..450).map(|i| app.group(&format!("g{i}"))).collect();
    {
        let mut conn = app.pool.get().unwrap();
        let pairs: Vec<(i64, i64)> = users
            .iter()
            .flat_map(|&u| groups.iter().map(move |&g| (u, g)))
            .collect();
        syncd::db::queries::changes::add_pairs(
            &mut conn,
            &pairs,
            syncd::db::models::now(),
            crate::helpers::SEEDED,
        )
        .unwrap();
    }
    let q = format!(
        "/user-group-memberships.xml?user_id={},{}",
        users[0], users[2]
    );
    let r = app.get(&q);
    assert_eq!(r.header("x-total-count"), Some("900"));
    assert_eq!(ids_in_list(&r.body).len(), 900);
    let r = app.get(&format!("{q}&start=51&end=1050"));
    let ids = ids_in_list(&r.body);
    assert_eq!(ids.len(), 850);
    assert!(ids.windows(2).all(|w| w[0] < w[1]));
    let every = format!(
        "/user-group-memberships.xml?user_id={},{},{}",
        users[0], users[1], users[2]
    );
    let all = app.get(&every);
    assert_eq!(all.header("x-total-count"), Some("1350"));
    let etag = all.header("etag").unwrap().to_string();
    assert!(etag.starts_with("W/"), "{etag}");
    assert_eq!(ids_in_list(&all.body).len(), 1350);
    let again = app.send(
        app.request(Method::GET, &every)
            .header("If-None-Match", etag),
    );
    assert_eq!(again.status, 304);
}
