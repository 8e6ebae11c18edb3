//! Role permissions as CloudStack's dynamic roles have them: a role's rules, in order, each an
//! API name pattern (letters, digits and `*` wildcards — `list*`, `*VirtualMachine`, `*`)
//! with allow or deny. The first rule whose pattern matches a command decides; when none
//! does, the command's own default for the role's type applies (CloudStack's
//! `DynamicRoleBasedAPIAccessChecker`, falling back to the commands' annotations).

use std::fmt;

/// Allow or deny, as the API spells them (`allow`/`deny`, any case on input).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Permission {
    Allow,
    Deny,
}

impl Permission {
    pub fn parse(s: &str) -> Option<Self> {
        if s.trim().eq_ignore_ascii_case("allow") {
            Some(Self::Allow)
        } else if s.trim().eq_ignore_ascii_case("deny") {
            Some(Self::Deny)
        } else {
            None
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Allow => "allow",
            Self::Deny => "deny",
        }
    }
}

impl std::str::FromStr for Permission {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        Self::parse(s).ok_or(())
    }
}

impl fmt::Display for Permission {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An API name pattern: ASCII letters and digits with `*` matching any run of them.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Rule(String);

/// The longest pattern accepted (CloudStack's column is 255 wide).
pub const MAX_RULE_LEN: usize = 255;

impl Rule {
    /// A pattern, or None for an empty one, one too long or with any other character (as
    /// CloudStack's `Rule`: `^[a-zA-Z0-9*]+$`).
    pub fn parse(s: &str) -> Option<Self> {
        let s = s.trim();
        let ok = !s.is_empty()
            && s.len() <= MAX_RULE_LEN
            && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '*');
        ok.then(|| Self(s.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether the pattern matches a command name (case-sensitive, as API names are).
    pub fn matches(&self, api: &str) -> bool {
        glob(self.0.as_bytes(), api.as_bytes())
    }
}

impl std::str::FromStr for Rule {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        Self::parse(s).ok_or(())
    }
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// `*` matches any run of characters; everything else itself. Iterative with one backtrack
/// point: linear in practice, never exponential.
fn glob(p: &[u8], s: &[u8]) -> bool {
    let (mut pi, mut si) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while si < s.len() {
        if pi < p.len() && p[pi] == b'*' {
            star = Some((pi, si));
            pi += 1;
        } else if pi < p.len() && p[pi] == s[si] {
            pi += 1;
            si += 1;
        } else if let Some((sp, ss)) = star {
            pi = sp + 1;
            si = ss + 1;
            star = Some((sp, ss + 1));
        } else {
            return false;
        }
    }
    while pi < p.len() && p[pi] == b'*' {
        pi += 1;
    }
    pi == p.len()
}

/// The first matching rule's permission, or None when no rule matches.
pub fn decide<'a>(
    rules: impl IntoIterator<Item = &'a (Rule, Permission)>,
    api: &str,
) -> Option<Permission> {
    rules
        .into_iter()
        .find(|(r, _)| r.matches(api))
        .map(|(_, p)| *p)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(s: &str) -> Rule {
        Rule::parse(s).expect("rule")
    }

    #[test]
    fn patterns_are_letters_digits_and_stars() {
        for bad in [
            "",
            " ",
            "list-VMs",
            "list.*",
            "a b",
            "läst",
            &"a".repeat(256),
        ] {
            assert!(Rule::parse(bad).is_none(), "{bad:?}");
        }
        assert_eq!(r(" listVirtualMachines ").as_str(), "listVirtualMachines");
    }

    #[test]
    fn wildcards_match_any_run() {
        assert!(r("*").matches("deployVirtualMachine"));
        assert!(r("list*").matches("listVirtualMachines"));
        assert!(r("list*").matches("list"));
        assert!(!r("list*").matches("deleteVirtualMachine"));
        assert!(r("*VirtualMachine").matches("deleteVirtualMachine"));
        assert!(!r("*VirtualMachine").matches("listVirtualMachines"));
        assert!(r("*Virtual*s").matches("listVirtualMachines"));
        assert!(r("a*b*c").matches("abc") && r("a*b*c").matches("aXbYbZc"));
        assert!(!r("a*b*c").matches("acb"));
        assert!(!r("deleteVirtualMachine").matches("deletevirtualmachine"));
    }

    #[test]
    fn the_first_matching_rule_decides() {
        let rules = vec![
            (r("deleteVirtualMachine"), Permission::Deny),
            (r("*VirtualMachine"), Permission::Allow),
            (r("list*"), Permission::Allow),
            (r("*"), Permission::Deny),
        ];
        assert_eq!(
            decide(&rules, "deleteVirtualMachine"),
            Some(Permission::Deny)
        );
        assert_eq!(
            decide(&rules, "startVirtualMachine"),
            Some(Permission::Allow)
        );
        assert_eq!(decide(&rules, "listZones"), Some(Permission::Allow));
        assert_eq!(decide(&rules, "createZone"), Some(Permission::Deny));
        assert_eq!(decide(&rules[..1], "createZone"), None);
        assert_eq!(Permission::parse("ALLOW"), Some(Permission::Allow));
        assert_eq!(Permission::parse("maybe"), None);
    }
}
