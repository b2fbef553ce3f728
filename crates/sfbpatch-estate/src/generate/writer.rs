//! The writer of the real export's elements: clusters (Edge machines as the exports write
//! them), SQL instances and services with their dependencies.

use std::fmt::Write as _;

pub(super) const NS_ROLES: &str = "urn:schema:Microsoft.Rtc.Management.Deploy.ServiceRoles.2008";
const REGISTRAR_TYPE: &str = "Microsoft.Rtc.Management.Deploy.Internal.ServiceRoles.RegistrarService";

pub(super) struct Writer {
    pub(super) clusters: String,
    pub(super) sql: String,
    pub(super) services: String,
    /// The next cluster number per site (index 0 unused).
    pub(super) number: Vec<u32>,
}

impl Writer {
    pub(super) fn cluster(&mut self, site: usize, fqdn: &str, setup: bool, machines: &[String]) -> u32 {
        self.cluster_of(site, fqdn, setup, machines, false)
    }

    /// A cluster; an Edge's machines (`edge`) are written as the bundled example
    /// (crates/sfbpatch-core/data/example-topology.xml, `edgepool01`) and Contoso.tbxml write
    /// them: no `FaultDomain`/`UpgradeDomain`, an `Internal` and an `External` interface
    /// (docs/research/issue12-roles.md §2, "Other shape facts").
    pub(super) fn cluster_of(&mut self, site: usize, fqdn: &str, setup: bool, machines: &[String], edge: bool) -> u32 {
        self.number[site] += 1;
        let n = self.number[site];
        let _ = write!(
            self.clusters,
            "<Cluster RequiresReplication=\"{setup}\" RequiresSetup=\"{setup}\" Fqdn=\"{fqdn}\"><ClusterId SiteId=\"{site}\" Number=\"{n}\" />"
        );
        for (i, m) in machines.iter().enumerate() {
            if edge {
                let _ = write!(
                    self.clusters,
                    "<Machine OrdinalInCluster=\"{}\" Fqdn=\"{m}\"><NetInterface InterfaceSide=\"Internal\" InterfaceNumber=\"1\" IPAddress=\"0.0.0.0\" /><NetInterface InterfaceSide=\"External\" InterfaceNumber=\"1\" IPAddress=\"0.0.0.0\" /></Machine>",
                    i + 1
                );
                continue;
            }
            let _ = write!(
                self.clusters,
                "<Machine OrdinalInCluster=\"{}\" Fqdn=\"{m}\" FaultDomain=\"{m}\" UpgradeDomain=\"{m}\"><NetInterface InterfaceSide=\"Primary\" InterfaceNumber=\"1\" IPAddress=\"0.0.0.0\" /></Machine>",
                i + 1
            );
        }
        self.clusters.push_str("</Cluster>\n");
        n
    }

    pub(super) fn sql_instance(&mut self, site: usize, number: u32, name: &str) {
        let _ = writeln!(
            self.sql,
            "<SqlInstance><SqlInstanceId Name=\"{name}\"><ClusterId SiteId=\"{site}\" Number=\"{number}\" /></SqlInstanceId></SqlInstance>"
        );
    }

    /// A service; `depends` are `(usage, site, role, instance)`.
    pub(super) fn service(
        &mut self,
        id: (usize, &str, &str),
        depends: &[(&str, usize, &str, String)],
        on: &str,
        extra: &str,
    ) {
        let (site, role, instance) = id;
        let ty = if role == "Registrar" { format!(" Type=\"{REGISTRAR_TYPE}\"") } else { String::new() };
        let _ = write!(
            self.services,
            "<Service RoleVersion=\"1\" ServiceVersion=\"8\"{ty}><ServiceId SiteId=\"{site}\" RoleName=\"{role}\" Instance=\"{instance}\" /><DependsOn>"
        );
        for (usage, s, r, i) in depends {
            let _ = write!(
                self.services,
                "<Dependency Usage=\"{usage}\"><ServiceId SiteId=\"{s}\" RoleName=\"{r}\" Instance=\"{i}\" /></Dependency>"
            );
        }
        let _ = writeln!(self.services, "</DependsOn>{on}<Ports xmlns=\"{NS_ROLES}\" />{extra}</Service>");
    }
}

pub(super) fn on_cluster(site: usize, number: u32) -> String {
    format!("<InstalledOn><ClusterId SiteId=\"{site}\" Number=\"{number}\" /></InstalledOn>")
}

pub(super) fn on_sql(site: usize, number: u32, name: &str) -> String {
    format!(
        "<InstalledOn><SqlInstanceId Name=\"{name}\"><ClusterId SiteId=\"{site}\" Number=\"{number}\" /></SqlInstanceId></InstalledOn>"
    )
}
