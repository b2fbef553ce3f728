use super::*;

const A: &str = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIPYc/ZVwAPq1aGmHNWDiu5FbQwadyUznKsht+VfYXLed";
const B: &str = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIMmx8Hu5CuNYWf+IkxEBgtdZjrkbGXci8QGRCNIY3yj1";
const C: &str = "ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBOW0wa/EIT6fQ/S+V0SgGshnOnKqnib1YUqfkBrUrCLzHtdavDrXr8ZmugIQcqMksKLVKzQSDHVZg76zKTRpa+U=";

fn key(line: &str) -> PublicKey {
    let b64 = line.split(' ').nth(1).unwrap_or_default();
    russh::keys::parse_public_key_base64(b64).unwrap_or_else(|e| panic!("{e}"))
}

const FE: &str = "[fe01.contoso.local]:2222";

#[test]
fn hmac_sha1_matches_its_published_vector() {
    // RFC 2202 test case 2.
    let hex = |b: &[u8]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
    assert_eq!(hex(&hmac_sha1(b"Jefe", b"what do ya want for nothing?")), "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79");
}

#[test]
fn a_revoked_key_is_refused_even_when_a_plain_line_for_it_follows() {
    let text = format!("@revoked * {A}\n{FE} {A}\n");
    assert_eq!(check(&text, FE, &key(A)), Verdict::Revoked { line: 1 });
    // Another key of the host is untouched by the revocation.
    let text = format!("@revoked * {A}\n{FE} {B}\n");
    assert_eq!(check(&text, FE, &key(B)), Verdict::Known);
}

#[test]
fn a_changed_key_names_the_line_of_the_file_counting_comments_and_blank_lines() {
    let text = format!("# estate keys\n\n# pool01\n{FE} {A}\n");
    assert_eq!(check(&text, FE, &key(B)), Verdict::Changed { line: 4 });
}

#[test]
fn patterns_and_negations_name_a_host_and_keep_it_from_being_new() {
    let text = format!("[fe0?.contoso.local]:*,!*.example {A}\n");
    assert_eq!(check(&text, FE, &key(A)), Verdict::Known);
    assert_eq!(check(&text, FE, &key(B)), Verdict::Changed { line: 1 });
    assert_eq!(check(&format!("* {C}\n"), FE, &key(A)), Verdict::OtherKeys { line: 1 });
    let negated = format!("*,![fe01.contoso.local]:2222 {A}\n");
    assert_eq!(check(&negated, FE, &key(B)), Verdict::Unknown);
    assert_eq!(check(&format!("fe01.contoso.local {A}\n"), FE, &key(B)), Verdict::Unknown, "port 22 only");
    assert_eq!(check("", FE, &key(A)), Verdict::Unknown);
}

#[test]
fn hashed_names_as_ssh_keygen_h_writes_them_match() {
    // `ssh-keygen -H` of "[fe01.contoso.local]:2222 <A>".
    let text = format!("|1|l2C8mOK19Yg66yfZsS9VHARGUDU=|4DEJcbsbGtzM+1waMcQao6w+gUI= {A}\n");
    assert_eq!(check(&text, FE, &key(A)), Verdict::Known);
    assert_eq!(check(&text, FE, &key(B)), Verdict::Changed { line: 1 });
    assert_eq!(check(&text, "[fe02.contoso.local]:2222", &key(B)), Verdict::Unknown);
    assert_eq!(host_port("FE01.contoso.local", 2222), FE);
    assert_eq!(host_port("fe01.contoso.local", 22), "fe01.contoso.local");
}
