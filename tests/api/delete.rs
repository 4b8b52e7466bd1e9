//! DELETE /user-group-memberships/{id}.

use crate::helpers::spawn_app;

#[test]
fn delete_answers_200_with_an_empty_body_and_the_membership_is_gone() {
    let app = spawn_app();
    let (u, g) = (app.user("alice"), app.group("Editors"));
    let keep = app.add(app.user("bob"), g);
    let id = app.add(u, g);
    let r = app.delete(&format!("/user-group-memberships/{id}.xml"));
    assert_eq!(r.status, 200);
    assert_eq!(r.body, "");
    assert_eq!(
        app.get(&format!("/user-group-memberships/{id}.xml")).status,
        404
    );
    let list = app.get("/user-group-memberships.xml");
    assert_eq!(crate::helpers::ids_in_list(&list.body), vec![keep]);
    // Deleting again is 404; the pair can be added again, with a new id.
    let r = app.delete(&format!("/user-group-memberships/{id}.xml"));
    assert_eq!(r.status, 404);
    assert_eq!(r.errors(), vec![format!("Membership {id} does not exist.")]);
    let again = app.add(u, g);
    assert!(again > id, "ids are never reused");
}

#[test]
fn delete_with_a_bad_id_is_400() {
    let app = spawn_app();
    let r = app.delete("/user-group-memberships/abc.xml");
    assert_eq!(r.status, 400);
}
