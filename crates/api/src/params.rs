//! Request parameters as the servlet sees them: the query string and an url-encoded form body
//! merged, the first value of a repeated name winning, names looked up case-insensitively.
//! The names as sent are kept, because the signature is computed over them.

use std::collections::HashMap;

/// The merged parameters of one request.
#[derive(Clone, Debug, Default)]
pub struct RawParams {
    /// (name as sent, decoded value), first occurrence of each exact name only, in order.
    entries: Vec<(String, String)>,
    /// lower-cased name -> index into `entries` (first wins).
    by_lower: HashMap<String, usize>,
}

impl RawParams {
    /// Parses a query string and an optional `application/x-www-form-urlencoded` body.
    /// `+` means space in both, as in the Java servlet.
    pub fn parse(query: Option<&str>, form_body: Option<&[u8]>) -> Self {
        let mut p = Self::default();
        if let Some(q) = query {
            for (k, v) in form_urlencoded::parse(q.as_bytes()) {
                p.push(k.into_owned(), v.into_owned());
            }
        }
        if let Some(b) = form_body {
            for (k, v) in form_urlencoded::parse(b) {
                p.push(k.into_owned(), v.into_owned());
            }
        }
        p
    }

    /// Builds parameters from pairs (tests and internal callers).
    pub fn from_pairs<K: Into<String>, V: Into<String>>(
        pairs: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        let mut p = Self::default();
        for (k, v) in pairs {
            p.push(k.into(), v.into());
        }
        p
    }

    /// These parameters without `name` (matched case-insensitively).
    pub fn without(&self, name: &str) -> Self {
        Self::from_pairs(
            self.entries
                .iter()
                .filter(|(n, _)| !n.eq_ignore_ascii_case(name))
                .cloned(),
        )
    }

    /// These parameters with `name` set to `value` (replacing any value it had).
    pub fn with(&self, name: &str, value: &str) -> Self {
        let mut p = self.without(name);
        p.push(name.to_string(), value.to_string());
        p
    }

    fn push(&mut self, name: String, value: String) {
        if name.is_empty() || self.entries.iter().any(|(n, _)| *n == name) {
            return;
        }
        let lower = name.to_ascii_lowercase();
        let idx = self.entries.len();
        self.entries.push((name, value));
        self.by_lower.entry(lower).or_insert(idx);
    }

    /// The value of a parameter, name matched case-insensitively.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.by_lower
            .get(&name.to_ascii_lowercase())
            .map(|&i| self.entries[i].1.as_str())
    }

    /// The command name (matched case-sensitively later, by the registry).
    pub fn command(&self) -> Option<&str> {
        self.get("command").filter(|c| !c.is_empty())
    }

    /// All (name, value) pairs as sent.
    pub fn entries(&self) -> &[(String, String)] {
        &self.entries
    }

    /// The pairs whose lower-cased names are distinct (first wins) — what binding sees.
    pub fn lowered(&self) -> impl Iterator<Item = (String, &str)> {
        let mut seen = std::collections::HashSet::new();
        self.entries.iter().filter_map(move |(n, v)| {
            let l = n.to_ascii_lowercase();
            seen.insert(l.clone()).then_some((l, v.as_str()))
        })
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_then_body_first_value_wins() {
        let p = RawParams::parse(
            Some("command=listZones&name=a+b&name=c"),
            Some(b"name=d&id=1"),
        );
        assert_eq!(p.get("NAME"), Some("a b"));
        assert_eq!(p.get("id"), Some("1"));
        assert_eq!(p.command(), Some("listZones"));
    }

    #[test]
    fn names_are_case_insensitive_but_kept_as_sent() {
        let p = RawParams::parse(Some("zoneId=1&ZONEID=2&apiKey=k"), None);
        assert_eq!(p.get("zoneid"), Some("1"));
        assert_eq!(p.entries().len(), 3);
        let lowered: Vec<_> = p.lowered().collect();
        assert_eq!(
            lowered,
            vec![("zoneid".to_string(), "1"), ("apikey".to_string(), "k")]
        );
    }

    #[test]
    fn percent_decoding_is_utf8() {
        let p = RawParams::parse(Some("name=%C3%A9t%C3%A9%20x"), None);
        assert_eq!(p.get("name"), Some("été x"));
    }
}
