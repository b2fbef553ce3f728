//! Where steps run, over topologies no fixture has: random estates in the real
//! `Get-CsTopology -AsXml` format (Enterprise pools of 1–5 Front Ends, back ends shared by
//! pools or not, back ends with Skype for Business installed, SQL servers holding Monitoring
//! or Archiving alone, Standard Edition servers, Edge servers).
//!
//! The property (issue 10, DOMAIN.md §1a): a plan never sends a command — an SfB cmdlet,
//! `net stop w3svc`, the installer — to a machine the topology says has no Skype for Business.

use std::fmt::Write as _;

use proptest::prelude::*;
use sfbpatch_core::plan::{PlanRequest, plan};
use sfbpatch_core::runbook::StepId;
use sfbpatch_core::scope::Runbook;
use sfbpatch_core::topology;

/// One Enterprise pool: its Front End count, which back end it uses, whether that back end
/// carries SfB.
#[derive(Clone, Debug)]
struct PoolSpec {
    front_ends: usize,
    backend: usize,
}

#[derive(Clone, Debug)]
struct Estate {
    pools: Vec<PoolSpec>,
    backends: usize,
    backend_with_sfb: Vec<bool>,
    monitoring_alone: bool,
    standard: usize,
    edge: bool,
}

fn estate() -> impl Strategy<Value = Estate> {
    (1usize..4, 1usize..4, any::<bool>(), 0usize..3, any::<bool>(), prop::collection::vec(any::<bool>(), 3))
        .prop_flat_map(|(n_pools, backends, monitoring_alone, standard, edge, with_sfb)| {
            let backends = backends.min(n_pools);
            prop::collection::vec((1usize..6, 0..backends), n_pools).prop_map(move |pools| Estate {
                pools: pools.into_iter().map(|(front_ends, backend)| PoolSpec { front_ends, backend }).collect(),
                backends,
                // Mostly SQL-only back ends, as in real estates.
                backend_with_sfb: with_sfb.iter().map(|b| *b && backends > 1).collect(),
                monitoring_alone,
                standard,
                edge,
            })
        })
}

