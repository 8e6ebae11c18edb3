//! Domain paths as callers write them (login's `domain`, `domainpath`): normalising is
//! idempotent and never panics on any text (the audit's pre-authentication panic).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let s = String::from_utf8_lossy(data);
    let once = model::identity::normalize_domain_path(&s);
    assert!(once.starts_with('/') && once.ends_with('/'));
    let shown = model::identity::display_domain_path(&once);
    let _ = model::identity::normalize_domain_path(&shown);
});
