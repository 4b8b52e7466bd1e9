//! Reads a Rails-style record from a request body:
//! `<root><field type="...">value</field>...</root>`.
//!
//! A DOCTYPE is refused outright and no entity other than the five predefined
//! ones and character references is ever expanded, so entity bombs and
//! external entities cannot do anything. Depth and element count are bounded.

use quick_xml::Reader;
use quick_xml::events::{BytesStart, Event};

/// Deeper nesting than this is refused (a record is two levels deep).
pub const MAX_DEPTH: usize = 32;
/// More elements than this is refused.
pub const MAX_ELEMENTS: usize = 4096;

/// One child of the record's root element.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Field {
    /// The name with underscores turned into dashes (`user_id` -> `user-id`).
    pub name: String,
    /// The trimmed text; `None` for `nil="true"`.
    pub value: Option<String>,
}

/// Why a body was refused; each is a 400 with these words.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum XmlError {
    #[error("The request body is empty.")]
    Empty,
    #[error("The request body is not UTF-8.")]
    NotUtf8,
    #[error("The request body is not well-formed XML (near byte {0}).")]
    Malformed(u64),
    #[error("DOCTYPE and entity declarations are not allowed in request bodies.")]
    Doctype,
    #[error("The XML refers to the entity &{0}; which is not one of XML's predefined entities.")]
    UnknownEntity(String),
    #[error("The XML is nested more than {MAX_DEPTH} levels deep.")]
    TooDeep,
    #[error("The XML has more than {0} elements.")]
    TooManyElements(usize),
    #[error("The XML root element must be <{expected}>, not <{found}>.")]
    WrongRoot { expected: String, found: String },
}

/// Turns `user_group_id` into `user-group-id`: Rails clients send either.
pub fn dasherize(name: &str) -> String {
    name.replace('_', "-")
}

/// Reads the children of a record whose root is `root` (dashed form; the
/// underscored form is accepted too). Unknown children are returned as well;
/// the caller ignores what it does not know.
pub fn read_record(body: &[u8], root: &str) -> Result<Vec<Field>, XmlError> {
    Ok(read_nested(body, root, MAX_ELEMENTS)?
        .into_iter()
        .map(|node| node.field)
        .collect())
}

/// A child of the root element, with its own children: an array of a
/// member set (`<user-ids type="array"><user-id>3</user-id>...`) or a
/// record of a change set (`<membership-change><action>add</action>...`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    /// The child itself, with its own text.
    pub field: Field,
    /// Its children, each with its text; anything deeper is skipped.
    pub children: Vec<Field>,
}

/// Reads the root's children and theirs (two levels), with at most
/// `max_elements` elements in all: the bound that keeps a large body's
/// parse in proportion to what it may hold.
///
/// A body that may hold more elements than that (it has more `<`) is read
/// twice: first without keeping anything, so that a body refused, for too
/// many elements or anything else, costs no memory beyond its own. Kept,
/// every element up to the bound costs 80 bytes or more (a member set's
/// 1,000,000 `<a/>`, 4 MB, took 23 MiB before its 422). The refusals are
/// the same either way: the first reading sees the same events.
pub fn read_nested(body: &[u8], root: &str, max_elements: usize) -> Result<Vec<Node>, XmlError> {
    // A body shorter than the bound cannot hold more elements: the record
    // bodies of every create skip the count.
    if body.len() > max_elements && body.iter().filter(|&&b| b == b'<').count() > max_elements {
        walk(body, root, max_elements, false)?;
    }
    walk(body, root, max_elements, true)
}

