//! The handlers of each resource, and the route table that maps paths and
//! methods onto them.

pub mod change_sets;
pub mod events;
pub mod health;
pub mod idempotent;
pub mod members;
pub mod members_page;
pub mod membership_body;
pub mod memberships;
pub mod page;
pub mod pairs;
pub mod scim;
pub mod user_groups;
pub mod users;

use actix_web::{Route, web};

use crate::http::errors::ApiError;
use crate::http::format;

/// The route table. Every resource answers HEAD wherever it answers GET, and
/// a wrong method with 405 and `Allow`; `/user-groups/...` is an alias of
/// `/user_groups/...`. A path the managers' page shares lists the page's
/// routes first.
pub fn table(cfg: &mut web::ServiceConfig) {
    use user_groups as groups;
    resource(cfg, "/healthz", "GET, HEAD", vec![read(health::healthz)]);
    resource(cfg, "/readyz", "GET, HEAD", vec![read(health::readyz)]);
    // SCIM 2.0 for identity providers (API.md 9).
    resource(
        cfg,
        "/scim/v2/ServiceProviderConfig",
        "GET, HEAD",
        vec![read(scim::service_provider_config)],
    );
    resource(
        cfg,
        "/scim/v2/Schemas",
        "GET, HEAD",
        vec![read(scim::schemas)],
    );
    resource(
        cfg,
        "/scim/v2/Schemas/{id}",
        "GET, HEAD",
        vec![read(scim::schema)],
    );
    resource(
        cfg,
        "/scim/v2/.search",
        "POST",
        vec![web::post().to(scim::search_everything)],
    );
    resource(
        cfg,
        "/scim/v2/ResourceTypes",
        "GET, HEAD",
        vec![read(scim::resource_types)],
    );
    resource(
        cfg,
        "/scim/v2/ResourceTypes/{id}",
        "GET, HEAD",
        vec![read(scim::resource_type)],
    );
    resource(
        cfg,
        "/scim/v2/Users",
        "GET, HEAD, POST",
        vec![read(scim::users), web::post().to(scim::create_user)],
    );
    resource(
        cfg,
        "/scim/v2/Users/{id}",
        "GET, HEAD, PUT, PATCH, DELETE",
        vec![
            read(scim::user),
            web::put().to(scim::replace_user),
            web::patch().to(scim::patch_user_handler),
            web::delete().to(scim::delete_user),
        ],
    );
    resource(
        cfg,
        "/scim/v2/Groups",
        "GET, HEAD, POST",
        vec![read(scim::groups), web::post().to(scim::create_group)],
    );
    resource(
        cfg,
        "/scim/v2/Groups/{id}",
        "GET, HEAD, PUT, PATCH, DELETE",
        vec![
            read(scim::group),
            web::put().to(scim::replace_group),
            web::patch().to(scim::patch_group_handler),
            web::delete().to(scim::delete_group),
        ],
    );
    resource(
        cfg,
        "/user-group-memberships",
        "GET, HEAD, POST",
        vec![
            page_route(read(page::show)),
            page_route(web::post().to(page::add_membership)),
            read(memberships::list),
            web::post().to(memberships::create),
        ],
    );
    resource(
        cfg,
        "/user-group-memberships/{id}",
        memberships::ONE_ALLOWS,
        vec![
            page_route(web::post().to(page::delete_membership)),
            read(memberships::show),
            web::delete().to(memberships::delete),
            web::post().to(memberships::post_to_one),
        ],
    );
    resource(cfg, "/users", "GET, HEAD", vec![read(users::list)]);
    resource(cfg, "/users/{id}", "GET, HEAD", vec![read(users::show)]);
    resource(
        cfg,
        "/users/{user_id}/user-group-memberships",
        "GET, HEAD, POST",
        vec![
            read(memberships::list_for_user),
            web::post().to(memberships::create_for_user),
        ],
    );
    for prefix in ["/user_groups", "/user-groups"] {
        resource(
            cfg,
            prefix,
            "GET, HEAD, POST",
            vec![
                page_route(web::post().to(page::add_group)),
                read(groups::list),
                web::post().to(groups::create),
            ],
        );
        resource(
            cfg,
            &format!("{prefix}/{{id}}"),
            groups::ONE_ALLOWS,
            vec![
                page_route(web::post().to(page::change_group)),
                read(groups::show),
                web::put().to(groups::update),
                web::delete().to(groups::delete),
                web::post().to(groups::post_to_one),
            ],
        );
        // A group's member set (API.md 8.4); from a browser, its page.
        resource(
            cfg,
            &format!("{prefix}/{{id}}/members"),
            members::ALLOWS,
            vec![
                page_route(read(members_page::show)),
                page_route(web::post().to(members_page::post)),
                read(members::show),
                web::put().to(members::put),
                web::patch().to(members::patch),
            ],
        );
        resource(
            cfg,
            &format!("{prefix}/{{user_group_id}}/user-group-memberships"),
            "GET, HEAD, POST",
            vec![
                read(memberships::list_for_user_group),
                web::post().to(memberships::create_for_user_group),
            ],
        );
    }
    // A membership by its user and group, from either side (API.md 8.1).
    for path in [
        "/user_groups/{user_group_id}/users/{user_id}",
        "/user-groups/{user_group_id}/users/{user_id}",
        "/users/{user_id}/user_groups/{user_group_id}",
        "/users/{user_id}/user-groups/{user_group_id}",
    ] {
        resource(
            cfg,
            path,
            pairs::ALLOWS,
            vec![
                read(pairs::show),
                web::put().to(pairs::put),
                web::delete().to(pairs::delete),
                web::post().to(pairs::post),
            ],
        );
    }
    resource(
        cfg,
        "/membership-events",
        "GET, HEAD",
        vec![page_route(read(page::history)), read(events::list)],
    );
    // Change sets across groups (API.md 8.5).
    resource(
        cfg,
        "/membership-changes",
        "POST",
        vec![web::post().to(change_sets::create)],
    );
    resource(cfg, "/me", "GET, HEAD", vec![read(users::me)]);
}

/// A route of the managers' page: taken when the request asks for HTML
/// (by extension or `Accept`, chosen among XML, JSON and HTML as the API
/// routes of the same path do), so the API's handlers never see HTML.
fn page_route(route: Route) -> Route {
    route.guard(actix_web::guard::fn_guard(|ctx| {
        format::wants_page(ctx.req_data().get::<format::Requested>())
    }))
}

/// A route for GET and HEAD (actix sends no body for HEAD).
fn read<F, Args>(handler: F) -> Route
where
    F: actix_web::Handler<Args>,
    Args: actix_web::FromRequest + 'static,
    F::Output: actix_web::Responder + 'static,
{
    web::route()
        .guard(actix_web::guard::Any(actix_web::guard::Get()).or(actix_web::guard::Head()))
        .to(handler)
}

fn resource(cfg: &mut web::ServiceConfig, path: &str, allow: &'static str, routes: Vec<Route>) {
    let mut r = web::resource(path);
    for route in routes {
        r = r.route(route);
    }
    cfg.service(r.default_service(web::to(move || async move {
        Err::<actix_web::HttpResponse, _>(ApiError::MethodNotAllowed { allow })
    })));
}

pub async fn not_found() -> Result<actix_web::HttpResponse, ApiError> {
    Err(ApiError::not_found(
        "There is no such page; see docs/API.md for the routes.",
    ))
}
