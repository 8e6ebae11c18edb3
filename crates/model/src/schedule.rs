//! Schedules of recurring work (snapshot policies): CloudStack's interval types and schedule
//! texts (`MM`, `MM:HH`, `MM:HH:DD`), in a time zone given as UTC or a fixed offset, and
//! the next moment they are due. Pure: the caller gives the clock.

use chrono::{Datelike, Duration as Span, NaiveDate, NaiveDateTime, TimeZone, Timelike, Utc};

/// A policy's interval (CloudStack's `IntervalType`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Interval {
    Hourly,
    Daily,
    Weekly,
    Monthly,
}

impl Interval {
    pub fn parse(s: &str) -> Option<Self> {
        match s.to_ascii_uppercase().as_str() {
            "HOURLY" => Some(Self::Hourly),
            "DAILY" => Some(Self::Daily),
            "WEEKLY" => Some(Self::Weekly),
            "MONTHLY" => Some(Self::Monthly),
            _ => None,
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Hourly => "HOURLY",
            Self::Daily => "DAILY",
            Self::Weekly => "WEEKLY",
            Self::Monthly => "MONTHLY",
        }
    }
    /// CloudStack's number for it (`intervaltype` in responses).
    pub fn ordinal(self) -> i64 {
        match self {
            Self::Hourly => 0,
            Self::Daily => 1,
            Self::Weekly => 2,
            Self::Monthly => 3,
        }
    }
}

/// When a policy runs: minute (and hour, and day of week 1–7 with Sunday 1, or of month
/// 1–28) in a time zone given as UTC or a fixed offset.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Schedule {
    pub interval: Interval,
    pub minute: u32,
    pub hour: u32,
    pub day: u32,
    /// The time zone's offset from UTC, in minutes.
    pub offset_min: i32,
}

/// A time zone this build understands: `UTC`/`GMT`/`Etc/UTC`, `Etc/GMT±N` (POSIX sign:
/// `Etc/GMT-5` is five hours east), or `±HH:MM`. Named regional zones need the tz database,
/// which Canopy does not carry yet.
pub fn zone_offset(tz: &str) -> Option<i32> {
    let t = tz.trim();
    if ["UTC", "GMT", "Etc/UTC", "Etc/GMT", "Z", "Universal", "Zulu"]
        .iter()
        .any(|z| t.eq_ignore_ascii_case(z))
    {
        return Some(0);
    }
    if let Some(rest) = t.strip_prefix("Etc/GMT") {
        let (sign, n) = match rest.chars().next()? {
            '+' => (-1, rest.get(1..)?),
            '-' => (1, rest.get(1..)?),
            _ => return None,
        };
        let h: i32 = n.parse().ok()?;
        return (0..=14).contains(&h).then_some(sign * h * 60);
    }
    let sign = match t.chars().next()? {
        '+' => 1,
        '-' => -1,
        _ => return None,
    };
    let (h, m) = t.get(1..)?.split_once(':')?;
    let (h, m): (i32, i32) = (h.parse().ok()?, m.parse().ok()?);
    ((0..=14).contains(&h) && (0..60).contains(&m) && h.to_string().len() <= 2)
        .then_some(sign * (h * 60 + m))
}

impl Schedule {
    /// Parses CloudStack's schedule text for `interval`: `MM` (hourly), `MM:HH` (daily),
    /// `MM:HH:DD` (weekly: day 1–7, Sunday 1; monthly: day 1–28).
    pub fn parse(interval: Interval, schedule: &str, tz: &str) -> Result<Self, String> {
        let offset_min = zone_offset(tz).ok_or_else(|| {
            format!("Unsupported timezone {tz}: use UTC, Etc/GMT+N or an offset such as +05:30")
        })?;
        let parts: Vec<&str> = schedule.trim().split(':').collect();
        let want = match interval {
            Interval::Hourly => 1,
            Interval::Daily => 2,
            Interval::Weekly | Interval::Monthly => 3,
        };
        let form = ["MM", "MM:HH", "MM:HH:DD"][want - 1];
        if parts.len() != want {
            return Err(format!(
                "Invalid schedule {schedule} for a {} policy: use {form}",
                interval.as_str()
            ));
        }
        let num = |s: &str, max: u32, what: &str| -> Result<u32, String> {
            s.parse::<u32>()
                .ok()
                .filter(|n| *n <= max && s.len() <= 2)
                .ok_or_else(|| format!("Invalid schedule {schedule}: {what} must be 0-{max}"))
        };
        let minute = num(parts[0], 59, "the minute")?;
        let hour = match parts.get(1) {
            Some(h) => num(h, 23, "the hour")?,
            None => 0,
        };
        let day = match (interval, parts.get(2)) {
            (Interval::Weekly, Some(d)) => {
                let d = num(d, 7, "the day of the week (1 = Sunday)")?;
                if d == 0 {
                    return Err(format!(
                        "Invalid schedule {schedule}: the day of the week is 1-7 (1 = Sunday)"
                    ));
                }
                d
            }
            (Interval::Monthly, Some(d)) => {
                let d = num(d, 28, "the day of the month")?;
                if d == 0 {
                    return Err(format!(
                        "Invalid schedule {schedule}: the day of the month is 1-28"
                    ));
                }
                d
            }
            _ => 0,
        };
        Ok(Self {
            interval,
            minute,
            hour,
            day,
            offset_min,
        })
    }

