//! A request's query string and form body, merged and bound against every command of the
//! registry (the first byte picks the command, so the fuzzer explores each one's binding);
//! role permission rules parsed and matched against every command name.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;

fn registry() -> &'static api::Registry {
    static R: OnceLock<api::Registry> = OnceLock::new();
    R.get_or_init(api::commands::registry)
}

fuzz_target!(|data: &[u8]| {
    let Some((&pick, rest)) = data.split_first() else {
        return;
    };
    // Query string (text) | form body (bytes), split at the first NUL.
    let (q, body) = match rest.iter().position(|b| *b == 0) {
        Some(i) => (&rest[..i], &rest[i + 1..]),
        None => (rest, &[][..]),
    };
    let q = String::from_utf8_lossy(q);
    let raw = api::RawParams::parse(Some(&q), Some(body));
    let _ = raw.command();
    let _ = api::Format::from_param(raw.get("response"));
    let specs = registry().all();
    let spec = specs[pick as usize % specs.len()];
    for max in [500, u64::MAX] {
        if let Ok(args) = spec.bind(&raw, max) {
            // Reading the bound values back must not panic either.
            for p in spec.params.iter() {
                let _ = args.text(p.name);
                let _ = args.list(p.name);
                let _ = args.map(p.name);
                let _ = args.uuid(p.name);
                let _ = args.int(p.name);
                let _ = args.bool(p.name);
                let _ = args.float(p.name);
                let _ = args.date(p.name);
            }
        }
    }
    // The command named in the request, if it is one.
    if let Some(spec) = raw.command().and_then(|c| registry().get(c)) {
        let _ = spec.bind(&raw, 500);
    }
    // Role permission rules (createRolePermission, importRole) and the check against every
    // command name: a pattern parses or not, and matching never panics.
    if let Some(rule) = raw.get("rule").and_then(model::rules::Rule::parse) {
        for s in specs.iter() {
            let _ = rule.matches(s.name);
        }
        let _ = rule.matches(&q);
    }
    let _ = raw.get("permission").map(model::rules::Permission::parse);
    // Site-to-site VPN policies (createVpnCustomerGateway ikepolicy/esppolicy): what is
    // accepted becomes strongSwan proposals of known words only — nothing that could break
    // out of swanctl.conf.
    for (k, ike) in [("ikepolicy", true), ("esppolicy", false)] {
        if let Some(Ok(p)) = raw.get(k).map(|v| netplan::s2s::proposals(v, ike)) {
            assert!(p
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == ','));
        }
    }
});
