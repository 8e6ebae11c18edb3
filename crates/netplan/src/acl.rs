//! Network ACL lists (CloudStack's VPC ACLs), pure: the order rules are evaluated in, the
//! renumbering `moveNetworkAclItem` does, the consistency hash a mover sends, and the nftables
//! chains a tier's router runs.
//!
//! Semantics (CloudStack's VPC guide and `NetworkACLServiceImpl`): items are evaluated lowest
//! `number` first (ties, which the API refuses, broken by id so the order is still total);
//! the first match decides; rules are stateful (replies of an allowed connection pass);
//! ingress and egress are separate lists. What no item matches: ingress is dropped, egress
//! allowed — "newly created ACLs, while showing empty, deny all incoming traffic to the
//! associated tier and allow all outgoing traffic"; the built-in `default_deny` list denies
//! egress with an explicit item. The rendered chains depend only on the items, never on the
//! order they were created or moved in.
//!
//! The API stores lists and items (`server::handlers::vpcs::acls`); a VPC's router runs
//! these chains ([`crate::vpc`]).

use std::fmt::Write as _;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::state::{Cidr, Protocol};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    Allow,
    Deny,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Traffic {
    Ingress,
    Egress,
}

/// One ACL item. `cidrs` are the sources of ingress traffic and the destinations of egress
/// traffic; empty or containing 0.0.0.0/0 means any.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Item {
    pub id: Uuid,
    pub number: u32,
    pub action: Action,
    pub traffic: Traffic,
    pub protocol: Protocol,
    pub start_port: Option<u16>,
    pub end_port: Option<u16>,
    /// `None` or -1 = any.
    pub icmp_type: Option<i32>,
    pub icmp_code: Option<i32>,
    pub cidrs: Vec<Cidr>,
    /// Service tags (named address sets, [`crate::ServiceTag`]) matched besides `cidrs`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
}

/// The items of one direction in evaluation order.
pub fn ordered(items: &[Item], traffic: Traffic) -> Vec<&Item> {
    let mut v: Vec<&Item> = items.iter().filter(|i| i.traffic == traffic).collect();
    v.sort_by_key(|i| (i.number, i.id));
    v
}

/// CloudStack's `aclconsistencyhash`: MD5 (hex) of every item's id, concatenated in `number`
/// order. A mover sends the hash of the list it saw; a different one means the list changed.
pub fn consistency_hash(items: &[Item]) -> String {
    let mut v: Vec<&Item> = items.iter().collect();
    v.sort_by_key(|i| (i.number, i.id));
    let ids: String = v.iter().map(|i| i.id.to_string()).collect();
    crate::md5_hex(ids.as_bytes())
}

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum MoveError {
    #[error("Both previous and next ACL rule IDs cannot be invalid.")]
    NoNeighbour,
    #[error("Could not find rule with ID [{0}]")]
    Unknown(Uuid),
    #[error("There are some inconsistencies with the data you sent. The new position calculated already has a ACL rule on it.")]
    Occupied,
}

/// `moveNetworkAclItem`: the new numbers (item id → number, only those that change) that put
/// `moving` right after `previous` and before `next` (either may be `None`: the top or the
/// bottom), as CloudStack computes them: between two rules with a gap, previous + 1; at the
/// top, 1; at the bottom, last + 1; where the number is taken, the rules from there on are
/// shifted up by one until a gap absorbs the shift.
pub fn move_item(
    items: &[Item],
    moving: Uuid,
    previous: Option<Uuid>,
    next: Option<Uuid>,
) -> Result<Vec<(Uuid, u32)>, MoveError> {
    let find = |id: Uuid| {
        items
            .iter()
            .find(|i| i.id == id)
            .ok_or(MoveError::Unknown(id))
    };
    let m = find(moving)?;
    let prev = previous.map(find).transpose()?;
    let nxt = next.map(find).transpose()?;
    let mut all: Vec<&Item> = items.iter().collect();
    all.sort_by_key(|i| (i.number, i.id));
    let mut numbers: Vec<(Uuid, u32)> = all.iter().map(|i| (i.id, i.number)).collect();
    match (prev, nxt) {
        (None, None) => return Err(MoveError::NoNeighbour),
        (None, Some(_)) => shift_into(&mut numbers, moving, 1, 0),
        (Some(_), None) => {
            let last = all.last().map(|i| i.number).unwrap_or(0);
            set(&mut numbers, moving, last.saturating_add(1));
        }
        (Some(p), Some(n)) => {
            let want = p.number.saturating_add(1);
            if want != n.number {
                if all.iter().any(|i| i.number == want && i.id != m.id) {
                    return Err(MoveError::Occupied);
                }
                set(&mut numbers, moving, want);
            } else {
                let from = all.iter().position(|i| i.id == p.id).map_or(0, |i| i + 1);
                shift_into(&mut numbers, moving, want, from);
            }
        }
    }
    Ok(numbers
        .into_iter()
        .filter(|(id, n)| items.iter().any(|i| i.id == *id && i.number != *n))
        .collect())
}

