//! Front End pools (DOMAIN.md §4 rule 7, §2; issue10-sources.md §2.2–2.5, §4): which Front
//! Ends serve, quorum, users moved by failovers, quorum loss and the slow cold start after it.

use serde::{Deserialize, Serialize};
use sfbpatch_core::Fqdn;
use sfbpatch_core::readback_pool::quorum;
use sfbpatch_core::topology::{PoolKind, Topology};

use crate::Ms;
use crate::estate::{Estate, Host};
use crate::rng::HostRng;

/// The state of a user pool.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PoolState {
    /// The pool's FQDN.
    pub fqdn: Fqdn,
    /// Enterprise, Standard Edition or Director.
    pub kind: PoolKind,
    /// The SQL Server hosting its UserStore.
    pub backend: Option<Fqdn>,
    /// Its machines, in topology order: the order standing in for `Get-CsComputer
    /// -PoolFqdn`, whose "first" servers the quorum table counts (DOMAIN.md §2).
    pub machines: Vec<Fqdn>,
    /// Users moved off a Front End by a failover (`Invoke-CsComputerFailOver`), counted once
    /// per failover that moved a serving server's users (DOMAIN.md §4 rule 10).
    pub moves: u64,
    /// Since when the pool is below quorum.
    pub quorum_lost_since: Option<Ms>,
    /// Users signed out since (quorum lost, or a cold start not finished).
    pub signed_out_since: Option<Ms>,
    /// Closed intervals during which the pool's users were signed out.
    pub signed_out: Vec<(Ms, Ms)>,
    /// Routing groups left in quorum loss, which `Get-CsPoolFabricState` shows as missing
    /// replicas until `Reset-CsPoolRegistrarState -ResetType QuorumLossRecovery`
    /// (issue10-sources.md §2.2, field report).
    pub missing_replicas: u32,
    /// Replicas are being rebuilt until then (after a failback):
    /// `Get-CsPoolUpgradeReadinessState` waits for them unless told not to (§2.3).
    pub replicas_ready_at: Ms,
    /// Every failover of this pool, as (server, start, end): tests check that two servers of
    /// one pool are never failed over together.
    #[serde(default)]
    pub failovers: Vec<(Fqdn, Ms, Option<Ms>)>,
    pub(crate) rng: HostRng,
}

/// The first `window` machines of a pool of `n` in which the quorum is counted (DOMAIN.md §2:
/// 8–9 servers: any 4 of the first 7; 10–12: any 5 of the first 9; 13–16: any 7 of the first 12).
pub fn quorum_window(n: usize) -> usize {
    match n {
        0..=7 => n,
        8..=9 => 7,
        10..=12 => 9,
        _ => 12,
    }
}

impl PoolState {
    pub(crate) fn from_topology(topology: &Topology, seed: u64) -> Vec<PoolState> {
        topology
            .pools
            .iter()
            .map(|p| PoolState {
                fqdn: p.fqdn.clone(),
                kind: p.kind,
                backend: p.backend.clone(),
                machines: p.machines.clone(),
                moves: 0,
                quorum_lost_since: None,
                signed_out_since: None,
                signed_out: Vec::new(),
                missing_replicas: 0,
                replicas_ready_at: 0,
                failovers: Vec::new(),
                rng: HostRng::new(seed, &format!("pool:{}", p.fqdn)),
            })
            .collect()
    }

    /// Whether a Windows Fabric pool (Enterprise Front Ends, Directors).
    pub fn has_fabric(&self) -> bool {
        self.kind != PoolKind::Standard
    }

    /// Signed-out intervals, the open one ending at `end`.
    pub fn signed_out_until(&self, end: Ms) -> Vec<(Ms, Ms)> {
        let mut v = self.signed_out.clone();
        if let Some(s) = self.signed_out_since {
            v.push((s, end.max(s)));
        }
        crate::estate::merge(v)
    }
}

impl Host {
    /// Whether this Front End serves the pool's users at `at`: up, not failed over, and its
    /// Front-End service running.
    pub fn serving(&self, at: Ms) -> bool {
        at >= self.unreachable_until
            && !self.failed_over
            && self.services.iter().any(|s| s.name.eq_ignore_ascii_case("RTCSRV") && s.running)
    }
}

