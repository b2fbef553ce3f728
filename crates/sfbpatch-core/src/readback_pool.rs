//! Reading back what the pool and database cmdlets print (PowerShell's list formatting,
//! `Name : Value` lines, a blank line between objects): `Test-CsDatabase`,
//! `Get-CsPoolUpgradeReadinessState`, `Get-CsPoolFabricState`. The same parsers serve the
//! simulator's output and a real server's. Sources: docs/research/issue10-sources.md §2.

/// The `Name : Value` objects of PowerShell's list formatting, in order.
pub fn list_objects(text: &str) -> Vec<Vec<(String, String)>> {
    let mut out: Vec<Vec<(String, String)>> = Vec::new();
    let mut cur: Vec<(String, String)> = Vec::new();
    for line in text.lines() {
        if line.trim().is_empty() {
            if !cur.is_empty() {
                out.push(std::mem::take(&mut cur));
            }
            continue;
        }
        match line.split_once(" : ").or_else(|| line.trim_end().strip_suffix(" :").map(|n| (n, ""))) {
            Some((name, value)) if !name.trim().is_empty() && !name.trim().contains(' ') => {
                cur.push((name.trim().to_owned(), value.trim().to_owned()));
            }
            // A wrapped value continues the previous property.
            _ => {
                if let Some(last) = cur.last_mut() {
                    last.1.push(' ');
                    last.1.push_str(line.trim());
                }
            }
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

fn field<'a>(obj: &'a [(String, String)], name: &str) -> Option<&'a str> {
    obj.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
}

/// One database as `Test-CsDatabase` reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DatabaseState {
    /// `SqlServerFqdn`.
    pub sql_server_fqdn: String,
    /// `SqlInstanceName`.
    pub instance: String,
    /// `DatabaseName`.
    pub database: String,
    /// `ExpectedVersion`.
    pub expected: String,
    /// `InstalledVersion` (Microsoft's own sample leaves it blank on success).
    pub installed: String,
    /// `Succeed`: the database is at the expected version.
    pub current: bool,
    /// `MirrorSqlServerFqdn`: the mirror, when the database is mirrored (empty otherwise).
    pub mirror: String,
}

/// Every database in `Test-CsDatabase` output.
pub fn parse_test_database(text: &str) -> Vec<DatabaseState> {
    list_objects(text)
        .into_iter()
        .filter_map(|o| {
            let database = field(&o, "DatabaseName")?.to_owned();
            Some(DatabaseState {
                sql_server_fqdn: field(&o, "SqlServerFqdn").unwrap_or("").to_ascii_lowercase(),
                instance: field(&o, "SqlInstanceName").unwrap_or("").to_ascii_lowercase(),
                database,
                expected: field(&o, "ExpectedVersion").unwrap_or("").to_owned(),
                installed: field(&o, "InstalledVersion").unwrap_or("").to_owned(),
                current: field(&o, "Succeed").is_some_and(|v| v.eq_ignore_ascii_case("True")),
                mirror: field(&o, "MirrorSqlServerFqdn").unwrap_or("").to_ascii_lowercase(),
            })
        })
        .collect()
}

/// `PoolUpgradeState` of `Get-CsPoolUpgradeReadinessState`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PoolUpgradeState {
    /// The pool can take a server out now.
    Ready,
    /// Try again in about 10 minutes (three Busy in a row: the pool has a problem).
    Busy,
    /// Too few Front Ends run: the pool has a problem.
    InsufficientActiveFrontEnds,
}

/// The pool's upgrade state, if the output has one.
pub fn parse_readiness(text: &str) -> Option<PoolUpgradeState> {
    list_objects(text).iter().find_map(|o| match field(o, "PoolUpgradeState")?.to_ascii_lowercase().as_str() {
        "ready" => Some(PoolUpgradeState::Ready),
        "busy" => Some(PoolUpgradeState::Busy),
        "insufficientactivefrontends" => Some(PoolUpgradeState::InsufficientActiveFrontEnds),
        _ => None,
    })
}

