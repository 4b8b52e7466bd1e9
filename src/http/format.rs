//! Response formats. A path's extension (`.xml`, `.json`, `.html`) picks the
//! format and is stripped before routing, so one route serves every format;
//! without an extension the `Accept` header decides, and XML is the default.

use actix_web::dev::ServiceRequest;
use actix_web::http::{Uri, header};
use actix_web::{HttpMessage, HttpRequest};

/// No format the client accepts is served here (406), in words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotAcceptable(pub String);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Xml,
    Json,
    Html,
    /// SCIM 2.0's JSON (API.md 9), for everything under `/scim/`: never
    /// negotiated, chosen by the path.
    Scim,
}

impl Format {
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Xml => "application/xml; charset=utf-8",
            Format::Json => "application/json; charset=utf-8",
            Format::Html => "text/html; charset=utf-8",
            Format::Scim => "application/scim+json",
        }
    }

    pub fn extension(self) -> &'static str {
        match self {
            Format::Xml => "xml",
            Format::Json => "json",
            Format::Html => "html",
            Format::Scim => "scim",
        }
    }

    fn media_types(self) -> &'static [&'static str] {
        match self {
            Format::Xml => &["application/xml", "text/xml"],
            Format::Json => &["application/json"],
            Format::Html => &["text/html"],
            Format::Scim => &["application/scim+json"],
        }
    }
}

/// The formats of the XML/JSON API.
pub const API_FORMATS: &[Format] = &[Format::Xml, Format::Json];

/// Every format syncd writes, XML first (the default).
pub const ALL_FORMATS: &[Format] = &[Format::Xml, Format::Json, Format::Html];

/// What a request asked for, stored in its extensions before routing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Requested {
    Extension(Format),
    /// An extension syncd does not serve (`.csv`, `.yaml`, ...).
    UnknownExtension(String),
    /// No extension: the `Accept` header, if any.
    Accept(Option<String>),
    /// A path under `/scim/`: SCIM's JSON, whatever the path looks like
    /// (schema ids such as `...:core:2.0:User` hold dots).
    Scim,
}

impl Requested {
    /// The format errors are written in: JSON or HTML when that is what
    /// the client asked for, else XML (also for formats syncd does not
    /// serve). A browser gets its errors as a page.
    pub fn error_format(&self) -> Format {
        match self {
            Requested::Extension(f) => *f,
            Requested::Accept(Some(accept)) => choose(accept, ALL_FORMATS).unwrap_or(Format::Xml),
            Requested::Scim => Format::Scim,
            _ => Format::Xml,
        }
    }
}

/// Takes the extension off the last path segment, rewrites the path for the
/// router, and returns what the request asked for.
pub fn strip_extension(req: &mut ServiceRequest) -> Requested {
    let path = req.path();
    if path == "/scim" || path.starts_with("/scim/") {
        return Requested::Scim;
    }
    let segment_start = path.rfind('/').map_or(0, |i| i + 1);
    let dot = match path[segment_start..].rfind('.') {
        // `/.xml` or `/.hidden` is no extension.
        Some(0) | None => None,
        Some(i) => Some(segment_start + i),
    };
    let Some(dot) = dot else {
        let accept = req
            .headers()
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .filter(|v| !v.trim().is_empty())
            .map(|v| v.chars().take(1024).collect());
        return Requested::Accept(accept);
    };
    let ext = path[dot + 1..].to_ascii_lowercase();
    let requested = match ext.as_str() {
        "xml" => Requested::Extension(Format::Xml),
        "json" => Requested::Extension(Format::Json),
        "html" => Requested::Extension(Format::Html),
        _ => Requested::UnknownExtension(ext.chars().take(20).collect()),
    };
    let new_path = match req.query_string() {
        "" => path[..dot].to_string(),
        q => format!("{}?{q}", &path[..dot]),
    };
    if let Ok(uri) = new_path.parse::<Uri>() {
        req.match_info_mut().get_mut().update(&uri);
        req.head_mut().uri = uri;
    }
    requested
}

