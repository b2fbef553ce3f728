//! Data-driven tests of topology import and role derivation over the real-format fixtures.

mod common;

use common::{load, load_str};
use sfbpatch_core::example;
use sfbpatch_core::plan::{PlanRequest, plan};
use sfbpatch_core::topology::{self, ErrorKind, Role};

fn roles(t: &topology::Topology) -> Vec<(String, Role)> {
    t.servers.iter().map(|s| (s.fqdn.to_string(), s.role)).collect()
}

/// Step 11 of every entry that has one (Front Ends have none: their databases are their
/// back end's, updated once from a Front End).
fn step11(t: &topology::Topology) -> Vec<(String, String)> {
    let p = plan(t, &PlanRequest::new("SkypeServerUpdateInstaller.exe")).unwrap_or_else(|e| panic!("{e}"));
    p.servers
        .iter()
        .filter_map(|s| {
            let cmd = s.steps.iter().find(|st| st.id.as_str() == "update-databases").and_then(|st| st.command.clone());
            Some((s.fqdn.to_string(), cmd?))
        })
        .collect()
}

fn own(v: &[(&str, Role)]) -> Vec<(String, Role)> {
    v.iter().map(|(f, r)| ((*f).to_owned(), *r)).collect()
}

#[test]
fn enterprise_fixture_has_a_dedicated_back_end_and_a_separate_monitoring_server() {
    let t = load("topology/enterprise.xml");
    assert_eq!(
        roles(&t),
        own(&[
            ("fe01.fabrikam.local", Role::FrontEnd),
            ("fe02.fabrikam.local", Role::FrontEnd),
            ("fe03.fabrikam.local", Role::FrontEnd),
            ("sql01.fabrikam.local", Role::EnterpriseBackend),
            ("sqlmon01.fabrikam.local", Role::SqlStore),
        ])
    );
    let be = t.server("sql01.fabrikam.local").unwrap_or_else(|| panic!("no sql01"));
    assert!(be.collocated_stores.is_empty(), "Monitoring lives on another server: {:?}", be.collocated_stores);
    assert_eq!(be.pools.iter().map(|p| p.as_str()).collect::<Vec<_>>(), ["pool01.fabrikam.local"]);
    assert_eq!(
        step11(&t),
        [
            (
                "sql01.fabrikam.local".to_owned(),
                "Install-CsDatabase -Update -ConfiguredDatabases -SqlServerFqdn 'sql01.fabrikam.local'".to_owned()
            ),
            // The Monitoring store's own SQL Server gets the same command (DOMAIN.md §1a).
            (
                "sqlmon01.fabrikam.local".to_owned(),
                "Install-CsDatabase -Update -ConfiguredDatabases -SqlServerFqdn 'sqlmon01.fabrikam.local'".to_owned()
            )
        ]
    );
}

#[test]
fn collocated_fixture_uses_exclude_collocated_stores() {
    let t = load("topology/enterprise-collocated.xml");
    assert_eq!(
        roles(&t),
        own(&[
            ("fe11.fabrikam.local", Role::FrontEnd),
            ("fe12.fabrikam.local", Role::FrontEnd),
            ("sql02.fabrikam.local", Role::EnterpriseBackend),
        ])
    );
    let be = t.server("sql02.fabrikam.local").unwrap_or_else(|| panic!("no sql02"));
    assert_eq!(be.collocated_stores, ["ArchivingStore", "MonitoringStore"]);
    assert_eq!(
        step11(&t),
        [(
            "sql02.fabrikam.local".to_owned(),
            "Install-CsDatabase -Update -ConfiguredDatabases -SqlServerFqdn 'sql02.fabrikam.local' -ExcludeCollocatedStores"
                .to_owned()
        )]
    );
}

#[test]
fn standard_edition_fixture_uses_local_databases() {
    let t = load("topology/standard-edition.xml");
    assert_eq!(roles(&t), own(&[("se01.fabrikam.local", Role::StandardEdition)]));
    assert_eq!(
        step11(&t),
        [("se01.fabrikam.local".to_owned(), "Install-CsDatabase -Update -LocalDatabases".to_owned())]
    );
    assert_eq!(t.server("se01.fabrikam.local").and_then(|s| s.sql_server_fqdn.clone()), None);
}

