//! What is installed on a machine, from the topology alone (DOMAIN.md §4 rule 1: "a machine
//! has only what the topology says is installed on it").
//!
//! * Skype for Business software (services, the Management Shell module, the IIS site) only
//!   where the cluster's `RequiresSetup` is true (`Server::sfb_installed`; DOMAIN.md §1a, §3).
//!   SQL-only machines (Enterprise back ends, stores on SQL servers of their own) have SQL
//!   Server instances and their databases, nothing else.
//! * SQL Server instances and databases only where the topology places a store.

use sfbpatch_core::readback::Build;
use sfbpatch_core::runbook::Product;
use sfbpatch_core::topology::{Role, Server};

use crate::estate::{Database, Service, ServiceKind};

fn svc(name: &str, display: &str, kind: ServiceKind) -> Service {
    Service {
        name: name.to_owned(),
        display_name: display.to_owned(),
        kind,
        running: true,
        auto_start: true,
        disabled: false,
    }
}

/// The Windows services of a machine.
pub(crate) fn services(s: &Server) -> Vec<Service> {
    use ServiceKind::{Fabric, Iis, Sfb, Sql};
    let mut v = Vec::new();
    if s.sfb_installed {
        // Service names: DOMAIN.md §2 ("Windows service names commonly seen on SfB servers");
        // per role, docs/research/issue12-roles.md §1.1.
        let names: &[(&str, &str)] = match s.role {
            // The Edge's services, exactly the documented list (Cloud Connector monitoring
            // page, DOC): the same names as `runbook::EDGE_SERVICES`, which stops them.
            Role::Edge => &[
                ("REPLICA", "Skype for Business Server Replica Replicator Agent"),
                ("RTCSRV", "Skype for Business Server Access Edge"),
                ("RTCDATAPROXY", "Skype for Business Server Web Conferencing Edge"),
                ("RTCMRAUTH", "Skype for Business Server Audio/Video Authentication"),
                ("RTCMEDIARELAY", "Skype for Business Server Audio/Video Edge"),
            ],
            // Stand-alone Mediation: RTCMEDSRV (DOMAIN.md §2; the field post of §1.1) and the
            // replicator; the logging agent as on every internal server (UNVERIFIED).
            Role::Mediation => &[
                ("RTCMEDSRV", "Skype for Business Server Mediation"),
                ("REPLICA", "Skype for Business Server Replica Replicator Agent"),
                ("RTCCLSAGT", "Skype for Business Server Centralized Logging Service Agent"),
            ],
            // Persistent Chat: "Persistent Chat service" and "Compliance service" (DOC,
            // topology.md); their Windows names RTCCHAT and RTCCOMPLIANCE are UNVERIFIED.
            Role::PersistentChat => &[
                ("RTCCHAT", "Skype for Business Server Persistent Chat"),
                ("RTCCOMPLIANCE", "Skype for Business Server Persistent Chat Compliance"),
                ("REPLICA", "Skype for Business Server Replica Replicator Agent"),
                ("RTCCLSAGT", "Skype for Business Server Centralized Logging Service Agent"),
            ],
            Role::StandardEdition | Role::FrontEnd | Role::Director => &[
                ("RTCSRV", "Skype for Business Server Front-End"),
                ("RTCCLSAGT", "Skype for Business Server Centralized Logging Service Agent"),
                ("REPLICA", "Skype for Business Server Replica Replicator Agent"),
                ("RTCMRAUTH", "Skype for Business Server Audio/Video Authentication"),
                ("RTCASMCU", "Skype for Business Server Application Sharing"),
                ("RTCAVMCU", "Skype for Business Server Audio/Video Conferencing"),
                ("RTCDATAMCU", "Skype for Business Server Web Conferencing"),
                ("RTCIMMCU", "Skype for Business Server IM Conferencing"),
                ("RTCMEDSRV", "Skype for Business Server Mediation"),
            ],
            _ => &[
                ("RTCSRV", "Skype for Business Server Front-End"),
                ("RTCCLSAGT", "Skype for Business Server Centralized Logging Service Agent"),
                ("REPLICA", "Skype for Business Server Replica Replicator Agent"),
            ],
        };
        for (n, d) in names {
            v.push(svc(n, d, Sfb));
        }
        // Windows Fabric on Front Ends (issue10-sources.md §3: Reset-CsPoolRegistrarState
        // names FabricHostSvc). Not an SfB service: Get-CsWindowsService does not list it and
        // Stop-CsWindowsService does not stop it (UNVERIFIED, §3).
        if s.role == Role::FrontEnd {
            v.push(svc("FabricHostSvc", "Windows Fabric Host Service", Fabric));
        }
        // IIS: the web services of Front End, Standard Edition and Director servers (Directors
        // take client HTTPS: issue12-roles.md §1.1, DOC) and of a back end that carries SfB
        // components (the seed's steps 5 and 10). Edge, Mediation and Persistent Chat servers
        // have no SfB web site (§1.1: the Edge publishes none; Persistent Chat's web
        // components are on the Front Ends, DOC; Mediation INFERRED).
        if !matches!(s.role, Role::Edge | Role::Mediation | Role::PersistentChat) {
            v.push(svc("W3SVC", "World Wide Web Publishing Service", Iis));
        }
    }
    for i in instances(s) {
        let (name, display) = sql_service(&i);
        v.push(svc(&name, &display, Sql));
    }
    v
}

