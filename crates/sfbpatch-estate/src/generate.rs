//! Generated topologies, in the real `Get-CsTopology -AsXml` format, for benchmarks and
//! tests at scale.

//!
//! Here: [`topology_xml`], a plain estate of Enterprise and Standard Edition pools;
//! `scale`: the scale estate of a [`Spec`] ([`estate`]); `writer`: the elements both write.

use std::fmt::Write as _;

mod scale;
mod writer;

pub use scale::{PAIR_USAGE, Spec, estate};

/// A topology with `enterprise` Enterprise pools (two Front Ends and a SQL-only back end
/// each, `RequiresSetup="false"`; every third back end also hosts a Monitoring store) and
/// `standard` Standard Edition servers, spread over sites of 50 pools.
pub fn topology_xml(enterprise: usize, standard: usize) -> String {
    let mut clusters = String::new();
    let mut sql = String::new();
    let mut services = String::new();
    let site_of = |i: usize| i / 50 + 1;
    let sites = (enterprise + standard) / 50 + 1;
    let mut number = vec![0u32; sites + 1];
    let mut next = |site: usize| {
        number[site] += 1;
        number[site]
    };
    let machine = |fqdn: &str| {
        format!("<Machine OrdinalInCluster=\"1\" Fqdn=\"{fqdn}\" FaultDomain=\"{fqdn}\" UpgradeDomain=\"{fqdn}\" />")
    };
    for i in 0..enterprise + standard {
        let site = site_of(i);
        let pool_no = next(site);
        if i < enterprise {
            let pool = format!("pool{i:04}.contoso.local");
            let be = format!("sql{i:04}.contoso.local");
            let be_no = next(site);
            let _ = writeln!(
                clusters,
                "<Cluster RequiresSetup=\"true\" Fqdn=\"{pool}\"><ClusterId SiteId=\"{site}\" Number=\"{pool_no}\" />{}{}</Cluster>",
                machine(&format!("fe{i:04}a.contoso.local")),
                machine(&format!("fe{i:04}b.contoso.local"))
            );
            let _ = writeln!(
                clusters,
                "<Cluster RequiresSetup=\"false\" Fqdn=\"{be}\"><ClusterId SiteId=\"{site}\" Number=\"{be_no}\" />{}</Cluster>",
                machine(&be)
            );
            let _ = writeln!(
                sql,
                "<SqlInstance><SqlInstanceId Name=\"sfbbe\"><ClusterId SiteId=\"{site}\" Number=\"{be_no}\" /></SqlInstanceId></SqlInstance>"
            );
            let on_sql = format!(
                "<InstalledOn><SqlInstanceId Name=\"sfbbe\"><ClusterId SiteId=\"{site}\" Number=\"{be_no}\" /></SqlInstanceId></InstalledOn>"
            );
            let _ = writeln!(
                services,
                "<Service><ServiceId SiteId=\"{site}\" RoleName=\"UserStore\" Instance=\"{i}\" /><DependsOn />{on_sql}</Service>"
            );
            if i % 3 == 0 {
                let _ = writeln!(
                    services,
                    "<Service><ServiceId SiteId=\"{site}\" RoleName=\"MonitoringStore\" Instance=\"{i}\" /><DependsOn />{on_sql}</Service>"
                );
            }
            let _ = writeln!(
                services,
                "<Service><ServiceId SiteId=\"{site}\" RoleName=\"UserServices\" Instance=\"{i}\" /><DependsOn><Dependency><ServiceId SiteId=\"{site}\" RoleName=\"UserStore\" Instance=\"{i}\" /></Dependency></DependsOn><InstalledOn><ClusterId SiteId=\"{site}\" Number=\"{pool_no}\" /></InstalledOn></Service>"
            );
        } else {
            let se = format!("se{i:04}.contoso.local");
            let _ = writeln!(
                clusters,
                "<Cluster RequiresSetup=\"true\" Fqdn=\"{se}\"><ClusterId SiteId=\"{site}\" Number=\"{pool_no}\" />{}</Cluster>",
                machine(&se)
            );
            let _ = writeln!(
                sql,
                "<SqlInstance><SqlInstanceId Name=\"rtc\"><ClusterId SiteId=\"{site}\" Number=\"{pool_no}\" /></SqlInstanceId></SqlInstance>"
            );
            let _ = writeln!(
                services,
                "<Service><ServiceId SiteId=\"{site}\" RoleName=\"UserStore\" Instance=\"{i}\" /><DependsOn /><InstalledOn><SqlInstanceId Name=\"rtc\"><ClusterId SiteId=\"{site}\" Number=\"{pool_no}\" /></SqlInstanceId></InstalledOn></Service>\n<Service><ServiceId SiteId=\"{site}\" RoleName=\"UserServices\" Instance=\"{i}\" /><DependsOn><Dependency><ServiceId SiteId=\"{site}\" RoleName=\"UserStore\" Instance=\"{i}\" /></Dependency></DependsOn><InstalledOn><ClusterId SiteId=\"{site}\" Number=\"{pool_no}\" /></InstalledOn></Service>"
            );
        }
    }
    let mut site_xml = String::new();
    for s in 1..=sites {
        let _ = write!(site_xml, "<CentralSite SiteId=\"{s}\"><Name>Site {s}</Name></CentralSite>");
    }
    format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<Topology xmlns=\"urn:schema:Microsoft.Rtc.Management.Deploy.Topology.2008\">\n<Sites>{site_xml}</Sites>\n<Clusters>\n{clusters}</Clusters>\n<SqlInstances>\n{sql}</SqlInstances>\n<Services>\n{services}</Services>\n</Topology>\n"
    )
}

#[cfg(test)]
mod tests;
