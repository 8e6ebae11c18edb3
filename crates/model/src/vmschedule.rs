//! VM schedules (createVMSchedule): a cron expression of five fields — minute, hour, day of
//! month, month, day of week, as CloudStack takes them — in a time zone, and the action to
//! run then. The cron text is parsed by the `croner` crate (a well-kept implementation of
//! the POSIX/Vixie syntax, with names and ranges); zones are those `schedule::zone_offset`
//! understands (UTC, `Etc/GMT±N`, `±HH:MM`).

use chrono::{FixedOffset, TimeZone};

use crate::schedule::zone_offset;

/// What a schedule does to its VM.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    Start,
    Stop,
    Reboot,
    ForceStop,
    ForceReboot,
}

impl Action {
    pub fn parse(s: &str) -> Option<Self> {
        match s.trim().to_ascii_uppercase().as_str() {
            "START" => Some(Self::Start),
            "STOP" => Some(Self::Stop),
            "REBOOT" => Some(Self::Reboot),
            "FORCE_STOP" => Some(Self::ForceStop),
            "FORCE_REBOOT" => Some(Self::ForceReboot),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Start => "START",
            Self::Stop => "STOP",
            Self::Reboot => "REBOOT",
            Self::ForceStop => "FORCE_STOP",
            Self::ForceReboot => "FORCE_REBOOT",
        }
    }
}

/// A parsed schedule: when its action is due.
#[derive(Clone, Debug)]
pub struct CronSchedule {
    cron: croner::Cron,
    offset: FixedOffset,
}

impl CronSchedule {
    /// Parses a five-field cron expression in `tz`.
    pub fn parse(schedule: &str, tz: &str) -> Result<Self, String> {
        let minutes = zone_offset(tz).ok_or_else(|| {
            format!("Unsupported timezone {tz}: use UTC, Etc/GMT+N or an offset such as +05:30")
        })?;
        let offset = FixedOffset::east_opt(minutes * 60)
            .ok_or_else(|| format!("Unsupported timezone {tz}"))?;
        let text = schedule.trim();
        if text.split_whitespace().count() != 5 {
            return Err(format!(
                "Invalid schedule {text:?}: give five fields — minute hour day-of-month month day-of-week"
            ));
        }
        let cron = croner::Cron::new(text)
            .parse()
            .map_err(|e| format!("Invalid schedule {text:?}: {e}"))?;
        Ok(Self { cron, offset })
    }

    /// The first time (epoch ms) strictly after `now_ms` the schedule is due; `None` when it
    /// never is again (an impossible date such as 31 February).
    pub fn next_after(&self, now_ms: i64) -> Option<i64> {
        let now = self.offset.timestamp_millis_opt(now_ms).single()?;
        self.cron
            .find_next_occurrence(&now, false)
            .ok()
            .map(|t| t.timestamp_millis())
            .filter(|t| *t > now_ms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: i64 = 60_000;

    #[test]
    fn schedules_fire_when_cloudstack_would() {
        // 2026-12-07 11:20:00 UTC, a Monday.
        let now = 1_796_642_400_000;
        let every = CronSchedule::parse("* * * * *", "UTC").expect("every minute");
        assert_eq!(every.next_after(now), Some(now + MIN));
        let nine = CronSchedule::parse("0 9 * * MON-FRI", "UTC").expect("weekdays");
        // Tuesday 09:00 UTC.
        assert_eq!(nine.next_after(now), Some(now + (21 * 60 + 40) * MIN));
        // The same at +05:30: 09:00 there is 03:30 UTC.
        let ist = CronSchedule::parse("0 9 * * *", "+05:30").expect("offset");
        assert_eq!(ist.next_after(now), Some(now + (16 * 60 + 10) * MIN));
        for bad in ["", "* * * *", "61 * * * *", "* * * * * *", "x y z w v"] {
            assert!(CronSchedule::parse(bad, "UTC").is_err(), "{bad:?}");
        }
        assert!(CronSchedule::parse("* * * * *", "Mars/Olympus").is_err());
        assert_eq!(Action::parse("force_stop"), Some(Action::ForceStop));
        assert_eq!(Action::parse("PAUSE"), None);
    }
}
