//! Why a connections file (README, "The connections file") cannot be used: typed, rendered in
//! the operator's language at the edge with the file, the line or server, and the fix.

use std::fmt;
use std::path::PathBuf;

use sfbpatch_core::Lang;
use sfbpatch_i18n::{Args, fmt as tr};

/// A connections file that cannot be read or resolved.
#[derive(Debug)]
pub enum ConnectionsError {
    /// The file cannot be read.
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not valid TOML of the connections format.
    Syntax {
        /// The file.
        path: PathBuf,
        /// 1-based line of the problem (0 when the parser gave no position).
        line: usize,
        /// The TOML parser's words (its own, not sfbpatch's).
        why: String,
    },
    /// A server of the plan has no `user`, in its section nor in `[defaults]`.
    NoUser {
        /// The file.
        path: PathBuf,
        /// The server.
        server: String,
    },
}

impl ConnectionsError {
    /// The message, naming the file and what to change in it.
    pub fn render(&self, lang: Lang) -> String {
        match self {
            ConnectionsError::Read { path, source } => {
                tr(lang, "transport.connections.read", &Args::new().with("path", path.display()).with("why", source))
            }
            ConnectionsError::Syntax { path, line, why } => tr(
                lang,
                "transport.connections.syntax",
                &Args::new().with("path", path.display()).with("line", line).with("why", why),
            ),
            ConnectionsError::NoUser { path, server } => tr(
                lang,
                "transport.connections.no-user",
                &Args::new().with("path", path.display()).with("server", server),
            ),
        }
    }
}

/// English, for logs and tests; the binary renders [`ConnectionsError::render`] in the
/// operator's language.
impl fmt::Display for ConnectionsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.render(Lang::En))
    }
}

impl std::error::Error for ConnectionsError {}
