//! Who is calling: an API token (`X-API-KEY`, or HTTP Basic with the token as
//! user name and any password), or HTTP Basic `login:password`. Extractors
//! [`Caller`] (anyone signed in) and [`Manager`] (a User Group Manager).

use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::http::header::{self, HeaderMap};
use actix_web::{FromRequest, HttpRequest, web};
use base64::Engine;

use super::errors::ApiError;
use super::{AppState, read_one, run_db};
use crate::credentials::{token_digest, verify_password};
use crate::db::models::User;
use crate::db::queries::users;
use crate::throttle::retry_after_secs;

/// Credentials as sent, before they are checked.
#[derive(PartialEq, Eq)]
pub enum Credentials {
    Token(String),
    Basic { user: String, password: String },
}

impl std::fmt::Debug for Credentials {
    // Never print a secret, even in a debug log.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Credentials::Token(_) => f.write_str("Token(..)"),
            Credentials::Basic { user, .. } => write!(f, "Basic({}, ..)", user.len()),
        }
    }
}

/// Reads credentials from the headers; `None` when there are none or they
/// cannot be decoded (both answer 401).
pub fn credentials(headers: &HeaderMap) -> Option<Credentials> {
    if let Some(key) = headers.get("x-api-key") {
        let key = key.to_str().ok()?.trim();
        return (!key.is_empty()).then(|| Credentials::Token(key.to_string()));
    }
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?.trim();
    let (scheme, rest) = value.split_once(' ')?;
    let rest = rest.trim();
    if scheme.eq_ignore_ascii_case("basic") {
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(rest)
            .ok()?;
        let decoded = String::from_utf8(decoded).ok()?;
        let (user, password) = decoded.split_once(':').unwrap_or((&decoded, ""));
        if user.is_empty() {
            return None;
        }
        return Some(Credentials::Basic {
            user: user.to_string(),
            password: password.to_string(),
        });
    }
    if scheme.eq_ignore_ascii_case("bearer") && !rest.is_empty() {
        return Some(Credentials::Token(rest.to_string()));
    }
    None
}

/// Checks credentials and returns the user they belong to.
pub async fn authenticate(state: &AppState, creds: Credentials) -> Result<User, ApiError> {
    match creds {
        Credentials::Token(token) => by_token(state, &token).await?.ok_or(ApiError::Unauthorized),
        Credentials::Basic { user, password } => {
            // Highrise style first: the token as the user name.
            if let Some(found) = by_token(state, &user).await? {
                return Ok(found);
            }
            login_with_password(state, user, password).await
        }
    }
}

/// The user a token belongs to: from the short-lived cache, else the
/// database (only successes are cached: a wrong token always costs a look).
async fn by_token(state: &AppState, token: &str) -> Result<Option<User>, ApiError> {
    let digest = token_digest(token);
    if let Some(user) = state.tokens.get(&digest) {
        return Ok(Some(user));
    }
    let key = digest.clone();
    let found = read_one(state, move |c| Ok(users::find_by_token_digest(c, &key)?)).await?;
    if let Some(user) = &found {
        state.tokens.put(digest, user.clone());
    }
    Ok(found)
}

async fn login_with_password(
    state: &AppState,
    login: String,
    password: String,
) -> Result<User, ApiError> {
    if let Some(id) = state.passwords.lookup(&login, &password) {
        if let Some(user) = read_one(state, move |c| Ok(users::find(c, id)?)).await? {
            return Ok(user);
        }
    }
    let lookup_login = login.clone();
    let found = run_db(state, move |c| {
        Ok(users::find_with_password(c, &lookup_login)?)
    })
    .await?;
    let (user, digest) = match found {
        Some((user, digest)) => (Some(user), digest),
        None => (None, None),
    };
    // argon2 is slow on purpose: keep it off the async workers.
    let pw = password.clone();
    let ok = web::block(move || verify_password(&pw, digest.as_deref())).await?;
    match user {
        Some(user) if ok => {
            state.passwords.remember(&login, &password, user.id);
            Ok(user)
        }
        _ => Err(ApiError::Unauthorized),
    }
}

type Extracted<T> = Pin<Box<dyn Future<Output = Result<T, ApiError>>>>;

