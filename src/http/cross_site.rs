//! Cross-site form protection. A browser that holds a manager's Basic
//! credentials sends them with any form, including one on another site that
//! posts here. Such a form can only use the form content types, so a
//! state-changing request with one of those must show where it came from:
//! its `Origin` (or, lacking it, its `Referer`) must be syncd's own origin or
//! one listed in `SYNCD_ALLOWED_ORIGINS`. XML and JSON bodies cannot be sent
//! cross-site without the site's consent (CORS preflight), so they pass.

use actix_web::HttpRequest;
use actix_web::http::{Method, header};

use crate::http::body::is_form;
use crate::http::errors::ApiError;

/// An origin: scheme, host and port (the scheme's default when not given).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    scheme: String,
    host: String,
    port: u16,
}

impl Origin {
    /// Parses the origin of `scheme://host[:port]` followed by nothing, or
    /// (with `allow_path`, for a `Referer`) by a path, query or fragment.
    fn parse(text: &str, allow_path: bool) -> Option<Origin> {
        let (scheme, rest) = text.trim().split_once("://")?;
        let scheme = scheme.to_ascii_lowercase();
        let default_port = match scheme.as_str() {
            "http" => 80,
            "https" => 443,
            _ => return None,
        };
        let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        let (authority, tail) = rest.split_at(end);
        if !(allow_path || tail.is_empty() || tail == "/") || authority.contains('@') {
            return None;
        }
        let (host, port) = split_host_port(authority)?;
        Some(Origin {
            scheme,
            host,
            port: port.unwrap_or(default_port),
        })
    }

    /// True when a request whose `Host` header is `host` is addressed to
    /// this origin (the scheme is whatever the client used to reach us).
    fn is_host(&self, host: &str) -> bool {
        match split_host_port(host) {
            Some((name, port)) => {
                name == self.host
                    && port.unwrap_or(if self.scheme == "https" { 443 } else { 80 }) == self.port
            }
            None => false,
        }
    }
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}://{}:{}", self.scheme, self.host, self.port)
    }
}

/// `host[:port]`, `[v6]` or `[v6]:port`, lowercased; `None` if malformed.
fn split_host_port(authority: &str) -> Option<(String, Option<u16>)> {
    let authority = authority.trim().to_ascii_lowercase();
    let (host, port) = if let Some(rest) = authority.strip_prefix('[') {
        let (v6, after) = rest.split_once(']')?;
        let port = match after {
            "" => None,
            p => Some(p.strip_prefix(':')?),
        };
        (format!("[{v6}]"), port)
    } else {
        match authority.split_once(':') {
            Some((h, p)) => (h.to_string(), Some(p)),
            None => (authority.clone(), None),
        }
    };
    let valid = |c: char| c.is_ascii_alphanumeric() || "-._[]:".contains(c);
    if host.is_empty() || !host.chars().all(valid) {
        return None;
    }
    let port = match port {
        None => None,
        Some(p) => Some(p.parse::<u16>().ok()?),
    };
    Some((host, port))
}

/// The origins besides syncd's own that may post forms to it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AllowedOrigins(Vec<Origin>);

impl AllowedOrigins {
    /// Parses `SYNCD_ALLOWED_ORIGINS`: comma-separated origins such as
    /// `https://intranet.example.com`.
    pub fn parse(list: &str) -> Result<AllowedOrigins, String> {
        list.split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| {
                Origin::parse(s, false).ok_or_else(|| {
                    format!(
                        "\"{s}\" is not an origin: write scheme://host[:port], such as https://intranet.example.com"
                    )
                })
            })
            .collect::<Result<Vec<_>, _>>()
            .map(AllowedOrigins)
    }
}

