//! Response envelopes: `{"<command>response": <inner>}` in JSON, or the same tree as XML
//! (the default when `response` is absent). Handlers build `<inner>` with the helpers here.

use serde_json::{json, Map, Value};

/// Response format chosen by the `response` parameter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Json,
    Xml,
}

impl Format {
    /// `response=json` (any case) selects JSON; anything else, or nothing, is XML.
    pub fn from_param(v: Option<&str>) -> Self {
        match v {
            Some(v) if v.eq_ignore_ascii_case("json") => Self::Json,
            _ => Self::Xml,
        }
    }
    pub fn content_type(self) -> &'static str {
        match self {
            Self::Json => "application/json; charset=UTF-8",
            Self::Xml => "text/xml; charset=UTF-8",
        }
    }
}

/// The wrapper key for a command: lower-cased name + `response`.
pub fn response_name(command: &str) -> String {
    format!("{}response", command.to_ascii_lowercase())
}

/// A list: `{"count": total, "<key>": [...]}`, or `{}` when nothing matched at all, or
/// `{"count": total}` for a page past the end.
pub fn list_body(key: &str, total: u64, items: Vec<Value>) -> Value {
    let mut m = Map::new();
    if total > 0 {
        m.insert("count".into(), json!(total));
        if !items.is_empty() {
            m.insert(key.into(), Value::Array(items));
        }
    }
    Value::Object(m)
}

/// A sync success: `{"success": true}` (a JSON boolean).
pub fn success_body() -> Value {
    json!({ "success": true })
}

/// Renders the envelope.
pub fn render(wrapper: &str, inner: &Value, format: Format) -> String {
    match format {
        Format::Json => {
            let mut m = Map::new();
            m.insert(wrapper.to_string(), inner.clone());
            Value::Object(m).to_string()
        }
        Format::Xml => {
            let mut out = String::with_capacity(256);
            out.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>");
            out.push('<');
            out.push_str(wrapper);
            out.push_str(" cloud-stack-version=\"");
            out.push_str(crate::CLOUDSTACK_VERSION);
            out.push_str("\">");
            xml_children(&mut out, inner);
            out.push_str("</");
            out.push_str(wrapper);
            out.push('>');
            out
        }
    }
}

fn xml_children(out: &mut String, v: &Value) {
    match v {
        Value::Object(m) => {
            for (k, v) in m {
                match v {
                    Value::Array(items) => {
                        for item in items {
                            xml_element(out, k, item);
                        }
                    }
                    other => xml_element(out, k, other),
                }
            }
        }
        other => xml_text(out, other),
    }
}

fn xml_element(out: &mut String, name: &str, v: &Value) {
    if v.is_null() {
        return;
    }
    out.push('<');
    out.push_str(name);
    out.push('>');
    xml_children(out, v);
    out.push_str("</");
    out.push_str(name);
    out.push('>');
}

fn xml_text(out: &mut String, v: &Value) {
    let s = match v {
        Value::String(s) => s.clone(),
        Value::Null => return,
        other => other.to_string(),
    };
    for c in s.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_list_shapes() {
        assert_eq!(
            render(
                "listzonesresponse",
                &list_body("zone", 0, vec![]),
                Format::Json
            ),
            r#"{"listzonesresponse":{}}"#
        );
        assert_eq!(
            render(
                "listzonesresponse",
                &list_body("zone", 2, vec![json!({"id":"a"})]),
                Format::Json
            ),
            r#"{"listzonesresponse":{"count":2,"zone":[{"id":"a"}]}}"#
        );
        assert_eq!(
            render("x", &list_body("zone", 5, vec![]), Format::Json),
            r#"{"x":{"count":5}}"#
        );
        assert_eq!(
            render("deletezoneresponse", &success_body(), Format::Json),
            r#"{"deletezoneresponse":{"success":true}}"#
        );
    }

    #[test]
    fn json_keeps_html_characters_literal() {
        let s = render("r", &json!({"t": "<a href='x'>&=</a>"}), Format::Json);
        assert_eq!(s, r#"{"r":{"t":"<a href='x'>&=</a>"}}"#);
    }

    #[test]
    fn xml_shapes() {
        let body = list_body(
            "zone",
            1,
            vec![json!({"id": "a", "tags": [], "n": 1, "ok": true, "s": "<&>"})],
        );
        assert_eq!(
            render("listzonesresponse", &body, Format::Xml),
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><listzonesresponse cloud-stack-version=\"4.20.0.0\"><count>1</count><zone><id>a</id><n>1</n><ok>true</ok><s>&lt;&amp;&gt;</s></zone></listzonesresponse>"
        );
        assert_eq!(
            render("x", &json!({"jobresult": {"success": true}, "list": ["a", "b"]}), Format::Xml),
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><x cloud-stack-version=\"4.20.0.0\"><jobresult><success>true</success></jobresult><list>a</list><list>b</list></x>"
        );
    }

    #[test]
    fn format_selection() {
        assert_eq!(Format::from_param(None), Format::Xml);
        assert_eq!(Format::from_param(Some("JSON")), Format::Json);
        assert_eq!(Format::from_param(Some("xml")), Format::Xml);
        assert_eq!(Format::from_param(Some("yaml")), Format::Xml);
    }
}