fn extract_user(req: &HttpRequest) -> Extracted<User> {
    let state = req.app_data::<web::Data<AppState>>().cloned();
    let creds = credentials(req.headers());
    let address = req.peer_addr().map(|a| a.ip());
    Box::pin(async move {
        let state = state.ok_or(ApiError::Internal)?;
        // No credentials is not a guess: a browser's first request has none.
        let creds = creds.ok_or(ApiError::Unauthorized)?;
        let keys = failure_keys(address, &creds);
        // Checked before the credentials, so that once throttled even the
        // right password gets 429 and a guess cannot be confirmed.
        let failures = &state.sign_in_failures;
        if let Some(wait) = keys.iter().filter_map(|k| failures.blocked(k)).max() {
            let retry_after = retry_after_secs(wait);
            return Err(ApiError::SignInThrottled { retry_after });
        }
        let user = match authenticate(&state, creds).await {
            Ok(user) => user,
            Err(ApiError::Unauthorized) => {
                for key in &keys {
                    failures.hit(key);
                }
                return Err(ApiError::Unauthorized);
            }
            Err(e) => return Err(e),
        };
        // A login that signs in starts again; an address does not, or one
        // account of the attacker's own would reset its count.
        if let Some(login) = keys.get(1) {
            failures.clear(login);
        }
        if let Some(limit) = &state.rate_limit
            && let Some(wait) = limit.hit(&format!("user:{}", user.id))
        {
            let retry_after = retry_after_secs(wait);
            return Err(ApiError::RateLimited {
                retry_after,
                limit: limit.limit(),
            });
        }
        Ok(user)
    })
}

/// What failed sign-ins are counted against: the client's address, and for
/// HTTP Basic the login too (as a digest, so a long or secret user name
/// costs a fixed few bytes and is never kept as sent).
fn failure_keys(address: Option<std::net::IpAddr>, creds: &Credentials) -> Vec<String> {
    let mut keys = vec![match address {
        Some(ip) => format!("address:{ip}"),
        None => "address:unknown".to_string(),
    }];
    if let Credentials::Basic { user, .. } = creds {
        let digest = xxhash_rust::xxh3::xxh3_128(user.as_bytes());
        keys.push(format!("login:{digest:032x}"));
    }
    keys
}

/// Any signed-in user.
pub struct Caller(pub User);

impl FromRequest for Caller {
    type Error = ApiError;
    type Future = Extracted<Caller>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let user = extract_user(req);
        Box::pin(async move { Ok(Caller(user.await?)) })
    }
}

/// A signed-in User Group Manager; anyone else signed in gets 403.
pub struct Manager(pub User);

impl FromRequest for Manager {
    type Error = ApiError;
    type Future = Extracted<Manager>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let user = extract_user(req);
        Box::pin(async move {
            let user = user.await?;
            if !user.user_group_manager {
                return Err(ApiError::Forbidden(
                    "Only User Group Managers can see or change user groups and their memberships."
                        .into(),
                ));
            }
            Ok(Manager(user))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::http::header::{HeaderName, HeaderValue};

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (k, v) in pairs {
            map.insert(
                HeaderName::from_bytes(k.as_bytes()).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        map
    }

    fn basic(s: &str) -> String {
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(s)
        )
    }

    #[test]
    fn reads_every_way_of_sending_credentials() {
        assert_eq!(
            credentials(&headers(&[("x-api-key", "abc")])),
            Some(Credentials::Token("abc".into()))
        );
        assert_eq!(
            credentials(&headers(&[("authorization", &basic("tok:X"))])),
            Some(Credentials::Basic {
                user: "tok".into(),
                password: "X".into()
            })
        );
        assert_eq!(
            credentials(&headers(&[("authorization", &basic("alice:pa:ss"))])),
            Some(Credentials::Basic {
                user: "alice".into(),
                password: "pa:ss".into()
            })
        );
        assert_eq!(
            credentials(&headers(&[("authorization", "Bearer tok")])),
            Some(Credentials::Token("tok".into()))
        );
    }

    #[test]
    fn unreadable_credentials_are_none() {
        for h in [
            headers(&[]),
            headers(&[("x-api-key", "  ")]),
            headers(&[("authorization", "Basic !!!")]),
            headers(&[("authorization", &basic(":pw"))]),
            headers(&[("authorization", "Digest x")]),
            headers(&[("authorization", "Basic")]),
        ] {
            assert_eq!(credentials(&h), None);
        }
    }

    #[test]
    fn debug_output_never_shows_secrets() {
        let t = format!("{:?}", Credentials::Token("sekrit".into()));
        let b = format!(
            "{:?}",
            Credentials::Basic {
                user: "u".into(),
                password: "sekrit".into()
            }
        );
        assert!(!t.contains("sekrit") && !b.contains("sekrit"));
    }
}
