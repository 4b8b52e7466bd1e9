//! Who is calling: an API token (`X-API-KEY`, or HTTP Basic with the token as
//! user name and any password), or HTTP Basic `login:password`. Extractors
//! [`Caller`] (anyone signed in) and [`Manager`] (a User Group Manager).
//! Failed sign-ins and lockouts are logged under the target
//! `syncd::sign_in`, with the address and a user id or a login digest,
//! never a secret.

use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::http::header::{self, HeaderMap};
use actix_web::{FromRequest, HttpRequest, web};
use base64::Engine;

use std::net::IpAddr;

use actix_web::HttpMessage;
use sha2::{Digest, Sha256};

use crate::db::models::User;
use crate::db::queries::users;
use crate::domain::text;
use crate::http::errors::ApiError;
use crate::http::inputs::Inputs;
use crate::security::lockout::login_key;
use crate::security::secrets::token_digest;
use crate::security::throttle::retry_after_secs;
use crate::state::{AppState, read_one};

/// Credentials as sent, before they are checked.
#[derive(PartialEq, Eq)]
pub enum SentCredentials {
    Token(String),
    Basic { user: String, password: String },
}

impl std::fmt::Debug for SentCredentials {
    // Never print a secret, even in a debug log.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SentCredentials::Token(_) => f.write_str("Token(..)"),
            SentCredentials::Basic { user, .. } => write!(f, "Basic({}, ..)", user.len()),
        }
    }
}

/// Reads credentials from the headers; `None` when there are none or they
/// cannot be decoded (both answer 401).
pub fn read_credentials(headers: &HeaderMap) -> Option<SentCredentials> {
    if let Some(key) = headers.get("x-api-key") {
        let key = key.to_str().ok()?.trim();
        return (!key.is_empty()).then(|| SentCredentials::Token(key.to_string()));
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
        return Some(SentCredentials::Basic {
            user: user.to_string(),
            password: password.to_string(),
        });
    }
    if scheme.eq_ignore_ascii_case("bearer") && !rest.is_empty() {
        return Some(SentCredentials::Token(rest.to_string()));
    }
    None
}

/// Only `Authorization: Bearer TOKEN`, as SCIM clients send it (API.md 9:
/// X-API-KEY and Basic do not sign in under `/scim/`).
pub fn read_bearer(headers: &HeaderMap) -> Option<SentCredentials> {
    if headers.contains_key("x-api-key") {
        return None;
    }
    match read_credentials(headers)? {
        SentCredentials::Token(token) => Some(SentCredentials::Token(token)),
        SentCredentials::Basic { .. } => None,
    }
}

/// The signed-in user's id, kept in the request's extensions for the
/// access log.
#[derive(Debug, Clone, Copy)]
pub struct SignedIn(pub i64);

/// Checks credentials and returns the user they belong to. Password
/// sign-ins are counted against `address` and the login (429 once over the
/// limit); token sign-ins are not (see `lockout`).
pub async fn authenticate(
    state: &AppState,
    address: Option<IpAddr>,
    creds: SentCredentials,
) -> Result<User, ApiError> {
    match creds {
        SentCredentials::Token(token) => token_sign_in(state, address, &token).await,
        // Highrise style: the token as the user name. Logins never have a
        // token's shape, so the two cannot be confused.
        SentCredentials::Basic { user, .. } if text::looks_like_token(&user) => {
            token_sign_in(state, address, &user).await
        }
        SentCredentials::Basic { user, password } => {
            password_sign_in(state, address, user, password).await
        }
    }
}