/// The best of `supported` for an `Accept` header, by q-value (the most
/// specific matching range decides a format's q); ties go to the earlier.
pub fn choose(accept: &str, supported: &[Format]) -> Option<Format> {
    let ranges: Vec<(&str, f32)> = accept
        .split(',')
        .filter_map(|item| {
            let mut parts = item.split(';');
            let range = parts.next()?.trim();
            let q = parts
                .filter_map(|p| p.trim().strip_prefix("q="))
                .find_map(|q| q.trim().parse::<f32>().ok())
                .unwrap_or(1.0);
            (!range.is_empty()).then_some((range, q.clamp(0.0, 1.0)))
        })
        .collect();
    let mut best: Option<(Format, f32)> = None;
    for &format in supported {
        let mut chosen: Option<(u8, f32)> = None;
        for &(range, q) in &ranges {
            let range = range.to_ascii_lowercase();
            let specificity = if format.media_types().contains(&range.as_str()) {
                2
            } else if range == "*/*" {
                0
            } else if range.strip_suffix("/*").is_some_and(|t| {
                format
                    .media_types()
                    .iter()
                    .any(|m| m.starts_with(&format!("{t}/")))
            }) {
                1
            } else {
                continue;
            };
            if chosen.is_none_or(|(s, _)| specificity > s) {
                chosen = Some((specificity, q));
            }
        }
        if let Some((_, q)) = chosen {
            if q > 0.0 && best.is_none_or(|(_, b)| q > b) {
                best = Some((format, q));
            }
        }
    }
    best.map(|(f, _)| f)
}

/// The format for a response among `supported`; 406 when the client asked
/// for none of them.
pub fn negotiate(req: &HttpRequest, supported: &[Format]) -> Result<Format, NotAcceptable> {
    let requested = req
        .extensions()
        .get::<Requested>()
        .cloned()
        .unwrap_or(Requested::Accept(None));
    negotiate_requested(requested, supported)
}

fn negotiate_requested(
    requested: Requested,
    supported: &[Format],
) -> Result<Format, NotAcceptable> {
    let names = supported
        .iter()
        .map(|f| format!(".{}", f.extension()))
        .collect::<Vec<_>>()
        .join(" or ");
    match requested {
        Requested::Extension(f) if supported.contains(&f) => Ok(f),
        Requested::Extension(f) => Err(NotAcceptable(format!(
            "There is no .{} version of this resource: ask for {names}.",
            f.extension()
        ))),
        Requested::UnknownExtension(ext) => Err(NotAcceptable(format!(
            "syncd does not serve .{ext}: ask for {names}."
        ))),
        // (No API handler is routed under `/scim/`.)
        Requested::Accept(None) | Requested::Scim => Ok(supported[0]),
        Requested::Accept(Some(accept)) => choose(&accept, supported).ok_or_else(|| {
            NotAcceptable(format!(
                "None of the types in Accept is served here: ask for {}.",
                supported
                    .iter()
                    .map(|f| f.media_types()[0])
                    .collect::<Vec<_>>()
                    .join(" or ")
            ))
        }),
    }
}

/// The formats records are written in: what an `Encoder` can be handed.
/// The managers' page is not one of them, so a record can never be asked
/// to render as HTML.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApiFormat {
    Xml,
    Json,
}

impl ApiFormat {
    pub fn content_type(self) -> &'static str {
        Format::from(self).content_type()
    }

    pub fn extension(self) -> &'static str {
        Format::from(self).extension()
    }
}

impl From<ApiFormat> for Format {
    fn from(format: ApiFormat) -> Format {
        match format {
            ApiFormat::Xml => Format::Xml,
            ApiFormat::Json => Format::Json,
        }
    }
}

/// Whether a request to a resource that serves the page asks for the page
/// (a route guard: the page has handlers of its own).
pub fn wants_page(requested: Option<&Requested>) -> bool {
    let requested = requested.cloned().unwrap_or(Requested::Accept(None));
    matches!(
        negotiate_requested(requested, ALL_FORMATS),
        Ok(Format::Html)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_picks_by_q_and_specificity() {
        let api = API_FORMATS;
        assert_eq!(choose("application/json", api), Some(Format::Json));
        assert_eq!(choose("text/xml", api), Some(Format::Xml));
        assert_eq!(choose("*/*", api), Some(Format::Xml));
        assert_eq!(choose("application/*", api), Some(Format::Xml));
        assert_eq!(
            choose("application/xml;q=0.5, application/json", api),
            Some(Format::Json)
        );
        assert_eq!(choose("application/json;q=0, */*", api), Some(Format::Xml));
        assert_eq!(choose("text/csv", api), None);
        assert_eq!(
            choose(
                "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
                api
            ),
            Some(Format::Xml)
        );
        assert_eq!(
            choose("text/html,*/*;q=0.8", &[Format::Html, Format::Xml]),
            Some(Format::Html)
        );
    }
}
