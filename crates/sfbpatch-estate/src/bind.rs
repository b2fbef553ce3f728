//! Binding a command's elements to a cmdlet's parameters, as PowerShell does: a parameter the
//! cmdlet does not have, or a value parameter without its value, is refused with
//! PowerShell's own message.

use sfbpatch_pwsh::syntax::Element;

use crate::estate::Host;

/// Parsed parameters of one command.
#[derive(Debug, Default)]
pub(crate) struct Params {
    pub(crate) named: Vec<(String, Option<String>)>,
    pub(crate) positional: Vec<String>,
}

impl Params {
    /// The value of a named parameter.
    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.named.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).and_then(|(_, v)| v.as_deref())
    }

    /// Whether a parameter (switch or value) was given.
    pub(crate) fn has(&self, name: &str) -> bool {
        self.named.iter().any(|(n, _)| n.eq_ignore_ascii_case(name))
    }

    /// The first of these named parameters that was given, else the first positional value.
    pub(crate) fn first_of(&self, names: &[&str]) -> Option<&str> {
        names.iter().find_map(|n| self.get(n)).or(self.positional.first().map(String::as_str))
    }
}

fn env_value(host: &Host, var: &str) -> Option<String> {
    let (domain, user) = host.account.split_once('\\').unwrap_or(("", host.account.as_str()));
    match var.to_ascii_uppercase().as_str() {
        "USERDOMAIN" => Some(domain.to_owned()),
        "USERNAME" => Some(user.to_owned()),
        "COMPUTERNAME" => Some(host.fqdn.host().to_ascii_uppercase()),
        _ => None,
    }
}

/// The value of an element, as PowerShell would bind it. Double-quoted strings may only
/// expand `$env:` variables here.
fn value(host: &Host, e: &Element) -> Result<String, String> {
    match e {
        Element::Literal(s) | Element::Bare(s) => Ok(s.clone()),
        Element::Expression { text, .. } if text.starts_with('"') && text.ends_with('"') && text.len() >= 2 => {
            let inner = &text[1..text.len() - 1];
            let mut out = String::new();
            let mut rest = inner;
            while let Some(i) = rest.find("$env:") {
                out.push_str(&rest[..i]);
                let after = &rest[i + 5..];
                let end = after.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(after.len());
                let var = &after[..end];
                out.push_str(&env_value(host, var).ok_or_else(|| format!("the simulator does not know $env:{var}"))?);
                rest = &after[end..];
            }
            out.push_str(rest);
            if out.contains(['$', '`']) {
                return Err(format!("the simulator cannot expand {text}"));
            }
            Ok(out)
        }
        // An array bound to a string parameter is joined with single spaces (`$OFS`); for
        // `Start-Process -ArgumentList` that is the command line (the cmdlet reference).
        Element::List(items) => Ok(items.join(" ")),
        Element::Expression { text, .. } => Err(format!("the simulator cannot evaluate {text}")),
        Element::Parameter(p) => Ok(format!("-{p}")),
    }
}

/// Binds `elements` to a cmdlet with these switch and value parameters.
pub(crate) fn bind(
    host: &Host,
    cmdlet: &str,
    elements: &[Element],
    switches: &[&str],
    values: &[&str],
) -> Result<Params, String> {
    let mut p = Params::default();
    let mut i = 0;
    while i < elements.len() {
        match &elements[i] {
            Element::Parameter(raw) => {
                let (name, inline) = match raw.split_once(':') {
                    Some((n, v)) => (n, Some(v.to_owned())),
                    None => (raw.as_str(), None),
                };
                if switches.iter().any(|s| s.eq_ignore_ascii_case(name)) {
                    // `-Confirm:$false`: a switch given a value keeps it. The grammar hands
                    // `$false`/`$true` over as the next element, without the colon.
                    let inline = match (inline, elements.get(i + 1)) {
                        (None | Some(_), Some(Element::Expression { text, .. }))
                            if text.eq_ignore_ascii_case("$false") || text.eq_ignore_ascii_case("$true") =>
                        {
                            i += 1;
                            Some(text.clone())
                        }
                        (v, _) => v,
                    };
                    p.named.push((name.to_owned(), inline));
                } else if values.iter().any(|s| s.eq_ignore_ascii_case(name)) {
                    let v = match inline {
                        Some(v) => v,
                        None => {
                            i += 1;
                            match elements.get(i) {
                                Some(Element::Parameter(_)) | None => {
                                    return Err(format!(
                                        "{cmdlet} : Missing an argument for parameter '{name}'. Specify a parameter of the required type and try again."
                                    ));
                                }
                                Some(e) => value(host, e)?,
                            }
                        }
                    };
                    p.named.push((name.to_owned(), Some(v)));
                } else {
                    return Err(format!(
                        "{cmdlet} : A parameter cannot be found that matches parameter name '{name}'."
                    ));
                }
            }
            e => p.positional.push(value(host, e)?),
        }
        i += 1;
    }
    Ok(p)
}

/// The bare and literal words of a command (`net stop W3SVC`), which a native program
/// receives as its arguments.
pub(crate) fn words(elements: &[Element]) -> Vec<String> {
    elements
        .iter()
        .filter_map(|e| match e {
            Element::Bare(s) | Element::Literal(s) => Some(s.clone()),
            _ => None,
        })
        .collect()
}