/// The estate as a topology export.
fn xml(e: &Estate) -> String {
    let (mut clusters, mut sql, mut services) = (String::new(), String::new(), String::new());
    let mut number = 0;
    let mut cluster = |clusters: &mut String, fqdn: &str, machines: &[String], sfb: bool| {
        number += 1;
        let _ = write!(
            clusters,
            "<Cluster RequiresSetup=\"{sfb}\" Fqdn=\"{fqdn}\"><ClusterId SiteId=\"1\" Number=\"{number}\" />"
        );
        for m in machines {
            let _ = write!(clusters, "<Machine Fqdn=\"{m}\" />");
        }
        clusters.push_str("</Cluster>\n");
        number
    };
    let on_sql = |name: &str, n: u32| {
        format!(
            "<InstalledOn><SqlInstanceId Name=\"{name}\"><ClusterId SiteId=\"1\" Number=\"{n}\" /></SqlInstanceId></InstalledOn>"
        )
    };
    let service = |role: &str, inst: usize, depends: &str, on: &str| {
        format!(
            "<Service><ServiceId SiteId=\"1\" RoleName=\"{role}\" Instance=\"{inst}\" /><DependsOn>{depends}</DependsOn>{on}</Service>\n"
        )
    };
    let mut be_numbers = Vec::new();
    for b in 0..e.backends {
        let fqdn = format!("sql{b}.contoso.local");
        let n = cluster(
            &mut clusters,
            &fqdn,
            std::slice::from_ref(&fqdn),
            e.backend_with_sfb.get(b).copied().unwrap_or(false),
        );
        let _ = write!(
            sql,
            "<SqlInstance><SqlInstanceId Name=\"be\"><ClusterId SiteId=\"1\" Number=\"{n}\" /></SqlInstanceId></SqlInstance>"
        );
        be_numbers.push(n);
    }
    for (i, p) in e.pools.iter().enumerate() {
        let machines: Vec<String> = (0..p.front_ends).map(|f| format!("fe{i}{f}.contoso.local")).collect();
        let n = cluster(&mut clusters, &format!("pool{i}.contoso.local"), &machines, true);
        let be = be_numbers[p.backend];
        services.push_str(&service("UserStore", i, "", &on_sql("be", be)));
        let dep =
            format!("<Dependency><ServiceId SiteId=\"1\" RoleName=\"UserStore\" Instance=\"{i}\" /></Dependency>");
        services.push_str(&service(
            "UserServices",
            i,
            &dep,
            &format!("<InstalledOn><ClusterId SiteId=\"1\" Number=\"{n}\" /></InstalledOn>"),
        ));
    }
    if e.monitoring_alone {
        let fqdn = "sqlmon.contoso.local".to_owned();
        let n = cluster(&mut clusters, &fqdn, std::slice::from_ref(&fqdn), false);
        let _ = write!(
            sql,
            "<SqlInstance><SqlInstanceId Name=\"mon\"><ClusterId SiteId=\"1\" Number=\"{n}\" /></SqlInstanceId></SqlInstance>"
        );
        services.push_str(&service("MonitoringStore", 1, "", &on_sql("mon", n)));
    } else {
        services.push_str(&service("ArchivingStore", 1, "", &on_sql("be", be_numbers[0])));
    }
    for s in 0..e.standard {
        let fqdn = format!("se{s}.contoso.local");
        let n = cluster(&mut clusters, &fqdn, std::slice::from_ref(&fqdn), true);
        let _ = write!(
            sql,
            "<SqlInstance><SqlInstanceId Name=\"rtc\"><ClusterId SiteId=\"1\" Number=\"{n}\" /></SqlInstanceId></SqlInstance>"
        );
        let inst = 100 + s;
        services.push_str(&service("UserStore", inst, "", &on_sql("rtc", n)));
        let dep =
            format!("<Dependency><ServiceId SiteId=\"1\" RoleName=\"UserStore\" Instance=\"{inst}\" /></Dependency>");
        services.push_str(&service(
            "UserServices",
            inst,
            &dep,
            &format!("<InstalledOn><ClusterId SiteId=\"1\" Number=\"{n}\" /></InstalledOn>"),
        ));
    }
    if e.edge {
        let fqdn = "edge.contoso.local".to_owned();
        let n = cluster(&mut clusters, &fqdn, std::slice::from_ref(&fqdn), true);
        services.push_str(&service(
            "EdgeServer",
            1,
            "",
            &format!("<InstalledOn><ClusterId SiteId=\"1\" Number=\"{n}\" /></InstalledOn>"),
        ));
    }
    format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<Topology xmlns=\"urn:schema:Microsoft.Rtc.Management.Deploy.Topology.2008\">\n<Sites><CentralSite SiteId=\"1\"><Name>S</Name></CentralSite></Sites>\n<Clusters>\n{clusters}</Clusters>\n<SqlInstances>{sql}</SqlInstances>\n<Services>\n{services}</Services>\n</Topology>\n"
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn no_command_reaches_a_machine_without_skype_for_business(e in estate()) {
        let text = xml(&e);
        let t = topology::load("generated.xml", text.as_bytes()).unwrap_or_else(|err| panic!("{err}\n{text}"));
        let p = plan(&t, &PlanRequest::new("SkypeServerUpdateInstaller.exe")).unwrap_or_else(|err| panic!("{err}"));
        let has_sfb = |fqdn: &str| t.server(fqdn).is_some_and(|s| s.sfb_installed);
        for s in &p.servers {
            for st in s.steps.iter().filter(|st| st.command.is_some()) {
                let host = s.host_of(st);
                prop_assert!(has_sfb(host.as_str()), "{} {} runs on {host}, which has no SfB", s.fqdn, st.id);
            }
            // A back end's databases are updated from a Front End or SE server that is
            // updated first, when that server is in the plan.
            if s.runbook == Runbook::BackendDatabases {
                let host = s.steps.iter().find(|st| st.id == StepId::UpdateDatabases).map(|st| s.host_of(st));
                prop_assert!(host.is_some_and(|h| s.after.contains(h)), "{}: {host:?} not in {:?}", s.fqdn, s.after);
                let served = t.pools.iter().filter(|pl| pl.backend.as_ref() == Some(&s.fqdn));
                for pool in served {
                    for fe in &pool.machines {
                        prop_assert!(s.after.contains(fe), "{} does not wait for {fe}", s.fqdn);
                    }
                }
            }
        }
        // Every Front End once; every SQL server at most once; nothing for Edge.
        let mut names: Vec<&str> = p.servers.iter().map(|s| s.fqdn.as_str()).collect();
        let total = names.len();
        names.sort_unstable();
        names.dedup();
        prop_assert_eq!(names.len(), total);
        let front_ends = p.servers.iter().filter(|s| s.runbook == Runbook::FrontEnd).count();
        prop_assert_eq!(front_ends, e.pools.iter().map(|p| p.front_ends).sum::<usize>());
        prop_assert!(p.servers.iter().all(|s| !s.fqdn.as_str().starts_with("edge")));
        // Everything a server waits for comes before it: the order can run without deadlock.
        for (i, s) in p.servers.iter().enumerate() {
            for a in &s.after {
                let j = p.servers.iter().position(|x| &x.fqdn == a);
                prop_assert!(j.is_some_and(|j| j < i), "{} waits for {a}, planned after it", s.fqdn);
            }
        }
    }
}
