//! The smallest nftables transaction from one compiled ruleset to the next.
//!
//! A compiled ruleset (see `render`) is a list of tables, each a list of blocks (`chain NAME
//! {…}` and `set NAME {…}`, four-space indented, closed by `    }`). When two rulesets have the
//! same tables with the same blocks in the same order — the usual case: a rule added to a
//! group, a member joining a group — only the blocks whose bodies differ are rewritten: `flush
//! chain`/`flush set`, then the block declared again with its new body, all in one `nft -f`
//! transaction (atomic, like the full replacement). Anything else (a chain or set appearing or
//! going, a table changing) answers `None`: apply the whole ruleset.

/// One block of a table: its kind (`chain` or `set`), name, and lines.
#[derive(Debug, PartialEq)]
struct Block<'a> {
    kind: &'a str,
    name: &'a str,
    lines: Vec<&'a str>,
}

/// A table: `family name` and its blocks.
#[derive(Debug, PartialEq)]
struct Table<'a> {
    head: &'a str,
    blocks: Vec<Block<'a>>,
}

/// The tables defined with a body (`table F N {` … `}`), in order. `None` when the text does
/// not have the shape the compiler renders.
fn parse(text: &str) -> Option<Vec<Table<'_>>> {
    let mut tables = Vec::new();
    let mut lines = text.lines().peekable();
    while let Some(line) = lines.next() {
        let Some(head) = line
            .strip_prefix("table ")
            .and_then(|h| h.strip_suffix(" {"))
        else {
            continue; // comments, `table X {}` and `delete table X` preambles
        };
        let mut blocks = Vec::new();
        loop {
            let l = lines.next()?;
            if l == "}" {
                break;
            }
            let decl = l.strip_prefix("    ")?.strip_suffix(" {")?;
            let (kind, name) = decl.split_once(' ')?;
            if kind != "chain" && kind != "set" {
                return None;
            }
            let mut body = Vec::new();
            loop {
                let b = lines.next()?;
                if b == "    }" {
                    break;
                }
                body.push(b);
            }
            blocks.push(Block {
                kind,
                name,
                lines: body,
            });
        }
        tables.push(Table { head, blocks });
    }
    Some(tables)
}

/// The transaction that turns `old` (applied) into `new`, or `None` to apply `new` whole.
/// An empty string means nothing changed.
pub fn nft_delta(old: &str, new: &str) -> Option<String> {
    let (a, b) = (parse(old)?, parse(new)?);
    if a.len() != b.len() || a.is_empty() {
        return None;
    }
    let mut out = String::new();
    for (ta, tb) in a.iter().zip(&b) {
        if ta.head != tb.head || ta.blocks.len() != tb.blocks.len() {
            return None;
        }
        for (ba, bb) in ta.blocks.iter().zip(&tb.blocks) {
            if (ba.kind, ba.name) != (bb.kind, bb.name) {
                return None;
            }
            if ba.lines == bb.lines {
                continue;
            }
            out.push_str(&format!("flush {} {} {}\n", bb.kind, tb.head, bb.name));
            out.push_str(&format!(
                "table {} {{\n    {} {} {{\n",
                tb.head, bb.kind, bb.name
            ));
            for l in &bb.lines {
                out.push_str(l);
                out.push('\n');
            }
            out.push_str("    }\n}\n");
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const OLD: &str = "# c\ntable inet t {}\ndelete table inet t\ntable inet t {\n    set g_1 {\n        type ipv4_addr\n        elements = { 10.0.0.1 }\n    }\n    chain forward {\n        type filter hook forward priority filter; policy accept;\n        jump sgin_1\n    }\n    chain sgin_1 {\n        tcp dport 80 accept\n    }\n}\n";

    #[test]
    fn only_changed_chains_and_sets_are_rewritten() {
        let new = OLD
            .replace(
                "tcp dport 80 accept",
                "tcp dport 80 accept\n        tcp dport 443 accept",
            )
            .replace("{ 10.0.0.1 }", "{ 10.0.0.1, 10.0.0.2 }");
        let d = nft_delta(OLD, &new).expect("delta");
        assert_eq!(
            d,
            "flush set inet t g_1\ntable inet t {\n    set g_1 {\n        type ipv4_addr\n        elements = { 10.0.0.1, 10.0.0.2 }\n    }\n}\n\
             flush chain inet t sgin_1\ntable inet t {\n    chain sgin_1 {\n        tcp dport 80 accept\n        tcp dport 443 accept\n    }\n}\n"
        );
        assert_eq!(nft_delta(OLD, OLD).as_deref(), Some(""), "nothing changed");
    }

    #[test]
    fn a_changed_structure_means_the_whole_ruleset() {
        let added = OLD.replace(
            "    chain sgin_1 {",
            "    chain sgin_2 {\n    }\n    chain sgin_1 {",
        );
        assert_eq!(nft_delta(OLD, &added), None);
        assert_eq!(nft_delta(OLD, "garbage"), None);
        assert_eq!(nft_delta("", OLD), None);
    }
}