#[test]
fn stores_on_another_instance_of_the_same_sql_server_are_collocated() {
    // The example's sql01 hosts UserStore on instance `sfbbe` and Archiving/Monitoring on
    // instance `archmon`: still the same server, so still collocated.
    let t = topology::load(example::NAME, example::TOPOLOGY_XML.as_bytes()).unwrap_or_else(|e| panic!("{e}"));
    let sql01 = t.server("sql01.contoso.local").unwrap_or_else(|| panic!("no sql01"));
    assert_eq!(sql01.role, Role::EnterpriseBackend);
    assert_eq!(sql01.collocated_stores, ["ArchivingStore", "MonitoringStore"]);
    let sql02 = t.server("sql02.contoso.local").unwrap_or_else(|| panic!("no sql02"));
    assert!(
        sql02.collocated_stores.is_empty(),
        "ApplicationStore is the back end's own: {:?}",
        sql02.collocated_stores
    );
    assert_eq!(t.server("edge01.contoso.local").map(|s| s.role), Some(Role::Edge));
    assert_eq!(t.server("se01.contoso.local").map(|s| s.role), Some(Role::StandardEdition));
    let variants: Vec<_> = plan(&t, &PlanRequest::new("SkypeServerUpdateInstaller.exe"))
        .unwrap_or_else(|e| panic!("{e}"))
        .servers
        .iter()
        .filter(|s| s.database_update != "none")
        .map(|s| (s.fqdn.to_string(), s.database_update.clone()))
        .collect();
    assert_eq!(
        variants,
        [
            // Servers that carry SfB first, SQL Servers' databases last (DOMAIN.md §2, "inside out").
            ("se01.contoso.local".to_owned(), "local-databases".to_owned()),
            ("sql01.contoso.local".to_owned(), "exclude-collocated-stores".to_owned()),
            ("sql02.contoso.local".to_owned(), "configured-databases".to_owned()),
        ]
    );
}

#[test]
fn toml_and_xml_give_the_same_model() {
    for name in ["enterprise", "enterprise-collocated", "standard-edition"] {
        let xml = load(&format!("topology/{name}.xml"));
        let toml = load(&format!("topology/{name}.toml"));
        assert_eq!(xml, toml, "{name}");
    }
}

#[test]
fn real_export_quirks_are_tolerated() {
    let original = std::fs::read_to_string(common::testdata("topology/enterprise-collocated.xml"))
        .unwrap_or_else(|e| panic!("{e}"));
    let reference = load("topology/enterprise-collocated.xml");
    // BOM + CRLF + a comment + a foreign namespace with a prefix + reordered attributes.
    let quirky = format!("\u{feff}{}", original.replace('\n', "\r\n"))
        .replace("<Sites>", "<!-- exported by Get-CsTopology -AsXml -->\r\n<Sites xmlns:x=\"urn:other\"><x:Extra a=\"1\"><x:Deep/></x:Extra>")
        .replace(
            "<Cluster RequiresReplication=\"true\" RequiresSetup=\"true\" Fqdn=\"pool02.fabrikam.local\">",
            "<Cluster Fqdn=\"POOL02.fabrikam.local\" RequiresSetup=\"true\" RequiresReplication=\"true\" Unknown=\"x\">",
        );
    let t = load_str("quirky.xml", &quirky).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(t, reference);
    // A prefixed default namespace means the same document.
    let prefixed = original.replace("<Topology xmlns=", "<t:Topology xmlns:t=").replace("</Topology>", "</t:Topology>");
    let prefixed = prefix_topology_elements(&prefixed);
    assert_eq!(load_str("prefixed.xml", &prefixed).unwrap_or_else(|e| panic!("{e}")), reference);
    // UTF-16 LE with BOM, as Windows PowerShell 5.1's Out-File writes it.
    let utf16: Vec<u8> = [0xFF, 0xFE]
        .into_iter()
        .chain(original.replace("utf-8", "utf-16").encode_utf16().flat_map(u16::to_le_bytes))
        .collect();
    assert_eq!(topology::load("utf16.xml", &utf16).unwrap_or_else(|e| panic!("{e}")), reference);
}

/// Prefixes every element of the topology namespace with `t:` (elements in other namespaces,
/// which declare their own default, keep theirs).
fn prefix_topology_elements(doc: &str) -> String {
    let mut out = String::new();
    let mut rest = doc;
    while let Some(i) = rest.find('<') {
        out.push_str(&rest[..i]);
        rest = &rest[i..];
        let tail = &rest[1..];
        let (slash, name_start) = if let Some(t) = tail.strip_prefix('/') { ("/", t) } else { ("", tail) };
        let starts_name = name_start.chars().next().is_some_and(|c| c.is_ascii_uppercase());
        let foreign = name_start.starts_with("Ports") || name_start.starts_with("RegistrarService");
        if starts_name && !foreign {
            out.push('<');
            out.push_str(slash);
            out.push_str("t:");
            rest = name_start;
        } else {
            out.push('<');
            rest = tail;
        }
    }
    out.push_str(rest);
    out
}

