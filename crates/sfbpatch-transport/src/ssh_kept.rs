//! The SSH transport's kept channels (issue 14): one channel per engine session running the
//! remote shell (`powershell.exe … -Command -`), opened at the session's first command and
//! kept, as the local transport keeps a process per session. A spare session's channel (the
//! installer's, `Transport::open_spare_session`) is opened at once instead, and `close_host`
//! leaves it until its first command.
//!
//! Each command is written as channel data: an `envelope::step_line` naming its step (a
//! one-shot exec channel gets `SFBPATCH_STEP` through sshd's `AcceptEnv` instead), then the
//! `envelope::wrap`ped script, one line; the answer is read from `Data` (standard output) and
//! `ExtendedData(1)` (standard error) line by line through two `envelope::Reader`s, up to the
//! result line each stream ends a command with. A channel that closes first answers as a
//! one-shot exec channel would: its exit status and what it printed (`crate::outcome`).
//!
//! A [`Kept`] dropped while it runs a command (a timeout drops the command's future) closes
//! its channel, so the far process sees a hang-up and the next command opens a new channel.

use std::collections::HashMap;
use std::time::Duration;

use russh::client::Msg;
use russh::{ChannelMsg, ChannelReadHalf, ChannelWriteHalf};
use sfbpatch_core::Fqdn;
use sfbpatch_core::envelope;
use sfbpatch_core::runbook::StepId;
use sfbpatch_engine::transport::{CommandOutput, SessionId, TransportError};

use super::SshTransport;

/// How long a kept channel whose input was closed may take to report its exit before it is
/// closed from this side.
pub(super) const CLOSE_GRACE: Duration = Duration::from_secs(10);

/// A channel kept for an engine session, its remote shell started.
pub(super) struct Kept {
    read: ChannelReadHalf,
    /// Taken by `Drop` to close the channel.
    write: Option<ChannelWriteHalf<Msg>>,
    /// The far side closed the channel (nothing more will be read).
    closed: bool,
    /// Opened ahead for the installer and not written to yet: `close_host` leaves it
    /// (`Transport::open_spare_session`).
    spare: bool,
}

/// How a command on a kept channel ended without both result lines: the channel closed
/// (its process ended, or the connection dropped). What it printed, as a one-shot exec
/// channel's output (the standard output's result line put back when it was read), and its
/// exit status when one came.
pub(super) struct Cut {
    pub status: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    /// The command was never written (the write failed): it did not run.
    pub unsent: bool,
}

/// One stream of a command: complete lines go to the reader, a partial line waits.
struct Stream {
    reader: envelope::Reader,
    nonce: envelope::Nonce,
    pending: Vec<u8>,
    code: Option<i32>,
}

impl Stream {
    fn new(nonce: &envelope::Nonce) -> Self {
        Self { reader: envelope::Reader::new(nonce.clone()), nonce: nonce.clone(), pending: Vec::new(), code: None }
    }

    fn feed(&mut self, data: &[u8]) {
        self.pending.extend_from_slice(data);
        while self.code.is_none() {
            let Some(end) = self.pending.iter().position(|b| *b == b'\n') else { break };
            let line: Vec<u8> = self.pending.drain(..=end).collect();
            self.code = self.reader.line(&String::from_utf8_lossy(&line));
        }
    }

    /// What the stream gave when the channel closed early: its text, the partial line, and
    /// the result line when it came.
    fn cut(mut self) -> String {
        let mut text = self.reader.take();
        text.push_str(&String::from_utf8_lossy(&self.pending));
        if let Some(code) = self.code {
            text.push_str(&envelope::marker(code, &self.nonce));
            text.push('\n');
        }
        text
    }
}

impl SshTransport {
    /// A new channel on `host` running the remote shell, for a session.
    async fn open_kept(&self, host: &Fqdn) -> Result<Kept, TransportError> {
        let h = self.handle(host).await?;
        let opened = async {
            let ch = h.channel_open_session().await?;
            ch.exec(true, self.remote_shell.as_str()).await?;
            Ok::<_, russh::Error>(ch)
        }
        .await;
        match opened {
            Ok(ch) => Ok(Kept::new(ch)),
            Err(_) => {
                // Only a dead connection is forgotten: a channel refused on a live one (sshd's
                // `MaxSessions`) leaves the host's other channels be.
                if h.is_closed() {
                    self.forget(host).await;
                }
                Err(TransportError::Disconnected(host.to_string()))
            }
        }
    }