    /// The first run strictly after `now_ms` (epoch milliseconds).
    pub fn next_after(&self, now_ms: i64) -> i64 {
        // Years 1970 to 9999 only: chrono's arithmetic panics near its limits.
        if !(0..=253_402_300_799_000).contains(&now_ms) {
            return now_ms.saturating_add(3_600_000);
        }
        let off = Span::minutes(self.offset_min as i64);
        let Some(now) = Utc.timestamp_millis_opt(now_ms).single() else {
            return now_ms + 3_600_000;
        };
        let local: NaiveDateTime = now.naive_utc() + off;
        let at = |d: NaiveDate, h: u32, m: u32| d.and_hms_opt(h, m, 0);
        let candidate = match self.interval {
            Interval::Hourly => {
                let base = local
                    .with_minute(self.minute)
                    .and_then(|t| t.with_second(0))
                    .and_then(|t| t.with_nanosecond(0));
                base.map(|b| if b <= local { b + Span::hours(1) } else { b })
            }
            Interval::Daily => at(local.date(), self.hour, self.minute).map(|b| {
                if b <= local {
                    b + Span::days(1)
                } else {
                    b
                }
            }),
            Interval::Weekly => {
                // chrono: Monday 0 … Sunday 6; CloudStack: Sunday 1 … Saturday 7.
                let want = (self.day + 5) % 7;
                let today = local.weekday().num_days_from_monday();
                let ahead = (want + 7 - today) % 7;
                at(
                    local.date() + Span::days(ahead as i64),
                    self.hour,
                    self.minute,
                )
                .map(|b| if b <= local { b + Span::days(7) } else { b })
            }
            Interval::Monthly => {
                let this = NaiveDate::from_ymd_opt(local.year(), local.month(), self.day)
                    .and_then(|d| at(d, self.hour, self.minute));
                match this {
                    Some(b) if b > local => Some(b),
                    _ => {
                        let (y, m) = if local.month() == 12 {
                            (local.year() + 1, 1)
                        } else {
                            (local.year(), local.month() + 1)
                        };
                        NaiveDate::from_ymd_opt(y, m, self.day)
                            .and_then(|d| at(d, self.hour, self.minute))
                    }
                }
            }
        };
        match candidate {
            Some(t) => (t - off).and_utc().timestamp_millis(),
            None => now_ms + 3_600_000,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(s: &str) -> i64 {
        NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M")
            .expect("valid")
            .and_utc()
            .timestamp_millis()
    }

    #[test]
    fn schedules_parse_as_cloudstack_writes_them() {
        let h = Schedule::parse(Interval::Hourly, "05", "UTC").expect("valid");
        assert_eq!((h.minute, h.hour, h.day), (5, 0, 0));
        let w = Schedule::parse(Interval::Weekly, "30:14:1", "Etc/GMT-2").expect("valid");
        assert_eq!((w.minute, w.hour, w.day, w.offset_min), (30, 14, 1, 120));
        for (i, s) in [
            (Interval::Hourly, "60"),
            (Interval::Hourly, "5:1"),
            (Interval::Daily, "5"),
            (Interval::Daily, "5:24"),
            (Interval::Weekly, "0:0:8"),
            (Interval::Weekly, "0:0:0"),
            (Interval::Monthly, "0:0:29"),
            (Interval::Monthly, "x:0:1"),
            (Interval::Hourly, "-1"),
            (Interval::Hourly, "005"),
        ] {
            assert!(Schedule::parse(i, s, "UTC").is_err(), "{s}");
        }
        assert!(Schedule::parse(Interval::Hourly, "5", "Mars/Olympus").is_err());
        assert_eq!(zone_offset("+05:30"), Some(330));
        assert_eq!(zone_offset("-03:00"), Some(-180));
        assert_eq!(zone_offset("Etc/GMT+5"), Some(-300));
        assert_eq!(zone_offset("+5:3x"), None);
        assert_eq!(zone_offset("é"), None);
    }

    #[test]
    fn the_next_run_is_the_next_matching_moment() {
        let now = ms("2026-12-07 10:20"); // a Monday
        let h = Schedule::parse(Interval::Hourly, "5", "UTC").expect("valid");
        assert_eq!(h.next_after(now), ms("2026-12-07 11:05"));
        let h = Schedule::parse(Interval::Hourly, "30", "UTC").expect("valid");
        assert_eq!(h.next_after(now), ms("2026-12-07 10:30"));
        let d = Schedule::parse(Interval::Daily, "0:9", "UTC").expect("valid");
        assert_eq!(d.next_after(now), ms("2026-12-08 09:00"));
        // 09:00 at +05:30 is 03:30 UTC.
        let d = Schedule::parse(Interval::Daily, "0:9", "+05:30").expect("valid");
        assert_eq!(d.next_after(now), ms("2026-12-08 03:30"));
        // Sunday (1) at 08:00.
        let w = Schedule::parse(Interval::Weekly, "0:8:1", "UTC").expect("valid");
        assert_eq!(w.next_after(now), ms("2026-12-13 08:00"));
        // Monday (2) at 10:20 is now: next week.
        let w = Schedule::parse(Interval::Weekly, "20:10:2", "UTC").expect("valid");
        assert_eq!(w.next_after(now), ms("2026-12-14 10:20"));
        let m = Schedule::parse(Interval::Monthly, "0:0:1", "UTC").expect("valid");
        assert_eq!(m.next_after(now), ms("2027-01-01 00:00"));
        let m = Schedule::parse(Interval::Monthly, "0:0:28", "UTC").expect("valid");
        assert_eq!(m.next_after(now), ms("2026-12-28 00:00"));
        // Always strictly later, whatever the moment.
        for t in (0..2000).map(|i| now + i * 7_919_000) {
            for s in [h, d, w, m] {
                assert!(s.next_after(t) > t);
            }
        }
    }
}