fn set(numbers: &mut [(Uuid, u32)], id: Uuid, n: u32) {
    if let Some(e) = numbers.iter_mut().find(|e| e.0 == id) {
        e.1 = n;
    }
}

/// Gives `id` the number `n`; the rule holding `n` (from position `from` on, in the original
/// order) moves to `n + 1`, and so on while numbers collide.
fn shift_into(numbers: &mut [(Uuid, u32)], id: Uuid, n: u32, from: usize) {
    let order: Vec<(Uuid, u32)> = numbers.to_vec();
    set(numbers, id, n);
    let mut want = n;
    for (other, had) in order.iter().skip(from) {
        if *other == id {
            continue;
        }
        if *had != want {
            break;
        }
        want = want.saturating_add(1);
        set(numbers, *other, want);
    }
}

/// The chain names of a tier (by its short tag, e.g. its VNI in hex).
pub fn chains(tag: &str) -> (String, String) {
    (format!("acl_in_{tag}"), format!("acl_out_{tag}"))
}

/// The tier's two chains, in nftables syntax: `acl_in_<tag>` for traffic to the tier and
/// `acl_out_<tag>` for traffic from it. Established and related packets pass first (the rules
/// are stateful); then the items in order; then the implicit verdicts. The router's forward
/// chain jumps to the source tier's `acl_out` first and then to the destination tier's
/// `acl_in`, so traffic between tiers needs both: an egress allow therefore `return`s (the
/// packet goes on to the next check) where an ingress allow accepts; what no egress item
/// matches returns too (egress is allowed by default), what no ingress item matches is dropped.
pub fn render(tag: &str, items: &[Item]) -> String {
    let (inc, out) = chains(tag);
    render_chains(
        items,
        &[
            (inc, Traffic::Ingress, "saddr", "drop", "accept"),
            (out, Traffic::Egress, "daddr", "return", "return"),
        ],
    )
}

/// A private gateway's list for traffic entering the VPC through it: `acl_gwin_<tag>`, its
/// ingress items in order, an allow returning (the destination tier's list decides next), a
/// deny — or no match — dropping.
pub fn render_gateway_in(tag: &str, items: &[Item]) -> String {
    render_chains(
        items,
        &[(
            format!("acl_gwin_{tag}"),
            Traffic::Ingress,
            "saddr",
            "drop",
            "return",
        )],
    )
}

