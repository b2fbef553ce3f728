//! Whether a Windows file's security descriptor, as SDDL text, lets anyone but its owner,
//! SYSTEM and the Administrators group at it: the Windows counterpart of the Unix mode check
//! of a password file (`password::from_file`). Pure text, so that it is tested everywhere;
//! only the shim that asks Windows for the SDDL is `cfg(windows)`.
//!
//! The format (Microsoft Learn, "Security Descriptor String Format" and "ACE Strings",
//! learn.microsoft.com/windows/win32/secauthz/security-descriptor-string-format and
//! …/ace-strings; grammar in [MS-DTYP] §2.5.1.1): `O:owner_sid G:group_sid
//! D:dacl_flags(ace)(ace)… S:…`, each ACE `ace_type;ace_flags;rights;object_guid;
//! inherit_object_guid;account_sid[;(resource_attribute)]`, a SID either a two-letter token
//! (`SY`, `BA`, `WD`…) or `S-1-…`.
//!
//! The decision is deliberately strict: every allow ACE that applies to the file itself (not
//! `IO`, inherit-only) and grants any right to another principal makes the file exposed, even
//! when a deny ACE might take that right back; a missing or null DACL (`D:NO_ACCESS_CONTROL`:
//! everyone has every right) is exposed; so is a descriptor this reader cannot parse.

/// SYSTEM, Administrators and OWNER RIGHTS, as tokens and as SIDs.
const TRUSTED: &[&str] = &["SY", "S-1-5-18", "BA", "S-1-5-32-544", "OW", "S-1-3-4"];

/// Groups that are never a private owner: Everyone, Authenticated Users, Users, Guests,
/// Anonymous, Interactive, Network.
const GROUPS: &[&str] =
    &["WD", "S-1-1-0", "AU", "S-1-5-11", "BU", "S-1-5-32-545", "BG", "S-1-5-32-546", "AN", "S-1-5-7", "IU", "NU"];

/// The principal (as the SDDL names it) that may reach a file described by `sddl` besides its
/// owner, SYSTEM and Administrators, if any: `Ok(None)` when the file is private.
/// `Err` when the text is no security descriptor this reader understands (treat as exposed).
pub fn exposed_to(sddl: &str) -> Result<Option<String>, String> {
    let sddl = sddl.trim();
    let owner = component(sddl, "O:").map(sid_at).ok_or_else(|| format!("no owner in {sddl:?}"))?;
    if GROUPS.contains(&owner.to_ascii_uppercase().as_str()) {
        return Ok(Some(owner.to_owned()));
    }
    let dacl = component(sddl, "D:").ok_or_else(|| format!("no DACL in {sddl:?}"))?;
    if dacl.starts_with("NO_ACCESS_CONTROL") {
        return Ok(Some("WD".to_owned()));
    }
    for ace in aces(dacl)? {
        let f: Vec<&str> = ace.splitn(7, ';').collect();
        let [kind, flags, rights, _, _, sid, ..] = f[..] else {
            return Err(format!("not an ACE: ({ace})"));
        };
        let allows = matches!(kind, "A" | "OA" | "XA" | "ZA");
        let inherit_only = flags.as_bytes().chunks(2).any(|c| c == b"IO");
        let none = rights
            .strip_prefix("0x")
            .or_else(|| rights.strip_prefix("0X"))
            .is_some_and(|h| u32::from_str_radix(h, 16).is_ok_and(|r| r == 0))
            || rights.is_empty();
        let sid = sid.trim();
        let trusted = sid == owner || TRUSTED.iter().any(|t| t.eq_ignore_ascii_case(sid));
        if allows && !inherit_only && !none && !trusted {
            return Ok(Some(sid.to_owned()));
        }
    }
    Ok(None)
}

/// The text after `tag` (`O:`, `D:`…) up to the next component's tag.
fn component<'a>(sddl: &'a str, tag: &str) -> Option<&'a str> {
    // Tags sit outside the parentheses of the ACEs; scan at depth 0 only.
    let mut depth = 0usize;
    let bytes = sddl.as_bytes();
    let mut start = None;
    for (i, b) in bytes.iter().enumerate() {
        match b {
            b'(' => depth += 1,
            b')' => depth = depth.saturating_sub(1),
            _ if depth == 0 && i + 1 < bytes.len() && bytes[i + 1] == b':' && b"OGDS".contains(b) => {
                // An `S:` inside a SID (`S-1-…` never has a colon) cannot match here.
                if start.is_some() {
                    return start.map(|s| &sddl[s..i]);
                }
                if sddl[i..].starts_with(tag) {
                    start = Some(i + 2);
                }
            }
            _ => {}
        }
    }
    start.map(|s| &sddl[s..])
}

/// The SID at the start of `s`: `S-1-…` (digits and dashes) or a two-letter token.
fn sid_at(s: &str) -> &str {
    if let Some(rest) = s.strip_prefix("S-") {
        let end = rest.find(|c: char| !(c.is_ascii_digit() || c == '-')).map_or(s.len(), |e| e + 2);
        &s[..end]
    } else {
        s.get(..2).unwrap_or(s)
    }
}

