//! Response formats. The format comes from the path's extension (`.xml`,
//! `.json`, `.html`), which is stripped before routing so that one route
//! serves every format; a path without an extension is XML.

use actix_web::dev::ServiceRequest;
use actix_web::http::Uri;
use actix_web::{HttpMessage, HttpRequest};

use super::errors::ApiError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Xml,
    Json,
    Html,
}

impl Format {
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Xml => "application/xml; charset=utf-8",
            Format::Json => "application/json; charset=utf-8",
            Format::Html => "text/html; charset=utf-8",
        }
    }
}

/// What a request asked for, stored in its extensions before routing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Requested {
    Known(Format),
    /// An extension syncd does not serve (`.csv`, `.yaml`, ...).
    Unknown(String),
}

impl Requested {
    /// The format errors are written in: the requested one when it is JSON,
    /// else XML (also for formats syncd does not serve).
    pub fn error_format(&self) -> Format {
        match self {
            Requested::Known(Format::Json) => Format::Json,
            _ => Format::Xml,
        }
    }
}

/// Takes the extension off the last path segment, rewrites the path for the
/// router, and returns what the extension asked for.
pub fn strip_extension(req: &mut ServiceRequest) -> Requested {
    let path = req.path();
    let last_segment_start = path.rfind('/').map_or(0, |i| i + 1);
    let Some(dot) = path[last_segment_start..].rfind('.') else {
        return Requested::Known(Format::Xml);
    };
    let dot = last_segment_start + dot;
    if dot == last_segment_start {
        // `/.xml` or `/.hidden`: not an extension.
        return Requested::Known(Format::Xml);
    }
    let ext = path[dot + 1..].to_ascii_lowercase();
    let requested = match ext.as_str() {
        "xml" => Requested::Known(Format::Xml),
        "json" => Requested::Known(Format::Json),
        "html" => Requested::Known(Format::Html),
        _ => Requested::Unknown(ext.chars().take(20).collect()),
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

/// The format of an API response; 406 for one this resource does not serve.
pub fn api_format(req: &HttpRequest) -> Result<Format, ApiError> {
    let requested = req
        .extensions()
        .get::<Requested>()
        .cloned()
        .unwrap_or(Requested::Known(Format::Xml));
    match requested {
        Requested::Known(Format::Xml) => Ok(Format::Xml),
        Requested::Known(Format::Json) => Err(ApiError::NotAcceptable(
            "JSON is not served yet: ask for .xml.".into(),
        )),
        Requested::Known(Format::Html) => Err(ApiError::NotAcceptable(
            "There is no HTML page here: ask for .xml.".into(),
        )),
        Requested::Unknown(ext) => Err(ApiError::NotAcceptable(format!(
            "syncd does not serve .{ext}: ask for .xml."
        ))),
    }
}
