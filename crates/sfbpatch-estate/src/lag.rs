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
    /// Every database older than a serving Skype for Business server of its pool, now.
    pub fn schema_lag(&self) -> Vec<SchemaLag> {
        let mut out = Vec::new();
        for h in self.hosts.iter().filter(|h| h.sfb_installed && !h.pools.is_empty()) {
            let running = h.services.iter().any(|s| s.name == "RTCSRV" && s.running);
            if !running {
                continue;
            }
            let build = h.build();
            for pool in &h.pools {
                let Some(backend) = self.pool_index(pool.as_str()).and_then(|i| self.pools[i].backend.clone()) else {
                    continue;
                };
                for node in self.hosts.iter().filter(|n| n.is_sql_server(backend.as_str())) {
                    for d in node.databases.iter().filter(|d| d.schema < build) {
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
        }
        out
    }

    /// Records on each server since when it runs newer than its databases (cleared once
    /// they are current).
    pub(crate) fn record_schema_lag(&mut self, at: Ms) {
        let lagging: Vec<Fqdn> = self.schema_lag().into_iter().map(|l| l.server).collect();
        for h in &mut self.hosts {
            let lags = lagging.contains(&h.fqdn);
            match (h.ahead_of_databases_since, lags) {
                (None, true) => h.ahead_of_databases_since = Some(at),
                (Some(_), false) => h.ahead_of_databases_since = None,
                _ => {}
            }
        }
    }
}
