//! What the DSL checks at compile time: route paths, event names and `until` bounds.
//!
//! Each check is a `const fn` that panics with the caller's message, so a mistake in a literal
//! becomes a compile error naming the clause. The same field rule serves runtime checks of
//! computed values in [`crate::frame`].

/// Whether `value` can be written after `event:` or `id:` without breaking the framing.
///
/// The `text/event-stream` grammar ends a field at CR or LF; an `id` holding NUL is ignored by
/// conforming clients, so it is refused too.
pub const fn is_field_value(value: &str, allow_nul: bool) -> bool {
    let bytes = value.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\r' | b'\n' => return false,
            0 if !allow_nul => return false,
            _ => {}
        }
        i += 1;
    }
    true
}

/// Why a `route` literal was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RouteError {
    /// A segment written as a parameter in another framework's syntax (`:symbol`, `{symbol}`),
    /// which would only ever match itself.
    Parameter,
    /// Not a path of non-empty segments of URI path characters.
    Malformed,
}

/// Checks the source text of a `route` literal and returns the path between its quotes.
///
/// Reads `stringify!` output rather than the value so that a number or a raw string gets the
/// clause's own message instead of a type error. Accepted: `"/"` or `"/seg/seg"` where each
/// segment is non-empty and made of URI path characters (RFC 3986 `pchar` without `%`), and
/// does not start with `:` (Express and axum 0.7's parameter syntax).
pub const fn route(token: &'static str) -> Result<&'static str, RouteError> {
    let bytes = token.as_bytes();
    if bytes.len() < 3 || bytes[0] != b'"' || bytes[bytes.len() - 1] != b'"' || bytes[1] != b'/' {
        return Err(RouteError::Malformed);
    }
    let mut i = 1;
    let mut segment_len = 0;
    let mut malformed = false;
    while i < bytes.len() - 1 {
        let b = bytes[i];
        if b == b'/' {
            // An empty segment ("//") can never match a request; a trailing "/" is allowed
            // only as the root route "/".
            if i > 1 && segment_len == 0 {
                malformed = true;
            }
            segment_len = 0;
        } else if (b == b':' && segment_len == 0) || b == b'{' || b == b'}' {
            return Err(RouteError::Parameter);
        } else if is_path_char(b) {
            segment_len += 1;
        } else {
            malformed = true;
        }
        i += 1;
    }
    if malformed || (segment_len == 0 && bytes.len() > 3) {
        return Err(RouteError::Malformed);
    }
    let (_, rest) = bytes.split_at(1);
    let (path, _) = rest.split_at(rest.len() - 1);
    match core::str::from_utf8(path) {
        Ok(path) => Ok(path),
        Err(_) => Err(RouteError::Malformed),
    }
}

/// Checks a literal after the first in a typed route (`"events"` in
/// `route "/rooms" / room: String / "events"`): non-empty segments of URI path characters,
/// separated by `/`, with no leading or trailing `/`.
pub const fn route_segment(token: &'static str, error: &'static str) -> &'static str {
    let bytes = token.as_bytes();
    if bytes.len() < 3 || bytes[0] != b'"' || bytes[bytes.len() - 1] != b'"' {
        panic!("{}", error);
    }
    let mut i = 1;
    let mut segment_len = 0;
    while i < bytes.len() - 1 {
        let b = bytes[i];
        if b == b'/' {
            if segment_len == 0 {
                panic!("{}", error);
            }
            segment_len = 0;
        } else if is_path_char(b) {
            segment_len += 1;
        } else {
            panic!("{}", error);
        }
        i += 1;
    }
    if segment_len == 0 {
        panic!("{}", error);
    }
    let (_, rest) = bytes.split_at(1);
    let (path, _) = rest.split_at(rest.len() - 1);
    match core::str::from_utf8(path) {
        Ok(path) => path,
        Err(_) => panic!("{}", error),
    }
}

