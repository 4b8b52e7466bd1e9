//! Writes XML the way Rails' `to_xml` did: a declaration, two-space
//! indentation, dasherized names, `type=` on integers, booleans, datetimes and
//! arrays, `nil="true"` for NULL. Output can be taken in pieces, so a long
//! list streams with one writer kept across chunks.
//!
//! The bytes are written straight into one buffer. quick-xml's event writer
//! (which reads the request bodies) built a `BytesStart` and escaped the
//! attribute values for every element: a tenth of the time of a list, for
//! markup that is always the same few names.

use std::borrow::Cow;

use chrono::NaiveDateTime;

pub struct XmlWriter {
    out: Vec<u8>,
    /// Elements open around the next line.
    depth: usize,
    /// Whether anything has been written (the next line starts with `\n`).
    begun: bool,
}

impl Default for XmlWriter {
    fn default() -> Self {
        Self::new()
    }
}

impl XmlWriter {
    pub fn new() -> Self {
        XmlWriter {
            out: Vec::with_capacity(1024),
            depth: 0,
            begun: false,
        }
    }

    /// Starts a new line at the current depth.
    fn line(&mut self) {
        if self.begun {
            self.out.push(b'\n');
        }
        self.begun = true;
        self.out.resize(self.out.len() + 2 * self.depth, b' ');
    }

    /// `<name` and, when given, ` type="kind"`.
    fn open_tag(&mut self, name: &str, kind: Option<&str>) {
        self.line();
        self.out.push(b'<');
        self.out.extend_from_slice(name.as_bytes());
        if let Some(kind) = kind {
            self.out.extend_from_slice(b" type=\"");
            self.out.extend_from_slice(kind.as_bytes());
            self.out.push(b'"');
        }
    }

    fn close_tag(&mut self, name: &str) {
        self.out.extend_from_slice(b"</");
        self.out.extend_from_slice(name.as_bytes());
        self.out.push(b'>');
    }

    /// `<?xml version="1.0" encoding="UTF-8"?>`
    pub fn declaration(&mut self) {
        self.line();
        self.out
            .extend_from_slice(br#"<?xml version="1.0" encoding="UTF-8"?>"#);
    }

    pub fn start(&mut self, name: &str) {
        self.open_tag(name, None);
        self.out.push(b'>');
        self.depth += 1;
    }

    /// The opening tag of a list: `<name type="array">`.
    pub fn start_array(&mut self, name: &str) {
        self.open_tag(name, Some("array"));
        self.out.push(b'>');
        self.depth += 1;
    }

    /// An empty list: `<name type="array"/>`.
    pub fn empty_array(&mut self, name: &str) {
        self.open_tag(name, Some("array"));
        self.out.extend_from_slice(b"/>");
    }

    pub fn end(&mut self, name: &str) {
        self.depth = self.depth.saturating_sub(1);
        self.line();
        self.close_tag(name);
    }

    /// `<name type="kind">text</name>`, the text already escaped.
    fn element(&mut self, name: &str, kind: Option<&str>, escaped: &[u8]) {
        self.open_tag(name, kind);
        self.out.push(b'>');
        self.out.extend_from_slice(escaped);
        self.close_tag(name);
    }

    fn nil(&mut self, name: &str, kind: Option<&str>) {
        self.open_tag(name, kind);
        self.out.extend_from_slice(br#" nil="true"/>"#);
    }

    /// `<name type="integer">42</name>`
    pub fn integer(&mut self, name: &str, value: i64) {
        let mut digits = [0u8; 20];
        self.element(name, Some("integer"), integer_text(value, &mut digits));
    }

    /// An integer, or `<name type="integer" nil="true"/>` for None (as Rails
    /// writes a NULL integer column).
    pub fn optional_integer(&mut self, name: &str, value: Option<i64>) {
        match value {
            Some(v) => self.integer(name, v),
            None => self.nil(name, Some("integer")),
        }
    }

    /// `<name type="boolean">true</name>`
    pub fn boolean(&mut self, name: &str, value: bool) {
        let text: &[u8] = if value { b"true" } else { b"false" };
        self.element(name, Some("boolean"), text);
    }

    /// `<name type="datetime">2008-01-08T03:47:52Z</name>`, UTC to the second.
    pub fn datetime(&mut self, name: &str, value: NaiveDateTime) {
        match datetime_bytes(value) {
            Some(text) => self.element(name, Some("datetime"), &text),
            None => self.element(name, Some("datetime"), format_datetime(value).as_bytes()),
        }
    }

    /// `<name>text</name>`, escaped.
    pub fn string(&mut self, name: &str, value: &str) {
        self.element(name, None, escape(value).as_bytes());
    }

    /// A string, or `<name nil="true"/>` for NULL.
    pub fn optional_string(&mut self, name: &str, value: Option<&str>) {
        match value {
            Some(v) => self.string(name, v),
            None => self.nil(name, None),
        }
    }

    /// Bytes written so far (since the last `take`).
    pub fn written(&self) -> usize {
        self.out.len()
    }

    /// Room for `more` bytes, so a long document is not copied as it grows.
    pub fn reserve(&mut self, more: usize) {
        self.out.reserve(more);
    }

    /// The bytes written since the last call, for streaming. The next piece
    /// starts with a buffer of the same size, so a list's chunks do not grow
    /// theirs again and again.
    pub fn take(&mut self) -> Vec<u8> {
        let capacity = self.out.capacity();
        std::mem::replace(&mut self.out, Vec::with_capacity(capacity))
    }

    /// The rest of the document, with its final newline.
    pub fn finish(mut self) -> Vec<u8> {
        self.out.push(b'\n');
        self.out
    }
}

/// The decimal digits of an integer, written into `buf`.
fn integer_text(value: i64, buf: &mut [u8; 20]) -> &[u8] {
    let mut n = value.unsigned_abs();
    let mut at = buf.len();
    loop {
        at -= 1;
        buf[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    if value < 0 {
        at -= 1;
        buf[at] = b'-';
    }
    &buf[at..]
}

/// A datetime as Rails wrote it in XML and JSON: `2008-01-08T03:47:52Z`.
pub fn format_datetime(value: NaiveDateTime) -> String {
    match datetime_bytes(value) {
        Some(bytes) => bytes.iter().map(|&b| b as char).collect(),
        None => value.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
    }
}

/// `2008-01-08T03:47:52Z` digit by digit, for years 0 to 9999 (`None`
/// otherwise). chrono's `format` parses its pattern on every call, which
/// was a fifth of the time of a list with timestamps.
fn datetime_bytes(value: NaiveDateTime) -> Option<[u8; 20]> {
    use chrono::{Datelike, Timelike};
    let year = value.year();
    if !(0..=9999).contains(&year) {
        return None;
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
    Some(out)
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
    fn integers_of_every_size() {
        for n in [0, 7, -7, 10, 1234567890, i64::MAX, i64::MIN] {
            let mut buf = [0u8; 20];
            assert_eq!(integer_text(n, &mut buf), n.to_string().as_bytes());
        }
    }

    #[test]
    fn lists_empty_and_nested_with_nil() {
        let mut w = XmlWriter::new();
        w.declaration();
        w.start_array("users");
        w.empty_array("user-groups");
        w.start("user");
        w.optional_string("email-address", None);
        w.integer("id", -3);
        w.end("user");
        w.end("users");
        assert_eq!(
            String::from_utf8(w.finish()).unwrap(),
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<users type=\"array\">\n  <user-groups type=\"array\"/>\n  <user>\n    <email-address nil=\"true\"/>\n    <id type=\"integer\">-3</id>\n  </user>\n</users>\n"
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
