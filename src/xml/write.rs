//! Writes XML the way Rails' `to_xml` did: a declaration, two-space
//! indentation, dasherized names, `type=` on integers, booleans, datetimes and
//! arrays, `nil="true"` for NULL. Output can be taken in pieces, so a long
//! list streams with one writer kept across chunks.

use std::borrow::Cow;

use chrono::NaiveDateTime;
use quick_xml::Writer;
use quick_xml::events::{BytesDecl, BytesEnd, BytesStart, BytesText, Event};

pub struct XmlWriter {
    inner: Writer<Vec<u8>>,
}

impl Default for XmlWriter {
    fn default() -> Self {
        Self::new()
    }
}

impl XmlWriter {
    pub fn new() -> Self {
        XmlWriter {
            inner: Writer::new_with_indent(Vec::with_capacity(1024), b' ', 2),
        }
    }

    // Writing into a Vec cannot fail; the io::Result only exists for other sinks.
    fn event(&mut self, event: Event<'_>) {
        let _ = self.inner.write_event(event);
    }

    /// `<?xml version="1.0" encoding="UTF-8"?>`
    pub fn declaration(&mut self) {
        self.event(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)));
    }

    pub fn start(&mut self, name: &str) {
        self.event(Event::Start(BytesStart::new(name)));
    }

    /// The opening tag of a list: `<name type="array">`.
    pub fn start_array(&mut self, name: &str) {
        self.event(Event::Start(
            BytesStart::new(name).with_attributes([("type", "array")]),
        ));
    }

    /// An empty list: `<name type="array"/>`.
    pub fn empty_array(&mut self, name: &str) {
        self.event(Event::Empty(
            BytesStart::new(name).with_attributes([("type", "array")]),
        ));
    }

    pub fn end(&mut self, name: &str) {
        self.event(Event::End(BytesEnd::new(name)));
    }

    fn element(&mut self, name: &str, kind: Option<&str>, text: &str) {
        let mut start = BytesStart::new(name);
        if let Some(kind) = kind {
            start.push_attribute(("type", kind));
        }
        self.event(Event::Start(start));
        self.event(Event::Text(BytesText::from_escaped(escape(text))));
        self.event(Event::End(BytesEnd::new(name)));
    }

    fn nil(&mut self, name: &str, kind: Option<&str>) {
        let mut start = BytesStart::new(name);
        if let Some(kind) = kind {
            start.push_attribute(("type", kind));
        }
        start.push_attribute(("nil", "true"));
        self.event(Event::Empty(start));
    }

    /// `<name type="integer">42</name>`
    pub fn integer(&mut self, name: &str, value: i64) {
        self.element(name, Some("integer"), &value.to_string());
    }

    /// `<name type="boolean">true</name>`
    pub fn boolean(&mut self, name: &str, value: bool) {
        self.element(name, Some("boolean"), if value { "true" } else { "false" });
    }

    /// `<name type="datetime">2008-01-08T03:47:52Z</name>`, UTC to the second.
    pub fn datetime(&mut self, name: &str, value: NaiveDateTime) {
        self.element(name, Some("datetime"), &format_datetime(value));
    }

    /// `<name>text</name>`, escaped.
    pub fn string(&mut self, name: &str, value: &str) {
        self.element(name, None, value);
    }

    /// A string, or `<name nil="true"/>` for NULL.
    pub fn optional_string(&mut self, name: &str, value: Option<&str>) {
        match value {
            Some(v) => self.string(name, v),
            None => self.nil(name, None),
        }
    }

    /// The bytes written since the last call, for streaming.
    pub fn take(&mut self) -> Vec<u8> {
        std::mem::take(self.inner.get_mut())
    }

    /// The rest of the document, with its final newline.
    pub fn finish(mut self) -> Vec<u8> {
        let mut out = self.take();
        out.push(b'\n');
        out
    }
}

/// A datetime as Rails wrote it in XML and JSON: `2008-01-08T03:47:52Z`.
/// Written digit by digit: chrono's `format` parses its pattern on every
/// call, which was a fifth of the time of a list with timestamps.
pub fn format_datetime(value: NaiveDateTime) -> String {
    use chrono::{Datelike, Timelike};
    let year = value.year();
    if !(0..=9999).contains(&year) {
        return value.format("%Y-%m-%dT%H:%M:%SZ").to_string();
    }
    let mut out = *b"0000-00-00T00:00:00Z";
    let mut put = |at: usize, n: u32, width: usize| {
        let mut n = n;
        for i in (at..at + width).rev() {
            out[i] = b'0' + (n % 10) as u8;
            n /= 10;
        }
    };
    put(0, year as u32, 4);
    put(5, value.month(), 2);
    put(8, value.day(), 2);
    put(11, value.hour(), 2);
    put(14, value.minute(), 2);
    put(17, value.second(), 2);
    out.iter().map(|&b| b as char).collect()
}

