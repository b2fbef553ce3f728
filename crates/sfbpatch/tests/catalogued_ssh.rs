//! The SSH transport's logon errors (a key that cannot be loaded, a key the server refuses)
//! in the operator's language, through real sshd (the lab of `ssh_lab`): they were English
//! sentences composed in the transport whatever `--lang` said.

mod ssh_lab;

use ssh_lab::*;

/// The connections file of the lab with `identity` as the key.
fn connections_with_key(lab: &Lab, known_hosts: &str, identity: &str) -> String {
    let file = lab.connections(known_hosts);
    let text = std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{e}"));
    let text = text.replace(&lab.path("client_key"), identity);
    assert!(text.contains(identity), "{text}");
    std::fs::write(&file, text).unwrap_or_else(|e| panic!("{e}"));
    file
}

/// The error of the only server of a run on `se01`, in `lang` (`None`: English).
fn error_of(lab: &Lab, conns: &str, lang: Option<&str>) -> String {
    let mut extra = vec!["--server", "se01.contoso.local"];
    if let Some(l) = lang {
        extra.extend_from_slice(&["--lang", l]);
    }
    let (code, v, err) = run(lab, conns, &extra);
    assert_eq!(code, Some(1), "{err}\n{v}");
    v["servers"][0]["error"].as_str().unwrap_or_default().to_owned()
}

#[test]
fn ssh_key_errors_are_in_the_operators_language() {
    let Some(lab) = lab() else { return };
    let kh = lab.known_hosts("known_hosts", &lab.host_keys());
    // A file that is not a key.
    let garbage = lab.path("not_a_key");
    std::fs::write(&garbage, "this is not a key\n").unwrap_or_else(|e| panic!("{e}"));
    let conns = connections_with_key(&lab, &kh, &garbage);
    let en = error_of(&lab, &conns, None);
    assert!(
        en.contains(&format!("cannot load the key {garbage} (a passphrase-protected key belongs in ssh-agent): ")),
        "{en}"
    );
    let es = error_of(&lab, &conns, Some("es"));
    assert!(
        es.contains(&format!(
            "no se puede cargar la clave {garbage} (una clave protegida con frase de contraseña va en ssh-agent): "
        )),
        "{es}"
    );
    assert!(!es.contains("cannot load the key"), "{es}");
    // A real key the servers do not authorise.
    let stranger = lab.dir.path().join("stranger_key");
    keygen(&stranger);
    let stranger = stranger.display().to_string();
    let conns = connections_with_key(&lab, &kh, &stranger);
    let en = error_of(&lab, &conns, None);
    let want = format!(
        "se01.contoso.local refused the key {stranger} (or the agent's keys) for root. Check the connections \
         file's identity_file and user, and the server's authorized keys."
    );
    assert!(en.contains(&want), "{en}");
    let es = error_of(&lab, &conns, Some("es"));
    assert!(
        es.contains(&format!(
            "se01.contoso.local ha rechazado la clave {stranger} (o las claves del agente) para root. Revise \
             identity_file y user en el archivo de conexiones, y las claves autorizadas del servidor."
        )),
        "{es}"
    );
    assert_eq!(lab.oplog_len("se01.contoso.local"), 0, "nothing was executed");
}