/// [`read_nested`]'s reading; with `keep` false it keeps nothing and
/// answers an empty list, or the refusal.
fn walk(body: &[u8], root: &str, max_elements: usize, keep: bool) -> Result<Vec<Node>, XmlError> {
    let text = std::str::from_utf8(body).map_err(|_| XmlError::NotUtf8)?;
    if text.trim().is_empty() {
        return Err(XmlError::Empty);
    }
    let mut reader = Reader::from_str(text);
    let mut nodes: Vec<Node> = Vec::new();
    let mut depth = 0usize;
    let mut elements = 0usize;
    let mut root_done = false;
    // The element whose text is being gathered: a child of the root (depth
    // 2 inside it) or one of its children (depth 3).
    let mut node: Option<(Node, String)> = None;
    let mut leaf: Option<(Field, String)> = None;

    loop {
        let position = reader.buffer_position();
        let event = reader
            .read_event()
            .map_err(|_| XmlError::Malformed(position))?;
        match event {
            Event::DocType(_) => return Err(XmlError::Doctype),
            Event::Start(ref e) | Event::Empty(ref e) => {
                let is_empty = matches!(event, Event::Empty(_));
                elements += 1;
                if elements > max_elements {
                    return Err(XmlError::TooManyElements(max_elements));
                }
                if root_done {
                    return Err(XmlError::Malformed(position));
                }
                match depth {
                    0 => {
                        let name = dasherize(&element_name(e, position)?);
                        if name != root {
                            return Err(XmlError::WrongRoot {
                                expected: root.to_string(),
                                found: name,
                            });
                        }
                    }
                    1 | 2 => {
                        let nil = is_nil(e, position)?;
                        // Not keeping: no node, no leaf, so no text either.
                        if keep {
                            let field = Field {
                                name: dasherize(&element_name(e, position)?),
                                value: if nil { None } else { Some(String::new()) },
                            };
                            if depth == 1 {
                                let started = Node {
                                    field,
                                    children: Vec::new(),
                                };
                                if is_empty {
                                    nodes.push(started);
                                } else {
                                    node = Some((started, String::new()));
                                }
                            } else if is_empty {
                                if let Some((n, _)) = node.as_mut() {
                                    n.children.push(field);
                                }
                            } else {
                                leaf = Some((field, String::new()));
                            }
                        }
                    }
                    _ => {}
                }
                if is_empty {
                    if depth == 0 {
                        root_done = true;
                    }
                } else {
                    depth += 1;
                    if depth > MAX_DEPTH {
                        return Err(XmlError::TooDeep);
                    }
                }
            }
            Event::End(_) => {
                depth = depth.saturating_sub(1);
                match depth {
                    0 => root_done = true,
                    1 => {
                        if let Some((mut n, text)) = node.take() {
                            if n.field.value.is_some() {
                                n.field.value = Some(text.trim().to_string());
                            }
                            nodes.push(n);
                        }
                    }
                    2 => {
                        if let (Some((mut field, text)), Some((n, _))) =
                            (leaf.take(), node.as_mut())
                        {
                            if field.value.is_some() {
                                field.value = Some(text.trim().to_string());
                            }
                            n.children.push(field);
                        }
                    }
                    _ => {}
                }
            }
            Event::Text(ref t) => {
                let content = t.xml10_content();
                if depth == 0 {
                    if !content.trim().is_empty() {
                        return Err(XmlError::Malformed(position));
                    }
                } else if let Some(text) = gathering(depth, &mut node, &mut leaf) {
                    text.push_str(&content);
                }
            }
            Event::CData(ref c) => {
                if depth == 0 {
                    return Err(XmlError::Malformed(position));
                }
                if let Some(text) = gathering(depth, &mut node, &mut leaf) {
                    text.push_str(&c.xml10_content());
                }
            }
            Event::GeneralRef(ref r) => {
                let resolved = match r.resolve_char_ref() {
                    Ok(Some(c)) => c,
                    Ok(None) => match predefined_entity(r) {
                        Some(c) => c,
                        None => return Err(XmlError::UnknownEntity(truncate(r, 40))),
                    },
                    Err(_) => return Err(XmlError::Malformed(position)),
                };
                if depth == 0 {
                    return Err(XmlError::Malformed(position));
                }
                if let Some(text) = gathering(depth, &mut node, &mut leaf) {
                    text.push(resolved);
                }
            }
            Event::Decl(_) | Event::Comment(_) | Event::PI(_) => {}
            Event::Eof => break,
        }
    }
    if !root_done || depth != 0 {
        return Err(XmlError::Malformed(reader.buffer_position()));
    }
    Ok(nodes)
}

/// The text being gathered at `depth`: a root's child's own text (depth
/// 2), or its child's (depth 3); nothing deeper.
fn gathering<'a>(
    depth: usize,
    node: &'a mut Option<(Node, String)>,
    leaf: &'a mut Option<(Field, String)>,
) -> Option<&'a mut String> {
    match depth {
        2 => node.as_mut().map(|(_, t)| t),
        3 => leaf.as_mut().map(|(_, t)| t),
        _ => None,
    }
}

fn element_name(e: &BytesStart<'_>, position: u64) -> Result<String, XmlError> {
    let _ = position;
    Ok(e.name().as_ref().to_string())
}

/// True when the element carries `nil="true"`.
fn is_nil(e: &BytesStart<'_>, position: u64) -> Result<bool, XmlError> {
    for attr in e.attributes() {
        let attr = attr.map_err(|_| XmlError::Malformed(position))?;
        if attr.key.as_ref() == "nil" {
            let value = attr
                .normalized_value(quick_xml::XmlVersion::Implicit1_0)
                .map_err(|_| XmlError::Malformed(position))?;
            return Ok(value.trim() == "true");
        }
    }
    Ok(false)
}