fn kinds(r: Result<topology::Topology, topology::TopologyErrors>) -> Vec<(u32, ErrorKind)> {
    match r {
        Ok(_) => panic!("accepted"),
        Err(e) => e.0.into_iter().map(|e| (e.pos.line, e.kind)).collect(),
    }
}

fn fixture_with(from: &str, to: &str) -> String {
    let original =
        std::fs::read_to_string(common::testdata("topology/enterprise.xml")).unwrap_or_else(|e| panic!("{e}"));
    assert!(original.contains(from), "fixture lacks {from:?}");
    original.replacen(from, to, 1)
}

#[test]
fn shell_metacharacters_in_a_machine_name_are_refused_with_the_line() {
    for bad in [
        "sql01.fabrikam.local'; Remove-Item C:\\ -Recurse #",
        "sql01 .fabrikam.local",
        "sql$01.fabrikam.local",
        "sql01`.fabrikam.local",
        "sql01;.x",
        "sql01\".x",
    ] {
        let doc = fixture_with(
            "Machine OrdinalInCluster=\"1\" Fqdn=\"sql01.fabrikam.local\"",
            &format!("Machine OrdinalInCluster=\"1\" Fqdn=\"{}\"", bad.replace('"', "&quot;")),
        );
        let ks = kinds(load_str("bad.xml", &doc));
        assert!(
            ks.iter().any(|(line, k)| *line == 27 && matches!(k, ErrorKind::InvalidFqdn { .. })),
            "{bad:?}: {ks:?}"
        );
    }
}

#[test]
fn unresolved_references_are_reported_where_they_are() {
    let ks = kinds(load_str(
        "x.xml",
        &fixture_with(
            "<ClusterId SiteId=\"1\" Number=\"3\" />\n      </SqlInstanceId>",
            "<ClusterId SiteId=\"1\" Number=\"9\" />\n      </SqlInstanceId>",
        ),
    ));
    assert!(ks.iter().any(|(_, k)| matches!(k, ErrorKind::UnknownCluster { id } if id == "1:9")), "{ks:?}");

    let ks = kinds(load_str(
        "x.xml",
        &fixture_with(
            "<SqlInstanceId Name=\"mon\">\n          <ClusterId SiteId=\"1\" Number=\"3\" />",
            "<SqlInstanceId Name=\"nope\">\n          <ClusterId SiteId=\"1\" Number=\"3\" />",
        ),
    ));
    assert!(ks.iter().any(|(_, k)| matches!(k, ErrorKind::UnknownSqlInstance { .. })), "{ks:?}");

    let ks = kinds(load_str(
        "x.xml",
        &fixture_with(
            "<ServiceId SiteId=\"1\" RoleName=\"UserStore\" Instance=\"1\" />\n        </Dependency>",
            "<ServiceId SiteId=\"1\" RoleName=\"UserStore\" Instance=\"7\" />\n        </Dependency>",
        ),
    ));
    assert!(
        ks.iter()
            .any(|(line, k)| *line == 64 && matches!(k, ErrorKind::UnknownService { id } if id == "1:UserStore:7")),
        "{ks:?}"
    );
}

#[test]
fn duplicate_machines_are_refused() {
    let doc = fixture_with("Fqdn=\"fe02.fabrikam.local\" FaultDomain", "Fqdn=\"fe01.fabrikam.local\" FaultDomain");
    let ks = kinds(load_str("dup.xml", &doc));
    assert!(
        ks.iter().any(
            |(_, k)| matches!(k, ErrorKind::DuplicateMachine { fqdn, first_line: 15 } if fqdn == "fe01.fabrikam.local")
        ),
        "{ks:?}"
    );
}

#[test]
fn entity_bombs_and_dtds_are_refused() {
    let bomb = r#"<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>
<Topology xmlns="urn:schema:Microsoft.Rtc.Management.Deploy.Topology.2008">&lol3;</Topology>"#;
    let ks = kinds(load_str("bomb.xml", bomb));
    assert!(matches!(ks.as_slice(), [(_, ErrorKind::DtdRefused)]), "{ks:?}");
}

#[test]
fn deep_nesting_is_refused_without_recursion() {
    let depth = 200_000;
    let doc = format!("{}{}", "<a>".repeat(depth), "</a>".repeat(depth));
    let ks = kinds(load_str("deep.xml", &doc));
    assert!(matches!(ks.as_slice(), [(1, ErrorKind::TooDeep { .. })]), "{ks:?}");
}

#[test]
fn oversized_input_is_refused_before_parsing() {
    let big = vec![b' '; (topology::text::MAX_BYTES + 1) as usize];
    let ks = kinds(topology::load("big.xml", &big));
    assert!(matches!(ks.as_slice(), [(0, ErrorKind::TooLarge { .. })]), "{ks:?}");
}