/// Refuses (403) a state-changing form request that did not come from
/// syncd's own pages or an allowed origin; everything else passes.
pub fn check(req: &HttpRequest, allowed: &AllowedOrigins) -> Result<(), ApiError> {
    if matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS) || !is_form(req) {
        return Ok(());
    }
    let headers = req.headers();
    let text = |name| headers.get(name).and_then(|v| v.to_str().ok());
    let (source, from) = match (text(header::ORIGIN), text(header::REFERER)) {
        (Some(origin), _) => (Origin::parse(origin, false), origin),
        (None, Some(referer)) => (Origin::parse(referer, true), referer),
        (None, None) => {
            return Err(ApiError::Forbidden(
                "This form was refused: it has neither an Origin nor a Referer header, so syncd \
                 cannot tell that it comes from its own page. Scripts should send XML or JSON."
                    .into(),
            ));
        }
    };
    let own = text(header::HOST).unwrap_or("");
    match source {
        Some(origin) if origin.is_host(own) || allowed.0.contains(&origin) => Ok(()),
        _ => Err(ApiError::Forbidden(format!(
            "This form was refused: it was sent from another site ({}). Only syncd's own page \
             and the origins in SYNCD_ALLOWED_ORIGINS may post forms here.",
            from.chars().take(80).collect::<String>()
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    fn form(method: Method) -> TestRequest {
        TestRequest::default()
            .method(method)
            .insert_header((header::HOST, "syncd.example.com:3000"))
            .insert_header((header::CONTENT_TYPE, "application/x-www-form-urlencoded"))
    }

    fn allowed() -> AllowedOrigins {
        AllowedOrigins::parse("https://intranet.example.com, http://[::1]:8080/").unwrap()
    }

    fn verdict(req: TestRequest) -> bool {
        check(&req.to_http_request(), &allowed()).is_ok()
    }

    #[test]
    fn own_and_allowed_origins_pass() {
        for origin in [
            "http://syncd.example.com:3000",
            "https://SYNCD.example.com:3000",
            "https://intranet.example.com",
            "https://intranet.example.com:443",
            "http://[::1]:8080",
        ] {
            assert!(
                verdict(form(Method::POST).insert_header((header::ORIGIN, origin))),
                "{origin}"
            );
        }
        let referer = "http://syncd.example.com:3000/user-group-memberships.html?start=1";
        assert!(verdict(
            form(Method::POST).insert_header((header::REFERER, referer))
        ));
    }

    #[test]
    fn other_origins_and_none_are_refused() {
        for origin in [
            "http://evil.example.com",
            "http://syncd.example.com",
            "http://syncd.example.com:3001",
            "https://intranet.example.com:8443",
            "http://intranet.example.com",
            "null",
            "http://syncd.example.com:3000.evil.com",
            "http://user@syncd.example.com:3000",
            "",
        ] {
            assert!(
                !verdict(form(Method::POST).insert_header((header::ORIGIN, origin))),
                "{origin}"
            );
        }
        assert!(!verdict(form(Method::POST)));
        assert!(!verdict(form(Method::DELETE)));
        // Origin wins over a same-site Referer.
        assert!(!verdict(
            form(Method::POST)
                .insert_header((header::ORIGIN, "http://evil.example.com"))
                .insert_header((header::REFERER, "http://syncd.example.com:3000/"))
        ));
        assert!(!verdict(
            form(Method::POST).insert_header((header::REFERER, "http://evil.example.com/x"))
        ));
    }

    #[test]
    fn reads_and_non_form_bodies_pass() {
        assert!(verdict(form(Method::GET)));
        for ct in ["application/xml", "application/json", "text/plain"] {
            assert!(verdict(
                TestRequest::post().insert_header((header::CONTENT_TYPE, ct))
            ));
        }
        let multipart = TestRequest::post()
            .insert_header((header::CONTENT_TYPE, "multipart/form-data; boundary=x"));
        assert!(!verdict(multipart));
    }

    #[test]
    fn allowed_origins_must_be_origins() {
        assert_eq!(
            AllowedOrigins::parse("").unwrap(),
            AllowedOrigins::default()
        );
        for bad in [
            "intranet.example.com",
            "ftp://x",
            "https://x/path",
            "https://x:99999",
        ] {
            assert!(AllowedOrigins::parse(bad).is_err(), "{bad}");
        }
    }
}