/// The SQL instances the topology places on a machine, in order, once each.
fn instances(s: &Server) -> Vec<String> {
    let mut v: Vec<String> = Vec::new();
    for p in &s.stores {
        if !v.contains(&p.instance) {
            v.push(p.instance.clone());
        }
    }
    v
}

/// The Windows service of a SQL instance (`MSSQL$RTC`; the default instance `MSSQLSERVER`).
pub(crate) fn sql_service(instance: &str) -> (String, String) {
    if instance.is_empty() {
        ("MSSQLSERVER".to_owned(), "SQL Server (MSSQLSERVER)".to_owned())
    } else {
        let up = instance.to_ascii_uppercase();
        (format!("MSSQL${up}"), format!("SQL Server ({up})"))
    }
}

/// The databases of a store. Names from Microsoft's "Database software and clustering
/// support" and back-end high-availability pages (rtcxds, rtcshared, rtcab for the user
/// store; xds and lis for the Central Management store — also the names in the
/// Test-CsDatabase sample of issue10-sources.md §2.1; LcsLog; LcsCDR and QoEMetrics; mgc).
pub(crate) fn database_names(store: &str) -> Vec<String> {
    let names: &[&str] = match store {
        "UserStore" => &["rtcxds", "rtcshared", "rtcab"],
        "ApplicationStore" => &["rgsconfig", "rgsdyn", "cpsdyn"],
        "CentralMgmtStore" => &["xds", "lis"],
        "ArchivingStore" => &["LcsLog"],
        "MonitoringStore" => &["LcsCDR", "QoEMetrics"],
        "PersistentChatStore" => &["mgc"],
        "PersistentChatComplianceStore" => &["mgccomp"],
        _ => &[],
    };
    if names.is_empty() { vec![store.to_ascii_lowercase()] } else { names.iter().map(|n| (*n).to_owned()).collect() }
}

/// The databases of every store placed on a machine, at `schema`.
pub(crate) fn databases(s: &Server, schema: &Build) -> Vec<Database> {
    s.stores
        .iter()
        .flat_map(|p| {
            database_names(&p.role).into_iter().map(|name| Database {
                instance: p.instance.clone(),
                store: p.role.clone(),
                name,
                schema: schema.clone(),
            })
        })
        .collect()
}

/// The installed Skype for Business components (`Get-CsServerPatchVersion`): none on a
/// machine without Skype for Business.
pub(crate) fn components(s: &Server, product: Product, build: &Build) -> Vec<(String, Build)> {
    if !s.sfb_installed {
        return Vec::new();
    }
    let name = product_name(product);
    let mut parts = vec!["Core Components", "Administrative Tools"];
    parts.push(match s.role {
        Role::EnterpriseBackend => "Back End Server",
        Role::Edge => "Edge Server",
        Role::Director => "Director",
        Role::Mediation => "Mediation Server",
        Role::PersistentChat => "Persistent Chat Server",
        _ => "Front End Server",
    });
    parts.into_iter().map(|p| (format!("{name}, {p}"), build.clone())).collect()
}

/// The product's display name.
pub(crate) fn product_name(product: Product) -> &'static str {
    match product {
        Product::Lync2013 => "Lync Server 2013",
        Product::Sfb2015 => "Skype for Business Server 2015",
        Product::Sfb2019 => "Skype for Business Server 2019",
        Product::SfbSe => "Skype for Business Server Subscription Edition",
    }
}
