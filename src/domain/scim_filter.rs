//! SCIM filters (RFC 7644 3.4.2.2, the `filter` query parameter) and SCIM
//! PATCH paths (RFC 7644 3.5.2, an operation's `path`) read into values,
//! with no HTTP and no SQL: the routes call [`parse_filter`] and
//! [`parse_patch_path`], and turn a [`FilterError`] into a 400 with scimType
//! `invalidFilter` or `invalidPath` and its [`FilterError::detail`].
//!
//! Both are untrusted input from anyone holding a manager's token, so the
//! parser is bounded in every direction (the `MAX_*` constants): the input's
//! length is checked before anything is read, nesting is counted as it is
//! entered (the parser recurses only one level per parenthesis, `not` or
//! `[`, so no input can overflow the stack), comparisons are counted as they
//! are made, and every token is read once without backtracking, so the time
//! taken is linear in the input.
//!
//! What is accepted, beyond RFC 7644's ABNF:
//! - Keywords (operators, `and`, `or`, `not`, `true`, `false`, `null`) in
//!   any case, as ABNF strings are.
//! - Any amount of whitespace (space, tab, CR, LF) between tokens, and none
//!   needed next to `(`, `)`, `[` and `]`. A space is still needed between
//!   two words or a word and a string (`userName eq"x"` is refused), and
//!   none may stand between an attribute and its `[`, nor between `]` and
//!   its `.subAttr` (those are one attribute path).
//! - Microsoft Entra ID's `emails[type eq "work"].value eq "x"`: a value
//!   path followed by a sub-attribute and a comparison. It is read as
//!   `emails[type eq "work" and value eq "x"]`, which is what it means: a
//!   `Filter::ValuePath` whose filter is `And(type eq "work", value eq "x")`.
//!
//! What is refused, beyond the ABNF's own refusals:
//! - A value path inside a value path, an attribute with a URI or a
//!   sub-attribute inside `[ ]` (a complex attribute's sub-attributes are
//!   never complex, RFC 7643 2.3.8), and a sub-attribute before `[`
//!   (`emails.value[...]`).
//! - A string holding U+0000 (`\u0000`): PostgreSQL cannot hold it in text.

use std::fmt::{self, Write};

/// Longest filter or path read, in bytes (after the query string's
/// percent-decoding). The filters providers send are under 200 bytes; 4 KiB
/// leaves room for a long `or` of ids and refuses anything bigger before a
/// byte of it is read, however the rest of it is shaped.
pub const MAX_FILTER_BYTES: usize = 4096;

/// Deepest nesting of `(`, `not (` and `[` (each one level). Real filters
/// nest two or three levels; the bound keeps the parser's recursion and the
/// tree that the SQL translation walks shallow, so 10,000 `(` cannot
/// overflow a stack, here or later.
pub const MAX_DEPTH: usize = 16;

/// Most comparisons (`eq` ... `le` and `pr`, inside `[ ]` too) in one filter
/// or path: each becomes a condition in SQL, so the bound caps the query a
/// filter makes, whatever it is shaped like.
pub const MAX_COMPARISONS: usize = 64;

/// Longest string value, in bytes of UTF-8 after decoding escapes: more
/// than any value syncd stores and filters on (a name is at most 512 bytes,
/// an email address 254), so nothing that could match is refused.
pub const MAX_STRING_BYTES: usize = 1024;

/// Excerpts of the input quoted in an error: at most this many characters.
const EXCERPT_CHARS: usize = 24;

/// The bounds a parse is held to; [`Limits::DEFAULT`] is the `MAX_*`
/// constants, which the API uses. (Tests may parse with others, e.g. a
/// filter printed back, which may be a few bytes longer than what was sent.)
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub bytes: usize,
    pub depth: usize,
    pub comparisons: usize,
    pub string_bytes: usize,
}

impl Limits {
    pub const DEFAULT: Limits = Limits {
        bytes: MAX_FILTER_BYTES,
        depth: MAX_DEPTH,
        comparisons: MAX_COMPARISONS,
        string_bytes: MAX_STRING_BYTES,
    };
}

impl Default for Limits {
    fn default() -> Self {
        Limits::DEFAULT
    }
}

/// An attribute path: `[URI ":"] ATTRNAME ["." subAttr]`. The names are kept
/// as sent; SCIM compares them case-insensitively, so compare with
/// [`AttrPath::is`], [`AttrPath::key`] or [`AttrPath::lowercase`].
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AttrPath {
    /// The schema URI, without the `:` before the name
    /// (`urn:ietf:params:scim:schemas:core:2.0:User`).
    pub uri: Option<String>,
    pub name: String,
    pub sub: Option<String>,
}

impl AttrPath {
    /// A path of one attribute, with no URI and no sub-attribute.
    pub fn new(name: impl Into<String>) -> AttrPath {
        AttrPath {
            uri: None,
            name: name.into(),
            sub: None,
        }
    }

    /// The same path with its URI, name and sub-attribute in lowercase.
    pub fn lowercase(&self) -> AttrPath {
        AttrPath {
            uri: self.uri.as_ref().map(|u| u.to_ascii_lowercase()),
            name: self.name.to_ascii_lowercase(),
            sub: self.sub.as_ref().map(|s| s.to_ascii_lowercase()),
        }
    }

    /// `name` or `name.sub` in lowercase, without the URI: the key to look
    /// an attribute up by (`emails.value`, `meta.lastmodified`).
    pub fn key(&self) -> String {
        let mut key = self.name.to_ascii_lowercase();
        if let Some(sub) = &self.sub {
            key.push('.');
            key.push_str(&sub.to_ascii_lowercase());
        }
        key
    }

    /// Whether this names `name` (and `sub`), ignoring case and the URI.
    pub fn is(&self, name: &str, sub: Option<&str>) -> bool {
        self.name.eq_ignore_ascii_case(name)
            && match (&self.sub, sub) {
                (None, None) => true,
                (Some(a), Some(b)) => a.eq_ignore_ascii_case(b),
                _ => false,
            }
    }
}

impl fmt::Display for AttrPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(uri) = &self.uri {
            write!(f, "{uri}:")?;
        }
        f.write_str(&self.name)?;
        if let Some(sub) = &self.sub {
            write!(f, ".{sub}")?;
        }
        Ok(())
    }
}

/// A comparison operator (`pr` is [`Filter::Present`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CompareOp {
    Eq,
    Ne,
    Co,
    Sw,
    Ew,
    Gt,
    Ge,
    Lt,
    Le,
}

impl CompareOp {
    pub const ALL: [CompareOp; 9] = [
        CompareOp::Eq,
        CompareOp::Ne,
        CompareOp::Co,
        CompareOp::Sw,
        CompareOp::Ew,
        CompareOp::Gt,
        CompareOp::Ge,
        CompareOp::Lt,
        CompareOp::Le,
    ];

    /// The operator's keyword, in lowercase.
    pub fn as_str(self) -> &'static str {
        match self {
            CompareOp::Eq => "eq",
            CompareOp::Ne => "ne",
            CompareOp::Co => "co",
            CompareOp::Sw => "sw",
            CompareOp::Ew => "ew",
            CompareOp::Gt => "gt",
            CompareOp::Ge => "ge",
            CompareOp::Lt => "lt",
            CompareOp::Le => "le",
        }
    }

    /// The operator a keyword names, in any case.
    pub fn from_keyword(word: &str) -> Option<CompareOp> {
        CompareOp::ALL
            .into_iter()
            .find(|op| op.as_str().eq_ignore_ascii_case(word))
    }
}