impl Estate {
    /// The index of the pool with this FQDN.
    pub fn pool_index(&self, fqdn: &str) -> Option<usize> {
        self.lookup.pools.get(&fqdn.to_ascii_lowercase()).copied()
    }

    /// The Windows Fabric pool a machine belongs to.
    pub fn pool_of(&self, machine: &str) -> Option<usize> {
        self.lookup.fabric_pool.get(&machine.to_ascii_lowercase()).copied()
    }

    /// The machines holding the databases of SQL Server `fqdn` (its cluster name or its own).
    pub fn sql_nodes(&self, fqdn: &str) -> &[usize] {
        self.lookup.sql_nodes.get(&fqdn.to_ascii_lowercase()).map_or(&[], Vec::as_slice)
    }

    /// The pool's Front Ends serving at `at`, and how many of them count for quorum.
    pub fn serving(&self, pool: usize, at: Ms, except: Option<&str>) -> (usize, usize) {
        let Some(p) = self.pools.get(pool) else { return (0, 0) };
        let window = quorum_window(p.machines.len());
        let (mut all, mut counted) = (0, 0);
        for (i, m) in p.machines.iter().enumerate() {
            if except == Some(m.as_str()) {
                continue;
            }
            if self.host(m.as_str()).is_some_and(|h| h.serving(at)) {
                all += 1;
                if i < window {
                    counted += 1;
                }
            }
        }
        (all, counted)
    }

    /// Whether the pool keeps quorum with these servers serving (DOMAIN.md §2 table, the
    /// core's `readback_pool::quorum`).
    pub fn has_quorum(&self, pool: usize, at: Ms, except: Option<&str>) -> bool {
        let n = self.pools.get(pool).map_or(0, |p| p.machines.len());
        self.serving(pool, at, except).1 >= quorum(n)
    }

    /// Re-evaluates a Fabric pool's quorum at `at` and at the moments its restarting Front
    /// Ends come back. Below quorum the pool's users are signed out (rule 7); once quorum is
    /// back, the pool cold-starts for a seeded time of tens of minutes, up to about an hour
    /// (DOMAIN.md §2: "A cold start of a pool can take up to an hour (event 32174 while the
    /// fabric places users)"), and only then are its users back.
    pub(crate) fn tick_pool(&mut self, pool: usize, at: Ms) {
        let Some(p) = self.pools.get(pool) else { return };
        if !p.has_fabric() {
            return;
        }
        let mut times: Vec<Ms> = vec![at];
        for m in &p.machines {
            if let Some(h) = self.host(m.as_str())
                && h.unreachable_until > at
            {
                times.push(h.unreachable_until);
            }
        }
        times.sort_unstable();
        times.dedup();
        for t in times {
            let ok = self.has_quorum(pool, t, None);
            let Some(p) = self.pools.get_mut(pool) else { return };
            match (p.quorum_lost_since, ok) {
                (None, false) => {
                    p.quorum_lost_since = Some(t);
                    p.signed_out_since.get_or_insert(t);
                    p.missing_replicas = p.missing_replicas.max(1 + (p.rng.unit() * 3.0) as u32);
                }
                (Some(_), true) => {
                    p.quorum_lost_since = None;
                    let cold = p.rng.triangular_minutes(15.0, 30.0, 60.0);
                    if let Some(since) = p.signed_out_since.take() {
                        p.signed_out.push((since, t + cold));
                    }
                }
                _ => {}
            }
        }
    }

    /// Re-evaluates every Fabric pool the given hosts belong to.
    pub(crate) fn tick_pools_of(&mut self, hosts: &[usize], at: Ms) {
        let mut pools: Vec<usize> = Vec::new();
        for &i in hosts {
            if let Some(pi) = self.hosts.get(i).and_then(|h| self.pool_of(h.fqdn.as_str()))
                && !pools.contains(&pi)
            {
                pools.push(pi);
            }
        }
        for p in pools {
            self.tick_pool(p, at);
        }
    }
}
