//! What the users of each pool lived through, from the service states over virtual time
//! (not from the plan): DOMAIN.md §4 rule 10 — resiliency mode past 30 minutes of an
//! unavailable Enterprise back end, signed-out time (Standard Edition services stopped, a
//! Front End pool below quorum), and users moved by failovers.

use serde::Serialize;
use sfbpatch_core::Fqdn;
use sfbpatch_core::topology::{PoolKind, Role, Topology};

use sfbpatch_core::vocab::{minutes_up, resiliency_ms};

use crate::Ms;
use crate::estate::{Estate, intersect};

/// One pool's users.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PoolUsers {
    /// The pool.
    pub fqdn: Fqdn,
    /// Enterprise or Standard Edition.
    pub kind: PoolKind,
    /// Minutes in resiliency mode (Enterprise pools: the back end unavailable — its SQL
    /// Server down, the machine restarting, or its databases being updated — counted past
    /// the first 30 minutes of each unavailability).
    pub resiliency_minutes: f64,
    /// Minutes signed out (Standard Edition: services stopped; Enterprise: quorum lost, until
    /// the pool's cold start ends).
    pub signed_out_minutes: f64,
    /// Times a Front End's users were moved to the pool's other Front Ends by a failover.
    pub moves: u64,
}

/// Milliseconds in resiliency mode caused by these down intervals: the core's one rule
/// (DOMAIN.md §4 rule 10), applied to each interval's length.
fn resiliency_of(intervals: &[(Ms, Ms)]) -> Ms {
    resiliency_ms(intervals.iter().map(|(s, e)| e.saturating_sub(*s)))
}

/// When the SQL Server `sql` was unavailable: a clustered one only while every node was.
fn backend_unavailable(estate: &Estate, sql: &str, end: Ms) -> Vec<(Ms, Ms)> {
    let nodes: Vec<Vec<(Ms, Ms)>> = estate
        .sql_nodes(sql)
        .iter()
        .filter_map(|&i| estate.hosts.get(i))
        .filter(|h| h.role == Role::EnterpriseBackend)
        .map(|h| h.down_intervals_until(end))
        .collect();
    intersect(&nodes)
}

/// Every user pool's minutes and moves, counting open outages until `end` (DOMAIN.md §4
/// rule 10).
pub fn pool_users(topology: &Topology, estate: &Estate, end: Ms) -> Vec<PoolUsers> {
    topology
        .pools
        .iter()
        .filter(|p| p.kind != PoolKind::Director)
        .map(|p| {
            let state = estate.pool_index(p.fqdn.as_str()).and_then(|i| estate.pools.get(i));
            let (mut resiliency, mut signed_out) = (0, 0);
            match p.kind {
                PoolKind::Enterprise => {
                    if let Some(sql) = &p.backend {
                        resiliency = resiliency_of(&backend_unavailable(estate, sql.as_str(), end));
                    }
                    if let Some(s) = state {
                        signed_out = s.signed_out_until(end).iter().map(|(a, b)| b - a).sum::<Ms>();
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
                moves: state.map_or(0, |s| s.moves),
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