fn render_chains(items: &[Item], chains: &[(String, Traffic, &str, &str, &str)]) -> String {
    let mut s = String::new();
    for (name, traffic, addr, tail, allow) in chains {
        let (name, traffic, addr, tail, allow) = (name.as_str(), *traffic, *addr, *tail, *allow);
        let _ = writeln!(s, "    chain {name} {{");
        s.push_str("        ct state established,related accept\n");
        for i in ordered(items, traffic) {
            // One line per address source: the CIDRs (none = any), each service tag's set.
            let mut sources: Vec<Option<String>> = Vec::new();
            if !i.cidrs.is_empty() || i.tags.is_empty() {
                sources.push(crate::render::set_of(&i.cidrs).map(|set| format!("ip {addr} {set}")));
            }
            for t in &i.tags {
                sources.push(Some(format!("ip {addr} @{}", crate::tags::set_name(t))));
            }
            for src in sources {
                let mut m: Vec<String> = src.into_iter().collect();
                let l4 = crate::render::l4(
                    i.protocol,
                    i.start_port,
                    i.end_port,
                    i.icmp_type,
                    i.icmp_code,
                    false,
                );
                if !l4.is_empty() {
                    m.push(l4);
                }
                m.push(
                    match i.action {
                        Action::Allow => allow,
                        Action::Deny => "drop",
                    }
                    .to_string(),
                );
                let _ = writeln!(s, "        {} comment \"acl {}\"", m.join(" "), i.number);
            }
        }
        let _ = writeln!(s, "        {tail}");
        s.push_str("    }\n");
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(n: u128) -> Uuid {
        Uuid::from_u128(n)
    }

    fn item(n: u128, number: u32, action: Action, traffic: Traffic, port: u16) -> Item {
        Item {
            id: id(n),
            number,
            action,
            traffic,
            protocol: Protocol::Tcp,
            start_port: Some(port),
            end_port: Some(port),
            icmp_type: None,
            icmp_code: None,
            cidrs: vec![],
            tags: vec![],
        }
    }

    fn apply(items: &mut [Item], changes: &[(Uuid, u32)]) {
        for (i, n) in changes {
            if let Some(it) = items.iter_mut().find(|x| x.id == *i) {
                it.number = *n;
            }
        }
    }

    fn order(items: &[Item]) -> Vec<u128> {
        let mut v: Vec<&Item> = items.iter().collect();
        v.sort_by_key(|i| (i.number, i.id));
        v.iter().map(|i| i.id.as_u128()).collect()
    }

    #[test]
    fn lowest_number_first_and_the_implicit_verdicts() {
        // An allow at 100 beats a deny at 200 for port 80; a deny at 50 beats an allow at 100
        // for port 22.
        let items = vec![
            item(1, 200, Action::Deny, Traffic::Ingress, 80),
            item(2, 100, Action::Allow, Traffic::Ingress, 80),
            item(3, 100, Action::Allow, Traffic::Ingress, 22),
            item(4, 50, Action::Deny, Traffic::Ingress, 22),
        ];
        let text = render("00007000", &items);
        let inbound: Vec<&str> = text
            .lines()
            .skip_while(|l| !l.contains("chain acl_in_00007000"))
            .take_while(|l| !l.contains("chain acl_out"))
            .collect();
        let pos = |needle: &str| inbound.iter().position(|l| l.contains(needle));
        assert!(pos("tcp dport 22 drop comment \"acl 50\"") < pos("tcp dport 22 accept"));
        assert!(pos("tcp dport 80 accept") < pos("tcp dport 80 drop"));
        assert_eq!(inbound.last().map(|l| l.trim()), Some("}"));
        assert_eq!(inbound[inbound.len() - 2].trim(), "drop", "{text}");
        // An empty list: ingress dropped, egress allowed.
        let empty = render("t", &[]);
        assert!(empty.contains(
            "chain acl_in_t {\n        ct state established,related accept\n        drop\n"
        ));
        assert!(empty.contains(
            "chain acl_out_t {\n        ct state established,related accept\n        return\n"
        ));
    }

    #[test]
    fn the_rendering_does_not_depend_on_the_order_items_came_in() {
        let mut items = vec![
            item(1, 30, Action::Deny, Traffic::Egress, 443),
            item(2, 10, Action::Allow, Traffic::Ingress, 80),
            item(3, 20, Action::Allow, Traffic::Egress, 443),
            item(4, 40, Action::Deny, Traffic::Ingress, 81),
        ];
        let want = render("x", &items);
        for k in 0..items.len() {
            items.rotate_left(1);
            items.swap(0, k);
            assert_eq!(render("x", &items), want);
        }
    }

    #[test]
    fn moves_renumber_as_cloudstack_does() {
        // CloudStack's own example: A 1, B 2, C 3, D 12; D between A and B → A 1, D 2, B 3, C 4.
        let mut items = vec![
            item(0xA, 1, Action::Allow, Traffic::Ingress, 1),
            item(0xB, 2, Action::Allow, Traffic::Ingress, 2),
            item(0xC, 3, Action::Allow, Traffic::Ingress, 3),
            item(0xD, 12, Action::Allow, Traffic::Ingress, 4),
        ];
        let ch = move_item(&items, id(0xD), Some(id(0xA)), Some(id(0xB))).expect("move");
        apply(&mut items, &ch);
        assert_eq!(order(&items), vec![0xA, 0xD, 0xB, 0xC]);
        let numbers: Vec<u32> = {
            let mut v: Vec<&Item> = items.iter().collect();
            v.sort_by_key(|i| i.number);
            v.iter().map(|i| i.number).collect()
        };
        assert_eq!(numbers, vec![1, 2, 3, 4]);
        // With a gap: previous + 1, nothing else moves.
        let mut gap = vec![
            item(1, 10, Action::Allow, Traffic::Ingress, 1),
            item(2, 20, Action::Allow, Traffic::Ingress, 2),
            item(3, 30, Action::Allow, Traffic::Ingress, 3),
        ];
        let ch = move_item(&gap, id(3), Some(id(1)), Some(id(2))).expect("move");
        assert_eq!(ch, vec![(id(3), 11)]);
        apply(&mut gap, &ch);
        assert_eq!(order(&gap), vec![1, 3, 2]);
        // To the top and to the bottom.
        let ch = move_item(&gap, id(2), None, Some(id(1))).expect("top");
        apply(&mut gap, &ch);
        assert_eq!(order(&gap), vec![2, 1, 3]);
        let ch = move_item(&gap, id(2), Some(id(3)), None).expect("bottom");
        apply(&mut gap, &ch);
        assert_eq!(order(&gap), vec![1, 3, 2]);
        // Refusals.
        assert_eq!(
            move_item(&gap, id(2), None, None),
            Err(MoveError::NoNeighbour)
        );
        assert_eq!(
            move_item(&gap, id(9), Some(id(1)), None),
            Err(MoveError::Unknown(id(9)))
        );
    }

    #[test]
    fn the_consistency_hash_follows_the_numbers() {
        let a = item(1, 1, Action::Allow, Traffic::Ingress, 1);
        let b = item(2, 2, Action::Allow, Traffic::Egress, 2);
        let h = consistency_hash(&[b.clone(), a.clone()]);
        // MD5 of the two ids concatenated in number order.
        let ids = format!("{}{}", a.id, b.id);
        assert_eq!(h, crate::md5_hex(ids.as_bytes()));
        let swapped = consistency_hash(&[Item { number: 3, ..a }, b]);
        assert_ne!(h, swapped);
    }
}