fn predefined_entity(name: &str) -> Option<char> {
    match name {
        "amp" => Some('&'),
        "lt" => Some('<'),
        "gt" => Some('>'),
        "quot" => Some('"'),
        "apos" => Some('\''),
        _ => None,
    }
}

fn truncate(s: &str, max: usize) -> String {
    s.chars().take(max).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(body: &str) -> Result<Vec<Field>, XmlError> {
        read_record(body.as_bytes(), "user-group-membership")
    }

    fn value(fields: &[Field], name: &str) -> Option<Option<String>> {
        fields
            .iter()
            .find(|f| f.name == name)
            .map(|f| f.value.clone())
    }

    #[test]
    fn reads_an_active_resource_body() {
        let fields = read(
            r#"<?xml version="1.0" encoding="UTF-8"?>
<user-group-membership>
  <user-id type="integer">25</user-id>
  <user-group-id type="integer">14</user-group-id>
</user-group-membership>"#,
        )
        .unwrap();
        assert_eq!(value(&fields, "user-id"), Some(Some("25".into())));
        assert_eq!(value(&fields, "user-group-id"), Some(Some("14".into())));
    }

    #[test]
    fn accepts_underscored_names_and_no_declaration() {
        let fields =
            read("<user_group_membership><user_id> 3 </user_id></user_group_membership>").unwrap();
        assert_eq!(value(&fields, "user-id"), Some(Some("3".into())));
    }

    #[test]
    fn joins_text_split_around_references() {
        let fields = read(
            "<user-group-membership><name> Tom &amp; Jerry&#33; </name></user-group-membership>",
        )
        .unwrap();
        assert_eq!(value(&fields, "name"), Some(Some("Tom & Jerry!".into())));
    }

    #[test]
    fn nil_and_empty_elements() {
        let fields = read(
            r#"<user-group-membership><user-id nil="true"/><user-group-id></user-group-id><x/></user-group-membership>"#,
        )
        .unwrap();
        assert_eq!(value(&fields, "user-id"), Some(None));
        assert_eq!(value(&fields, "user-group-id"), Some(Some(String::new())));
    }

    #[test]
    fn nested_unknown_elements_are_skipped() {
        let fields = read(
            "<user-group-membership><extra><deep>1</deep></extra><user-id>2</user-id></user-group-membership>",
        )
        .unwrap();
        assert_eq!(value(&fields, "user-id"), Some(Some("2".into())));
    }

    #[test]
    fn refuses_doctype_and_unknown_entities() {
        let bomb = r#"<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;">]>
<user-group-membership><user-id>&lol2;</user-id></user-group-membership>"#;
        assert_eq!(read(bomb), Err(XmlError::Doctype));
        assert_eq!(
            read("<user-group-membership><user-id>&xxe;</user-id></user-group-membership>"),
            Err(XmlError::UnknownEntity("xxe".into()))
        );
    }

    #[test]
    fn refuses_malformed_bodies() {
        for body in [
            "<user-group-membership>",
            "<user-group-membership></other>",
            "<user-group-membership/><user-group-membership/>",
            "text<user-group-membership/>",
            "<user-group-membership><a></user-group-membership>",
            "<user-group-membership><user-id>&#0;</user-id></user-group-membership>",
        ] {
            assert!(
                matches!(read(body), Err(XmlError::Malformed(_))),
                "{body} gave {:?}",
                read(body)
            );
        }
        assert_eq!(read("  "), Err(XmlError::Empty));
        assert_eq!(read_record(b"<a>\xff</a>", "a"), Err(XmlError::NotUtf8));
    }

    #[test]
    fn refuses_the_wrong_root() {
        assert_eq!(
            read("<user><id>1</id></user>"),
            Err(XmlError::WrongRoot {
                expected: "user-group-membership".into(),
                found: "user".into()
            })
        );
    }

    #[test]
    fn bounds_depth_and_element_count() {
        let deep = format!(
            "<user-group-membership>{}{}</user-group-membership>",
            "<a>".repeat(40),
            "</a>".repeat(40)
        );
        assert_eq!(read(&deep), Err(XmlError::TooDeep));
        let many = format!(
            "<user-group-membership>{}</user-group-membership>",
            "<a/>".repeat(MAX_ELEMENTS + 1)
        );
        assert_eq!(read(&many), Err(XmlError::TooManyElements(MAX_ELEMENTS)));
    }
}
