//! `expires` and `startdate`/`enddate` values.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let s = String::from_utf8_lossy(data);
    let _ = api::time::parse_expires(&s);
    let _ = api::time::parse_date_param(&s, true);
    let _ = api::time::parse_date_param(&s, false);
});
