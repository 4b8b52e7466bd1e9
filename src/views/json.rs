//! A small streaming JSON writer: objects and arrays written piece by piece,
//! so a long list streams with one writer kept across chunks, like
//! [`crate::xml::XmlWriter`]. Strings are escaped by serde_json.

use chrono::NaiveDateTime;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Container {
    Object,
    Array,
}

#[derive(Default)]
pub struct JsonWriter {
    buf: Vec<u8>,
    /// Open containers, and whether each has an item yet (for commas).
    stack: Vec<(Container, bool)>,
}

impl JsonWriter {
    pub fn new() -> Self {
        Self::default()
    }

    /// A comma before every item but a container's first.
    fn separate(&mut self) {
        if let Some((_, has_items)) = self.stack.last_mut() {
            if *has_items {
                self.buf.push(b',');
            }
            *has_items = true;
        }
    }

    /// Starts a value: its key inside an object, nothing inside an array.
    fn value_start(&mut self, name: &str) {
        self.separate();
        if matches!(self.stack.last(), Some((Container::Object, _))) {
            self.push_string(name);
            self.buf.push(b':');
        }
    }

    fn push_string(&mut self, s: &str) {
        // Writing into a Vec cannot fail.
        let _ = serde_json::to_writer(&mut self.buf, s);
    }

    pub fn begin_object(&mut self, name: &str) {
        self.value_start(name);
        self.buf.push(b'{');
        self.stack.push((Container::Object, false));
    }

    pub fn end_object(&mut self) {
        self.stack.pop();
        self.buf.push(b'}');
    }

    pub fn begin_array(&mut self, name: &str) {
        self.value_start(name);
        self.buf.push(b'[');
        self.stack.push((Container::Array, false));
    }

    pub fn end_array(&mut self) {
        self.stack.pop();
        self.buf.push(b']');
    }

    pub fn integer(&mut self, name: &str, value: i64) {
        self.value_start(name);
        self.buf.extend_from_slice(value.to_string().as_bytes());
    }

    pub fn boolean(&mut self, name: &str, value: bool) {
        self.value_start(name);
        self.buf
            .extend_from_slice(if value { b"true" } else { b"false" });
    }

    pub fn string(&mut self, name: &str, value: &str) {
        self.value_start(name);
        self.push_string(value);
    }

    pub fn optional_string(&mut self, name: &str, value: Option<&str>) {
        match value {
            Some(v) => self.string(name, v),
            None => {
                self.value_start(name);
                self.buf.extend_from_slice(b"null");
            }
        }
    }

    pub fn optional_integer(&mut self, name: &str, value: Option<i64>) {
        match value {
            Some(v) => self.integer(name, v),
            None => {
                self.value_start(name);
                self.buf.extend_from_slice(b"null");
            }
        }
    }

    /// Datetimes as in XML: `"2008-01-08T03:47:52Z"`.
    pub fn datetime(&mut self, name: &str, value: NaiveDateTime) {
        self.string(name, &crate::xml::write::format_datetime(value));
    }

    /// The bytes written since the last call, for streaming.
    pub fn take(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.buf)
    }

    /// Bytes written so far (since the last `take`).
    pub fn written(&self) -> usize {
        self.buf.len()
    }

    /// Room for `more` bytes, so a long document is not copied as it grows.
    pub fn reserve(&mut self, more: usize) {
        self.buf.reserve(more);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_nested_objects_and_arrays_with_commas() {
        let mut w = JsonWriter::new();
        w.begin_array("list");
        for id in [1, 2] {
            w.begin_object("item");
            w.integer("id", id);
            w.begin_object("user");
            w.string("name", "A \"quoted\" \u{1} name");
            w.optional_string("email_address", None);
            w.boolean("user_group_manager", id == 1);
            w.end_object();
            w.end_object();
        }
        w.end_array();
        assert_eq!(
            String::from_utf8(w.take()).unwrap(),
            r#"[{"id":1,"user":{"name":"A \"quoted\" \u0001 name","email_address":null,"user_group_manager":true}},{"id":2,"user":{"name":"A \"quoted\" \u0001 name","email_address":null,"user_group_manager":false}}]"#
        );
    }

    #[test]
    fn a_top_level_object_has_no_key() {
        let mut w = JsonWriter::new();
        w.begin_object("user_group");
        w.integer("id", 14);
        w.end_object();
        assert_eq!(w.take(), br#"{"id":14}"#);
    }
}