/// Missing replicas in `Get-CsPoolFabricState` output. Microsoft documents the check ("if
/// this cmdlet shows any missing replicas") but publishes no sample of the output; this reads
/// any line that says "missing replica" with a non-zero count, or a `MissingReplicas` property
/// above zero. UNVERIFIED against a real pool: output it does not understand counts as no
/// missing replica, so the check rests on the cmdlet succeeding (the engine requires exit 0)
/// and on the pool's readiness asked next.
pub fn missing_replicas(text: &str) -> usize {
    let mut n = 0;
    for o in list_objects(text) {
        if let Some(v) = field(&o, "MissingReplicas") {
            n += v.trim().parse::<usize>().unwrap_or(0);
        }
    }
    for line in text.lines() {
        let l = line.to_ascii_lowercase();
        if l.contains("missing replica") && !l.contains("missingreplicas") {
            n += l.split(|c: char| !c.is_ascii_digit()).filter_map(|d| d.parse::<usize>().ok()).next().unwrap_or(1);
        }
    }
    n
}

/// How many Front Ends of a pool of `n` must run for it to keep quorum (DOMAIN.md §2, from
/// Microsoft's Front End pool quorum table: 2 → 1, 3–4 → 2, 5–6 → 3, 7 → 4, 8–9 → 4 of the
/// first 7, 10–12 → 5 of the first 9, 13–16 → 7 of the first 12).
pub fn quorum(n: usize) -> usize {
    match n {
        0 => 0,
        1 | 2 => 1,
        3 | 4 => 2,
        5 | 6 => 3,
        7..=9 => 4,
        10..=12 => 5,
        _ => 7,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEST_DB: &str = "\nSqlServerFqdn         : sql01.contoso.local\nSqlInstanceName       : rtc\nMirrorSqlServerFqdn   :\nMirrorSqlInstanceName :\nDatabaseName          : rtcxds\nDataSource            : sql01.contoso.local\\rtc\nSQLServerVersion      : 13.0.5026\nExpectedVersion       : 15.13.13\nInstalledVersion      : 15.13.12\nSucceed               : False\n\nSqlServerFqdn         : sql01.contoso.local\nSqlInstanceName       : rtc\nMirrorSqlServerFqdn   :\nMirrorSqlInstanceName :\nDatabaseName          : rtcshared\nDataSource            : sql01.contoso.local\\rtc\nSQLServerVersion      : 13.0.5026\nExpectedVersion       : 5.0.1\nInstalledVersion      :\nSucceed               : True\n";

    #[test]
    fn test_csdatabase_lists_each_database() {
        let d = parse_test_database(TEST_DB);
        assert_eq!(d.len(), 2);
        assert_eq!(d[0].database, "rtcxds");
        assert_eq!((d[0].expected.as_str(), d[0].installed.as_str(), d[0].current), ("15.13.13", "15.13.12", false));
        assert_eq!((d[1].database.as_str(), d[1].installed.as_str(), d[1].current), ("rtcshared", "", true));
        assert_eq!(d[1].sql_server_fqdn, "sql01.contoso.local");
        assert_eq!(d[0].mirror, "", "an empty property is not a mirror");
        let mirrored = TEST_DB.replacen("MirrorSqlServerFqdn   :", "MirrorSqlServerFqdn   : sqlm01.contoso.local", 1);
        assert_eq!(parse_test_database(&mirrored)[0].mirror, "sqlm01.contoso.local");
        assert!(parse_test_database("").is_empty());
    }

    #[test]
    fn readiness_states() {
        let t = |s: &str| {
            format!("PoolFqdn         : pool01.contoso.local\nPoolUpgradeState : {s}\nUpgradeDomains   : {{}}\n")
        };
        assert_eq!(parse_readiness(&t("Ready")), Some(PoolUpgradeState::Ready));
        assert_eq!(parse_readiness(&t("Busy")), Some(PoolUpgradeState::Busy));
        assert_eq!(
            parse_readiness(&t("InsufficientActiveFrontEnds")),
            Some(PoolUpgradeState::InsufficientActiveFrontEnds)
        );
        assert_eq!(parse_readiness("nothing"), None);
    }

    #[test]
    fn missing_replicas_are_counted() {
        assert_eq!(missing_replicas("PoolFqdn        : p\nMissingReplicas : 0\n"), 0);
        assert_eq!(missing_replicas("PoolFqdn        : p\nMissingReplicas : 3\n"), 3);
        assert_eq!(missing_replicas("WARNING: 2 missing replicas found for routing group 1"), 2);
    }

    #[test]
    fn quorum_follows_microsofts_table() {
        let cases =
            [(2, 1), (3, 2), (4, 2), (5, 3), (6, 3), (7, 4), (8, 4), (9, 4), (10, 5), (12, 5), (13, 7), (16, 7)];
        for (n, q) in cases {
            assert_eq!(quorum(n), q, "{n} Front Ends");
        }
    }
}