    pub(super) fn slots(&self) -> std::sync::MutexGuard<'_, HashMap<SessionId, (Fqdn, Option<Kept>)>> {
        self.kept.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Runs `script` on the kept channel of `session` (opened when there is none: not opened
    /// yet, or the last one was closed). The channel is out of its slot while it runs: this
    /// future owns it, and dropped (a timeout) closes it.
    pub(super) async fn kept_run(
        &self,
        host: &Fqdn,
        session: SessionId,
        step: Option<StepId>,
        script: &str,
    ) -> Result<CommandOutput, TransportError> {
        // The nonce first: a failure to draw it returns before the channel (perhaps the
        // installer's spare) is taken out of its slot, which would drop, and so close, it.
        let nonce = crate::nonce(self.lang)?;
        let taken = {
            let mut slots = self.slots();
            let slot = slots.entry(session).or_insert_with(|| (host.clone(), None));
            if slot.0 == *host { slot.1.take() } else { None }
        };
        // A channel that ended while idle (its shell died, the far side closed it) is not
        // written to: the command goes to a new one.
        let mut kept = match taken {
            Some(mut k) => {
                // A spare's first command: from now on it is a channel like any other.
                k.spare = false;
                if k.ended().await {
                    drop(k);
                    self.open_kept(host).await?
                } else {
                    k
                }
            }
            None => self.open_kept(host).await?,
        };
        let step = step.map_or("", |s| s.as_str());
        let mut answer = kept.command(step, script, &nonce).await;
        // A write that failed proves the command never reached the shell: sent again, once,
        // on a new channel.
        if matches!(&answer, Err(cut) if cut.unsent) {
            drop(kept);
            kept = self.open_kept(host).await?;
            answer = kept.command(step, script, &nonce).await;
        }
        match answer {
            Ok(out) => {
                self.put_back(host, session, kept).await;
                Ok(out)
            }
            // The channel closed before the command's result lines: as an exec channel's
            // answer, from its exit status and what it printed.
            Err(cut) => {
                drop(kept);
                if cut.status.is_none() {
                    self.forget(host).await;
                }
                crate::outcome(host, cut.status, cut.stdout.as_bytes(), cut.stderr.as_bytes(), &nonce)
            }
        }
    }

    /// A channel opened now, its remote shell started, for a spare session: the installer's,
    /// whose shell then starts before the outage rather than inside it. Only on a connection
    /// already open and free: a spare never connects (nor waits for a connect) itself, so a
    /// host that stalls is not waited on once more for it (`None`: the engine asks again
    /// later, or the install step opens its session as before).
    pub(super) async fn open_spare(&self, host: &Fqdn) -> Result<Option<SessionId>, TransportError> {
        let slot = self.conns.lock().await.get(host.as_str()).cloned();
        let live = slot
            .as_ref()
            .and_then(|s| s.try_lock().ok().and_then(|h| h.as_ref().map(|h| !h.is_closed())))
            .unwrap_or(false);
        if !live {
            return Ok(None);
        }
        let mut kept = self.open_kept(host).await?;
        kept.spare = true;
        let id = self.next_session.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        self.slots().insert(id, (host.clone(), Some(kept)));
        Ok(Some(id))
    }

    /// Puts a channel back in its slot after a complete command; a session closed meanwhile
    /// ends it.
    async fn put_back(&self, host: &Fqdn, session: SessionId, kept: Kept) {
        let leftover = {
            let mut slots = self.slots();
            match slots.get_mut(&session) {
                Some((h, slot @ None)) if *h == *host => {
                    *slot = Some(kept);
                    None
                }
                _ => Some(kept),
            }
        };
        if let Some(kept) = leftover {
            kept.end().await;
        }
    }

    /// Ends every kept channel (each remote shell's input closed, so it closes its session),
    /// for the end of a run.
    pub async fn close_all(&self) {
        let kept: Vec<Kept> = self.slots().drain().filter_map(|(_, (_, k))| k).collect();
        for k in kept {
            k.end().await;
        }
    }

    /// Ends the kept channel of one session of `host` and forgets the session.
    pub(super) async fn close_one(&self, host: &Fqdn, session: SessionId) {
        let kept = {
            let mut slots = self.slots();
            match slots.get(&session) {
                Some((h, _)) if h == host => slots.remove(&session).and_then(|(_, k)| k),
                _ => None,
            }
        };
        if let Some(k) = kept {
            k.end().await;
        }
    }

    /// Ends the kept channels of `host`'s sessions and forgets the sessions, but a spare's that
    /// has run nothing ([`SshTransport::open_spare`]).
    pub(super) async fn close_host(&self, host: &Fqdn) {
        let kept: Vec<Kept> = {
            let mut slots = self.slots();
            let ids: Vec<SessionId> = slots
                .iter()
                .filter(|(_, (h, k))| h == host && !k.as_ref().is_some_and(|k| k.spare))
                .map(|(id, _)| *id)
                .collect();
            ids.into_iter().filter_map(|id| slots.remove(&id).and_then(|(_, k)| k)).collect()
        };
        for k in kept {
            k.end().await;
        }
    }
}

impl Kept {
    pub(super) fn new(channel: russh::Channel<Msg>) -> Self {
        let (read, write) = channel.split();
        Self { read, write: Some(write), closed: false, spare: false }
    }

