//! GET /user-group-memberships/{id} and GET /me, with every include.

use crate::helpers::spawn_app;

#[test]
fn show_returns_404_for_a_missing_membership() {
    let app = spawn_app();
    let r = app.get("/user-group-memberships/999.xml");
    assert_eq!(r.status, 404);
    assert_eq!(r.errors(), vec!["Membership 999 does not exist."]);
}

#[test]
fn show_returns_400_for_an_id_that_is_not_a_positive_integer() {
    let app = spawn_app();
    for bad in ["abc", "0", "-3", "1.5", "99999999999999999999"] {
        let r = app.get(&format!("/user-group-memberships/{bad}.xml"));
        assert_eq!(r.status, 400, "{bad}");
        assert!(
            r.errors()[0].contains("positive integer"),
            "{bad}: {:?}",
            r.errors()
        );
    }
}

#[test]
fn show_without_extension_is_xml() {
    let app = spawn_app();
    let id = app.add(app.user("a"), app.group("g"));
    let r = app.get(&format!("/user-group-memberships/{id}"));
    assert_eq!(r.status, 200);
    assert!(r.body.contains("<user-group-membership>"));
}

#[test]
fn every_combination_of_include_shows_exactly_what_it_names() {
    let app = spawn_app();
    let id = app.add(app.user("alice"), app.group("Editors"));
    let names = ["users", "user_groups", "timestamps"];
    for mask in 0..8u8 {
        let chosen: Vec<&str> = (0..3)
            .filter(|i| mask & (1 << i) != 0)
            .map(|i| names[i])
            .collect();
        let path = format!(
            "/user-group-memberships/{id}.xml?include={}",
            chosen.join(",")
        );
        let r = app.get(&path);
        assert_eq!(r.status, 200, "{path}");
        let users = chosen.contains(&"users");
        let groups = chosen.contains(&"user_groups");
        let ts = chosen.contains(&"timestamps");
        assert_eq!(r.body.contains("<user>"), users, "{path}");
        assert_eq!(r.body.contains("<user-id"), !users, "{path}");
        assert_eq!(r.body.contains("<user-group>"), groups, "{path}");
        assert_eq!(r.body.contains("<user-group-id"), !groups, "{path}");
        // Timestamps on the membership and on each nested record.
        let expected = if ts {
            1 + users as usize + groups as usize
        } else {
            0
        };
        assert_eq!(
            r.body.matches("<created-at type=\"datetime\">").count(),
            expected,
            "{path}"
        );
        assert_eq!(
            r.body.matches("<updated-at type=\"datetime\">").count(),
            expected,
            "{path}"
        );
    }
}

#[test]
fn include_accepts_dashes_spaces_any_order_and_repeats() {
    let app = spawn_app();
    let id = app.add(app.user("alice"), app.group("Editors"));
    let all = app.get(&format!(
        "/user-group-memberships/{id}.xml?include=users,user_groups,timestamps"
    ));
    for q in [
        "include=timestamps,user-groups,users",
        "include=users%20,%20user_groups%20,%20timestamps",
        "include=users&include=user_groups&include=timestamps",
        "include=users,,user_groups,timestamps,",
    ] {
        let r = app.get(&format!("/user-group-memberships/{id}.xml?{q}"));
        assert_eq!(r.body, all.body, "{q}");
    }
}

#[test]
fn an_unknown_include_is_400_naming_the_valid_ones() {
    let app = spawn_app();
    let id = app.add(app.user("alice"), app.group("Editors"));
    let r = app.get(&format!(
        "/user-group-memberships/{id}.xml?include=users,groups"
    ));
    assert_eq!(r.status, 400);
    assert_eq!(
        r.errors(),
        vec![
            "include has an unknown name \"groups\": the valid names are users, user_groups and timestamps."
        ]
    );
}

#[test]
fn timestamps_are_utc_whole_seconds() {
    let app = spawn_app();
    let id = app.add(app.user("alice"), app.group("Editors"));
    let r = app.get(&format!(
        "/user-group-memberships/{id}.xml?include=timestamps"
    ));
    let line = r
        .body
        .lines()
        .find(|l| l.contains("<created-at"))
        .unwrap()
        .trim();
    let value = line
        .trim_start_matches("<created-at type=\"datetime\">")
        .trim_end_matches("</created-at>");
    assert_eq!(value.len(), 20, "{value}");
    let parsed = chrono::NaiveDateTime::parse_from_str(value, "%Y-%m-%dT%H:%M:%SZ").unwrap();
    let age = chrono::Utc::now().naive_utc() - parsed;
    assert!(age.num_seconds().abs() < 120, "{value} is not now in UTC");
}

#[test]
fn me_shows_any_signed_in_user_without_secrets() {
    let app = spawn_app();
    let (id, token) = crate::helpers::insert_user(&app.pool, "plain", false, Some("pw-secret"));
    let r = app.get_as(&token, "/me.xml");
    assert_eq!(r.status, 200);
    assert!(r.body.contains(&format!("<id type=\"integer\">{id}</id>")));
    assert!(r.body.contains("<login>plain</login>"));
    assert!(
        r.body
            .contains("<user-group-manager type=\"boolean\">false</user-group-manager>")
    );
    assert!(!r.body.contains(&token));
    assert!(
        !r.body
            .contains(&syncd::security::secrets::token_digest(&token))
    );
    assert!(!r.body.contains("argon2") && !r.body.contains("pw-secret"));
    assert!(!r.body.contains("digest") && !r.body.contains("password"));
}
