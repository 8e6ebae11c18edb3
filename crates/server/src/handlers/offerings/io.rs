//! The I/O settings of disk and service offerings (CloudStack's `bytesreadrate`…,
//! `iopswriterate`…, their `max` bursts and `maxlength`s, and `cachemode`): checked when an
//! offering is created, shown as CloudStack's `diskBytesReadRate`… fields, and applied by the
//! hosts as QEMU block throttling on every disk of the offering (`domain::volumes::io_of`).

use api::Args;
use serde_json::{json, Map, Value};

use crate::error::{param_err, AppResult};

/// (parameter and attribute, response field).
pub(crate) const RATES: &[(&str, &str)] = &[
    ("bytesreadrate", "diskBytesReadRate"),
    ("bytesreadratemax", "diskBytesReadRateMax"),
    ("bytesreadratemaxlength", "diskBytesReadRateMaxLength"),
    ("byteswriterate", "diskBytesWriteRate"),
    ("byteswriteratemax", "diskBytesWriteRateMax"),
    ("byteswriteratemaxlength", "diskBytesWriteRateMaxLength"),
    ("iopsreadrate", "diskIopsReadRate"),
    ("iopsreadratemax", "diskIopsReadRateMax"),
    ("iopsreadratemaxlength", "diskIopsReadRateMaxLength"),
    ("iopswriterate", "diskIopsWriteRate"),
    ("iopswriteratemax", "diskIopsWriteRateMax"),
    ("iopswriteratemaxlength", "diskIopsWriteRateMaxLength"),
];

pub(crate) const CACHE_MODES: &[&str] = &["none", "writeback", "writethrough"];

/// Reads the rates and the cache mode into an offering's attributes, with CloudStack's
/// checks: positive numbers; a burst (`…max`) not below its rate; a burst length only with a
/// burst; a cache mode of none, writeback or writethrough.
pub(crate) fn read(args: &Args, attrs: &mut Value) -> AppResult<()> {
    let get = |k: &str| -> AppResult<Option<i64>> {
        match args.int(k) {
            Some(v) if v <= 0 => param_err(format!("{k} must be a positive number: {v}")),
            v => Ok(v),
        }
    };
    for base in [
        "bytesreadrate",
        "byteswriterate",
        "iopsreadrate",
        "iopswriterate",
    ] {
        let rate = get(base)?;
        let max = get(&format!("{base}max"))?;
        let len = get(&format!("{base}maxlength"))?;
        if let (Some(r), Some(m)) = (rate, max) {
            if m < r {
                return param_err(format!(
                    "{base}max ({m}) must be greater than or equal to {base} ({r})"
                ));
            }
        }
        if len.is_some() && max.is_none() {
            return param_err(format!("{base}maxlength needs {base}max"));
        }
        for (k, v) in [
            (base.to_string(), rate),
            (format!("{base}max"), max),
            (format!("{base}maxlength"), len),
        ] {
            if let Some(v) = v {
                attrs[k] = json!(v);
            }
        }
    }
    if let Some(c) = args.text("cachemode") {
        let c = c.trim().to_ascii_lowercase();
        if !CACHE_MODES.contains(&c.as_str()) {
            return param_err(format!(
                "Invalid cache mode {c}: use none, writeback or writethrough"
            ));
        }
        attrs["cachemode"] = json!(c);
    }
    Ok(())
}

/// The response fields of an offering's I/O settings.
pub(crate) fn view(attrs: &Value, m: &mut Map<String, Value>) {
    for (k, field) in RATES {
        if let Some(v) = attrs.get(*k).and_then(Value::as_i64) {
            m.insert((*field).into(), json!(v));
        }
    }
    if let Some(c) = attrs.get("cachemode").and_then(Value::as_str) {
        m.insert("cacheMode".into(), json!(c));
    }
}