async fn token_sign_in(
    state: &AppState,
    address: Option<IpAddr>,
    token: &str,
) -> Result<User, ApiError> {
    match by_token(state, token).await? {
        Some(user) => Ok(user),
        None => {
            log::info!(target: EVENTS, "sign-in failed: an unknown API token from {}", shown(address));
            Err(ApiError::Unauthorized)
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

/// A Basic `login:password` sign-in. The attempt is counted before the
/// password is checked and refunded if it succeeds, so that concurrent
/// guesses cannot all slip in under the limit.
async fn password_sign_in(
    state: &AppState,
    address: Option<IpAddr>,
    login: String,
    password: String,
) -> Result<User, ApiError> {
    let possible = text::Login::parse(&login).is_ok();
    let lockout = &state.sign_in_failures;
    // A database that cannot count is 503 here: the attempt is not decided.
    let attempt = match lockout
        .begin(address, possible.then(|| login_key(&login)))
        .await?
    {
        Ok(attempt) => attempt,
        Err(refusal) => {
            log::debug!(target: EVENTS, "sign-in refused while locked out: {} from {}", login_digest(&login), shown(address));
            let retry_after = retry_after_secs(refusal.wait());
            return Err(ApiError::SignInThrottled { retry_after });
        }
    };
    // A login that cannot exist (wrong characters, a NUL, too long) is
    // refused before the database or argon2 see it; it still counts.
    let outcome = if possible {
        check_password(state, &login, password).await
    } else {
        Ok(Err(None))
    };
    match outcome {
        Ok(Ok(user)) => {
            lockout.succeeded(attempt).await;
            Ok(user)
        }
        Ok(Err(known)) => {
            let who = match known {
                Some(id) => format!("user {id}"),
                None => login_digest(&login),
            };
            let from = shown(address);
            log::info!(target: EVENTS, "sign-in failed: a wrong password for {who} from {from}");
            let locked = lockout.failed(attempt);
            let limit = lockout.limit();
            let window = limit.window.as_secs();
            if locked.address {
                log::warn!(target: EVENTS, "sign-in lockout: address {from} after {} failed password sign-ins, for {window} s", limit.count);
            }
            if locked.login {
                log::warn!(target: EVENTS, "sign-in lockout: {who} after {} failed password sign-ins, for {window} s", limit.count);
            }
            Err(ApiError::Unauthorized)
        }
        Err(e) => {
            // Not decided (database down, checkers busy): not a failure.
            lockout.abandoned(attempt).await;
            Err(e)
        }
    }
}

/// The user, or why not: `Err(Some(id))` for a wrong password of an existing
/// user, `Err(None)` for an unknown login or a user without a password.
async fn check_password(
    state: &AppState,
    login: &str,
    password: String,
) -> Result<Result<User, Option<i64>>, ApiError> {
    let key = login.to_string();
    let found = read_one(state, move |c| Ok(users::find_with_password(c, &key)?)).await?;
    let (user, stored) = match found {
        Some((user, stored)) => (Some(user), stored),
        None => (None, None),
    };
    // The cache entry holds the stored hash it was verified against, so a
    // changed or removed password stops matching at once.
    if let (Some(user), Some(stored)) = (&user, &stored) {
        if state.passwords.lookup(login, &password, stored) {
            return Ok(Ok(user.clone()));
        }
    }
    let ok = state
        .password_checkers
        .check(password.clone(), stored.clone())
        .await
        .map_err(|_busy| {
            log::warn!(target: EVENTS, "sign-in not checked: every password checker is busy");
            ApiError::PasswordChecksBusy
        })?;
    match (user, stored) {
        (Some(user), Some(stored)) if ok => {
            state.passwords.remember(login, &password, &stored);
            Ok(Ok(user))
        }
        (user, _) => Ok(Err(user.map(|u| u.id))),
    }
}

/// The log target of sign-in events.
const EVENTS: &str = "syncd::sign_in";

fn shown(address: Option<IpAddr>) -> String {
    address.map_or_else(|| "an unknown address".into(), |a| a.to_string())
}

/// A login as the log shows it: a digest keyed per process, never the text.
/// A user name field sometimes holds a password typed in the wrong place;
/// keyed, the digest cannot be tried against a list of guesses, yet the
/// failures of one login in one run still share a digest.
fn login_digest(login: &str) -> String {
    static KEY: std::sync::OnceLock<[u8; 16]> = std::sync::OnceLock::new();
    let key = KEY.get_or_init(|| {
        let mut key = [0u8; 16];
        let _ = getrandom::fill(&mut key);
        key
    });
    let mut h = Sha256::new();
    h.update(key);
    h.update(login.as_bytes());
    format!("login #{}", &hex::encode(h.finalize())[..16])
}

type Extracted<T> = Pin<Box<dyn Future<Output = Result<T, ApiError>>>>;

/// Who may call a route.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Role {
    Anyone,
    Manager,
}

/// Signs the caller in (401, 429), checks the role (403), then parses the
/// handler's inputs: the one body of both extractors below.
fn extract<I: Inputs + 'static>(req: &HttpRequest, role: Role) -> Extracted<(User, I)> {
    extract_from(req, role, read_credentials(req.headers()))
}

/// [`extract`] with the credentials already read (`None`: 401).
fn extract_from<I: Inputs + 'static>(
    req: &HttpRequest,
    role: Role,
    creds: Option<SentCredentials>,
) -> Extracted<(User, I)> {
    let state = req.app_data::<web::Data<AppState>>().cloned();
    let address = req.peer_addr().map(|a| a.ip());
    let req = req.clone();
    Box::pin(async move {
        let state = state.ok_or(ApiError::Internal)?;
        // No credentials is not a guess: a browser's first request has none.
        let creds = creds.ok_or(ApiError::Unauthorized)?;
        let user = authenticate(&state, address, creds).await?;
        req.extensions_mut().insert(SignedIn(user.id));
        if let Some(limit) = &state.rate_limit
            && let Some(wait) = limit.hit(user.id).await?
        {
            let retry_after = retry_after_secs(wait);
            return Err(ApiError::RateLimited {
                retry_after,
                limit: limit.limit(),
            });
        }
        if role == Role::Manager && !user.user_group_manager {
            return Err(ApiError::Forbidden(
                "Only User Group Managers can see or change user groups and their memberships."
                    .into(),
            ));
        }
        let inputs = I::parse(&req)?;
        Ok((user, inputs))
    })
}

