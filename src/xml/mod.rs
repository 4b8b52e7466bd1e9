//! Rails-style XML: a writer for `to_xml` output and a reader for request
//! bodies. Knows nothing of the database or of HTTP.

pub mod read;
pub mod write;

pub use read::{Field, Node, XmlError, dasherize, read_nested, read_record};
pub use write::XmlWriter;