#[test]
fn binary_garbage_is_refused() {
    let garbage: Vec<u8> = (0..4096u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
    let ks = kinds(topology::load("garbage.bin", &garbage));
    assert!(matches!(ks.as_slice(), [(_, ErrorKind::NotText)]), "{ks:?}");
}

#[test]
fn malformed_xml_reports_line_and_column() {
    let doc = fixture_with("<Name>Lisboa</Name>", "<Name>Lisboa</Nam>");
    let ks = kinds(load_str("broken.xml", &doc));
    assert!(matches!(ks.as_slice(), [(8, ErrorKind::Xml { .. })]), "{ks:?}");
}

#[test]
fn wrong_root_is_not_a_topology() {
    let ks = kinds(load_str("x.xml", "<Topology><Sites/></Topology>"));
    assert!(matches!(ks.as_slice(), [(1, ErrorKind::NotATopology { .. })]), "{ks:?}");
}

#[test]
fn toml_errors_name_the_line() {
    let ks = kinds(load_str(
        "t.toml",
        "[[site]]\nid = 1\n\n[[pool]]\nfqdn = \"pool01.contoso.local\"\nsite = 1\nbogus = 3\n",
    ));
    assert!(matches!(ks.as_slice(), [(_, ErrorKind::Toml { .. })]), "{ks:?}");
    let ks = kinds(load_str(
        "t.toml",
        "[[site]]\nid = 1\n\n[[pool]]\nfqdn = \"pool01.contoso.local\"\nsite = 1\nuser_store = { sql_server = \"nosuch.contoso.local\", instance = \"a\" }\n",
    ));
    assert!(matches!(ks.as_slice(), [(7, ErrorKind::UnknownServer { .. })]), "{ks:?}");
    let ks = kinds(load_str("t.toml", "[[site]]\nid = 1\n\n[[pool]]\nfqdn = \"pool01;rm.contoso.local\"\nsite = 1\n"));
    assert!(ks.iter().any(|(line, k)| *line == 5 && matches!(k, ErrorKind::InvalidFqdn { .. })), "{ks:?}");
}

#[test]
fn every_error_renders_in_both_languages_without_missing_keys() {
    let cases = [
        load_str("a.xml", "<Topology><Sites/></Topology>"),
        load_str("b.xml", "<x"),
        load_str("c.toml", "x = "),
        topology::load("d.bin", &[0, 1, 2]),
        load_str(
            "e.xml",
            &fixture_with("Fqdn=\"fe02.fabrikam.local\" FaultDomain", "Fqdn=\"fe01.fabrikam.local\" FaultDomain"),
        ),
        load_str(
            "f.xml",
            &fixture_with(
                "Machine OrdinalInCluster=\"1\" Fqdn=\"sql01.fabrikam.local\"",
                "Machine OrdinalInCluster=\"1\" Fqdn=\"a b\"",
            ),
        ),
    ];
    for r in cases {
        let Err(errs) = r else { panic!("accepted") };
        for e in errs.0 {
            for lang in sfbpatch_core::Lang::ALL {
                let m = e.render(lang);
                assert!(!m.contains('⟦') && !m.contains('{'), "{lang}: {m}");
            }
        }
    }
}

/// A host whose name is no FQDN is reported as that, first, even when a reference to it does
/// not resolve (the TOML reader used to stop at the reference: "sql01.contoso.local is
/// referenced but defined by no [[pool]]…", never saying what is wrong with the name).
#[test]
fn an_invalid_host_name_is_reported_before_the_references_that_miss_it() {
    for bad in ["sql01\\\".contoso.local", "sql01\\u0007.contoso.local"] {
        let t = format!(
            "[[site]]\nid = 1\n\n[[pool]]\nfqdn = \"pool01.contoso.local\"\nsite = 1\nuser_store = {{ sql_server = \"sql01.contoso.local\", instance = \"a\" }}\n\n[[sql_server]]\nfqdn = \"{bad}\"\nsite = 1\n"
        );
        let ks = kinds(load_str("t.toml", &t));
        assert!(matches!(ks.first(), Some((9, ErrorKind::InvalidFqdn { .. }))), "{bad}: {ks:?}");
    }
    // A machine's name too, at its own line.
    let t = "[[site]]\nid = 1\n\n[[pool]]\nfqdn = \"pool01.contoso.local\"\nsite = 1\nmachines = [\n  \"fe01;x.contoso.local\",\n]\nuser_store = { sql_server = \"nosuch.contoso.local\", instance = \"a\" }\n";
    let ks = kinds(load_str("t.toml", t));
    assert!(matches!(ks.first(), Some((8, ErrorKind::InvalidFqdn { .. }))), "{ks:?}");
}
