//! The wire protocol through a real HTTP server: signatures and their client variants,
//! expiry, sessions, envelopes (JSON and XML), error codes and texts, and paging.

mod common;

use common::*;
use serde_json::{json, Value};

fn b64_hmac(secret: &str, msg: &str) -> String {
    use base64::Engine;
    use hmac::{Hmac, Mac};
    let mut m = <Hmac<sha1::Sha1> as Mac>::new_from_slice(secret.as_bytes()).expect("hmac");
    m.update(msg.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(m.finalize().into_bytes())
}

/// Python's `urllib.parse.quote(v, safe)`: unreserved `A-Za-z0-9_.-~` plus `safe` stay raw.
fn py_quote(v: &str, safe: &str) -> String {
    let mut o = String::new();
    for b in v.bytes() {
        if b.is_ascii_alphanumeric() || b"_.-~".contains(&b) || safe.as_bytes().contains(&b) {
            o.push(b as char);
        } else {
            o.push_str(&format!("%{b:02X}"));
        }
    }
    o
}

#[tokio::test]
async fn signatures_expiry_and_client_variants() {
    let ts = TestServer::start().await;
    let c = &ts.admin;
    // Java canonical form, GET and POST (form body).
    assert_eq!(c.call(&[("command", "listDomains")]).await.status, 200);
    let body = query(&c.signed(&[("command", "listDomains")]));
    assert_eq!(c.post_form("", &body, &[]).await.status, 200);

    // Wrong secret: 401 with the command's wrapper and CloudStack's text, no X-Description.
    let bad = ts.client(&c.key, "wrong");
    let r = bad.call(&[("command", "listDomains")]).await;
    assert_eq!(r.status, 401);
    assert_eq!(r.key(), "listdomainsresponse");
    assert_eq!(
        r.inner(),
        json!({"uuidList": [], "errorcode": 401, "errortext": "unable to verify user credentials and/or request signature"})
    );
    assert!(r.headers.get("x-description").is_none());
    // Tampered value after signing.
    let mut p = c.signed(&[("command", "listDomains"), ("name", "a")]);
    p[1].1 = "b".into();
    assert_eq!(c.get_query(&query(&p), &[]).await.status, 401);
    // No signature, unknown key.
    assert_eq!(
        c.get_query(
            &format!("command=listDomains&response=json&apiKey={}", enc(&c.key)),
            &[]
        )
        .await
        .status,
        401
    );
    assert_eq!(
        ts.client("nope", "x")
            .call(&[("command", "listDomains")])
            .await
            .status,
        401
    );

    // signatureVersion=3: every accepted date form in the future passes; the past fails;
    // a missing or unparsable expires fails.
    let future = chrono::Utc::now() + chrono::Duration::minutes(10);
    for exp in [
        future.format("%Y-%m-%dT%H:%M:%S%z").to_string(),
        future.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        future.format("%Y-%m-%dT%H:%M:%S%.6f+00:00").to_string(),
        future.format("%Y-%m-%dT%H:%M:%SZ%z").to_string(),
    ] {
        let r = c
            .call(&[
                ("command", "listDomains"),
                ("signatureVersion", "3"),
                ("expires", &exp),
            ])
            .await;
        assert_eq!(r.status, 200, "expires={exp}: {}", r.text);
    }
    for (name, exp) in [
        ("signatureVersion", "2001-01-01T00:00:00+0000"),
        ("signatureversion", "2001-01-01T00:00:00Z"),
        ("signatureVersion", "soon"),
    ] {
        let r = c
            .call(&[("command", "listDomains"), (name, "3"), ("expires", exp)])
            .await;
        assert_eq!(r.status, 401, "{name} {exp}");
    }
    assert_eq!(
        c.call(&[("command", "listDomains"), ("signatureVersion", "3")])
            .await
            .status,
        401
    );

    // Client variants for values with ~ [ ] * : cs (quote safe="*"), libcloud (lower-cased
    // name sort, safe="[]*"), marvin (quote_plus: * escaped).
    let value = "a b*c~d[e]f:g";
    let base = vec![
        ("apiKey".to_string(), c.key.clone()),
        ("command".to_string(), "listDomains".to_string()),
        ("keyword".to_string(), value.to_string()),
        ("response".to_string(), "json".to_string()),
    ];
    // (client, Python `safe` characters, `~` escaped, names sorted lower-cased)
    let variants = [
        ("cs", "*", false, false),
        ("libcloud", "[]*", false, true),
        ("marvin", "", true, true),
    ];
    for (who, safe, escape_tilde, lower_sort) in variants {
        let quote = |v: &str| {
            let q = py_quote(v, safe);
            if escape_tilde {
                q.replace('~', "%7E")
            } else {
                q
            }
        };
        let mut sorted = base.clone();
        if lower_sort {
            sorted.sort_by_key(|(k, _)| k.to_lowercase());
        } else {
            sorted.sort();
        }
        let s = sorted
            .iter()
            .map(|(k, v)| format!("{k}={}", quote(v)))
            .collect::<Vec<_>>()
            .join("&")
            .to_lowercase();
        let mut p = base.clone();
        p.push(("signature".into(), b64_hmac(&c.secret, &s)));
        let r = c.get_query(&query(&p), &[]).await;
        assert_eq!(r.status, 200, "{who} variant: {}", r.text);
    }
    ts.stop().await;
}

#[tokio::test]
async fn commands_missing_unknown_and_not_permitted() {
    let ts = TestServer::start().await;
    let c = &ts.admin;
    // No command.
    let r = c.get_query("response=json", &[]).await;
    assert_eq!((r.status, r.key()), (432, "errorresponse".to_string()));
    // Unknown command without a session: 401 even with a valid signature.
    let r = c.call(&[("command", "fooBar")]).await;
    assert_eq!((r.status, r.key()), (401, "errorresponse".to_string()));
    // Command names are case-sensitive.
    assert_eq!(c.call(&[("command", "listdomains")]).await.status, 401);
    // With a session: 432 "Unknown API command".
    let login = c
        .post_form(
            "",
            &format!(
                "command=login&response=json&username=admin&password={}",
                enc(&ts.admin_password())
            ),
            &[],
        )
        .await;
    assert_eq!(login.status, 200, "{}", login.text);
    let key = login.inner()["sessionkey"]
        .as_str()
        .expect("sessionkey")
        .to_string();
    let r = c
        .get_query(
            &format!("command=fooBar&response=json&sessionkey={}", enc(&key)),
            &[],
        )
        .await;
    assert_eq!(r.status, 432);
    assert_eq!(r.inner()["errortext"], "Unknown API command: fooBar");

    // A user calling an admin command.
    let (_, _, user) = account_with_keys(&ts, c, "u1", None, "0").await;
    let r = user
        .call(&[("command", "createDomain"), ("name", "x")])
        .await;
    assert_eq!(r.status, 401);
    assert_eq!(
        r.inner()["errortext"],
        "The given command 'createDomain' either does not exist, is not available for user."
    );
    ts.stop().await;
}

#[tokio::test]
async fn parameter_errors_have_cloudstack_codes_and_texts() {
    let ts = TestServer::start().await;
    let c = &ts.admin;
    let t = c.err(&[("command", "createDomain")], 431).await;
    assert_eq!(
        t,
        "Unable to execute API command createdomain due to missing parameter name"
    );
    let r = c.call(&[("command", "createDomain")]).await;
    assert_eq!(r.inner()["cserrorcode"], 4350);
    assert_eq!(
        r.headers.get("x-description").and_then(|v| v.to_str().ok()),
        Some(t.as_str())
    );
    // Parameter names are case-insensitive, unknown ones ignored, booleans any case.
    let d = c
        .ok(&[
            ("command", "createDomain"),
            ("NAME", "Mixed"),
            ("vpc_id", "None"),
        ])
        .await;
    assert_eq!(d["domain"]["name"], "Mixed");
    let r = c
        .ok(&[("command", "listDomains"), ("listAll", "TRUE")])
        .await;
    assert_eq!(r["count"], 2);
    // Bad id format and a well-formed id naming nothing.
    let t = c
        .err(&[("command", "listDomains"), ("id", "12")], 431)
        .await;
    assert!(t.starts_with("Invalid parameter id value=12"), "{t}");
    c.err(
        &[
            ("command", "updateDomain"),
            ("id", "00000000-0000-0000-0000-000000000000"),
        ],
        431,
    )
    .await;
    // Integers.
    let t = c
        .err(&[("command", "listDomains"), ("level", "x")], 431)
        .await;
    assert_eq!(
        t,
        "Unable to execute API command listdomains due to invalid value x for parameter level"
    );
    // Control characters.
    c.err(
        &[("command", "createDomain"), ("name", "bad\u{1}name")],
        431,
    )
    .await;
    // Length.
    let long = "x".repeat(256);
    c.err(&[("command", "createDomain"), ("name", &long)], 431)
        .await;
    // Malformed map syntax is 430.
    c.err(
        &[
            ("command", "createAccount"),
            ("username", "m"),
            ("password", "p"),
            ("email", "e"),
            ("firstname", "f"),
            ("lastname", "l"),
            ("accountdetails[x].k", "v"),
        ],
        430,
    )
    .await;
    // Domain-rule errors.
    c.err(&[("command", "createDomain"), ("name", "Mixed")], 431)
        .await;
    c.err(&[("command", "createDomain"), ("name", "a/b")], 431)
        .await;
    ts.stop().await;
}

#[tokio::test]
async fn json_and_xml_envelopes_for_every_shape() {
    let ts = TestServer::start().await;
    let c = &ts.admin;
    // JSON list, empty list, sync object, sync success, async, error.
    let r = c.call(&[("command", "listDomains")]).await;
    assert_eq!(
        r.headers.get("content-type").and_then(|v| v.to_str().ok()),
        Some("application/json; charset=UTF-8")
    );
    for h in [
        "x-content-type-options",
        "x-xss-protection",
        "content-security-policy",
    ] {
        assert!(r.headers.get(h).is_some(), "missing {h}");
    }
    let v = r.inner();
    assert_eq!(v["count"], 1);
    assert_eq!(v["domain"][0]["path"], "ROOT");
    let id = v["domain"][0]["id"].as_str().expect("id");
    assert_eq!(id.len(), 36);
    let created = v["domain"][0]["created"].as_str().expect("created");
    assert!(
        chrono::DateTime::parse_from_str(created, "%Y-%m-%dT%H:%M:%S%z").is_ok()
            && created.ends_with("+0000"),
        "{created}"
    );
    assert_eq!(
        c.ok(&[("command", "listDomains"), ("name", "nothing")])
            .await,
        json!({})
    );
    let d = c.ok(&[("command", "createDomain"), ("name", "env")]).await;
    assert!(d["domain"].is_object());
    let (acct, user, _) = account_with_keys(&ts, c, "envuser", None, "0").await;
    assert_eq!(
        c.ok(&[("command", "deleteUser"), ("id", &user)]).await,
        json!({"success": true})
    );
    let a = c.ok(&[("command", "deleteAccount"), ("id", &acct)]).await;
    assert_eq!(
        a.as_object().map(|m| m.keys().cloned().collect::<Vec<_>>()),
        Some(vec!["jobid".to_string()])
    );

    // XML is the default without `response`.
    let xml = |params: &[(&str, &str)]| {
        let mut p: Vec<(String, String)> = params
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect();
        p.push(("apiKey".into(), c.key.clone()));
        let refs: Vec<(&str, &str)> = p.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
        p.push(("signature".into(), api::sign::sign(&refs, &c.secret)));
        query(&p)
    };
    let r = c
        .get_query(&xml(&[("command", "listDomains"), ("name", "ROOT")]), &[])
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(
        r.headers.get("content-type").and_then(|v| v.to_str().ok()),
        Some("text/xml; charset=UTF-8")
    );
    assert!(
        r.text.starts_with(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><listdomainsresponse cloud-stack-version="
        ),
        "{}",
        r.text
    );
    assert!(
        r.text.contains("<count>1</count><domain><id>"),
        "{}",
        r.text
    );
    let r = c
        .get_query(&xml(&[("command", "listDomains"), ("name", "none")]), &[])
        .await;
    assert!(r.text.ends_with("\"></listdomainsresponse>"), "{}", r.text);
    let r = c.get_query(&xml(&[("command", "createDomain")]), &[]).await;
    assert_eq!(r.status, 431);
    assert!(r.text.contains("<errorcode>431</errorcode><cserrorcode>4350</cserrorcode><errortext>Unable to execute API command createdomain due to missing parameter name</errortext>"), "{}", r.text);
    let (acct2, _, _) = account_with_keys(&ts, c, "xmluser", None, "0").await;
    let r = c
        .get_query(&xml(&[("command", "deleteAccount"), ("id", &acct2)]), &[])
        .await;
    assert!(
        r.text.contains("<deleteaccountresponse") && r.text.contains("<jobid>"),
        "{}",
        r.text
    );
    let jobid = r
        .text
        .split("<jobid>")
        .nth(1)
        .and_then(|s| s.split('<').next())
        .expect("jobid")
        .to_string();
    c.wait_job(&jobid).await;
    let r = c
        .get_query(
            &xml(&[("command", "queryAsyncJobResult"), ("jobid", &jobid)]),
            &[],
        )
        .await;
    assert!(
        r.text.contains("<jobstatus>1</jobstatus>")
            && r.text
                .contains("<jobresult><success>true</success></jobresult>"),
        "{}",
        r.text
    );
    ts.stop().await;
}

#[tokio::test]
async fn paging_rules_and_default_page_size() {
    let ts = TestServer::start().await;
    let c = &ts.admin;
    for i in 0..7 {
        create_domain(c, &format!("d{i}"), None).await;
    }
    let all = c
        .ok(&[("command", "listDomains"), ("listall", "true")])
        .await;
    assert_eq!(
        (
            all["count"].as_u64(),
            all["domain"].as_array().map(Vec::len)
        ),
        (Some(8), Some(8))
    );
    let p2 = c
        .ok(&[
            ("command", "listDomains"),
            ("listall", "true"),
            ("page", "2"),
            ("pagesize", "3"),
        ])
        .await;
    assert_eq!(
        (p2["count"].as_u64(), p2["domain"].as_array().map(Vec::len)),
        (Some(8), Some(3))
    );
    assert_eq!(p2["domain"][0], all["domain"][3]);
    let past = c
        .ok(&[
            ("command", "listDomains"),
            ("listall", "true"),
            ("page", "9"),
            ("pagesize", "3"),
        ])
        .await;
    assert_eq!(past, json!({"count": 8}));
    let unlimited = c
        .ok(&[
            ("command", "listDomains"),
            ("listall", "true"),
            ("pagesize", "-1"),
        ])
        .await;
    assert_eq!(unlimited["domain"].as_array().map(Vec::len), Some(8));
    c.err(&[("command", "listDomains"), ("page", "1")], 431)
        .await;
    c.err(&[("command", "listDomains"), ("pagesize", "3")], 431)
        .await;
    c.err(
        &[
            ("command", "listDomains"),
            ("page", "1"),
            ("pagesize", "-1"),
        ],
        431,
    )
    .await;
    let t = c
        .err(
            &[
                ("command", "listDomains"),
                ("page", "1"),
                ("pagesize", "501"),
            ],
            431,
        )
        .await;
    assert_eq!(t, "Page size can't exceed max allowed page size value: 500");
    c.err(
        &[("command", "listDomains"), ("page", "0"), ("pagesize", "5")],
        431,
    )
    .await;
    // default.page.size caps unpaged lists and the page size.
    c.ok(&[
        ("command", "updateConfiguration"),
        ("name", "default.page.size"),
        ("value", "5"),
    ])
    .await;
    let capped = c
        .ok(&[("command", "listDomains"), ("listall", "true")])
        .await;
    assert_eq!(
        (
            capped["count"].as_u64(),
            capped["domain"].as_array().map(Vec::len)
        ),
        (Some(8), Some(5))
    );
    c.err(
        &[("command", "listDomains"), ("page", "1"), ("pagesize", "6")],
        431,
    )
    .await;
    // keyword is a substring match.
    let k = c
        .ok(&[
            ("command", "listDomains"),
            ("listall", "true"),
            ("keyword", "D3"),
        ])
        .await;
    assert_eq!(k["count"], 1);
    ts.stop().await;
}

#[tokio::test]
async fn login_sessions_and_logout() {
    let ts = TestServer::start().await;
    let c = &ts.admin;
    let pw = ts.admin_password();
    // GET is refused.
    let r = c
        .get_query(
            &format!(
                "command=login&response=json&username=admin&password={}",
                enc(&pw)
            ),
            &[],
        )
        .await;
    assert_eq!((r.status, r.key()), (405, "loginresponse".to_string()));
    // Wrong password / unknown user / unknown domain: 531, same text shape.
    for body in [
        "username=admin&password=nope",
        "username=ghost&password=x",
        "username=admin&password=x&domain=/nowhere/",
    ] {
        let r = c
            .post_form("", &format!("command=login&response=json&{body}"), &[])
            .await;
        assert_eq!(r.status, 531, "{body}");
        let t = r.inner()["errortext"].as_str().expect("text").to_string();
        assert!(
            t.starts_with("Failed to authenticate user")
                && t.ends_with("please provide valid credentials"),
            "{t}"
        );
    }
    // Success (parameters in the query string of a POST, as cloudmonkey does; domain "/").
    let r = c
        .post_form(
            &format!(
                "command=login&response=json&username=admin&password={}&domain=%2F",
                enc(&pw)
            ),
            "",
            &[],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let v = r.inner();
    assert_eq!(
        (
            v["username"].as_str(),
            v["type"].as_str(),
            v["timeout"].as_i64()
        ),
        (Some("admin"), Some("1"), Some(1800))
    );
    assert!(v["managementserverid"].is_string());
    let key = v["sessionkey"].as_str().expect("key").to_string();
    let cookies: Vec<String> = r
        .headers
        .get_all("set-cookie")
        .iter()
        .filter_map(|h| h.to_str().ok())
        .map(str::to_string)
        .collect();
    let jsession = cookies
        .iter()
        .find(|c| c.starts_with("JSESSIONID="))
        .expect("JSESSIONID cookie");
    assert!(jsession.contains("HttpOnly") && jsession.contains("Path=/client"));
    assert!(cookies
        .iter()
        .any(|c| c.starts_with(&format!("sessionkey={key}"))));
    let jid = jsession
        .trim_start_matches("JSESSIONID=")
        .split(';')
        .next()
        .expect("id")
        .to_string();
    let cookie = format!("JSESSIONID={jid}; sessionkey={key}");
    // Cookie + parameter (cloudmonkey), parameter only, cookie only.
    let q = format!(
        "command=listAccounts&response=json&sessionkey={}",
        enc(&key)
    );
    assert_eq!(c.get_query(&q, &[("cookie", &cookie)]).await.status, 200);
    assert_eq!(c.get_query(&q, &[]).await.status, 200);
    assert_eq!(
        c.get_query("command=listAccounts&response=json", &[("cookie", &cookie)])
            .await
            .status,
        200
    );
    // Mismatches.
    assert_eq!(
        c.get_query(
            "command=listAccounts&response=json&sessionkey=other",
            &[("cookie", &cookie)]
        )
        .await
        .status,
        401
    );
    assert_eq!(
        c.get_query(&q, &[("cookie", "JSESSIONID=someone-else")])
            .await
            .status,
        401
    );
    assert_eq!(
        c.get_query("command=listAccounts&response=json&sessionkey=forged", &[])
            .await
            .status,
        401
    );
    // Logout ends it.
    let r = c
        .get_query(
            &format!("command=logout&response=json&sessionkey={}", enc(&key)),
            &[],
        )
        .await;
    assert_eq!(r.inner(), json!({"description": "success"}));
    assert_eq!(c.get_query(&q, &[]).await.status, 401);
    // Login and logout are events.
    let ev = c
        .ok(&[("command", "listEvents"), ("type", "USER.LOGIN")])
        .await;
    assert_eq!(ev["count"], 1);
    ts.stop().await;
}

#[tokio::test]
async fn list_apis_describes_every_command() {
    let ts = TestServer::start().await;
    let c = &ts.admin;
    let v = c.ok(&[("command", "listApis"), ("listall", "true")]).await;
    let apis = v["api"].as_array().expect("apis");
    assert_eq!(v["count"].as_u64(), Some(apis.len() as u64));
    let reg = api::commands::registry();
    assert_eq!(apis.len(), reg.all().len());
    for a in apis {
        let name = a["name"].as_str().expect("name");
        let spec = reg.get(name).expect("registered");
        assert_eq!(a["isasync"], Value::Bool(spec.isasync));
        assert!(
            a["description"].is_string() && a["response"].is_array(),
            "{name}"
        );
        let params = a["params"].as_array().expect("params");
        assert_eq!(params.len(), spec.params.len(), "{name}");
        for p in params {
            assert!(
                p["name"].is_string() && p["type"].is_string() && p["description"].is_string(),
                "{name}: {p}"
            );
            assert!(
                p["required"].is_boolean() && p["length"].is_u64(),
                "{name}: {p}"
            );
        }
    }
    let one = c
        .ok(&[("command", "listApis"), ("name", "createAccount")])
        .await;
    assert_eq!(one["count"], 1);
    let req: Vec<&str> = one["api"][0]["params"]
        .as_array()
        .expect("p")
        .iter()
        .filter(|p| p["required"] == true)
        .filter_map(|p| p["name"].as_str())
        .collect();
    assert_eq!(
        req,
        vec!["username", "password", "email", "firstname", "lastname"]
    );
    c.err(&[("command", "listApis"), ("name", "noSuchApi")], 431)
        .await;
    // A user sees only what its role may call.
    let (_, _, user) = account_with_keys(&ts, c, "apiuser", None, "0").await;
    let uv = user.ok(&[("command", "listApis")]).await;
    let names: Vec<&str> = uv["api"]
        .as_array()
        .expect("a")
        .iter()
        .filter_map(|a| a["name"].as_str())
        .collect();
    assert!(names.contains(&"listAccounts") && names.contains(&"queryAsyncJobResult"));
    assert!(!names.contains(&"createDomain") && !names.contains(&"updateConfiguration"));
    ts.stop().await;
}

#[tokio::test]
async fn enforced_post_and_timestamps() {
    let ts = TestServer::start().await;
    let c = &ts.admin;
    c.ok(&[
        ("command", "updateConfiguration"),
        ("name", "enforce.post.requests.and.timestamps"),
        ("value", "true"),
    ])
    .await;
    let exp = (chrono::Utc::now() + chrono::Duration::minutes(5))
        .format("%Y-%m-%dT%H:%M:%S%z")
        .to_string();
    let far = (chrono::Utc::now() + chrono::Duration::minutes(60))
        .format("%Y-%m-%dT%H:%M:%S%z")
        .to_string();
    // Without signatureVersion=3 + expires: refused.
    assert_eq!(c.call(&[("command", "listDomains")]).await.status, 401);
    // expires more than 15 minutes ahead: refused.
    assert_eq!(
        c.call(&[
            ("command", "listDomains"),
            ("signatureVersion", "3"),
            ("expires", &far)
        ])
        .await
        .status,
        401
    );
    // Reads may use GET; changes must use POST.
    assert_eq!(
        c.call(&[
            ("command", "listDomains"),
            ("signatureVersion", "3"),
            ("expires", &exp)
        ])
        .await
        .status,
        200
    );
    let r = c
        .call(&[
            ("command", "createDomain"),
            ("name", "viaget"),
            ("signatureVersion", "3"),
            ("expires", &exp),
        ])
        .await;
    assert_eq!(r.status, 405, "{}", r.text);
    let body = query(&c.signed(&[
        ("command", "createDomain"),
        ("name", "viapost"),
        ("signatureVersion", "3"),
        ("expires", &exp),
    ]));
    assert_eq!(c.post_form("", &body, &[]).await.status, 200);
    // The data directory is private.
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(ts.dir.path())
            .expect("meta")
            .permissions()
            .mode()
            & 0o777,
        0o700
    );
    ts.stop().await;
}
