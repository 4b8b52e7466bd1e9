//! GET /users and GET /users/{id}.

use crate::helpers::{execute_sql, insert_user, spawn_app};

#[test]
fn the_user_list_is_ordered_sliced_and_counted() {
    let app = spawn_app();
    let ids: Vec<i64> = (0..5).map(|i| app.user(&format!("user{i}"))).collect();
    execute_sql(
        &app.pool,
        "UPDATE users SET created_at = '2008-01-08 03:47:52', updated_at = '2008-01-08 03:47:52'",
    );
    let r = app.get("/users.xml?start=2&end=3&include=timestamps");
    assert_eq!(r.status, 200);
    assert_eq!(
        r.header("x-total-count"),
        Some("6"),
        "the manager and five users"
    );
    assert_eq!(
        r.body,
        format!(
            r#"<?xml version="1.0" encoding="UTF-8"?>
<users type="array">
  <user>
    <id type="integer">{}</id>
    <login>user0</login>
    <name>user0 name</name>
    <email-address nil="true"/>
    <user-group-manager type="boolean">false</user-group-manager>
    <created-at type="datetime">2008-01-08T03:47:52Z</created-at>
    <updated-at type="datetime">2008-01-08T03:47:52Z</updated-at>
  </user>
  <user>
    <id type="integer">{}</id>
    <login>user1</login>
    <name>user1 name</name>
    <email-address nil="true"/>
    <user-group-manager type="boolean">false</user-group-manager>
    <created-at type="datetime">2008-01-08T03:47:52Z</created-at>
    <updated-at type="datetime">2008-01-08T03:47:52Z</updated-at>
  </user>
</users>
"#,
            ids[0], ids[1]
        )
    );
    let r = app.get("/users.xml?start=7");
    assert_eq!(
        r.body,
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<users type=\"array\"/>\n"
    );
    let r = app.get("/users.json?end=2");
    let list: Vec<serde_json::Value> = serde_json::from_str(&r.body).unwrap();
    assert_eq!(list.len(), 2);
    assert_eq!(list[1]["id"], ids[0]);
    assert!(list[0].get("created_at").is_none());
    assert_eq!(app.get("/users.xml?start=0").status, 400);
    assert_eq!(app.get("/users.xml?include=bogus").status, 400);
}

#[test]
fn one_user_by_id() {
    let app = spawn_app();
    let (id, token) = insert_user(&app.pool, "alice", false, Some("pw"));
    let r = app.get(&format!("/users/{id}.xml"));
    assert_eq!(r.status, 200);
    assert!(r.body.contains("<login>alice</login>"));
    for secret in [
        token.as_str(),
        &syncd::security::secrets::token_digest(&token),
        "argon2",
        "digest",
    ] {
        assert!(!r.body.contains(secret));
    }
    let r = app.get("/users/999.xml");
    assert_eq!(r.status, 404);
    assert_eq!(r.errors(), vec!["User 999 does not exist."]);
    assert_eq!(app.get("/users/x.xml").status, 400);
    // Not for non-managers.
    assert_eq!(app.get_as(&token, &format!("/users/{id}.xml")).status, 403);
    assert_eq!(app.get_as(&token, "/users.xml").status, 403);
}
