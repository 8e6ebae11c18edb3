//! `expires` and `startdate`/`enddate` values, and snapshot policies' schedules and time
//! zones (`schedule` and `timezone` of createSnapshotPolicy).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let s = String::from_utf8_lossy(data);
    let _ = api::time::parse_expires(&s);
    let _ = api::time::parse_date_param(&s, true);
    let _ = api::time::parse_date_param(&s, false);
    // `schedule|timezone|epoch ms`
    let mut parts = s.splitn(3, '|');
    let (sched, tz) = (parts.next().unwrap_or(""), parts.next().unwrap_or("UTC"));
    let now: i64 = parts.next().and_then(|n| n.parse().ok()).unwrap_or(0);
    let _ = model::schedule::zone_offset(&s);
    for i in ["HOURLY", "DAILY", "WEEKLY", "MONTHLY"] {
        let i = model::schedule::Interval::parse(i).expect("interval");
        if let Ok(p) = model::schedule::Schedule::parse(i, sched, tz) {
            let next = p.next_after(now);
            assert!(next > now || now > i64::MAX - 40 * 86_400_000);
        }
    }
});