/// The ACEs of a DACL (`P`, `AI`… flags first), without their outer parentheses; a conditional
/// ACE's nested parentheses are kept inside it.
fn aces(dacl: &str) -> Result<Vec<&str>, String> {
    let mut out = Vec::new();
    let (mut depth, mut start) = (0usize, 0usize);
    for (i, c) in dacl.char_indices() {
        match c {
            '(' => {
                if depth == 0 {
                    start = i + 1;
                }
                depth += 1;
            }
            ')' => {
                depth = depth.checked_sub(1).ok_or_else(|| format!("unbalanced parentheses in {dacl:?}"))?;
                if depth == 0 {
                    out.push(&dacl[start..i]);
                }
            }
            _ => {}
        }
    }
    if depth != 0 {
        return Err(format!("unbalanced parentheses in {dacl:?}"));
    }
    Ok(out)
}

/// Windows: the file's SDDL, from Windows PowerShell's `Get-Acl` (the path as a literal that
/// cannot break out: `sfbpatch_pwsh::literal`). Not built on the machines that test sfbpatch
/// (Linux); kept to these few lines so that it can be read for correctness.
#[cfg(windows)]
pub fn sddl_of(path: &std::path::Path) -> Result<String, String> {
    let script = format!("(Get-Acl -LiteralPath {}).Sddl", sfbpatch_pwsh::literal(&path.to_string_lossy()));
    let out = std::process::Command::new("powershell.exe")
        .args(["-NoProfile", "-NonInteractive", "-Command", &script])
        .output()
        .map_err(|e| e.to_string())?;
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).trim().to_owned());
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A user's SID, as in the documentation's examples.
    const ME: &str = "S-1-5-21-1004336348-1177238915-682003330-1001";

    #[test]
    fn private_descriptors_expose_nothing() {
        for sddl in [
            // What a file under a user's profile inherits: SYSTEM, Administrators, the owner.
            format!("O:{ME}G:{ME}D:AI(A;ID;FA;;;SY)(A;ID;FA;;;BA)(A;ID;FA;;;{ME})"),
            // Protected, owner only, rights in hex.
            format!("O:{ME}G:DUD:P(A;;0x1f01ff;;;{ME})"),
            // An inherit-only grant to Users does not apply to the file itself.
            "O:BAG:SYD:(A;OICIIO;GA;;;BU)(A;;FA;;;SY)(A;;FA;;;BA)".to_owned(),
            // A grant of no rights at all; OWNER RIGHTS.
            format!("O:{ME}G:{ME}D:(A;;0x0;;;WD)(A;;FA;;;OW)(A;;FA;;;{ME})"),
            // Deny ACEs never expose.
            format!("O:{ME}G:{ME}D:(D;;FA;;;WD)(A;;FA;;;{ME})"),
        ] {
            assert_eq!(exposed_to(&sddl), Ok(None), "{sddl}");
        }
    }

    #[test]
    fn other_principals_with_any_right_expose_the_file() {
        let cases = [
            // A file outside the profile inherits Users' read access (C:\ data folders).
            (format!("O:{ME}G:{ME}D:AI(A;ID;FA;;;SY)(A;ID;FA;;;BA)(A;ID;0x1200a9;;;BU)"), "BU"),
            (format!("O:{ME}G:{ME}D:(A;;FR;;;WD)(A;;FA;;;{ME})"), "WD"),
            (format!("O:{ME}G:{ME}D:(A;;FW;;;AU)"), "AU"),
            (
                format!("O:{ME}G:{ME}D:(A;;FA;;;S-1-5-21-1004336348-1177238915-682003330-1002)"),
                "S-1-5-21-1004336348-1177238915-682003330-1002",
            ),
            // A null DACL: everyone has every right.
            (format!("O:{ME}G:{ME}D:NO_ACCESS_CONTROL"), "WD"),
            // A group as owner is no private owner.
            ("O:BUG:BUD:(A;;FA;;;BU)".to_owned(), "BU"),
            // A conditional ACE (nested parentheses) still grants.
            (format!("O:{ME}G:{ME}D:(XA;;FR;;;WD;(@User.Project Any_of @Resource.Project))"), "WD"),
        ];
        for (sddl, who) in cases {
            assert_eq!(exposed_to(&sddl), Ok(Some(who.to_owned())), "{sddl}");
        }
    }

    #[test]
    fn descriptors_that_cannot_be_read_are_errors() {
        for sddl in ["", "D:(A;;FA;;;SY)", &format!("O:{ME}G:{ME}"), &format!("O:{ME}D:(A;;FA;;;SY"), "O:SYD:(A;FA)"] {
            assert!(exposed_to(sddl).is_err(), "{sddl:?}");
        }
    }
}
