//! What a handler takes from a request besides its body, declared once in
//! its signature: `Manager<(ApiFormat, PathId, Include)>` is a signed-in
//! manager, the negotiated format, the id in the path and `include`.
//!
//! Inputs are parsed by the sign-in extractors ([`crate::http::auth`]) after
//! the caller is known, in the order of the tuple. actix polls the
//! extractors of a handler together, so a 406 or 400 from an extractor of
//! its own could answer before a sign-in still waiting on the database; the
//! contract's order is sign-in (401, 403, 429), then format (406), then path
//! and query (400).

use actix_web::HttpRequest;

use chrono::NaiveDateTime;

use crate::domain::history::EventFilter;
use crate::domain::{IdFilter, Include, Range};
use crate::http::errors::ApiError;
use crate::http::format::{ALL_FORMATS, API_FORMATS, ApiFormat, Format, negotiate};
use crate::http::params;

/// Something a handler reads from the request's head.
pub trait Inputs: Sized {
    fn parse(req: &HttpRequest) -> Result<Self, ApiError>;
}

impl Inputs for () {
    fn parse(_: &HttpRequest) -> Result<(), ApiError> {
        Ok(())
    }
}

/// The format the client asked for, among those of the API (406).
impl Inputs for ApiFormat {
    fn parse(req: &HttpRequest) -> Result<ApiFormat, ApiError> {
        api_format(req, API_FORMATS)
    }
}

/// The API format on a route whose path also serves the managers' page:
/// its 406 names `.html` too, since the page is one of the path's answers.
#[derive(Debug, Clone, Copy)]
pub struct BesidePage(pub ApiFormat);

impl Inputs for BesidePage {
    fn parse(req: &HttpRequest) -> Result<BesidePage, ApiError> {
        api_format(req, ALL_FORMATS).map(BesidePage)
    }
}

/// The id in the path (every route has at most one); 400 unless it is a
/// positive integer.
#[derive(Debug, Clone, Copy)]
pub struct PathId(pub i64);

impl Inputs for PathId {
    fn parse(req: &HttpRequest) -> Result<PathId, ApiError> {
        let text = req.match_info().iter().next().map_or("", |(_, v)| v);
        params::parse_path_id(text).map(PathId)
    }
}

/// The user and the user group of a membership addressed by its pair
/// (`/user_groups/{user_group_id}/users/{user_id}` and its mirror); 400
/// unless both are positive integers.
#[derive(Debug, Clone, Copy)]
pub struct PathPair {
    pub user: i64,
    pub user_group: i64,
}

impl Inputs for PathPair {
    fn parse(req: &HttpRequest) -> Result<PathPair, ApiError> {
        let id = |name| params::parse_path_id(req.match_info().get(name).unwrap_or(""));
        Ok(PathPair {
            user_group: id("user_group_id")?,
            user: id("user_id")?,
        })
    }
}

/// `include` of a request for one record (400 for an unknown name).
impl Inputs for Include {
    fn parse(req: &HttpRequest) -> Result<Include, ApiError> {
        params::include_query(req.query_string())
    }
}

/// `include`, `start` and `end` of a request for a list.
#[derive(Debug, Clone, Copy)]
pub struct ListQuery {
    pub include: Include,
    pub range: Range,
}

impl Inputs for ListQuery {
    fn parse(req: &HttpRequest) -> Result<ListQuery, ApiError> {
        let (include, range) = params::list_query(req.query_string())?;
        Ok(ListQuery { include, range })
    }
}

/// A parameter that narrows a list to one match by a unique value:
/// `login` on the users' list, `name` on the groups' (the last one given;
/// `None` when absent).
#[derive(Debug, Clone)]
pub struct LoginQuery(pub Option<String>);

impl Inputs for LoginQuery {
    fn parse(req: &HttpRequest) -> Result<LoginQuery, ApiError> {
        params::single_value(req.query_string(), "login").map(LoginQuery)
    }
}

/// `name` on the groups' list, as [`LoginQuery`].
#[derive(Debug, Clone)]
pub struct NameQuery(pub Option<String>);

impl Inputs for NameQuery {
    fn parse(req: &HttpRequest) -> Result<NameQuery, ApiError> {
        params::single_value(req.query_string(), "name").map(NameQuery)
    }
}

/// `dry_run` on a member-set `PUT` or `PATCH` (API.md 8.4): `true` answers
/// the report and changes nothing; absent or `false`, the change is made.
#[derive(Debug, Clone, Copy)]
pub struct DryRun(pub bool);

impl Inputs for DryRun {
    fn parse(req: &HttpRequest) -> Result<DryRun, ApiError> {
        match params::single_value(req.query_string(), "dry_run")?.as_deref() {
            None | Some("false") | Some("0") => Ok(DryRun(false)),
            Some("true") | Some("1") => Ok(DryRun(true)),
            Some(other) => Err(ApiError::bad_request(format!(
                "dry_run must be true or false, not \"{}\".",
                other.chars().take(40).collect::<String>()
            ))),
        }
    }
}

/// What a membership list takes: `include`, `start`/`end`, `as_of`,
/// `user_id` and `user_group_id`; every problem is reported.
#[derive(Debug, Clone)]
pub struct MembershipsQuery {
    pub include: Include,
    pub range: Range,
    pub as_of: Option<NaiveDateTime>,
    pub ids: IdFilter,
}

impl Inputs for MembershipsQuery {
    fn parse(req: &HttpRequest) -> Result<MembershipsQuery, ApiError> {
        let (include, range, as_of, ids) = params::memberships_query(req.query_string())?;
        Ok(MembershipsQuery {
            include,
            range,
            as_of,
            ids,
        })
    }
}

/// What the event feed takes: `include`, `start`/`end` and its filters.
#[derive(Debug, Clone)]
pub struct FeedQuery {
    pub include: Include,
    pub range: Range,
    pub filter: EventFilter,
}

impl Inputs for FeedQuery {
    fn parse(req: &HttpRequest) -> Result<FeedQuery, ApiError> {
        let (include, range, filter) = params::feed_query(req.query_string())?;
        Ok(FeedQuery {
            include,
            range,
            filter,
        })
    }
}

macro_rules! tuple_inputs {
    ($($name:ident),+) => {
        impl<$($name: Inputs),+> Inputs for ($($name,)+) {
            fn parse(req: &HttpRequest) -> Result<Self, ApiError> {
                Ok(($($name::parse(req)?,)+))
            }
        }
    };
}

tuple_inputs!(A);
tuple_inputs!(A, B);
tuple_inputs!(A, B, C);
tuple_inputs!(A, B, C, D);
tuple_inputs!(A, B, C, D, E);
tuple_inputs!(A, B, C, D, E, F);

/// The API format of a request, chosen among `supported` (406 when none
/// fits). Where a route shares its path with the managers' page the choice
/// is made among all three formats, as the router's guard did; an HTML
/// answer never reaches here then (those requests go to the page's
/// handlers, by [`wants_page`]).
fn api_format(req: &HttpRequest, supported: &[Format]) -> Result<ApiFormat, ApiError> {
    match negotiate(req, supported)? {
        Format::Xml => Ok(ApiFormat::Xml),
        Format::Json => Ok(ApiFormat::Json),
        Format::Html | Format::Scim => {
            log::error!(
                "an HTML or SCIM request reached an API handler: {}",
                req.path()
            );
            Err(ApiError::Internal)
        }
    }
}
