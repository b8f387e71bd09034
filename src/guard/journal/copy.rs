//! Append-only copies of the journal outside the state directory, so that someone who can edit
//! files there cannot erase history alone: every record, the same JSON line, goes to the local
//! syslog socket and/or to a long-lived command's stdin. A copy that cannot be written fails the
//! append (the record stays in the chain and is sent again before the next one).

use std::collections::VecDeque;
use std::io::Write;
use std::os::unix::net::UnixDatagram;
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// How long one copy may take before the append fails.
const COPY_TIMEOUT: Duration = Duration::from_secs(5);

/// Records kept for a copy that is down, sent first once it is back; older ones are dropped
/// (and said so in the log) rather than growing without bound.
const MAX_PENDING: usize = 1000;

/// Syslog facility authpriv (10), severity info (6): kept with other security records.
const SYSLOG_PRI: u32 = 10 * 8 + 6;

/// The tag records carry in syslog.
pub const SYSLOG_TAG: &str = "zlm-journal";

/// Where copies go, as configured.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CopyTarget {
    /// A unix datagram syslog socket (`/dev/log` by default).
    Syslog(PathBuf),
    /// A command whose stdin receives one record per line.
    Command(Vec<String>),
}

impl CopyTarget {
    fn describe(&self) -> String {
        match self {
            Self::Syslog(p) => format!("syslog socket {}", p.display()),
            Self::Command(argv) => format!("copy command `{}`", argv.join(" ")),
        }
    }
}

/// Every configured copy, with what each still has to send.
#[derive(Debug, Default)]
pub struct Copies {
    sinks: Vec<Sink>,
}

#[derive(Debug)]
struct Sink {
    target: CopyTarget,
    pending: VecDeque<String>,
    socket: Option<UnixDatagram>,
    process: Option<Process>,
}

