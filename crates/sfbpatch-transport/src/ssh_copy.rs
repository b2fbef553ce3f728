//! The SSH transport's file copy: the package sent by SFTP (folders made as needed) and its
//! SHA-256 checked on the far side with `Get-FileHash`, sent again once if it came out wrong.

use sfbpatch_core::Fqdn;
use sfbpatch_core::runbook::StepId;
use sfbpatch_engine::transport::{CommandOutput, SessionId, TransportError};
use sfbpatch_i18n::{Args, fmt as tr};
use tokio::io::AsyncWriteExt;

use super::SshTransport;

impl SshTransport {
    /// The package sent by SFTP unless already there; its hash checked on the far side with
    /// a command of `session` (or an exec channel of its own).
    pub(super) async fn stage_via(
        &self,
        host: &Fqdn,
        session: Option<SessionId>,
        step: Option<StepId>,
        remote_path: &str,
    ) -> Result<(), TransportError> {
        let check = sfbpatch_pwsh::Command::named(sfbpatch_pwsh::Word::fixed("Get-FileHash"))
            .arg(sfbpatch_pwsh::Arg::Named(sfbpatch_pwsh::Word::fixed("Algorithm"), "SHA256".into()))
            .arg(sfbpatch_pwsh::Arg::Named(sfbpatch_pwsh::Word::fixed("LiteralPath"), remote_path.to_owned()))
            .render();
        let remote_hash = |o: Result<CommandOutput, TransportError>| {
            o.ok().and_then(|o| sfbpatch_core::readback::parse_file_hash(&o.stdout))
        };
        // Already there with the right hash: not sent again.
        if remote_hash(self.command(host, session, step, &check).await).as_deref() == Some(self.sha256.as_str()) {
            return Ok(());
        }
        // Sent, checked on the far side, and sent again once if the copy came out wrong
        // (a truncated or corrupted earlier copy, or a transfer cut short).
        let mut last = None;
        for _ in 0..2 {
            self.sftp_put(host, remote_path).await?;
            let got = remote_hash(self.command(host, session, step, &check).await);
            if got.as_deref() == Some(self.sha256.as_str()) {
                return Ok(());
            }
            last = got;
        }
        let got = last.unwrap_or_else(|| tr(self.lang, "transport.ssh.copy.unknown", &Args::new()));
        let a = Args::new().with("host", host).with("got", got).with("expected", &self.sha256);
        Err(TransportError::Other(tr(self.lang, "transport.ssh.copy.hash", &a)))
    }

    async fn sftp_put(&self, host: &Fqdn, remote: &str) -> Result<(), TransportError> {
        let other = |e: &dyn std::fmt::Display| {
            TransportError::Other(tr(
                self.lang,
                "transport.ssh.copy.sftp",
                &Args::new().with("host", host).with("why", e),
            ))
        };
        let h = self.handle(host).await?;
        let ch = h.channel_open_session().await.map_err(|e| other(&e))?;
        ch.request_subsystem(true, "sftp").await.map_err(|e| other(&e))?;
        let sftp = russh_sftp::client::SftpSession::new(ch.into_stream()).await.map_err(|e| other(&e))?;
        // Windows paths as Windows OpenSSH's SFTP takes them: C:/ProgramData/….
        let path = remote.replace('\\', "/");
        let mut dir = String::new();
        let parts: Vec<&str> = path.split('/').collect();
        for part in &parts[..parts.len().saturating_sub(1)] {
            if !dir.is_empty() {
                dir.push('/');
            }
            dir.push_str(part);
            // A drive ("C:") cannot be created on Windows and that is fine.
            if sftp.try_exists(dir.clone()).await.map(|e| !e).unwrap_or(true) {
                let _ = sftp.create_dir(dir.clone()).await;
            }
        }
        let bytes = std::fs::read(&self.package).map_err(|e| other(&e))?;
        let mut f = sftp.create(path).await.map_err(|e| other(&e))?;
        f.write_all(&bytes).await.map_err(|e| other(&e))?;
        f.shutdown().await.map_err(|e| other(&e))?;
        Ok(())
    }
}
