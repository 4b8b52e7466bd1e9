//! The exact bytes of one membership, one user and one user group.

use crate::helpers::{execute_sql, spawn_app};

const PINNED: &str = "2008-01-08 03:47:52";

fn pin_timestamps(app: &crate::helpers::TestApp) {
    for table in ["users", "user_groups", "user_group_memberships"] {
        execute_sql(
            &app.pool,
            &format!("UPDATE {table} SET created_at = '{PINNED}', updated_at = '{PINNED}'"),
        );
    }
}

#[test]
fn a_membership_is_exactly_the_seed_shape() {
    let app = spawn_app();
    let user = app.user("alice");
    let group = app.group("Editors");
    let id = app.add(user, group);
    pin_timestamps(&app);

    let r = app.get(&format!("/user-group-memberships/{id}.xml"));
    assert_eq!(r.status, 200);
    assert_eq!(
        r.header("content-type"),
        Some("application/xml; charset=utf-8")
    );
    assert_eq!(
        r.body,
        format!(
            r#"<?xml version="1.0" encoding="UTF-8"?>
<user-group-membership>
  <id type="integer">{id}</id>
  <user-id type="integer">{user}</user-id>
  <user-group-id type="integer">{group}</user-group-id>
</user-group-membership>
"#
        )
    );

    let r = app.get(&format!(
        "/user-group-memberships/{id}.xml?include=users,user_groups,timestamps"
    ));
    assert_eq!(
        r.body,
        format!(
            r#"<?xml version="1.0" encoding="UTF-8"?>
<user-group-membership>
  <id type="integer">{id}</id>
  <user>
    <id type="integer">{user}</id>
    <login>alice</login>
    <name>alice name</name>
    <email-address nil="true"/>
    <user-group-manager type="boolean">false</user-group-manager>
    <created-at type="datetime">2008-01-08T03:47:52Z</created-at>
    <updated-at type="datetime">2008-01-08T03:47:52Z</updated-at>
  </user>
  <user-group>
    <id type="integer">{group}</id>
    <name>Editors</name>
    <description nil="true"/>
    <created-at type="datetime">2008-01-08T03:47:52Z</created-at>
    <updated-at type="datetime">2008-01-08T03:47:52Z</updated-at>
  </user-group>
  <created-at type="datetime">2008-01-08T03:47:52Z</created-at>
  <updated-at type="datetime">2008-01-08T03:47:52Z</updated-at>
</user-group-membership>
"#
        )
    );
}

#[test]
fn a_user_is_exactly_the_contract_shape() {
    let app = spawn_app();
    pin_timestamps(&app);
    let r = app.get("/me.xml?include=timestamps");
    assert_eq!(r.status, 200);
    assert_eq!(
        r.body,
        r#"<?xml version="1.0" encoding="UTF-8"?>
<user>
  <id type="integer">1</id>
  <login>manager</login>
  <name>manager name</name>
  <email-address nil="true"/>
  <user-group-manager type="boolean">true</user-group-manager>
  <created-at type="datetime">2008-01-08T03:47:52Z</created-at>
  <updated-at type="datetime">2008-01-08T03:47:52Z</updated-at>
</user>
"#
    );
}

#[test]
fn a_user_group_is_exactly_the_contract_shape_and_text_is_escaped() {
    let app = spawn_app();
    let user = app.user("bob");
    let mut conn = app.pool.get().unwrap();
    let group = syncd::db::queries::user_groups::create(
        &mut conn,
        "R&D <\"core\">",
        Some("Tom's & Jerry's"),
    )
    .unwrap()
    .unwrap()
    .id;
    drop(conn);
    let id = app.add(user, group);
    pin_timestamps(&app);
    let r = app.get(&format!(
        "/user-group-memberships/{id}.xml?include=user_groups"
    ));
    assert_eq!(
        r.body,
        format!(
            r#"<?xml version="1.0" encoding="UTF-8"?>
<user-group-membership>
  <id type="integer">{id}</id>
  <user-id type="integer">{user}</user-id>
  <user-group>
    <id type="integer">{group}</id>
    <name>R&amp;D &lt;&quot;core&quot;&gt;</name>
    <description>Tom's &amp; Jerry's</description>
  </user-group>
</user-group-membership>
"#
        )
    );
}

#[test]
fn an_empty_list_is_a_self_closing_array() {
    let app = spawn_app();
    let r = app.get("/user-group-memberships.xml");
    assert_eq!(r.status, 200);
    assert_eq!(
        r.body,
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<user-group-memberships type=\"array\"/>\n"
    );
    assert_eq!(r.header("x-total-count"), Some("0"));
}

#[test]
fn a_list_is_an_array_of_records() {
    let app = spawn_app();
    let (u, g) = (app.user("alice"), app.group("Editors"));
    let id = app.add(u, g);
    let r = app.get("/user-group-memberships.xml");
    assert_eq!(
        r.body,
        format!(
            r#"<?xml version="1.0" encoding="UTF-8"?>
<user-group-memberships type="array">
  <user-group-membership>
    <id type="integer">{id}</id>
    <user-id type="integer">{u}</user-id>
    <user-group-id type="integer">{g}</user-group-id>
  </user-group-membership>
</user-group-memberships>
"#
        )
    );
}