impl Copies {
    pub fn new(targets: Vec<CopyTarget>) -> Self {
        Self {
            sinks: targets
                .into_iter()
                .map(|target| Sink {
                    target,
                    pending: VecDeque::new(),
                    socket: None,
                    process: None,
                })
                .collect(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.sinks.is_empty()
    }

    /// Starts the copy commands now, so a bad command shows at start-up; errors are returned
    /// for the log, and the command is tried again on the next record.
    pub fn start(&mut self) -> Vec<String> {
        let mut errors = Vec::new();
        for sink in &mut self.sinks {
            if let CopyTarget::Command(argv) = &sink.target
                && sink.process.is_none()
            {
                match Process::spawn(argv) {
                    Ok(p) => sink.process = Some(p),
                    Err(e) => errors.push(format!("{}: {e}", sink.target.describe())),
                }
            }
        }
        errors
    }

    /// Sends one record line (without newline) to every copy, after whatever each still owes.
    /// Fails, naming the copy, when any of them cannot take it.
    pub fn send(&mut self, line: &str) -> Result<(), String> {
        let mut failed = Vec::new();
        for sink in &mut self.sinks {
            sink.pending.push_back(line.to_string());
            if sink.pending.len() > MAX_PENDING {
                sink.pending.pop_front();
                tracing::error!(
                    copy = %sink.target.describe(),
                    "journal copy down for more than {MAX_PENDING} records: the oldest unsent record is dropped from the copy (it stays in the chain)"
                );
            }
            while let Some(next) = sink.pending.front().cloned() {
                match sink.deliver(&next) {
                    Ok(()) => {
                        sink.pending.pop_front();
                    }
                    Err(e) => {
                        failed.push(format!(
                            "{}: {e} ({} record(s) not copied yet)",
                            sink.target.describe(),
                            sink.pending.len()
                        ));
                        break;
                    }
                }
            }
        }
        if failed.is_empty() {
            Ok(())
        } else {
            Err(failed.join("; "))
        }
    }
}

impl Sink {
    fn deliver(&mut self, line: &str) -> Result<(), String> {
        match &self.target {
            CopyTarget::Syslog(path) => {
                let socket = match self.socket.take() {
                    Some(s) => s,
                    None => {
                        let s = UnixDatagram::unbound().map_err(|e| e.to_string())?;
                        s.set_write_timeout(Some(COPY_TIMEOUT))
                            .map_err(|e| e.to_string())?;
                        s
                    }
                };
                // Addressed on every send, so a restarted syslog daemon is found again.
                let message = syslog_message(line);
                socket
                    .send_to(message.as_bytes(), path)
                    .map_err(|e| e.to_string())?;
                self.socket = Some(socket);
                Ok(())
            }
            CopyTarget::Command(argv) => {
                let argv = argv.clone();
                // A command that exited is started again; a write that finds it gone (or stuck)
                // gets one more try on a fresh one.
                for attempt in 0..2 {
                    let alive = match &mut self.process {
                        Some(p) => match p.child.try_wait() {
                            Ok(None) => true,
                            Ok(Some(status)) => {
                                tracing::warn!(command = %argv.join(" "), %status, "journal copy command exited; starting it again");
                                false
                            }
                            Err(_) => false,
                        },
                        None => false,
                    };
                    if !alive {
                        self.process = None;
                        self.process = Some(Process::spawn(&argv)?);
                    }
                    let Some(p) = self.process.as_mut() else {
                        continue;
                    };
                    match p.write_line(line) {
                        Ok(()) => return Ok(()),
                        Err(e) => {
                            if let Some(mut dead) = self.process.take() {
                                dead.stop();
                            }
                            if attempt == 1 {
                                return Err(e);
                            }
                            tracing::warn!(command = %argv.join(" "), error = %e, "journal copy command did not take a record; starting it again");
                        }
                    }
                }
                Err("the command could not be started".into())
            }
        }
    }
}

/// The RFC 3164 form local syslog daemons (rsyslog, syslog-ng, journald) read on `/dev/log`:
/// `<PRI>Mmm dd hh:mm:ss TAG[PID]: MSG`, time in UTC.
pub fn syslog_message(line: &str) -> String {
    let now = humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string();
    // 2026-07-28T12:34:56Z
    let month = now
        .get(5..7)
        .and_then(|m| m.parse::<usize>().ok())
        .and_then(|m| {
            [
                "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
            ]
            .get(m.wrapping_sub(1))
            .copied()
        })
        .unwrap_or("Jan");
    let day: u32 = now.get(8..10).and_then(|d| d.parse().ok()).unwrap_or(1);
    let time = now.get(11..19).unwrap_or("00:00:00");
    format!(
        "<{SYSLOG_PRI}>{month} {day:>2} {time} {SYSLOG_TAG}[{}]: {line}",
        std::process::id()
    )
}

/// A running copy command and the thread that writes to it, so that a command that stops
/// reading costs an append at most [`COPY_TIMEOUT`], never a hang under the journal's lock.
#[derive(Debug)]
struct Process {
    child: Child,
    lines: Option<mpsc::Sender<String>>,
    acks: mpsc::Receiver<Result<(), String>>,
}

impl Process {
    fn spawn(argv: &[String]) -> Result<Self, String> {
        let (program, args) = argv
            .split_first()
            .ok_or_else(|| "journal_command is empty".to_string())?;
        let mut child = Command::new(program)
            .args(args)
            .stdin(Stdio::piped())
            // stdout may be the MCP channel: the command never writes there.
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| format!("cannot start it: {e}"))?;
        let stdin = child
            .stdin
            .take()
            .ok_or_else(|| "its stdin is not a pipe".to_string())?;
        let (lines, rx) = mpsc::channel::<String>();
        let (ack_tx, acks) = mpsc::channel();
        std::thread::Builder::new()
            .name("journal-copy".into())
            .spawn(move || writer(stdin, rx, ack_tx))
            .map_err(|e| format!("cannot start its writer thread: {e}"))?;
        Ok(Self {
            child,
            lines: Some(lines),
            acks,
        })
    }

    fn write_line(&mut self, line: &str) -> Result<(), String> {
        let sender = self
            .lines
            .as_ref()
            .ok_or_else(|| "the command's input is closed".to_string())?;
        sender
            .send(line.to_string())
            .map_err(|_| "the command's input is closed".to_string())?;
        match self.acks.recv_timeout(COPY_TIMEOUT) {
            Ok(r) => r,
            Err(mpsc::RecvTimeoutError::Timeout) => Err(format!(
                "the command did not read a record within {} s",
                COPY_TIMEOUT.as_secs()
            )),
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                Err("the command's input is closed".to_string())
            }
        }
    }

