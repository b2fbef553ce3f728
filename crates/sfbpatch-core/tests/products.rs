//! Products per server (issue 11, item 5): read from the topology (the export's
//! `ServiceVersion`, the TOML format's `product`), `--product` as an override, and each
//! server's commands from its own product (docs/research/issue11-products.md).

mod common;

use sfbpatch_core::plan::{PlanRequest, plan};
use sfbpatch_core::runbook::{Product, StepId};
use sfbpatch_core::scope::Runbook;
use sfbpatch_core::script;
use sfbpatch_i18n::Lang;

fn product_of(t: &sfbpatch_core::topology::Topology, fqdn: &str) -> Option<Product> {
    t.server(fqdn).unwrap_or_else(|| panic!("no {fqdn}")).product
}

#[test]
fn the_export_says_each_servers_product_by_service_version() {
    let t = common::load("topology/mixed-lync2013.xml");
    for (fqdn, want) in [
        ("fe01.contoso.local", Product::Sfb2019),
        ("se01.contoso.local", Product::Sfb2019),
        ("sql01.contoso.local", Product::Sfb2019),
        ("fe11.contoso.local", Product::Lync2013),
        ("fe12.contoso.local", Product::Lync2013),
        // A SQL-only back end: from its stores' services.
        ("sql02.contoso.local", Product::Lync2013),
    ] {
        assert_eq!(product_of(&t, fqdn), Some(want), "{fqdn}");
    }
    // The bundled fixtures are SfB 2019 exports (ServiceVersion 8).
    let e = common::load("topology/enterprise.xml");
    assert!(e.servers.iter().all(|s| s.product == Some(Product::Sfb2019)));
}

#[test]
fn an_export_without_service_versions_keeps_the_default_with_a_warning() {
    let xml =
        std::fs::read_to_string(common::testdata("topology/standard-edition.xml")).unwrap_or_else(|e| panic!("{e}"));
    let bare = xml.replace(" ServiceVersion=\"8\"", "");
    assert_ne!(bare, xml, "fixture changed");
    let t = common::load_str("bare.xml", &bare).unwrap_or_else(|e| panic!("{e}"));
    assert!(t.servers.iter().all(|s| s.product.is_none()));
    let p = plan(&t, &PlanRequest::new("SkypeServerUpdateInstaller.exe")).unwrap_or_else(|e| panic!("{e}"));
    for s in &p.servers {
        assert_eq!(s.product, Product::Sfb2019, "{}", s.fqdn);
        let w = s.warnings.iter().find(|w| w.code == "product-unknown").unwrap_or_else(|| panic!("{}", s.fqdn));
        assert!(w.message.contains(s.fqdn.as_str()) && w.message.contains("sfb2019"), "{}", w.message);
    }
    // An override says it: no warning.
    let mut req = PlanRequest::new("SkypeServerUpdateInstaller.exe");
    req.product = Some(Product::Sfb2015);
    let p = plan(&t, &req).unwrap_or_else(|e| panic!("{e}"));
    assert!(
        p.servers
            .iter()
            .all(|s| s.product == Product::Sfb2015 && s.warnings.iter().all(|w| w.code != "product-unknown"))
    );
}

#[test]
fn the_toml_format_names_a_product_and_refuses_an_unknown_one() {
    let toml = "[[site]]\nid = 1\nname = \"A\"\n\n[[pool]]\nfqdn = \"se01.contoso.local\"\nsite = 1\nproduct = \"lync2013\"\nuser_store = { sql_server = \"se01.contoso.local\", instance = \"rtc\" }\n";
    let t = common::load_str("t.toml", toml).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(product_of(&t, "se01.contoso.local"), Some(Product::Lync2013));
    let bad = toml.replace("lync2013", "lync2010");
    let e = match common::load_str("t.toml", &bad) {
        Ok(_) => panic!("lync2010 accepted"),
        Err(e) => e.to_string(),
    };
    assert!(e.contains("t.toml:8") && e.contains("lync2010") && e.contains("sfb2019"), "{e}");
}

fn verify_command(p: &sfbpatch_core::plan::Plan, fqdn: &str) -> String {
    let s = p.servers.iter().find(|s| s.fqdn.as_str() == fqdn).unwrap_or_else(|| panic!("no {fqdn}"));
    let v = s.steps.iter().find(|st| st.id == StepId::Verify).unwrap_or_else(|| panic!("{fqdn}: no verify"));
    v.command.clone().unwrap_or_default()
}