/// Any signed-in user, and the handler's inputs (parsed after sign-in).
pub struct Caller<I = ()>(pub User, pub I);

impl<I: Inputs + 'static> FromRequest for Caller<I> {
    type Error = ApiError;
    type Future = Extracted<Caller<I>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let signed_in = extract(req, Role::Anyone);
        Box::pin(async move {
            let (user, inputs) = signed_in.await?;
            Ok(Caller(user, inputs))
        })
    }
}

/// A signed-in User Group Manager (anyone else signed in gets 403), and the
/// handler's inputs (parsed after sign-in and the role check).
pub struct Manager<I = ()>(pub User, pub I);

impl<I: Inputs + 'static> FromRequest for Manager<I> {
    type Error = ApiError;
    type Future = Extracted<Manager<I>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let signed_in = extract(req, Role::Manager);
        Box::pin(async move {
            let (user, inputs) = signed_in.await?;
            Ok(Manager(user, inputs))
        })
    }
}

/// A User Group Manager signed in with a bearer token, as SCIM requires
/// (401 for any other credentials, 403 for anyone else), and the
/// handler's inputs.
pub struct ScimManager<I = ()>(pub User, pub I);

impl<I: Inputs + 'static> FromRequest for ScimManager<I> {
    type Error = ApiError;
    type Future = Extracted<ScimManager<I>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let signed_in = extract_from(req, Role::Manager, read_bearer(req.headers()));
        Box::pin(async move {
            let (user, inputs) = signed_in.await?;
            Ok(ScimManager(user, inputs))
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
            read_credentials(&headers(&[("x-api-key", "abc")])),
            Some(SentCredentials::Token("abc".into()))
        );
        assert_eq!(
            read_credentials(&headers(&[("authorization", &basic("tok:X"))])),
            Some(SentCredentials::Basic {
                user: "tok".into(),
                password: "X".into()
            })
        );
        assert_eq!(
            read_credentials(&headers(&[("authorization", &basic("alice:pa:ss"))])),
            Some(SentCredentials::Basic {
                user: "alice".into(),
                password: "pa:ss".into()
            })
        );
        assert_eq!(
            read_credentials(&headers(&[("authorization", "Bearer tok")])),
            Some(SentCredentials::Token("tok".into()))
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
            assert_eq!(read_credentials(&h), None);
        }
    }

    #[test]
    fn debug_output_never_shows_secrets() {
        let t = format!("{:?}", SentCredentials::Token("sekrit".into()));
        let b = format!(
            "{:?}",
            SentCredentials::Basic {
                user: "u".into(),
                password: "sekrit".into()
            }
        );
        assert!(!t.contains("sekrit") && !b.contains("sekrit"));
    }
}