const fn is_path_char(b: u8) -> bool {
    b.is_ascii_alphanumeric()
        || matches!(
            b,
            b'-' | b'.'
                | b'_'
                | b'~'
                | b'!'
                | b'$'
                | b'&'
                | b'\''
                | b'('
                | b')'
                | b'*'
                | b'+'
                | b','
                | b';'
                | b'='
                | b':'
                | b'@'
        )
}

/// Checks declared event names: non-empty, no CR or LF.
pub const fn event_names(
    names: &'static [&'static str],
    error: &'static str,
) -> &'static [&'static str] {
    let mut i = 0;
    while i < names.len() {
        if names[i].is_empty() || !is_field_value(names[i], true) {
            panic!("{}", error);
        }
        i += 1;
    }
    names
}

/// Checks a count clause (`until`, `buffer`, `max_clients`): at least 1.
pub const fn count(value: u64, error: &'static str) -> u64 {
    if value == 0 {
        panic!("{}", error);
    }
    value
}

/// Whether a route parameter is unused on purpose (its name starts with `_`) or used: its name
/// appears in the declaration's text again, besides its own `/ name: Type` (in a clause's code,
/// or as `{name}` in a format string).
pub const fn used_or_underscored(declaration: &str, name: &str) -> bool {
    let (text, name) = (declaration.as_bytes(), name.as_bytes());
    if let [b'_', ..] = name {
        return true;
    }
    let mut found = 0;
    let mut at = 0;
    while at + name.len() <= text.len() {
        if word_at(text, at, name) {
            found += 1;
            if found == 2 {
                return true;
            }
        }
        at += 1;
    }
    false
}

/// Whether `word` is at `at` in `text`, not as part of a longer identifier.
const fn word_at(text: &[u8], at: usize, word: &[u8]) -> bool {
    let mut i = 0;
    while i < word.len() {
        if text[at + i] != word[i] {
            return false;
        }
        i += 1;
    }
    let before = at > 0 && identifier_byte(text[at - 1]);
    let after = at + word.len() < text.len() && identifier_byte(text[at + word.len()]);
    !before && !after
}

const fn identifier_byte(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || byte == b'_' || byte >= 0x80
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_are_read_from_their_literal() {
        assert_eq!(route("\"/\""), Ok("/"));
        assert_eq!(route("\"/event/counting\""), Ok("/event/counting"));
        assert_eq!(route("\"/a-b/c.d/~e/a:b\""), Ok("/a-b/c.d/~e/a:b"));
    }

    #[test]
    fn other_frameworks_parameters_are_told_apart() {
        assert_eq!(route("\"/prices/:symbol\""), Err(RouteError::Parameter));
        assert_eq!(route("\"/prices/{symbol}\""), Err(RouteError::Parameter));
        assert_eq!(route("\"/prices/<symbol>\""), Err(RouteError::Malformed));
    }

    #[test]
    fn malformed_routes_are_refused() {
        for bad in [
            "\"\"",
            "\"a\"",
            "\"/a//b\"",
            "\"/a/\"",
            "\"/a b\"",
            "\"/a?b\"",
            "42",
            "r\"/a\"",
        ] {
            assert_eq!(route(bad), Err(RouteError::Malformed), "{bad}");
        }
    }

    #[test]
    fn field_values_exclude_line_breaks() {
        assert!(is_field_value("increment", false));
        assert!(!is_field_value("a\nb", true));
        assert!(!is_field_value("a\rb", true));
        assert!(!is_field_value("a\0b", false));
        assert!(is_field_value("a\0b", true));
    }

    #[test]
    fn a_route_parameter_is_used_when_named_again_as_a_whole_word() {
        let declaration = r#"route "/p" / symbol : String / job : u32 every 1s on_close | n | { println! ("{job} {n}") } => | i | json! (i)"#;
        assert!(!super::used_or_underscored(declaration, "symbol"));
        assert!(
            super::used_or_underscored(declaration, "job"),
            "in a format string"
        );
        assert!(!super::used_or_underscored(
            "route \"/p\" / id : u32 => | i | json! (ids)",
            "id"
        ));
        assert!(super::used_or_underscored(
            "route \"/p\" / _id : u32",
            "_id"
        ));
    }
}