#[test]
fn each_server_gets_its_own_products_commands() {
    let t = common::load("topology/mixed-lync2013.xml");
    let p = plan(&t, &PlanRequest::new("SkypeServerUpdateInstaller.exe")).unwrap_or_else(|e| panic!("{e}"));
    let lync = verify_command(&p, "fe11.contoso.local");
    assert_eq!(
        lync,
        "Get-CsWindowsService; Get-Service -Name 'W3SVC'; Get-ItemProperty -Path 'HKLM:\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Uninstall\\*'"
    );
    assert!(sfbpatch_pwsh::syntax::parse(&lync).is_ok());
    assert!(verify_command(&p, "fe01.contoso.local").ends_with("; Get-CsServerPatchVersion"));
    for s in &p.servers {
        let lync = s.product == Product::Lync2013;
        let all: Vec<&str> = s.steps.iter().filter_map(|st| st.command.as_deref()).collect();
        let has = |c: &str| all.iter().any(|x| x.contains(c));
        if lync {
            for never in ["Get-CsServerPatchVersion", "Invoke-CsComputerFailOver", "Invoke-CsComputerFailBack"] {
                assert!(!has(never), "{}: {never}", s.fqdn);
            }
        } else if s.runbook == Runbook::FrontEnd {
            assert!(has("Invoke-CsComputerFailOver") && has("Get-CsServerPatchVersion"), "{}", s.fqdn);
        }
        match (s.role, lync) {
            (sfbpatch_core::topology::Role::FrontEnd, true) => assert_eq!(s.runbook, Runbook::LyncFrontEnd),
            (sfbpatch_core::topology::Role::FrontEnd, false) => assert_eq!(s.runbook, Runbook::FrontEnd),
            _ => {}
        }
        let open = s.steps.iter().find(|st| st.id == StepId::OpenShell).and_then(|st| st.command.clone());
        if s.runbook != Runbook::BackendDatabases {
            assert_eq!(
                open.as_deref(),
                Some(if lync { "Import-Module 'Lync'" } else { "Import-Module 'SkypeForBusiness'" })
            );
        }
    }
    // Lync Server 2013 Front Ends: Microsoft's Lync 2013 procedure, no users' outage window.
    let fe11 = p.servers.iter().find(|s| s.fqdn.as_str() == "fe11.contoso.local").unwrap_or_else(|| panic!("fe11"));
    let ids: Vec<&str> = fe11.steps.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(
        ids,
        [
            "check-role",
            "stage-package",
            "open-shell",
            "fabric-check",
            "readiness",
            "stop-services",
            "stop-w3svc",
            "close-shells",
            "install-update",
            "reopen-shell",
            "stop-services-again",
            "start-w3svc",
            "start-services",
            "verify"
        ]
    );
    assert_eq!(fe11.estimated_outage_minutes, 0.0);
    assert!(fe11.warnings.iter().any(|w| w.code == "unexpected-installer-name"), "an SfB package for a Lync server");
    // A failure once its services are stopped: they are started again, and read back.
    let rec = fe11.recovery(StepId::InstallUpdate);
    assert_eq!(rec.first().map(String::as_str), Some("net start w3svc"));
    assert_eq!(rec.get(1).map(String::as_str), Some("Start-CsWindowsService"));
    assert!(rec.last().is_some_and(|c| c.contains("Uninstall")), "{rec:?}");
    assert!(fe11.recovery(StepId::Readiness).is_empty(), "nothing stopped yet");
    // The database update of its back end runs from a Lync Front End, as Lync.
    let sql02 = p.servers.iter().find(|s| s.fqdn.as_str() == "sql02.contoso.local").unwrap_or_else(|| panic!("sql02"));
    assert_eq!(sql02.product, Product::Lync2013);
    assert_eq!(p.products(), [Product::Sfb2019, Product::Lync2013]);
}

#[test]
fn the_override_gives_every_server_lync_2013s_commands() {
    let t = common::load("topology/enterprise.xml");
    let mut req = PlanRequest::new("LyncServerUpdateInstaller.exe");
    req.product = Some(Product::Lync2013);
    let p = plan(&t, &req).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(p.product, Product::Lync2013);
    assert_eq!(p.products(), [Product::Lync2013]);
    for s in &p.servers {
        assert_eq!(s.product, Product::Lync2013, "{}", s.fqdn);
        let text: String = s.steps.iter().filter_map(|st| st.command.clone()).collect::<Vec<_>>().join("\n");
        assert!(
            !text.contains("Get-CsServerPatchVersion") && !text.contains("Invoke-CsComputer"),
            "{}: {text}",
            s.fqdn
        );
        assert!(s.warnings.iter().all(|w| w.code != "unexpected-installer-name"), "{}", s.fqdn);
        // Its standalone script parses and has none of them either.
        let sc = script::render(&p, s, Lang::En, None);
        assert!(sfbpatch_pwsh::syntax::parse(&sc).is_ok(), "{}", s.fqdn);
        let code: Vec<&str> = sc.lines().filter(|l| !l.trim_start().starts_with('#')).collect();
        let code = code.join("\n");
        assert!(
            !code.contains("Get-CsServerPatchVersion") && !code.contains("Invoke-CsComputerFailOver"),
            "{}",
            s.fqdn
        );
        if s.runbook != Runbook::BackendDatabases {
            assert!(code.contains("Get-ItemProperty -Path 'HKLM:\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Uninstall\\*' | Where-Object"), "{}", s.fqdn);
        }
    }
}
