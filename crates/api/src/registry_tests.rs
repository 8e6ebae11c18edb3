//! Binding, paging and listApis tests of the registry.
use super::*;
use ParamType::*;

fn spec() -> &'static CommandSpec {
    Box::leak(Box::new(
        CommandSpec::new("createThing", "Creates a thing")
            .req("name", String, "the name")
            .len(10)
            .opt("count", Integer, "n")
            .opt("big", Long, "n")
            .opt("flag", Boolean, "b")
            .opt("id", Uuid, "id")
            .opt("ids", List, "ids")
            .of(Uuid)
            .opt("details", Map, "details")
            .opt("ratio", Float, "f")
            .opt("startdate", Date, "d"),
    ))
}

fn bind(q: &str) -> Result<Args, ApiError> {
    spec().bind(&RawParams::parse(Some(q), None), 500)
}

#[test]
fn binds_every_type() {
    let a = bind("command=createThing&NAME=abc&count=5&big=9000000000&flag=TRUE&id=915653c4-298b-4d74-bdee-4ced282114f1&ids=915653c4-298b-4d74-bdee-4ced282114f1,&details[1].b=2&details[0].cpuNumber=1&details[0].memory=512&ratio=1.5&startdate=2024-01-02")
        .expect("binds");
    assert_eq!(a.str("name"), Some("abc"));
    assert_eq!(a.int("count"), Some(5));
    assert_eq!(a.int("big"), Some(9_000_000_000));
    assert_eq!(a.bool("flag"), Some(true));
    assert!(a.uuid("id").is_some());
    assert_eq!(a.list("ids").map(|l| l.len()), Some(1));
    let m = a.map("details").expect("map");
    assert_eq!(
        m[0].get("cpuNumber").map(std::string::String::as_str),
        Some("1")
    );
    assert_eq!(m[1].get("b").map(std::string::String::as_str), Some("2"));
    assert_eq!(a.float("ratio"), Some(1.5));
    assert!(a.date("startdate").is_some());
}

#[test]
fn booleans_are_java_valueof() {
    assert_eq!(
        bind("name=a&flag=yes").expect("ok").bool("flag"),
        Some(false)
    );
    assert_eq!(
        bind("name=a&flag=True").expect("ok").bool("flag"),
        Some(true)
    );
}

#[test]
fn error_texts_and_codes() {
    let e = bind("count=1").expect_err("missing");
    assert_eq!(
        e.text,
        "Unable to execute API command creatething due to missing parameter name"
    );
    assert_eq!(e.code, ErrorCode::ParamError);
    let e = bind("name=abcdefghijk").expect_err("length");
    assert!(e.text.contains("max allowed length 10"), "{}", e.text);
    let e = bind("name=a&count=x").expect_err("int");
    assert_eq!(
        e.text,
        "Unable to execute API command creatething due to invalid value x for parameter count"
    );
    assert!(bind("name=a&count=3000000000").is_err());
    let e = bind("name=a&id=12").expect_err("uuid");
    assert!(e
        .text
        .starts_with("Invalid parameter id value=12 due to incorrect long value format"));
    assert!(bind("name=a&ids=abc").is_err());
    assert!(bind("name=a&startdate=2024-13-45").is_err());
    assert!(bind("name=a&ratio=NaN").is_err());
    let e = bind("name=a%01b").expect_err("control");
    assert_eq!(e.code, ErrorCode::ParamError);
    assert!(
        bind("name=a%09b%0Ac").is_ok(),
        "tab and newline are allowed"
    );
    for bad in [
        "details[x].a=1",
        "details[0]=1",
        "details[0].=1",
        "details0].a=1",
        "other[0]a=1",
        "details[0].a.b=1",
    ] {
        let e = bind(&format!("name=a&{bad}")).expect_err(bad);
        assert_eq!(e.code, ErrorCode::MalformedParameter, "{bad}");
    }
}

#[test]
fn empty_values_count_as_absent_except_strings() {
    let a = bind("name=&count=&flag=").expect("ok");
    assert_eq!(a.str("name"), Some(""));
    assert!(!a.has("count"));
    assert!(!a.has("flag"));
}

#[test]
fn unknown_params_are_ignored() {
    assert!(bind("name=a&vpc_id=None&whatever=1").is_ok());
}

#[test]
fn paging_rules() {
    let s: &'static CommandSpec = Box::leak(Box::new(CommandSpec::new("listThings", "l").list()));
    let b = |q: &str| s.bind(&RawParams::parse(Some(q), None), 500);
    assert_eq!(
        b("").expect("ok").page,
        Page {
            offset: 0,
            limit: Some(500)
        }
    );
    assert_eq!(
        b("page=3&pagesize=20").expect("ok").page,
        Page {
            offset: 40,
            limit: Some(20)
        }
    );
    assert_eq!(
        b("pagesize=-1").expect("ok").page,
        Page {
            offset: 0,
            limit: None
        }
    );
    assert!(b("page=1&pagesize=-1").is_err());
    assert!(b("pagesize=10")
        .expect_err("x")
        .text
        .contains("\"page\" parameter is required"));
    assert!(b("page=1")
        .expect_err("x")
        .text
        .contains("\"pagesize\" parameter is required"));
    assert!(b("page=1&pagesize=501")
        .expect_err("x")
        .text
        .contains("can't exceed max allowed page size value: 500"));
    assert!(b("page=0&pagesize=10").is_err());
    assert!(b("page=1&pagesize=0").is_err());
}

#[test]
fn list_apis_entry_has_what_cloudmonkey_needs() {
    let v = spec().to_api_json();
    assert_eq!(v["name"], "createThing");
    assert!(v["isasync"].is_boolean());
    assert!(v["description"].is_string());
    assert!(v["response"].is_array());
    for p in v["params"].as_array().expect("params") {
        assert!(p["name"].is_string() && p["type"].is_string() && p["description"].is_string());
        assert!(p["required"].is_boolean() && p["length"].is_u64());
    }
}
