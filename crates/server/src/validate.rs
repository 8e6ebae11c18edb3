//! Input checks shared by several handlers, with CloudStack's texts.

use crate::error::{param_err, AppResult};

/// A network domain: dot-separated labels of letters, digits and hyphens.
pub fn network_domain(nd: &str) -> AppResult<()> {
    let ok = nd.len() <= 190
        && nd.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        });
    if ok {
        Ok(())
    } else {
        param_err("Invalid network domain. Total length shouldn't exceed 190 chars. Each domain label must be between 1 and 63 characters long, can contain ASCII letters 'a' through 'z', the digits '0' through '9', and the hyphen ('-'); can't start or end with \"-\"; and can't start with digit")
    }
}

/// A name that becomes part of a path or a login: not empty, no slash, no surrounding blanks.
pub fn plain_name(what: &str, name: &str) -> AppResult<()> {
    if name.trim().is_empty() {
        return param_err(format!("{what} name can't be empty"));
    }
    if name.contains('/') || name.trim() != name {
        return param_err(format!(
            "{what} name can't contain '/' or leading/trailing spaces: {name}"
        ));
    }
    Ok(())
}