impl fmt::Display for CompareOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A comparison's value.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Value {
    /// The string with its escapes decoded.
    Str(String),
    /// A JSON number as written (`-1.5e3`): its magnitude is not bounded
    /// beyond the filter's length, so convert it with care.
    Number(String),
    Bool(bool),
    Null,
}

impl fmt::Display for Value {
    /// JSON: strings with `"`, `\` and control characters escaped, anything
    /// else as it is.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Str(s) => {
                f.write_char('"')?;
                for c in s.chars() {
                    match c {
                        '"' => f.write_str("\\\"")?,
                        '\\' => f.write_str("\\\\")?,
                        '\n' => f.write_str("\\n")?,
                        '\r' => f.write_str("\\r")?,
                        '\t' => f.write_str("\\t")?,
                        '\u{8}' => f.write_str("\\b")?,
                        '\u{c}' => f.write_str("\\f")?,
                        c if (c as u32) < 0x20 => write!(f, "\\u{:04x}", c as u32)?,
                        c => f.write_char(c)?,
                    }
                }
                f.write_char('"')
            }
            Value::Number(n) => f.write_str(n),
            Value::Bool(b) => write!(f, "{b}"),
            Value::Null => f.write_str("null"),
        }
    }
}

/// A filter, as a tree. `and` and `or` are left-associative:
/// `a pr and b pr and c pr` is `And(And(a, b), c)`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Filter {
    Compare {
        path: AttrPath,
        op: CompareOp,
        value: Value,
    },
    Present(AttrPath),
    And(Box<Filter>, Box<Filter>),
    Or(Box<Filter>, Box<Filter>),
    Not(Box<Filter>),
    /// `attrPath "[" valFilter "]"` (`emails[type eq "work" and value co
    /// "@x"]`): some value of the multi-valued `path` matches `filter`,
    /// whose paths are the value's sub-attributes (plain names: no URI, no
    /// sub-attribute, no value path). `path` has no sub-attribute.
    ///
    /// Entra's `emails[type eq "work"].value eq "x"` is read as
    /// `ValuePath { path: emails, filter: And(type eq "work", value eq "x") }`:
    /// the same meaning, so the SQL translation has one form to handle.
    ValuePath {
        path: AttrPath,
        filter: Box<Filter>,
    },
}

impl Filter {
    /// `And` of two filters.
    pub fn and(a: Filter, b: Filter) -> Filter {
        Filter::And(Box::new(a), Box::new(b))
    }

    /// `Or` of two filters.
    pub fn or(a: Filter, b: Filter) -> Filter {
        Filter::Or(Box::new(a), Box::new(b))
    }

    /// `Not` of a filter.
    pub fn negate(a: Filter) -> Filter {
        Filter::Not(Box::new(a))
    }

    /// How many comparisons (`Compare` and `Present`) the filter holds.
    pub fn comparisons(&self) -> usize {
        match self {
            Filter::Compare { .. } | Filter::Present(_) => 1,
            Filter::And(a, b) | Filter::Or(a, b) => a.comparisons() + b.comparisons(),
            Filter::Not(a) | Filter::ValuePath { filter: a, .. } => a.comparisons(),
        }
    }

    /// Binding strength, for printing: `or` < `and` < the rest.
    fn precedence(&self) -> u8 {
        match self {
            Filter::Or(..) => 1,
            Filter::And(..) => 2,
            _ => 3,
        }
    }

    /// Prints `self`, in parentheses if it binds less than `at_least`.
    fn write(&self, f: &mut fmt::Formatter<'_>, at_least: u8) -> fmt::Result {
        if self.precedence() < at_least {
            f.write_char('(')?;
            self.write(f, 0)?;
            return f.write_char(')');
        }
        match self {
            Filter::Compare { path, op, value } => write!(f, "{path} {op} {value}"),
            Filter::Present(path) => write!(f, "{path} pr"),
            Filter::And(a, b) => {
                a.write(f, 2)?;
                f.write_str(" and ")?;
                b.write(f, 3)
            }
            Filter::Or(a, b) => {
                a.write(f, 1)?;
                f.write_str(" or ")?;
                b.write(f, 2)
            }
            Filter::Not(a) => {
                f.write_str("not (")?;
                a.write(f, 0)?;
                f.write_char(')')
            }
            Filter::ValuePath { path, filter } => {
                write!(f, "{path}[")?;
                // An `or` and then a comparison is printed in Entra's form,
                // `emails[a or b].value eq "x"`, which reads back the same:
                // `emails[(a or b) and value eq "x"]` would nest one level
                // deeper than what was sent.
                if let Filter::And(a, b) = &**filter {
                    if let (Filter::Or(..), Some((sub, rest))) = (&**a, entra_tail(b)) {
                        a.write(f, 0)?;
                        return write!(f, "].{sub} {rest}");
                    }
                }
                filter.write(f, 0)?;
                f.write_char(']')
            }
        }
    }
}

/// A comparison on a plain name, as the name and the rest (`eq "x"`, `pr`).
fn entra_tail(filter: &Filter) -> Option<(&str, String)> {
    match filter {
        Filter::Compare { path, op, value } if path.uri.is_none() && path.sub.is_none() => {
            Some((&path.name, format!("{op} {value}")))
        }
        Filter::Present(path) if path.uri.is_none() && path.sub.is_none() => {
            Some((&path.name, "pr".into()))
        }
        _ => None,
    }
}

impl fmt::Display for Filter {
    /// Valid filter syntax that [`parse_filter`] reads back into the same
    /// tree: keywords in lowercase, one space between tokens, parentheses
    /// only where they are needed.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.write(f, 0)
    }
}

/// A PATCH operation's path (RFC 7644 3.5.2): an attribute path
/// (`name.givenName`, `urn:...:enterprise:2.0:User:manager`), or a value
/// path (`members[value eq "7"]`), optionally followed by a sub-attribute
/// (`emails[type eq "work"].value`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PatchPath {
    /// The attribute; it has a `sub` only when there is no `filter`.
    pub path: AttrPath,
    /// The value filter in `[ ]`, if any; its paths are plain names.
    pub filter: Option<Filter>,
    /// The sub-attribute after `]`, if any.
    pub sub: Option<String>,
}

impl fmt::Display for PatchPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.path)?;
        if let Some(filter) = &self.filter {
            write!(f, "[{filter}]")?;
        }
        if let Some(sub) = &self.sub {
            write!(f, ".{sub}")?;
        }
        Ok(())
    }
}

/// What a [`FilterError`] was refused as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Filter,
    Path,
}

impl Kind {
    fn noun(self) -> &'static str {
        match self {
            Kind::Filter => "filter",
            Kind::Path => "path",
        }
    }
}

/// Why a filter or path was refused: [`FilterError::detail`] is a sentence
/// fit for a SCIM error's `detail`, quoting at most a short excerpt of the
/// input (escaped); [`FilterError::scim_type`] is the error's `scimType`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilterError {
    detail: String,
    kind: Kind,
}

impl FilterError {
    /// The reason, in words for the client.
    pub fn detail(&self) -> &str {
        &self.detail
    }

    /// `invalidFilter` for a filter, `invalidPath` for a PATCH path.
    pub fn scim_type(&self) -> &'static str {
        match self.kind {
            Kind::Filter => "invalidFilter",
            Kind::Path => "invalidPath",
        }
    }
}

impl fmt::Display for FilterError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.detail)
    }
}

impl std::error::Error for FilterError {}

/// Reads a SCIM filter (RFC 7644 3.4.2.2) within [`Limits::DEFAULT`].
pub fn parse_filter(text: &str) -> Result<Filter, FilterError> {
    parse_filter_with(text, Limits::DEFAULT)
}