/// Escapes `& < > "`, and replaces characters XML 1.0 cannot carry (most
/// control characters) with U+FFFD, so any stored text gives well-formed XML.
pub fn escape(text: &str) -> Cow<'_, str> {
    // Most text is plain printable ASCII: decide that byte by byte.
    let plain = text
        .bytes()
        .all(|b| (0x20..0x7f).contains(&b) && !matches!(b, b'&' | b'<' | b'>' | b'"'));
    if plain {
        return Cow::Borrowed(text);
    }
    let needs_work = text
        .chars()
        .any(|c| matches!(c, '&' | '<' | '>' | '"') || !is_xml_char(c));
    if !needs_work {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            c if !is_xml_char(c) => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

fn is_xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn datetimes_as_rails_wrote_them() {
        let at = |y, mo, d, h, mi, s| {
            chrono::NaiveDate::from_ymd_opt(y, mo, d)
                .unwrap()
                .and_hms_opt(h, mi, s)
                .unwrap()
        };
        assert_eq!(
            format_datetime(at(2008, 1, 8, 3, 47, 52)),
            "2008-01-08T03:47:52Z"
        );
        assert_eq!(
            format_datetime(at(1999, 12, 31, 23, 59, 9)),
            "1999-12-31T23:59:09Z"
        );
        assert_eq!(
            format_datetime(at(5, 6, 7, 0, 0, 0)),
            "0005-06-07T00:00:00Z"
        );
        assert_eq!(
            format_datetime(at(12345, 1, 1, 0, 0, 0)),
            "+12345-01-01T00:00:00Z"
        );
    }

    #[test]
    fn escaping_plain_and_special_text() {
        assert!(matches!(escape("Editors 2"), Cow::Borrowed("Editors 2")));
        assert_eq!(escape("a<b & \"c\">"), "a&lt;b &amp; &quot;c&quot;&gt;");
        assert_eq!(escape("tab\there é"), "tab\there é");
        assert_eq!(escape("bell\u{7}"), "bell\u{FFFD}");
    }

    #[test]
    fn writes_a_record_with_rails_layout() {
        let mut w = XmlWriter::new();
        w.declaration();
        w.start("user");
        w.integer("id", 25);
        w.string("name", "Tom & \"Jerry\" <3 'x'");
        w.optional_string("email-address", None);
        w.boolean("user-group-manager", false);
        w.datetime(
            "created-at",
            NaiveDateTime::parse_from_str("2008-01-08 03:47:52", "%Y-%m-%d %H:%M:%S").unwrap(),
        );
        w.end("user");
        let out = String::from_utf8(w.finish()).unwrap();
        assert_eq!(
            out,
            r#"<?xml version="1.0" encoding="UTF-8"?>
<user>
  <id type="integer">25</id>
  <name>Tom &amp; &quot;Jerry&quot; &lt;3 'x'</name>
  <email-address nil="true"/>
  <user-group-manager type="boolean">false</user-group-manager>
  <created-at type="datetime">2008-01-08T03:47:52Z</created-at>
</user>
"#
        );
    }

    #[test]
    fn empty_string_is_an_open_and_close_pair() {
        let mut w = XmlWriter::new();
        w.string("description", "");
        assert_eq!(w.finish(), b"<description></description>\n");
    }

    #[test]
    fn control_characters_are_replaced_not_emitted() {
        assert_eq!(escape("a\u{1}b\u{0}"), "a\u{FFFD}b\u{FFFD}");
        assert_eq!(escape("tab\tok"), "tab\tok");
    }

    #[test]
    fn output_can_be_taken_in_pieces() {
        let mut w = XmlWriter::new();
        w.declaration();
        w.start_array("users");
        let first = w.take();
        w.start("user");
        w.integer("id", 1);
        w.end("user");
        let second = w.take();
        w.end("users");
        let mut all = first;
        all.extend(second);
        all.extend(w.finish());
        assert_eq!(
            String::from_utf8(all).unwrap(),
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<users type=\"array\">\n  <user>\n    <id type=\"integer\">1</id>\n  </user>\n</users>\n"
        );
    }
}
