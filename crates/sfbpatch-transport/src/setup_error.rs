//! Why a transport could not be set up (`LocalTransport::new`, `SshTransport::new`,
//! `PsRemotingTransport::new`): typed data, rendered in the operator's language at the edge
//! (as [`crate::connections_error::ConnectionsError`] is).

use std::fmt;
use std::path::PathBuf;

use sfbpatch_core::Lang;
use sfbpatch_i18n::{Args, fmt as tr};

/// A transport that cannot be set up: nothing was contacted.
#[derive(Debug)]
pub enum SetupError {
    /// The shell command (`--shell`) names no program.
    EmptyShell,
    /// The update package cannot be read (to hash it).
    Package {
        /// The package, as given.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
}

impl SetupError {
    /// The message, with what to give instead.
    pub fn render(&self, lang: Lang) -> String {
        match self {
            SetupError::EmptyShell => tr(lang, "transport.setup.empty-shell", &Args::new()),
            SetupError::Package { path, source } => tr(
                lang,
                "transport.setup.package",
                &Args::new()
                    .with("path", sfbpatch_core::printable::field(&path.display().to_string()))
                    .with("why", source),
            ),
        }
    }
}

/// English, for logs and tests; the binary renders [`SetupError::render`] in the operator's
/// language.
impl fmt::Display for SetupError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.render(Lang::En))
    }
}

impl std::error::Error for SetupError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_package_that_cannot_be_read_is_said_in_each_language_with_the_fix() {
        let e = SetupError::Package {
            path: PathBuf::from("C:\\updates\\update.exe"),
            source: std::io::Error::from(std::io::ErrorKind::PermissionDenied),
        };
        let en = e.render(Lang::En);
        assert!(en.starts_with("cannot read the package C:\\updates\\update.exe: "), "{en}");
        assert!(en.ends_with("; nothing was contacted. Give the update's installer file with --package."), "{en}");
        let es = e.render(Lang::Es);
        assert!(es.starts_with("no se puede leer el paquete C:\\updates\\update.exe: "), "{es}");
        assert!(
            es.ends_with("; no se ha contactado con nada. Indique el instalador de la actualización con --package."),
            "{es}"
        );
    }
}