/// Reads a SCIM filter within `limits`.
pub fn parse_filter_with(text: &str, limits: Limits) -> Result<Filter, FilterError> {
    let mut p = Parser::new(text, limits, Kind::Filter)?;
    if p.lex.peek()?.tok == Tok::End {
        return Err(p.lex.error(None, "The filter is empty.".into()));
    }
    let filter = p.or(0, false)?;
    let next = p.lex.next()?;
    match next.tok {
        Tok::End => Ok(filter),
        Tok::RParen => Err(p
            .lex
            .error(Some(next.at), "A ')' has no '(' before it.".into())),
        _ => Err(p.lex.error(
            Some(next.at),
            format!(
                "Expected and, or or the end after a complete filter, found {}.",
                p.lex.describe(&next)
            ),
        )),
    }
}

/// Reads a PATCH operation's path (RFC 7644 3.5.2) within
/// [`Limits::DEFAULT`]. Whitespace around it is ignored; inside `[ ]` it is
/// read as in a filter.
pub fn parse_patch_path(text: &str) -> Result<PatchPath, FilterError> {
    parse_patch_path_with(text, Limits::DEFAULT)
}

/// Reads a PATCH operation's path within `limits`.
pub fn parse_patch_path_with(text: &str, limits: Limits) -> Result<PatchPath, FilterError> {
    let mut p = Parser::new(text, limits, Kind::Path)?;
    let first = p.lex.next()?;
    let Tok::Word(word) = first.tok else {
        if first.tok == Tok::End {
            return Err(p.lex.error(None, "The path is empty.".into()));
        }
        let detail = format!(
            "A path starts with an attribute name, not {}.",
            p.lex.describe(&first)
        );
        return Err(p.lex.error(Some(first.at), detail));
    };
    let path = p.attr_path(word, first.at)?;
    let mut patch = PatchPath {
        path,
        filter: None,
        sub: None,
    };
    let mut next = p.lex.next()?;
    if next.tok == Tok::LBracket && !next.spaced {
        let (filter, close) = p.bracket(&patch.path, first.at, next.at, 0)?;
        patch.filter = Some(filter);
        next = p.lex.next()?;
        if let Tok::Word(w) = next.tok {
            if let Some(sub) = w.strip_prefix('.').filter(|_| !next.spaced) {
                patch.sub = Some(p.plain_name(sub, next.at + 1)?.to_string());
                next = p.lex.next()?;
            }
        }
        if next.tok != Tok::End {
            return Err(p.lex.error(
                Some(next.at),
                format!(
                    "Expected the end of the path or .subAttribute after the ']' at character {}, found {}.",
                    p.lex.char_index(close) + 1,
                    p.lex.describe(&next)
                ),
            ));
        }
    }
    match next.tok {
        Tok::End => Ok(patch),
        _ => Err(p.lex.error(
            Some(next.at),
            format!(
                "Expected the end of the path or '[' right after the attribute, found {}.",
                p.lex.describe(&next)
            ),
        )),
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Tok<'a> {
    LParen,
    RParen,
    LBracket,
    RBracket,
    /// A run of anything but whitespace, parentheses, brackets and `"`:
    /// an attribute path, a keyword or a number.
    Word(&'a str),
    /// A string, decoded.
    Str(String),
    End,
}

#[derive(Debug)]
struct Token<'a> {
    tok: Tok<'a>,
    /// Byte offset of its first character.
    at: usize,
    /// Byte offset just past it.
    end: usize,
    /// Whitespace came before it.
    spaced: bool,
}

/// Splits the input into tokens, one token of lookahead.
struct Lexer<'a> {
    src: &'a str,
    pos: usize,
    peeked: Option<Token<'a>>,
    /// The last token read was a word or a string (the next word or string
    /// needs a space before it).
    after_word: bool,
    limits: Limits,
    kind: Kind,
}

fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n')
}

fn ends_word(b: u8) -> bool {
    is_space(b) || matches!(b, b'(' | b')' | b'[' | b']' | b'"')
}

impl<'a> Lexer<'a> {
    /// Position of byte `at` in characters, counted from 0.
    fn char_index(&self, at: usize) -> usize {
        let mut at = at.min(self.src.len());
        while !self.src.is_char_boundary(at) {
            at -= 1;
        }
        self.src[..at].chars().count()
    }

    fn error(&self, at: Option<usize>, detail: String) -> FilterError {
        let detail = match at {
            Some(at) => {
                format!(
                    "{} (character {} of the {})",
                    detail.strip_suffix('.').unwrap_or(&detail),
                    self.char_index(at) + 1,
                    self.kind.noun()
                ) + "."
            }
            None => detail,
        };
        FilterError {
            detail,
            kind: self.kind,
        }
    }

    /// A token for a message: a short excerpt of what was sent, escaped.
    fn describe(&self, token: &Token<'_>) -> String {
        match &token.tok {
            Tok::End => "the end".into(),
            Tok::LParen => "'('".into(),
            Tok::RParen => "')'".into(),
            Tok::LBracket => "'['".into(),
            Tok::RBracket => "']'".into(),
            Tok::Word(w) => format!("\"{}\"", excerpt(w)),
            Tok::Str(_) => format!("the string {}", excerpt(&self.src[token.at..token.end])),
        }
    }

