//! `expires` and `startdate`/`enddate` values, snapshot policies' schedules and time zones
//! (`schedule` and `timezone` of createSnapshotPolicy), and VM schedules' cron texts
//! (createVMSchedule).
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
    if let Ok(c) = model::vmschedule::CronSchedule::parse(sched, tz) {
        if let Some(next) = c.next_after(now) {
            assert!(next > now);
        }
    }
    let _ = model::vmschedule::Action::parse(sched);
    for i in ["HOURLY", "DAILY", "WEEKLY", "MONTHLY"] {
        let i = model::schedule::Interval::parse(i).expect("interval");
        if let Ok(p) = model::schedule::Schedule::parse(i, sched, tz) {
            let next = p.next_after(now);
            assert!(next > now || now > i64::MAX - 40 * 86_400_000);
        }
    }
});
