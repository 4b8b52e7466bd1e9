//! ETag on every GET, 304 for If-None-Match, and HEAD wherever GET works.

use reqwest::Method;

use crate::helpers::spawn_app;

#[test]
fn every_get_has_an_etag_and_a_matching_if_none_match_is_304() {
    let app = spawn_app();
    let (u, g) = (app.user("alice"), app.group("Editors"));
    let id = app.add(u, g);
    for path in [
        format!("/user-group-memberships/{id}.xml"),
        format!("/user-group-memberships/{id}.json"),
        "/user-group-memberships.xml?include=users".to_string(),
        format!("/users/{u}/user-group-memberships.xml"),
        format!("/user_groups/{g}/user-group-memberships.json"),
        "/users.xml".to_string(),
        format!("/users/{u}.json"),
        "/user_groups.xml".to_string(),
        format!("/user_groups/{g}.xml"),
        "/me.xml".to_string(),
    ] {
        let r = app.get(&path);
        assert_eq!(r.status, 200, "{path}");
        let etag = r
            .header("etag")
            .unwrap_or_else(|| panic!("no ETag on {path}"))
            .to_string();
        assert!(etag.starts_with('"') && etag.ends_with('"'), "{etag}");
        for inm in [
            etag.clone(),
            format!("\"other\", {etag}"),
            format!("W/{etag}"),
            "*".to_string(),
        ] {
            let r304 = app.send(
                app.request(Method::GET, &path)
                    .header("If-None-Match", &inm),
            );
            assert_eq!(r304.status, 304, "{path} with {inm}");
            assert_eq!(r304.body, "");
            assert_eq!(r304.header("etag"), Some(etag.as_str()));
        }
        let r = app.send(
            app.request(Method::GET, &path)
                .header("If-None-Match", "\"stale\""),
        );
        assert_eq!(r.status, 200);
    }
    // XML and JSON of one record are different representations.
    assert_ne!(
        app.get(&format!("/user-group-memberships/{id}.xml"))
            .header("etag"),
        app.get(&format!("/user-group-memberships/{id}.json"))
            .header("etag")
    );
}

#[test]
fn a_change_changes_the_etag() {
    let app = spawn_app();
    let g = app.group("Editors");
    app.add(app.user("alice"), g);
    let before = app
        .get("/user-group-memberships.xml")
        .header("etag")
        .unwrap()
        .to_string();
    app.add(app.user("bob"), g);
    let r = app.send(
        app.request(Method::GET, "/user-group-memberships.xml")
            .header("If-None-Match", &before),
    );
    assert_eq!(r.status, 200);
    assert_ne!(r.header("etag"), Some(before.as_str()));
}

#[test]
fn head_answers_like_get_without_a_body() {
    let app = spawn_app();
    let (u, g) = (app.user("alice"), app.group("Editors"));
    let id = app.add(u, g);
    for path in [
        format!("/user-group-memberships/{id}.xml"),
        "/user-group-memberships.json".to_string(),
        "/users.xml".to_string(),
        format!("/user_groups/{g}.xml"),
        "/me.xml".to_string(),
    ] {
        let get = app.get(&path);
        let head = app.send(app.request(Method::HEAD, &path));
        assert_eq!(head.status, 200, "{path}");
        assert_eq!(head.body, "", "{path}");
        assert_eq!(head.header("etag"), get.header("etag"), "{path}");
        assert_eq!(
            head.header("content-type"),
            get.header("content-type"),
            "{path}"
        );
        assert_eq!(
            head.header("x-total-count"),
            get.header("x-total-count"),
            "{path}"
        );
    }
    let r = app.send(app.request(Method::HEAD, "/user-group-memberships/999.xml"));
    assert_eq!(r.status, 404);
    assert_eq!(r.body, "");
    let r = app.send(app.client.head(app.url("/me.xml")));
    assert_eq!(r.status, 401);
}

#[test]
fn streamed_lists_have_a_weak_etag_that_follows_the_data() {
    let app = spawn_app();
    let groups: Vec<i64> = (0..30).map(|i| app.group(&format!("g{i}"))).collect();
    for u in 0..40 {
        let user = app.user(&format!("u{u}"));
        let mut conn = app.pool.get().unwrap();
        for &g in &groups {
            syncd::db::queries::changes::add(&mut conn, user, g, crate::helpers::SEEDED)
                .unwrap()
                .unwrap();
        }
    }
    let path = "/user-group-memberships.xml?include=user_groups";
    let r = app.get(path);
    assert_eq!(r.header("x-total-count"), Some("1200"));
    let etag = r.header("etag").unwrap().to_string();
    assert!(etag.starts_with("W/\""), "{etag}");
    let r304 = app.send(
        app.request(Method::GET, path)
            .header("If-None-Match", &etag),
    );
    assert_eq!(r304.status, 304);
    let head = app.send(app.request(Method::HEAD, path));
    assert_eq!((head.status, head.body.as_str()), (200, ""));
    // Renaming a group changes what the list shows, so its tag.
    let renamed = app.send(
        app.request(Method::PUT, &format!("/user_groups/{}.xml", groups[0]))
            .header("Content-Type", "application/xml")
            .body("<user-group><name>renamed</name></user-group>"),
    );
    assert_eq!(renamed.status, 200);
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let _ = app.send(
        app.request(Method::PUT, &format!("/user_groups/{}.xml", groups[0]))
            .header("Content-Type", "application/xml")
            .body("<user-group><name>renamed again</name></user-group>"),
    );
    let r = app.send(
        app.request(Method::GET, path)
            .header("If-None-Match", &etag),
    );
    assert_eq!(r.status, 200);
    assert!(r.body.contains("<name>renamed again</name>"));
    // Deleting one membership changes it too.
    let etag = r.header("etag").unwrap().to_string();
    assert_eq!(app.delete("/user-group-memberships/5.xml").status, 200);
    let r = app.send(
        app.request(Method::GET, path)
            .header("If-None-Match", &etag),
    );
    assert_eq!(r.status, 200);
    assert_eq!(r.header("x-total-count"), Some("1199"));
}