    /// Ends a command that failed: closes its input and kills it (which also frees a writer
    /// blocked on a full pipe).
    fn stop(&mut self) {
        self.lines = None;
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Process {
    /// Closes the command's input so it sees end of file and can finish writing what it got;
    /// waits a little for it, never long.
    fn drop(&mut self) {
        self.lines = None;
        let deadline = Instant::now() + Duration::from_secs(2);
        while Instant::now() < deadline {
            match self.child.try_wait() {
                Ok(None) => std::thread::sleep(Duration::from_millis(10)),
                _ => return,
            }
        }
    }
}

fn writer(
    mut stdin: ChildStdin,
    lines: mpsc::Receiver<String>,
    acks: mpsc::Sender<Result<(), String>>,
) {
    for line in lines {
        let r = stdin
            .write_all(line.as_bytes())
            .and_then(|_| stdin.write_all(b"\n"))
            .and_then(|_| stdin.flush())
            .map_err(|e| e.to_string());
        let failed = r.is_err();
        if acks.send(r).is_err() || failed {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wait_for(path: &std::path::Path, lines: usize) -> String {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let text = std::fs::read_to_string(path).unwrap_or_default();
            if text.lines().count() >= lines || Instant::now() > deadline {
                return text;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    #[test]
    fn command_copy_gets_every_line_and_is_restarted_when_it_dies() {
        let dir = tempfile::tempdir().expect("tempdir");
        let out = dir.path().join("copy.jsonl");
        let argv = vec![
            "sh".to_string(),
            "-c".to_string(),
            format!("cat >> '{}'", out.display()),
        ];
        let mut copies = Copies::new(vec![CopyTarget::Command(argv)]);
        assert!(copies.start().is_empty());
        copies.send("{\"seq\":1}").expect("first");
        assert_eq!(wait_for(&out, 1), "{\"seq\":1}\n");
        // The command dies; the next record starts it again and arrives.
        if let Some(p) = copies.sinks[0].process.as_mut() {
            p.child.kill().expect("kill");
            p.child.wait().expect("reaped");
        }
        copies.send("{\"seq\":2}").expect("second, after a restart");
        assert_eq!(wait_for(&out, 2), "{\"seq\":1}\n{\"seq\":2}\n");
    }

    #[test]
    fn a_copy_that_cannot_be_written_fails_and_is_caught_up_later() {
        let dir = tempfile::tempdir().expect("tempdir");
        let sock = dir.path().join("log.sock");
        let mut copies = Copies::new(vec![CopyTarget::Syslog(sock.clone())]);
        let e = copies.send("{\"seq\":1}").expect_err("nothing listens");
        assert!(e.contains("syslog socket") && e.contains("log.sock"), "{e}");
        let listener = UnixDatagram::bind(&sock).expect("bind");
        copies.send("{\"seq\":2}").expect("back");
        let mut buf = [0u8; 4096];
        let mut got = Vec::new();
        for _ in 0..2 {
            let n = listener.recv(&mut buf).expect("datagram");
            got.push(String::from_utf8_lossy(&buf[..n]).to_string());
        }
        assert!(
            got[0].starts_with("<86>") && got[0].ends_with(": {\"seq\":1}"),
            "{got:?}"
        );
        assert!(got[0].contains(" zlm-journal["), "{got:?}");
        assert!(got[1].ends_with(": {\"seq\":2}"), "sent in order: {got:?}");

        let mut missing = Copies::new(vec![CopyTarget::Command(vec![
            "/nonexistent/zlm-copy".into(),
        ])]);
        assert_eq!(missing.start().len(), 1);
        let e = missing.send("{}").expect_err("cannot start");
        assert!(
            e.contains("/nonexistent/zlm-copy") && e.contains("cannot start"),
            "{e}"
        );
    }
}