    fn peek(&mut self) -> Result<&Token<'a>, FilterError> {
        if self.peeked.is_none() {
            let token = self.scan()?;
            self.peeked = Some(token);
        }
        Ok(self.peeked.as_ref().expect("just peeked"))
    }

    fn next(&mut self) -> Result<Token<'a>, FilterError> {
        match self.peeked.take() {
            Some(token) => Ok(token),
            None => self.scan(),
        }
    }

    fn scan(&mut self) -> Result<Token<'a>, FilterError> {
        let bytes = self.src.as_bytes();
        let before = self.pos;
        while self.pos < bytes.len() && is_space(bytes[self.pos]) {
            self.pos += 1;
        }
        let spaced = self.pos > before;
        let at = self.pos;
        let tok = match bytes.get(at) {
            None => Tok::End,
            Some(b'(') => Tok::LParen,
            Some(b')') => Tok::RParen,
            Some(b'[') => Tok::LBracket,
            Some(b']') => Tok::RBracket,
            Some(b'"') => Tok::Str(self.string()?),
            Some(_) => {
                let mut end = at;
                while end < bytes.len() && !ends_word(bytes[end]) {
                    end += 1;
                }
                Tok::Word(&self.src[at..end])
            }
        };
        self.pos = match &tok {
            Tok::End => at,
            Tok::LParen | Tok::RParen | Tok::LBracket | Tok::RBracket => at + 1,
            Tok::Word(w) => at + w.len(),
            Tok::Str(_) => self.pos, // past the closing quote
        };
        let token = Token {
            tok,
            at,
            end: self.pos,
            spaced,
        };
        let wordlike = matches!(token.tok, Tok::Word(_) | Tok::Str(_));
        if wordlike && self.after_word && !spaced {
            return Err(self.error(
                Some(at),
                format!("A space is needed before {}.", self.describe(&token)),
            ));
        }
        self.after_word = wordlike;
        Ok(token)
    }

    /// Reads a JSON string starting at the `"` at `self.pos`, leaving
    /// `self.pos` past its closing `"`.
    fn string(&mut self) -> Result<String, FilterError> {
        let bytes = self.src.as_bytes();
        let start = self.pos;
        let mut pos = start + 1;
        let mut out = String::new();
        loop {
            let run = bytes[pos..]
                .iter()
                .position(|&b| b == b'"' || b == b'\\' || b < 0x20);
            let Some(run) = run else {
                return Err(self.error(
                    Some(start),
                    "A string is not closed: it needs a '\"' at its end.".into(),
                ));
            };
            self.push_bounded(&mut out, &self.src[pos..pos + run], start)?;
            pos += run;
            match bytes[pos] {
                b'"' => {
                    self.pos = pos + 1;
                    return Ok(out);
                }
                b'\\' => {
                    let (c, len) = self.escape(pos, start)?;
                    let mut buf = [0u8; 4];
                    self.push_bounded(&mut out, c.encode_utf8(&mut buf), start)?;
                    pos += len;
                }
                b => {
                    return Err(self.error(
                        Some(pos),
                        format!(
                            "A string holds the control character U+{b:04X}: write it as an escape (\\n, \\u{b:04x})."
                        ),
                    ));
                }
            }
        }
    }

    fn push_bounded(&self, out: &mut String, s: &str, start: usize) -> Result<(), FilterError> {
        if out.len() + s.len() > self.limits.string_bytes {
            return Err(self.error(
                Some(start),
                format!(
                    "A string is longer than {} bytes, the most a value may be.",
                    self.limits.string_bytes
                ),
            ));
        }
        out.push_str(s);
        Ok(())
    }

    /// The escape at `pos` (a `\`): the character and the escape's length.
    fn escape(&self, pos: usize, start: usize) -> Result<(char, usize), FilterError> {
        let bytes = self.src.as_bytes();
        let simple = match bytes.get(pos + 1) {
            None => {
                return Err(self.error(
                    Some(start),
                    "A string is not closed: it needs a '\"' at its end.".into(),
                ));
            }
            Some(b'"') => '"',
            Some(b'\\') => '\\',
            Some(b'/') => '/',
            Some(b'b') => '\u{8}',
            Some(b'f') => '\u{c}',
            Some(b'n') => '\n',
            Some(b'r') => '\r',
            Some(b't') => '\t',
            Some(b'u') => {
                let high = self.hex4(pos)?;
                let code = match high {
                    0xD800..=0xDBFF => {
                        let low = if bytes.get(pos + 6..pos + 8) == Some(&b"\\u"[..]) {
                            Some(self.hex4(pos + 6)?)
                        } else {
                            None
                        };
                        match low {
                            Some(low @ 0xDC00..=0xDFFF) => {
                                let c = 0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00);
                                let c = char::from_u32(c).expect("a valid surrogate pair");
                                return Ok((c, 12));
                            }
                            _ => {
                                return Err(self.error(
                                    Some(pos),
                                    format!(
                                        "\\u{high:04X} is half of a surrogate pair, and no \\uDC00 to \\uDFFF follows it."
                                    ),
                                ));
                            }
                        }
                    }
                    0xDC00..=0xDFFF => {
                        return Err(self.error(
                            Some(pos),
                            format!(
                                "\\u{high:04X} is the second half of a surrogate pair, with no first half before it."
                            ),
                        ));
                    }
                    0 => {
                        return Err(
                            self.error(Some(pos), "A string may not hold \\u0000 (NUL).".into())
                        );
                    }
                    c => c,
                };
                let c = char::from_u32(code).expect("not a surrogate");
                return Ok((c, 6));
            }
            Some(_) => {
                let c = self.src[pos + 1..].chars().next().unwrap_or('?');
                return Err(self.error(
                    Some(pos),
                    format!(
                        "\\{} is not an escape; the escapes are \\\" \\\\ \\/ \\b \\f \\n \\r \\t and \\u followed by four hex digits.",
                        c.escape_debug()
                    ),
                ));
            }
        };
        Ok((simple, 2))
    }

    /// The four hex digits after the `\u` at `pos`.
    fn hex4(&self, pos: usize) -> Result<u32, FilterError> {
        let digits = self.src.as_bytes().get(pos + 2..pos + 6);
        match digits {
            Some(d) if d.iter().all(u8::is_ascii_hexdigit) => {
                let d = std::str::from_utf8(d).expect("ASCII");
                Ok(u32::from_str_radix(d, 16).expect("hex digits"))
            }
            _ => Err(self.error(
                Some(pos),
                "\\u must be followed by four hex digits (\\u00e9).".into(),
            )),
        }
    }
}

/// At most [`EXCERPT_CHARS`] characters of `s`, with `...` if cut, its
/// control characters and bidirectional controls escaped (`\u{1b}`), so an
/// excerpt cannot change how a log line or a page shows.
fn excerpt(s: &str) -> String {
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i == EXCERPT_CHARS {
            out.push_str("...");
            break;
        }
        if c.is_control() {
            out.extend(c.escape_debug());
        } else if matches!(c, '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
        {
            out.extend(c.escape_unicode());
        } else {
            out.push(c);
        }
    }
    out
}

