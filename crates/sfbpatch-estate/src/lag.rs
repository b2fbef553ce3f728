//! Servers newer than their databases (DOMAIN.md §4 rule 6): Front Ends keep running when
//! their pool's databases were not updated (field reports for Lync 2013 CU5 and SfB 2015
//! CUs, DOMAIN.md §1a); the simulator records it, since a real estate degrades in ways no one
//! documents, and a run is not "updated" while any database lags.

use serde::Serialize;
use sfbpatch_core::Fqdn;
use sfbpatch_core::readback::Build;

use crate::Ms;
use crate::estate::Estate;

/// A database older than a serving server of its pool.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SchemaLag {
    /// The server (a Front End or Standard Edition server) running the newer build.
    pub server: Fqdn,
    /// Its build.
    pub build: Build,
    /// The SQL Server holding the database.
    pub sql_server: Fqdn,
    /// The SQL instance.
    pub instance: String,
    /// The database.
    pub database: String,
    /// The database's schema.
    pub schema: Build,
}

impl Estate {
    /// The databases older than host `i` runs, when it serves (its Front-End service runs).
    fn lag_of(&self, i: usize) -> Vec<SchemaLag> {
        let mut out = Vec::new();
        let Some(h) = self.hosts.get(i).filter(|h| h.sfb_installed && !h.pools.is_empty()) else { return out };
        if !h.services.iter().any(|s| s.name == "RTCSRV" && s.running) {
            return out;
        }
        let build = h.build();
        for pool in &h.pools {
            let Some(backend) = self.pool_index(pool.as_str()).and_then(|p| self.pools[p].backend.clone()) else {
                continue;
            };
            for &n in self.sql_nodes(backend.as_str()) {
                for d in self.hosts[n].databases.iter().filter(|d| d.schema < build) {
                    let lag = SchemaLag {
                        server: h.fqdn.clone(),
                        build: build.clone(),
                        sql_server: backend.clone(),
                        instance: d.instance.clone(),
                        database: d.name.clone(),
                        schema: d.schema.clone(),
                    };
                    if !out.contains(&lag) {
                        out.push(lag);
                    }
                }
            }
        }
        out
    }

    /// Every database older than a serving Skype for Business server of its pool, now.
    pub fn schema_lag(&self) -> Vec<SchemaLag> {
        (0..self.hosts.len()).flat_map(|i| self.lag_of(i)).collect()
    }

    /// Records on the servers a command may have changed (it ran on or changed them, or
    /// changed the databases of their pool) since when each runs newer than its databases.
    pub(crate) fn record_schema_lag(&mut self, changed: &[usize], at: Ms) {
        let mut hosts: Vec<usize> = changed.to_vec();
        for &i in changed {
            let Some(h) = self.hosts.get(i).filter(|h| !h.databases.is_empty()) else { continue };
            let names = [Some(h.fqdn.to_string()), h.cluster.as_ref().map(|c| c.to_string())];
            for name in names.into_iter().flatten() {
                hosts.extend(self.lookup.served_by.get(&name).into_iter().flatten().copied());
            }
        }
        hosts.sort_unstable();
        hosts.dedup();
        for i in hosts {
            let lags = !self.lag_of(i).is_empty();
            let Some(h) = self.hosts.get_mut(i) else { continue };
            match (h.ahead_of_databases_since, lags) {
                (None, true) => h.ahead_of_databases_since = Some(at),
                (Some(_), false) => h.ahead_of_databases_since = None,
                _ => {}
            }
        }
    }
}
