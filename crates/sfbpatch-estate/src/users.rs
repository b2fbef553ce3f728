//! What the users of each pool lived through, from the service states over virtual time
//! (not from the plan): DOMAIN.md §4 rule 10.

use serde::Serialize;
use sfbpatch_core::Fqdn;
use sfbpatch_core::topology::{PoolKind, Role, Topology};

use sfbpatch_core::vocab::{minutes_up, resiliency_ms};

use crate::Ms;
use crate::estate::Estate;

/// One pool's users.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PoolUsers {
    /// The pool.
    pub fqdn: Fqdn,
    /// Enterprise or Standard Edition.
    pub kind: PoolKind,
    /// Minutes in resiliency mode (Enterprise pools: back end down for 30 minutes or more).
    pub resiliency_minutes: f64,
    /// Minutes signed out (Standard Edition: services stopped).
    pub signed_out_minutes: f64,
}

/// Milliseconds in resiliency mode caused by these down intervals: the core's one rule
/// (DOMAIN.md §4 rule 10), applied to each interval's length.
fn resiliency_of(intervals: &[(Ms, Ms)]) -> Ms {
    resiliency_ms(intervals.iter().map(|(s, e)| e.saturating_sub(*s)))
}

/// Every user pool's minutes, counting open outages until `end`.
pub fn pool_users(topology: &Topology, estate: &Estate, end: Ms) -> Vec<PoolUsers> {
    topology
        .pools
        .iter()
        .filter(|p| p.kind != PoolKind::Director)
        .map(|p| {
            let (mut resiliency, mut signed_out) = (0, 0);
            match p.kind {
                PoolKind::Enterprise => {
                    for h in
                        estate.hosts.iter().filter(|h| h.role == Role::EnterpriseBackend && h.pools.contains(&p.fqdn))
                    {
                        resiliency += resiliency_of(&h.down_intervals_until(end));
                    }
                }
                PoolKind::Standard => {
                    for h in estate.hosts.iter().filter(|h| p.machines.contains(&h.fqdn)) {
                        signed_out += h.down_intervals_until(end).iter().map(|(s, e)| e - s).sum::<Ms>();
                    }
                }
                PoolKind::Director => {}
            }
            PoolUsers {
                fqdn: p.fqdn.clone(),
                kind: p.kind,
                resiliency_minutes: minutes_up(resiliency),
                signed_out_minutes: minutes_up(signed_out),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::MINUTE;

    #[test]
    fn only_time_beyond_thirty_minutes_counts() {
        assert_eq!(resiliency_of(&[(0, 29 * MINUTE)]), 0);
        assert_eq!(resiliency_of(&[(0, 30 * MINUTE)]), 0);
        assert_eq!(resiliency_of(&[(0, 42 * MINUTE)]), 12 * MINUTE);
        assert_eq!(
            resiliency_of(&[(0, 20 * MINUTE), (25 * MINUTE, 45 * MINUTE)]),
            0,
            "two short outages are not one long one"
        );
    }
}