/// `ALPHA *(ALPHA / DIGIT / "-" / "_")`.
fn is_attr_name(s: &str) -> bool {
    let mut bytes = s.bytes();
    bytes.next().is_some_and(|b| b.is_ascii_alphabetic())
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// A schema URI as a path's prefix: it starts with a letter, has a scheme
/// (a `:` with something after it) and is printable ASCII.
fn is_uri(s: &str) -> bool {
    s.as_bytes().first().is_some_and(u8::is_ascii_alphabetic)
        && s.contains(':')
        && !s.ends_with(':')
        && s.bytes().all(|b| b.is_ascii_graphic())
}

/// A JSON number: `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`.
fn is_json_number(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    let digits = |i: &mut usize| {
        let start = *i;
        while *i < b.len() && b[*i].is_ascii_digit() {
            *i += 1;
        }
        *i > start
    };
    if b.get(i) == Some(&b'-') {
        i += 1;
    }
    match b.get(i) {
        Some(b'0') => i += 1,
        Some(b'1'..=b'9') => {
            digits(&mut i);
        }
        _ => return false,
    }
    if b.get(i) == Some(&b'.') {
        i += 1;
        if !digits(&mut i) {
            return false;
        }
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(b.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        if !digits(&mut i) {
            return false;
        }
    }
    i == b.len()
}

struct Parser<'a> {
    lex: Lexer<'a>,
    comparisons: usize,
}

const OPERATORS: &str = "eq, ne, co, sw, ew, gt, ge, lt, le or pr";

impl<'a> Parser<'a> {
    fn new(text: &'a str, limits: Limits, kind: Kind) -> Result<Parser<'a>, FilterError> {
        let lex = Lexer {
            src: text,
            pos: 0,
            peeked: None,
            after_word: false,
            limits,
            kind,
        };
        if text.len() > limits.bytes {
            return Err(lex.error(
                None,
                format!(
                    "The {} is {} bytes long; at most {} are read.",
                    kind.noun(),
                    text.len(),
                    limits.bytes
                ),
            ));
        }
        Ok(Parser {
            lex,
            comparisons: 0,
        })
    }

    /// Entering one more level at `at`, to `depth`.
    fn enter(&self, depth: usize, at: usize) -> Result<(), FilterError> {
        if depth > self.lex.limits.depth {
            return Err(self.lex.error(
                Some(at),
                format!(
                    "The {} nests parentheses, not and [ ] more than {} levels deep.",
                    self.lex.kind.noun(),
                    self.lex.limits.depth
                ),
            ));
        }
        Ok(())
    }

    /// `term *(or term)`.
    fn or(&mut self, depth: usize, inside: bool) -> Result<Filter, FilterError> {
        let mut left = self.and(depth, inside)?;
        while matches!(self.lex.peek()?.tok, Tok::Word(w) if w.eq_ignore_ascii_case("or")) {
            self.lex.next()?;
            let right = self.and(depth, inside)?;
            left = Filter::or(left, right);
        }
        Ok(left)
    }

    /// `unary *(and unary)`.
    fn and(&mut self, depth: usize, inside: bool) -> Result<Filter, FilterError> {
        let mut left = self.unary(depth, inside)?;
        while matches!(self.lex.peek()?.tok, Tok::Word(w) if w.eq_ignore_ascii_case("and")) {
            self.lex.next()?;
            let right = self.unary(depth, inside)?;
            left = Filter::and(left, right);
        }
        Ok(left)
    }

    /// `"(" filter ")"`, `not "(" filter ")"`, or an attribute expression.
    fn unary(&mut self, depth: usize, inside: bool) -> Result<Filter, FilterError> {
        let token = self.lex.next()?;
        match token.tok {
            Tok::LParen => self.group(depth, inside, token.at),
            Tok::Word(w)
                if w.eq_ignore_ascii_case("not") && self.lex.peek()?.tok == Tok::LParen =>
            {
                let open = self.lex.next()?;
                Ok(Filter::negate(self.group(depth, inside, open.at)?))
            }
            Tok::Word(w) => self.attr_exp(w, token.at, depth, inside),
            _ => {
                let detail = format!(
                    "Expected an attribute, '(' or not ( after {}, found {}.",
                    self.before(token.at),
                    self.lex.describe(&token)
                );
                Err(self.lex.error(Some(token.at), detail))
            }
        }
    }

    /// What came before byte `at`, for a message.
    fn before(&self, at: usize) -> String {
        let space = |c: char| c.is_ascii() && is_space(c as u8);
        let src = self.lex.src[..at].trim_end_matches(space);
        match src.rsplit(space).next() {
            Some(last) if !src.is_empty() => format!("\"{}\"", excerpt(last)),
            _ => "the start".into(),
        }
    }

    /// The inside of a `(` at `open` and its `)`.
    fn group(&mut self, depth: usize, inside: bool, open: usize) -> Result<Filter, FilterError> {
        self.enter(depth + 1, open)?;
        let filter = self.or(depth + 1, inside)?;
        let close = self.lex.next()?;
        match close.tok {
            Tok::RParen => Ok(filter),
            Tok::End => Err(self.lex.error(
                Some(open),
                "This '(' is never closed: a ')' is missing.".into(),
            )),
            _ => {
                let detail = format!(
                    "Expected and, or or ')' after a complete filter, found {}.",
                    self.lex.describe(&close)
                );
                Err(self.lex.error(Some(close.at), detail))
            }
        }
    }

    /// An attribute path in `word` at `at`.
    fn attr_path(&self, word: &str, at: usize) -> Result<AttrPath, FilterError> {
        let (uri, rest, rest_at) = match word.rfind(':') {
            Some(i) => (Some(&word[..i]), &word[i + 1..], at + i + 1),
            None => (None, word, at),
        };
        if let Some(uri) = uri {
            if !is_uri(uri) {
                return Err(self.lex.error(
                    Some(at),
                    format!(
                        "\"{}\" is not a schema URI before an attribute name (urn:ietf:params:scim:schemas:core:2.0:User:userName).",
                        excerpt(uri)
                    ),
                ));
            }
        }
        let (name, sub) = match rest.split_once('.') {
            Some((name, sub)) => (name, Some(sub)),
            None => (rest, None),
        };
        let name = self.plain_name(name, rest_at)?;
        let sub = match sub {
            Some(sub) => Some(self.plain_name(sub, rest_at + name.len() + 1)?),
            None => None,
        };
        Ok(AttrPath {
            uri: uri.map(str::to_string),
            name: name.to_string(),
            sub: sub.map(str::to_string),
        })
    }

    /// An attribute name: a letter, then letters, digits, `-` and `_`.
    fn plain_name<'s>(&self, name: &'s str, at: usize) -> Result<&'s str, FilterError> {
        if is_attr_name(name) {
            return Ok(name);
        }
        let detail = if name.is_empty() {
            "An attribute name is missing: names are a letter followed by letters, digits, - and _."
                .to_string()
        } else {
            format!(
                "\"{}\" is not an attribute name: names are a letter followed by letters, digits, - and _, with at most one .subAttribute.",
                excerpt(name)
            )
        };
        Err(self.lex.error(Some(at), detail))
    }

    /// `attrPath pr`, `attrPath op value`, or a value path (with Entra's
    /// `.sub op value` after it), the attribute path being `word` at `at`.
    fn attr_exp(
        &mut self,
        word: &str,
        at: usize,
        depth: usize,
        inside: bool,
    ) -> Result<Filter, FilterError> {
        let path = self.attr_path(word, at)?;
        if inside && (path.uri.is_some() || path.sub.is_some()) {
            return Err(self.lex.error(
                Some(at),
                format!(
                    "Inside [ ] attributes are plain sub-attribute names (type, value), not \"{}\".",
                    excerpt(word)
                ),
            ));
        }
        let (bracket, open) = {
            let next = self.lex.peek()?;
            (next.tok == Tok::LBracket && !next.spaced, next.at)
        };
        if bracket {
            if inside {
                return Err(self.lex.error(
                    Some(open),
                    "A value path ([ ]) cannot be inside another value path.".into(),
                ));
            }
            self.lex.next()?;
            let (inner, _) = self.bracket(&path, at, open, depth)?;
            // Entra's `emails[type eq "work"].value eq "x"`.
            let next = self.lex.peek()?;
            let sub = match next.tok {
                Tok::Word(w) if !next.spaced && w.starts_with('.') => Some((&w[1..], next.at + 1)),
                _ => None,
            };
            let filter = match sub {
                Some((sub, sub_at)) => {
                    let sub = AttrPath::new(self.plain_name(sub, sub_at)?);
                    self.lex.next()?;
                    let tail = self.comparison(sub, sub_at)?;
                    Filter::and(inner, tail)
                }
                None => inner,
            };
            return Ok(Filter::ValuePath {
                path,
                filter: Box::new(filter),
            });
        }
        self.comparison(path, at)
    }

    /// The inside of the `[` at `open` after `path` (at `at`), and the
    /// position of its `]`.
    fn bracket(
        &mut self,
        path: &AttrPath,
        at: usize,
        open: usize,
        depth: usize,
    ) -> Result<(Filter, usize), FilterError> {
        if path.sub.is_some() {
            return Err(self.lex.error(
                Some(at),
                "A value path's attribute has no sub-attribute: emails[type eq \"work\"].value, not emails.value[...].".into(),
            ));
        }
        self.enter(depth + 1, open)?;
        let filter = self.or(depth + 1, true)?;
        let close = self.lex.next()?;
        match close.tok {
            Tok::RBracket => Ok((filter, close.at)),
            Tok::End => Err(self.lex.error(
                Some(open),
                "This '[' is never closed: a ']' is missing.".into(),
            )),
            _ => {
                let detail = format!(
                    "Expected and, or or ']' after a complete filter, found {}.",
                    self.lex.describe(&close)
                );
                Err(self.lex.error(Some(close.at), detail))
            }
        }
    }

    /// `pr` or `op value` after `path` (at `at`).
    fn comparison(&mut self, path: AttrPath, at: usize) -> Result<Filter, FilterError> {
        let token = self.lex.next()?;
        let op = match token.tok {
            Tok::Word(w) if w.eq_ignore_ascii_case("pr") => None,
            Tok::Word(w) => match CompareOp::from_keyword(w) {
                Some(op) => Some(op),
                None => {
                    let detail = format!(
                        "\"{}\" is not an operator: after \"{}\" comes {OPERATORS}.",
                        excerpt(w),
                        excerpt(&path.to_string())
                    );
                    return Err(self.lex.error(Some(token.at), detail));
                }
            },
            _ => {
                let detail = format!(
                    "Expected an operator ({OPERATORS}) after \"{}\", found {}.",
                    excerpt(&path.to_string()),
                    self.lex.describe(&token)
                );
                return Err(self.lex.error(Some(token.at), detail));
            }
        };
        self.comparisons += 1;
        if self.comparisons > self.lex.limits.comparisons {
            return Err(self.lex.error(
                Some(at),
                format!(
                    "The {} has more than {} comparisons.",
                    self.lex.kind.noun(),
                    self.lex.limits.comparisons
                ),
            ));
        }
        let Some(op) = op else {
            return Ok(Filter::Present(path));
        };
        let token = self.lex.next()?;
        let value = match token.tok {
            Tok::Str(s) => Value::Str(s),
            Tok::Word(w) if w.eq_ignore_ascii_case("true") => Value::Bool(true),
            Tok::Word(w) if w.eq_ignore_ascii_case("false") => Value::Bool(false),
            Tok::Word(w) if w.eq_ignore_ascii_case("null") => Value::Null,
            Tok::Word(w) if is_json_number(w) => Value::Number(w.to_string()),
            _ => {
                let detail = format!(
                    "Expected a value after \"{} {op}\" (a string in double quotes, a number, true, false or null), found {}.",
                    excerpt(&path.to_string()),
                    self.lex.describe(&token)
                );
                return Err(self.lex.error(Some(token.at), detail));
            }
        };
        Ok(Filter::Compare { path, op, value })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(name: &str) -> AttrPath {
        let (name, sub) = match name.split_once('.') {
            Some((n, s)) => (n, Some(s.to_string())),
            None => (name, None),
        };
        AttrPath {
            uri: None,
            name: name.into(),
            sub,
        }
    }

    fn cmp(name: &str, op: CompareOp, value: Value) -> Filter {
        Filter::Compare {
            path: p(name),
            op,
            value,
        }
    }

    fn s(text: &str) -> Value {
        Value::Str(text.into())
    }

    fn n(text: &str) -> Value {
        Value::Number(text.into())
    }

    fn ok(text: &str) -> Filter {
        let filter = parse_filter(text).unwrap_or_else(|e| panic!("{text}: {e}"));
        // Printed back, it reads as the same tree.
        let printed = filter.to_string();
        assert_eq!(
            parse_filter(&printed),
            Ok(filter.clone()),
            "{text} -> {printed}"
        );
        filter
    }

    fn err(text: &str) -> String {
        match parse_filter(text) {
            Ok(f) => panic!("{text} was read as {f:?}"),
            Err(e) => {
                assert_eq!(e.scim_type(), "invalidFilter");
                assert_eq!(e.to_string(), e.detail());
                assert!(e.detail().len() < 400, "{}", e.detail());
                e.detail().to_string()
            }
        }
    }

    #[test]
    fn scim_every_operator() {
        for op in CompareOp::ALL {
            let text = format!("userName {op} \"x\"");
            assert_eq!(ok(&text), cmp("userName", op, s("x")));
            let upper = format!("userName {} \"x\"", op.as_str().to_uppercase());
            assert_eq!(ok(&upper), cmp("userName", op, s("x")));
        }
        assert_eq!(ok("title pr"), Filter::Present(p("title")));
        assert_eq!(ok("title PR"), Filter::Present(p("title")));
        assert_eq!(
            ok("meta.lastModified gt \"2011-05-13T04:42:34Z\""),
            cmp(
                "meta.lastModified",
                CompareOp::Gt,
                s("2011-05-13T04:42:34Z")
            )
        );
        assert_eq!(
            ok("emails.value co \"example.com\""),
            cmp("emails.value", CompareOp::Co, s("example.com"))
        );
    }

    #[test]
    fn scim_values() {
        assert_eq!(
            ok("active eq true"),
            cmp("active", CompareOp::Eq, Value::Bool(true))
        );
        assert_eq!(
            ok("active Eq FALSE"),
            cmp("active", CompareOp::Eq, Value::Bool(false))
        );
        assert_eq!(
            ok("manager eq null"),
            cmp("manager", CompareOp::Eq, Value::Null)
        );
        for num in ["0", "7", "-1", "1.5", "-0.25e10", "1E+3", "2e-7"] {
            assert_eq!(ok(&format!("x ge {num}")), cmp("x", CompareOp::Ge, n(num)));
        }
        for bad in [
            "01", "1.", ".5", "+1", "1e", "--1", "0x10", "1.2.3", "truex",
        ] {
            let e = err(&format!("x eq {bad}"));
            assert!(
                e.starts_with("Expected a value after \"x eq\""),
                "{bad}: {e}"
            );
        }
    }

    #[test]
    fn scim_precedence_and_grouping() {
        let a = || cmp("a", CompareOp::Eq, n("1"));
        let b = || cmp("b", CompareOp::Eq, n("2"));
        let c = || cmp("c", CompareOp::Eq, n("3"));
        assert_eq!(
            ok("a eq 1 or b eq 2 and c eq 3"),
            Filter::or(a(), Filter::and(b(), c()))
        );
        assert_eq!(
            ok("a eq 1 and b eq 2 or c eq 3"),
            Filter::or(Filter::and(a(), b()), c())
        );
        assert_eq!(
            ok("(a eq 1 or b eq 2) and c eq 3"),
            Filter::and(Filter::or(a(), b()), c())
        );
        assert_eq!(
            ok("a eq 1 and b eq 2 and c eq 3"),
            Filter::and(Filter::and(a(), b()), c())
        );
        assert_eq!(
            ok("a eq 1 or (b eq 2 or c eq 3)"),
            Filter::or(a(), Filter::or(b(), c()))
        );
        assert_eq!(
            ok("not (a eq 1) and b eq 2"),
            Filter::and(Filter::negate(a()), b())
        );
        assert_eq!(ok("NOT(a eq 1)"), Filter::negate(a()));
        assert_eq!(
            ok("not (a eq 1 or b eq 2)"),
            Filter::negate(Filter::or(a(), b()))
        );
        assert_eq!(ok("((((a eq 1))))"), a());
        assert_eq!(
            ok("a eq 1 AND b eq 2 Or c eq 3"),
            Filter::or(Filter::and(a(), b()), c())
        );
        // Lenient with whitespace, strict where the grammar needs it.
        assert_eq!(ok("  ( a eq 1 )\tand\n( b eq 2 )  "), Filter::and(a(), b()));
        assert_eq!(ok("(a eq 1)and(b eq 2)"), Filter::and(a(), b()));
        // An attribute may be called not, and, or pr.
        assert_eq!(ok("not pr"), Filter::Present(p("not")));
        assert_eq!(
            ok("and eq 1 and or pr"),
            Filter::and(cmp("and", CompareOp::Eq, n("1")), Filter::Present(p("or")))
        );
    }

    #[test]
    fn scim_what_providers_send() {
        assert_eq!(
            ok("userName eq \"test.user@example.com\""),
            cmp("userName", CompareOp::Eq, s("test.user@example.com"))
        );
        assert_eq!(
            ok("externalId eq \"0a21f0f2-8d2a-4f8e-bf98-7363c12d3d5c\""),
            cmp(
                "externalId",
                CompareOp::Eq,
                s("0a21f0f2-8d2a-4f8e-bf98-7363c12d3d5c")
            )
        );
        assert_eq!(
            ok("displayName eq \"Sales\""),
            cmp("displayName", CompareOp::Eq, s("Sales"))
        );
        assert_eq!(
            ok("userName EQ \"x\""),
            cmp("userName", CompareOp::Eq, s("x"))
        );
        // Entra: a value path, then .value and a comparison.
        let entra = ok("emails[type eq \"work\"].value eq \"a@b.c\"");
        assert_eq!(
            entra,
            Filter::ValuePath {
                path: p("emails"),
                filter: Box::new(Filter::and(
                    cmp("type", CompareOp::Eq, s("work")),
                    cmp("value", CompareOp::Eq, s("a@b.c"))
                )),
            }
        );
        assert_eq!(ok("emails[type eq \"work\" and value eq \"a@b.c\"]"), entra);
        assert_eq!(
            ok("emails[type eq \"work\"]"),
            Filter::ValuePath {
                path: p("emails"),
                filter: Box::new(cmp("type", CompareOp::Eq, s("work"))),
            }
        );
        // An `or` inside, then Entra's tail: printed in Entra's form.
        let f = ok("emails[type eq \"a\" or type eq \"b\"].value pr");
        assert_eq!(
            f.to_string(),
            "emails[type eq \"a\" or type eq \"b\"].value pr"
        );
        assert_eq!(
            ok("emails[type eq \"work\"] and userName sw \"a\""),
            Filter::and(
                Filter::ValuePath {
                    path: p("emails"),
                    filter: Box::new(cmp("type", CompareOp::Eq, s("work"))),
                },
                cmp("userName", CompareOp::Sw, s("a"))
            )
        );
        // The RFC's example.
        assert_eq!(
            ok(
                "userType ne \"Employee\" and not (emails co \"example.com\" or emails.value co \"example.org\")"
            ),
            Filter::and(
                cmp("userType", CompareOp::Ne, s("Employee")),
                Filter::negate(Filter::or(
                    cmp("emails", CompareOp::Co, s("example.com")),
                    cmp("emails.value", CompareOp::Co, s("example.org"))
                ))
            )
        );
    }

    #[test]
    fn scim_uri_prefixes() {
        let f = ok("urn:ietf:params:scim:schemas:core:2.0:User:userName eq \"a\"");
        let Filter::Compare { path, .. } = &f else {
            panic!("{f:?}")
        };
        assert_eq!(
            path.uri.as_deref(),
            Some("urn:ietf:params:scim:schemas:core:2.0:User")
        );
        assert_eq!(
            (path.name.as_str(), path.sub.as_deref()),
            ("userName", None)
        );
        let f = ok("urn:ietf:params:scim:schemas:core:2.0:User:name.givenName pr");
        assert_eq!(
            f,
            Filter::Present(AttrPath {
                uri: Some("urn:ietf:params:scim:schemas:core:2.0:User".into()),
                name: "name".into(),
                sub: Some("givenName".into()),
            })
        );
        let f = ok("urn:ietf:params:scim:schemas:core:2.0:User:emails[type eq \"work\"]");
        assert!(matches!(f, Filter::ValuePath { ref path, .. } if path.uri.is_some()));
        for bad in [
            "foo:userName pr",
            ":userName pr",
            "urn:x::userName pr",
            "urn:x:2.0 pr",
            "urn:x: pr",
        ] {
            err(bad);
        }
    }

    #[test]
    fn scim_names_compare_without_case() {
        let path = AttrPath {
            uri: Some("urn:X".into()),
            name: "Meta".into(),
            sub: Some("LastModified".into()),
        };
        assert!(path.is("meta", Some("lastmodified")));
        assert!(!path.is("meta", None));
        assert_eq!(path.key(), "meta.lastmodified");
        assert_eq!(path.lowercase().to_string(), "urn:x:meta.lastmodified");
        assert_eq!(path.to_string(), "urn:X:Meta.LastModified");
    }

    #[test]
    fn scim_string_escapes() {
        assert_eq!(
            ok(r#"x eq "a\"b\\c\/d\b\f\n\r\t""#),
            cmp("x", CompareOp::Eq, s("a\"b\\c/d\u{8}\u{c}\n\r\t"))
        );
        assert_eq!(
            ok(r#"x eq "\u00e9\u00E9é \ud83d\ude00""#),
            cmp("x", CompareOp::Eq, s("ééé 😀"))
        );
        assert_eq!(ok(r#"x eq """#), cmp("x", CompareOp::Eq, s("")));
        assert_eq!(
            ok(r#"x eq "and or ) ( [ ]""#),
            cmp("x", CompareOp::Eq, s("and or ) ( [ ]"))
        );
        assert_eq!(ok(r#"x eq "\u001f""#).to_string(), r#"x eq "\u001f""#);
        for (bad, says) in [
            (r#"x eq "\x""#, "\\x is not an escape"),
            (r#"x eq "\u12""#, "four hex digits"),
            (r#"x eq "\uZZZZ""#, "four hex digits"),
            (r#"x eq "\ud800""#, "half of a surrogate pair"),
            (r#"x eq "\ud800\u0041""#, "half of a surrogate pair"),
            (r#"x eq "\udc00""#, "second half"),
            (r#"x eq "\u0000""#, "NUL"),
            ("x eq \"a\nb\"", "control character U+000A"),
            (r#"x eq "abc"#, "not closed"),
            (r#"x eq "abc\"#, "not closed"),
            (r#"x eq "abc\""#, "not closed"),
        ] {
            let e = err(bad);
            assert!(e.contains(says), "{bad}: {e}");
        }
    }

    #[test]
    fn scim_errors_say_what_is_wrong() {
        for (bad, says) in [
            ("", "The filter is empty."),
            ("   ", "The filter is empty."),
            (
                "(a eq 1",
                "This '(' is never closed: a ')' is missing (character 1 of the filter).",
            ),
            (
                "a eq 1)",
                "A ')' has no '(' before it (character 7 of the filter).",
            ),
            ("((a eq 1)", "never closed"),
            (
                "()",
                "Expected an attribute, '(' or not ( after \"(\", found ')'",
            ),
            ("userName eq", "Expected a value after \"userName eq\""),
            ("userName eq and b pr", "Expected a value after"),
            ("userName", "Expected an operator"),
            ("userName xx \"a\"", "\"xx\" is not an operator"),
            ("userName == \"a\"", "\"==\" is not an operator"),
            (
                "a eq 1 b eq 2",
                "Expected and, or or the end after a complete filter, found \"b\"",
            ),
            ("a eq 1 and", "found the end"),
            ("a eq 1 or or", "Expected an operator"),
            ("a pr and (", "after \"(\", found the end"),
            ("not a pr", "\"a\" is not an operator"),
            ("a eq \"x\"and b pr", "A space is needed before \"and\""),
            ("a eq\"x\"", "A space is needed before the string \"x\""),
            ("a pr garbage", "found \"garbage\""),
            ("a pr ]", "found ']'"),
            ("emails[type eq \"work\"", "This '[' is never closed"),
            (
                "emails[type[value eq 1]]",
                "cannot be inside another value path",
            ),
            ("emails[type eq 1].value", "Expected an operator"),
            ("emails[type eq 1] .value eq 1", "found \".value\""),
            ("emails.value[type eq 1]", "no sub-attribute"),
            ("emails[name.givenName pr]", "plain sub-attribute names"),
            ("emails[urn:x:y:type pr]", "plain sub-attribute names"),
            ("emails [type eq 1]", "found '['"),
            ("1abc pr", "not an attribute name"),
            ("a.b.c pr", "not an attribute name"),
            ("na$me pr", "not an attribute name"),
            ("name. pr", "An attribute name is missing"),
            ("\"x\" eq 1", "found the string \"x\""),
        ] {
            let e = err(bad);
            assert!(e.contains(says), "{bad}: {e}");
        }
    }

    #[test]
    fn scim_errors_quote_only_a_short_excerpt() {
        let long = "a".repeat(3000);
        let e = err(&format!("{long} xx 1"));
        assert!(e.len() < 200 && e.contains("aaa..."), "{e}");
        let e = err(&format!("x eq 1 {long}"));
        assert!(e.len() < 200, "{e}");
        let e = err("x eq 1 \u{1b}[31m\u{7}");
        assert!(e.contains("\\u{1b}") && !e.contains('\u{1b}'), "{e}");
    }

    #[test]
    fn scim_bounds() {
        // Length.
        let long = format!("x eq \"{}\"", "a".repeat(MAX_FILTER_BYTES));
        assert_eq!(
            err(&long),
            format!(
                "The filter is {} bytes long; at most 4096 are read.",
                long.len()
            )
        );
        // Depth: 16 levels are read, 17 are not.
        let nest = |levels: usize| format!("{}a pr{}", "(".repeat(levels), ")".repeat(levels));
        ok(&nest(MAX_DEPTH));
        assert!(err(&nest(MAX_DEPTH + 1)).contains("more than 16 levels deep"));
        let nots = |levels: usize| format!("{}a pr{}", "not (".repeat(levels), ")".repeat(levels));
        ok(&nots(MAX_DEPTH));
        assert!(err(&nots(MAX_DEPTH + 1)).contains("more than 16 levels deep"));
        assert!(err(&"(".repeat(MAX_FILTER_BYTES)).contains("levels deep"));
        let bracket = format!("{}emails[type pr]{}", "(".repeat(15), ")".repeat(15));
        ok(&bracket);
        let bracket = format!("{}emails[(type pr)]{}", "(".repeat(15), ")".repeat(15));
        assert!(err(&bracket).contains("levels deep"));
        // Comparisons.
        let many = |n: usize| vec!["a pr"; n].join(" and ");
        assert_eq!(ok(&many(MAX_COMPARISONS)).comparisons(), MAX_COMPARISONS);
        assert!(err(&many(MAX_COMPARISONS + 1)).contains("more than 64 comparisons"));
        let inside = format!(
            "emails[{}].value eq 1",
            vec!["a pr"; MAX_COMPARISONS].join(" or ")
        );
        assert!(err(&inside).contains("more than 64 comparisons"));
        // String length, counted after decoding.
        let at_most = format!("x eq \"{}\"", "é".repeat(MAX_STRING_BYTES / 2));
        ok(&at_most);
        let over = format!("x eq \"{}\"", "\\u00e9".repeat(MAX_STRING_BYTES / 2 + 1));
        assert!(err(&over).contains("longer than 1024 bytes"));
        let over = format!("x eq \"{}\"", "a".repeat(MAX_STRING_BYTES + 1));
        assert!(err(&over).contains("longer than 1024 bytes"));
    }

    #[test]
    fn scim_limits_can_be_given() {
        let tight = Limits {
            depth: 1,
            comparisons: 2,
            ..Limits::DEFAULT
        };
        assert!(parse_filter_with("(a pr)", tight).is_ok());
        assert!(parse_filter_with("((a pr))", tight).is_err());
        assert!(parse_filter_with("a pr or b pr or c pr", tight).is_err());
        assert_eq!(Limits::default(), Limits::DEFAULT);
    }

    #[test]
    fn scim_printing_reads_back() {
        for text in [
            "a pr or (b pr or c pr)",
            "a pr and (b pr and c pr)",
            "(a pr or b pr) and (c pr or d pr)",
            "not (not (a pr)) or not (b pr and c pr)",
            "x[a pr or b pr]",
            "x[(a pr or b pr) and c eq \"1\"]",
            "x[a pr and (b pr or c pr)]",
            "x[not (a pr) and b eq \"q\\\"\"]",
            "urn:a:b:c.d eq -1.5e3",
        ] {
            let f = ok(text);
            assert_eq!(ok(&f.to_string()), f);
        }
        assert_eq!(
            ok("x[(a pr or b pr) and c pr]").to_string(),
            "x[a pr or b pr].c pr"
        );
        assert_eq!(
            ok("A Eq 1 AnD NOT(b Pr)").to_string(),
            "A eq 1 and not (b pr)"
        );
    }

    fn path(text: &str) -> PatchPath {
        let parsed = parse_patch_path(text).unwrap_or_else(|e| panic!("{text}: {e}"));
        assert_eq!(parse_patch_path(&parsed.to_string()), Ok(parsed.clone()));
        parsed
    }

    fn path_err(text: &str) -> String {
        match parse_patch_path(text) {
            Ok(p) => panic!("{text} was read as {p:?}"),
            Err(e) => {
                assert_eq!(e.scim_type(), "invalidPath");
                e.detail().to_string()
            }
        }
    }

    #[test]
    fn scim_patch_paths() {
        assert_eq!(
            path("members[value eq \"7\"]"),
            PatchPath {
                path: p("members"),
                filter: Some(cmp("value", CompareOp::Eq, s("7"))),
                sub: None,
            }
        );
        assert_eq!(
            path("emails[type eq \"work\"].value"),
            PatchPath {
                path: p("emails"),
                filter: Some(cmp("type", CompareOp::Eq, s("work"))),
                sub: Some("value".into()),
            }
        );
        assert_eq!(
            path("name.givenName"),
            PatchPath {
                path: p("name.givenName"),
                filter: None,
                sub: None,
            }
        );
        assert_eq!(
            path("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager"),
            PatchPath {
                path: AttrPath {
                    uri: Some("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User".into()),
                    name: "manager".into(),
                    sub: None,
                },
                filter: None,
                sub: None,
            }
        );
        assert_eq!(path("members").path, p("members"));
        assert_eq!(path(" active ").path, p("active"));
        assert_eq!(
            path("members[ value eq \"7\" or value eq \"8\" ]").filter,
            Some(Filter::or(
                cmp("value", CompareOp::Eq, s("7")),
                cmp("value", CompareOp::Eq, s("8"))
            ))
        );
        assert_eq!(
            path("members[value eq \"7\"]").to_string(),
            "members[value eq \"7\"]"
        );
        for (bad, says) in [
            ("", "The path is empty."),
            ("members[", "found the end"),
            ("members[value eq \"7\"", "never closed"),
            ("members]", "found ']'"),
            ("members[value eq \"7\"]x", "found \"x\""),
            ("members[value eq \"7\"].value.x", "not an attribute name"),
            ("members[value eq \"7\"] .value", "found \".value\""),
            ("members [value eq \"7\"]", "found '['"),
            ("members[value[x pr]]", "inside another value path"),
            ("members.value[x pr]", "no sub-attribute"),
            ("members eq 1", "found \"eq\""),
            ("(members)", "starts with an attribute name"),
            ("members[]", "found ']'"),
            ("members[value eq \"\\q\"]", "not an escape"),
        ] {
            let e = path_err(bad);
            assert!(e.contains(says), "{bad}: {e}");
        }
        let long = format!("a{}", "b".repeat(MAX_FILTER_BYTES));
        assert!(path_err(&long).contains("The path is 4097 bytes long"));
        let deep = format!("m[{}a pr{}]", "(".repeat(MAX_DEPTH), ")".repeat(MAX_DEPTH));
        assert!(path_err(&deep).contains("levels deep"));
    }
}