    /// Runs one wrapped command (its result lines carrying `nonce`): its output up to both
    /// result lines, or how the channel ended first.
    pub(super) async fn command(
        &mut self,
        step: &str,
        script: &str,
        nonce: &envelope::Nonce,
    ) -> Result<CommandOutput, Cut> {
        let line = format!("{}{}", envelope::step_line(step), envelope::wrap(script, nonce));
        // A write that fails (the channel or the connection is gone): the command never ran.
        let sent = match &self.write {
            Some(w) => w.data(line.as_bytes()).await.is_ok(),
            None => false,
        };
        if !sent {
            return Err(Cut { status: None, stdout: String::new(), stderr: String::new(), unsent: true });
        }
        let (mut out, mut err) = (Stream::new(nonce), Stream::new(nonce));
        let (mut status, mut eof) = (None, false);
        loop {
            if let (Some(code), Some(_)) = (out.code, err.code) {
                return Ok(CommandOutput { exit_code: code, stdout: out.reader.take(), stderr: err.reader.take() });
            }
            match self.read.wait().await {
                Some(ChannelMsg::Data { data }) => out.feed(&data),
                Some(ChannelMsg::ExtendedData { data, ext: 1 }) => err.feed(&data),
                Some(ChannelMsg::ExitStatus { exit_status }) => status = Some(exit_status),
                Some(ChannelMsg::Eof) => eof = true,
                Some(ChannelMsg::Close) | None => {
                    self.closed = true;
                    break;
                }
                Some(_) => {}
            }
            // The process has ended and said all it will: no result lines are coming.
            if eof && status.is_some() {
                break;
            }
        }
        let status = status.map(|c| i32::try_from(c).unwrap_or(-1));
        Err(Cut { status, stdout: out.cut(), stderr: err.cut(), unsent: false })
    }

    /// Whether the channel ended while idle (its shell exited, or the channel or the
    /// connection closed): what came since the last command is read, without waiting.
    pub(super) async fn ended(&mut self) -> bool {
        loop {
            if self.closed {
                return true;
            }
            // `wait` is cancel-safe (a channel receiver): nothing pending, nothing lost.
            match tokio::time::timeout(Duration::ZERO, self.read.wait()).await {
                Err(_) => return false,
                Ok(Some(ChannelMsg::Close) | None) => self.closed = true,
                Ok(Some(ChannelMsg::Eof | ChannelMsg::ExitStatus { .. } | ChannelMsg::ExitSignal { .. })) => {
                    return true;
                }
                Ok(Some(_)) => {}
            }
        }
    }

    /// Ends the remote shell: its input closed (a shell ends at the end of its input; the
    /// simulator's closes its session), then the channel closed once it exits or after
    /// [`CLOSE_GRACE`].
    pub(super) async fn end(mut self) {
        let Some(write) = self.write.take() else { return };
        if !self.closed && write.eof().await.is_ok() {
            let exited = async {
                while let Some(msg) = self.read.wait().await {
                    if matches!(msg, ChannelMsg::ExitStatus { .. } | ChannelMsg::Close) {
                        break;
                    }
                }
            };
            let _ = tokio::time::timeout(CLOSE_GRACE, exited).await;
        }
        let _ = write.close().await;
        self.closed = true;
    }
}

impl Drop for Kept {
    /// A channel dropped unended (its command's future dropped at a timeout) is closed: the
    /// far process sees a hang-up. Closing a channel already closed sends nothing (russh
    /// keeps no record of it).
    fn drop(&mut self) {
        if self.closed {
            return;
        }
        let (Some(write), Ok(rt)) = (self.write.take(), tokio::runtime::Handle::try_current()) else { return };
        rt.spawn(async move {
            let _ = write.close().await;
        });
    }
}
