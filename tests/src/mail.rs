//! A real SMTP server for black-box tests of the email notifications, never a mock.
//!
//! [`MailServer::start`] runs [aiosmtpd](https://aiosmtpd.aio-libs.org) (`pip install aiosmtpd`)
//! as a child process on a free loopback port, storing every message it accepts in a Maildir
//! inside a fresh temporary directory. Tests point Candour at [`MailServer::url`], then read
//! back what arrived with [`MailServer::received`] / [`MailServer::wait_for`], each message
//! parsed by a real MIME parser into a [`Received`]. [`MailServer::stop`] kills the process
//! (the port refuses connections, what was received is kept) and [`MailServer::restart`]
//! brings it back on the same port and Maildir, to test retries after an outage.
//!
//! [`BlackHoleSmtp`] is the other failure: a server that accepts TCP connections and never
//! says a word, to test that sending times out instead of hanging.
//!
//! What aiosmtpd's `Mailbox` handler stores is not byte for byte what the client sent: Python
//! re-serialises the message with `\n` line endings and appends three headers of its own at
//! the end of the header block, `X-Peer`, `X-MailFrom` (the envelope sender) and `X-RcptTo`
//! (the envelope recipients, comma-separated: the only place Bcc recipients show).
//!
//! The interpreter is `python3`, or whatever `CANDOUR_TEST_PYTHON` names.

use std::io::ErrorKind;
use std::net::{SocketAddr, TcpListener as StdTcpListener, TcpStream as StdTcpStream};
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use mail_parser::{HeaderName, HeaderValue, Message, MessageParser, PartType};
use tokio::net::TcpStream;
use tokio::process::{Child, Command};

use crate::python::python;

/// How long the server process may take to accept connections.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(20);
/// How long `restart` keeps trying while the OS still holds the port.
const REBIND_TIMEOUT: Duration = Duration::from_secs(10);
/// How often `wait_for` looks at the Maildir.
const POLL_INTERVAL: Duration = Duration::from_millis(25);

// ---------------------------------------------------------------------------------------------
// MailServer
// ---------------------------------------------------------------------------------------------

/// A real SMTP server (aiosmtpd) on `127.0.0.1`, writing what it receives to a Maildir.
///
/// Dropping it kills the process and removes the temporary directory.
pub struct MailServer {
    port: u16,
    dir: tempfile::TempDir,
    child: Option<Child>,
    launches: u32,
    /// STARTTLS required, with a certificate for `localhost` signed by a test CA.
    starttls: bool,
}

impl MailServer {
    /// Start a server on a new free port with a fresh, empty Maildir.
    ///
    /// Panics (with the command and its output) if it is not accepting connections within
    /// 20 seconds, e.g. when aiosmtpd is not installed.
    pub async fn start() -> MailServer {
        Self::start_with(false).await
    }

    /// Like `start`, but the server requires STARTTLS before accepting mail, with a
    /// certificate for `localhost` signed by a fresh test CA (`ca_file`). Connect with
    /// `starttls_url`.
    pub async fn start_starttls() -> MailServer {
        Self::start_with(true).await
    }

    async fn start_with(starttls: bool) -> MailServer {
        ensure_aiosmtpd();
        let dir = tempfile::Builder::new()
            .prefix("candour-mail-")
            .tempdir()
            .expect("a temporary directory for the mail server");
        if starttls {
            write_test_certificates(dir.path());
        }
        let mut server = MailServer {
            port: 0,
            dir,
            child: None,
            launches: 0,
            starttls,
        };
        // Between dropping the probe listener and the server binding, another process may
        // take the port: then the server exits with "address already in use" and we try
        // another one.
        let mut last = None;
        for _ in 0..10 {
            server.port = free_port();
            match server.launch().await {
                Ok(()) => return server,
                Err(failure) if failure.is_address_in_use() => last = Some(failure),
                Err(failure) => server.fail("start", failure),
            }
        }
        let failure = last.expect("at least one attempt");
        server.fail("start (no free port after 10 attempts)", failure)
    }

    /// `smtp://127.0.0.1:<port>` (plain SMTP, no TLS, no authentication).
    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// `smtp://localhost:<port>?tls=required` (for a server started with `start_starttls`).
    pub fn starttls_url(&self) -> String {
        format!("smtp://localhost:{}?tls=required", self.port)
    }

    /// The test CA that signed a STARTTLS server's certificate (PEM).
    pub fn ca_file(&self) -> PathBuf {
        self.dir.path().join("ca.pem")
    }

    /// The Maildir the server writes to (`new/`, `cur/`, `tmp/`).
    pub fn maildir(&self) -> PathBuf {
        self.dir.path().join("maildir")
    }

    /// Whether the server process is running (between `start`/`restart` and `stop`).
    pub fn is_running(&self) -> bool {
        self.child.is_some()
    }

    /// Kill the server: from now on its port refuses connections. What it received so far
    /// stays readable. Stopping a stopped server does nothing.
    pub async fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            // SIGKILL, then reap: once this returns the listening socket is gone.
            let _ = child.kill().await;
        }
    }

    /// Start the server again on the same port and Maildir (stopping it first if it is
    /// running). Retries for a few seconds while the OS still holds the port.
    pub async fn restart(&mut self) {
        self.stop().await;
        let deadline = Instant::now() + REBIND_TIMEOUT;
        loop {
            match self.launch().await {
                Ok(()) => return,
                Err(failure) if failure.is_address_in_use() && Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Err(failure) => self.fail("restart on the same port", failure),
            }
        }
    }

    /// Every message received so far, oldest first, parsed.
    pub fn received(&self) -> Vec<Received> {
        read_maildir(&self.maildir())
    }

    /// Waits until at least `n` messages have arrived and returns all of them (oldest first).
    /// Panics, listing what did arrive, if that takes longer than `timeout`.
    pub async fn wait_for(&self, n: usize, timeout: Duration) -> Vec<Received> {
        let deadline = Instant::now() + timeout;
        loop {
            let received = self.received();
            if received.len() >= n {
                return received;
            }
            if Instant::now() >= deadline {
                panic!(
                    "expected at least {n} email(s) at {} within {timeout:?}, got {}:\n{}",
                    self.url(),
                    received.len(),
                    describe(&received)
                );
            }
            tokio::time::sleep(POLL_INTERVAL).await;
        }
    }

    /// Waits until at least `n` of the messages received satisfy `pred` and returns those
    /// (oldest first). Panics, listing everything that did arrive, after `timeout`.
    pub async fn wait_for_matching(
        &self,
        pred: impl Fn(&Received) -> bool,
        n: usize,
        timeout: Duration,
    ) -> Vec<Received> {
        let deadline = Instant::now() + timeout;
        loop {
            let received = self.received();
            let matching: Vec<Received> = received.iter().filter(|m| pred(m)).cloned().collect();
            if matching.len() >= n {
                return matching;
            }
            if Instant::now() >= deadline {
                panic!(
                    "expected at least {n} matching email(s) at {} within {timeout:?}, \
                     got {} matching out of {} received:\n{}",
                    self.url(),
                    matching.len(),
                    received.len(),
                    describe(&received)
                );
            }
            tokio::time::sleep(POLL_INTERVAL).await;
        }
    }

    fn command_line(&self) -> Vec<String> {
        let mut argv = vec![
            python(),
            "-m".into(),
            "aiosmtpd".into(),
            "-n".into(),
            "-l".into(),
            format!("127.0.0.1:{}", self.port),
        ];
        if self.starttls {
            // With a certificate, aiosmtpd requires STARTTLS before any mail.
            argv.extend([
                "--tlscert".into(),
                self.dir.path().join("server.pem").display().to_string(),
                "--tlskey".into(),
                self.dir.path().join("server.key").display().to_string(),
            ]);
        }
        argv.extend([
            "-c".into(),
            "aiosmtpd.handlers.Mailbox".into(),
            self.maildir().display().to_string(),
        ]);
        argv
    }

    /// Spawns the process on `self.port` and waits until it greets us over SMTP.
    async fn launch(&mut self) -> Result<(), LaunchFailure> {
        self.launches += 1;
        let log_path = self
            .dir
            .path()
            .join(format!("aiosmtpd-{}.log", self.launches));
        let log = std::fs::File::create(&log_path).expect("the mail server's log file");
        let log2 = log.try_clone().expect("the mail server's log file");
        let argv = self.command_line();
        let mut child = Command::new(&argv[0])
            .args(&argv[1..])
            .env("PYTHONUNBUFFERED", "1")
            .env("PYTHONDONTWRITEBYTECODE", "1")
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log2)
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| LaunchFailure::Spawn(e.to_string()))?;

        let deadline = Instant::now() + STARTUP_TIMEOUT;
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                return Err(LaunchFailure::Exited {
                    status,
                    output: read_log(&log_path),
                });
            }
            if smtp_greets(self.port).await {
                // Our process, not a stranger that took the port: ours is still alive.
                if let Ok(Some(status)) = child.try_wait() {
                    return Err(LaunchFailure::Exited {
                        status,
                        output: read_log(&log_path),
                    });
                }
                self.child = Some(child);
                return Ok(());
            }
            if Instant::now() >= deadline {
                let _ = child.kill().await;
                return Err(LaunchFailure::Timeout {
                    output: read_log(&log_path),
                });
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    fn fail(&self, what: &str, failure: LaunchFailure) -> ! {
        let command = self.command_line().join(" ");
        let hint = "aiosmtpd is a Python package: install it with `pip install aiosmtpd` \
                    (for the `python3` on PATH, or set CANDOUR_TEST_PYTHON)";
        match failure {
            LaunchFailure::Spawn(error) => panic!(
                "the test SMTP server could not {what}: running `{command}` failed: {error}.\n\
                 Python 3 is needed, with aiosmtpd: {hint}"
            ),
            LaunchFailure::Exited { status, output } => panic!(
                "the test SMTP server could not {what}: `{command}` exited with {status}.\n\
                 Its output:\n{output}\n{hint}"
            ),
            LaunchFailure::Timeout { output } => panic!(
                "the test SMTP server could not {what}: `{command}` did not accept SMTP \
                 connections within {STARTUP_TIMEOUT:?}.\nIts output:\n{output}\n{hint}"
            ),
        }
    }
}

impl Drop for MailServer {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.start_kill();
            // Let it die before the temporary directory goes, briefly; tokio reaps it anyway.
            for _ in 0..100 {
                if !matches!(child.try_wait(), Ok(None)) {
                    break;
                }
                std::thread::sleep(Duration::from_millis(5));
            }
        }
        // `dir` (a TempDir) removes the Maildir and the logs when it is dropped next.
    }
}

enum LaunchFailure {
    Spawn(String),
    Exited { status: ExitStatus, output: String },
    Timeout { output: String },
}

impl LaunchFailure {
    fn is_address_in_use(&self) -> bool {
        match self {
            LaunchFailure::Exited { output, .. } => {
                let output = output.to_lowercase();
                output.contains("address already in use") || output.contains("errno 98")
            }
            _ => false,
        }
    }
}

/// A test CA (`ca.pem`) and a server certificate for localhost and 127.0.0.1 it signed
/// (`server.pem`, `server.key`), in `dir`.
fn write_test_certificates(dir: &std::path::Path) {
    use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair};
    let ca_key = KeyPair::generate().expect("a CA key");
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("CA parameters");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "Candour test CA");
    let ca = ca_params.self_signed(&ca_key).expect("a CA certificate");
    let key = KeyPair::generate().expect("a server key");
    let params = CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()])
        .expect("server certificate parameters");
    let cert = params
        .signed_by(&key, &ca, &ca_key)
        .expect("a server certificate");
    std::fs::write(dir.join("ca.pem"), ca.pem()).expect("write ca.pem");
    std::fs::write(dir.join("server.pem"), cert.pem()).expect("write server.pem");
    std::fs::write(dir.join("server.key"), key.serialize_pem()).expect("write server.key");
}

/// Installs aiosmtpd with pip, once per test run, when the interpreter lacks it: so
/// `cargo test --workspace` works on a fresh machine that has Python and pip.
fn ensure_aiosmtpd() {
    static ONCE: std::sync::OnceLock<()> = std::sync::OnceLock::new();
    ONCE.get_or_init(|| {
        crate::python::ensure_installed(&["-m", "aiosmtpd", "--version"], "aiosmtpd")
    });
}

fn free_port() -> u16 {
    let listener = StdTcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    listener.local_addr().expect("local address").port()
}

fn read_log(path: &Path) -> String {
    match std::fs::read(path) {
        Ok(bytes) if bytes.is_empty() => "(nothing)".into(),
        Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
        Err(e) => format!("(could not read {}: {e})", path.display()),
    }
}

/// Whether an SMTP server on the port answers with a `220` greeting (then says QUIT).
async fn smtp_greets(port: u16) -> bool {
    let attempt = async {
        let stream = TcpStream::connect(("127.0.0.1", port)).await.ok()?;
        let mut greeting = Vec::new();
        while !greeting.contains(&b'\n') {
            stream.readable().await.ok()?;
            let mut buf = [0u8; 512];
            match stream.try_read(&mut buf) {
                Ok(0) => return None,
                Ok(n) => greeting.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == ErrorKind::WouldBlock => continue,
                Err(_) => return None,
            }
        }
        if !greeting.starts_with(b"220") {
            return None;
        }
        if stream.writable().await.is_ok() {
            let _ = stream.try_write(b"QUIT\r\n");
        }
        Some(())
    };
    matches!(
        tokio::time::timeout(Duration::from_secs(2), attempt).await,
        Ok(Some(()))
    )
}

// ---------------------------------------------------------------------------------------------
// Reading the Maildir
// ---------------------------------------------------------------------------------------------

fn read_maildir(maildir: &Path) -> Vec<Received> {
    let mut files = Vec::new();
    for sub in ["new", "cur"] {
        let Ok(entries) = std::fs::read_dir(maildir.join(sub)) else {
            continue;
        };
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with('.') {
                continue;
            }
            files.push((delivery_order(&name), entry.path()));
        }
    }
    files.sort();
    files
        .into_iter()
        .filter_map(|(_, path)| {
            // A message only appears in new/ once complete (written in tmp/, then renamed).
            let bytes = std::fs::read(&path).ok()?;
            Some(Received::parse(&bytes).unwrap_or_else(|| {
                panic!(
                    "the test SMTP server stored a message that cannot be parsed ({}):\n{}",
                    path.display(),
                    String::from_utf8_lossy(&bytes)
                )
            }))
        })
        .collect()
}

/// Python's Maildir names files `<secs>.M<micros>P<pid>Q<counter>.<host>`, micro-seconds not
/// zero-padded, so names do not sort by time as strings: sort by (seconds, micro-seconds).
fn delivery_order(name: &str) -> (u64, u64, String) {
    let mut parts = name.splitn(2, '.');
    let secs = parts
        .next()
        .and_then(|s| s.parse().ok())
        .unwrap_or(u64::MAX);
    let micros = parts
        .next()
        .and_then(|rest| rest.strip_prefix('M'))
        .map(|rest| {
            rest.chars()
                .take_while(char::is_ascii_digit)
                .collect::<String>()
        })
        .and_then(|digits| digits.parse().ok())
        .unwrap_or(u64::MAX);
    (secs, micros, name.to_string())
}

fn describe(received: &[Received]) -> String {
    if received.is_empty() {
        return "  (none)".into();
    }
    received
        .iter()
        .enumerate()
        .map(|(i, m)| {
            format!(
                "  #{i}: to={:?} from={:?} subject={:?} message-id={:?}",
                m.to, m.from, m.subject, m.message_id
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

// ---------------------------------------------------------------------------------------------
// Received
// ---------------------------------------------------------------------------------------------

/// One message as the SMTP server stored it, parsed.
#[derive(Debug, Clone)]
pub struct Received {
    /// The addresses in the `To` header(s): bare, lower-case.
    pub to: Vec<String>,
    /// The first address in the `From` header: bare, lower-case.
    pub from: String,
    /// The subject, RFC 2047 encoded words decoded.
    pub subject: String,
    /// The `Message-ID` header without its angle brackets.
    pub message_id: String,
    /// The text/plain body part, transfer encoding and charset decoded ("" if none).
    pub text: String,
    /// The text/html body part, decoded, if there is one.
    pub html: Option<String>,
    /// Every header of the message in order, names as written. Values are unfolded and
    /// trimmed; unstructured ones (Subject, Comments, any `X-` or otherwise unknown header)
    /// have their RFC 2047 encoded words decoded, structured ones (addresses, ids, dates,
    /// content types) are as written. Includes aiosmtpd's `X-Peer`, `X-MailFrom`, `X-RcptTo`.
    pub headers: Vec<(String, String)>,
    /// The whole message as stored (see the module documentation: `\n` line endings).
    pub raw: String,
    /// Decoded contents of every leaf part, attachments and nested messages included.
    decoded_parts: Vec<String>,
}

impl Received {
    /// Parses a message (as stored in the Maildir, or any RFC 5322 message).
    pub fn parse(raw: &[u8]) -> Option<Received> {
        // With no explicit map mail-parser ignores `default_header_text`: list what it parses.
        let parser = MessageParser::new()
            .with_mime_headers()
            .with_date_headers()
            .with_address_headers()
            .with_message_ids()
            .header_text(HeaderName::Subject)
            .header_text(HeaderName::Comments)
            .header_comma_separated(HeaderName::Keywords)
            .header_received(HeaderName::Received)
            .default_header_text();
        let message = parser.parse(raw)?;

        let to = message
            .header_values(HeaderName::To)
            .filter_map(HeaderValue::as_address)
            .flat_map(|a| a.iter())
            .filter_map(|a| a.address())
            .map(str::to_lowercase)
            .collect();
        let from = message
            .from()
            .and_then(|a| a.first())
            .and_then(|a| a.address())
            .map(str::to_lowercase)
            .unwrap_or_default();
        let subject = message.subject().unwrap_or_default().to_string();
        let message_id = message.message_id().unwrap_or_default().to_string();
        let text = message
            .text_bodies()
            .find_map(|p| match &p.body {
                PartType::Text(t) => Some(t.to_string()),
                _ => None,
            })
            .unwrap_or_default();
        let html = message.html_bodies().find_map(|p| match &p.body {
            PartType::Html(h) => Some(h.to_string()),
            _ => None,
        });

        let headers = message.parts[0]
            .headers
            .iter()
            .map(|h| {
                let raw_value = raw
                    .get(h.offset_start as usize..h.offset_end as usize)
                    .map(String::from_utf8_lossy)
                    .unwrap_or_default();
                let unstructured = h.name.is_other()
                    || matches!(h.name, HeaderName::Subject | HeaderName::Comments);
                let value = match (&h.value, unstructured) {
                    (HeaderValue::Text(t), true) => t.to_string(),
                    (HeaderValue::TextList(list), true) => list.join(", "),
                    _ => unfold(&raw_value),
                };
                (h.name.as_str().to_string(), value)
            })
            .collect();

        let mut decoded_parts = Vec::new();
        collect_parts(&message, &mut decoded_parts);

        Some(Received {
            to,
            from,
            subject,
            message_id,
            text,
            html,
            headers,
            raw: String::from_utf8_lossy(raw).into_owned(),
            decoded_parts,
        })
    }

    /// The first header of that name (case-insensitive), as in [`Received::headers`].
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Every header of that name (case-insensitive), in order.
    pub fn header_all(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// The envelope recipients (SMTP `RCPT TO`, from aiosmtpd's `X-RcptTo`), lower-case:
    /// unlike [`Received::to`], these include Bcc recipients.
    pub fn envelope_to(&self) -> Vec<String> {
        self.header("X-RcptTo")
            .unwrap_or_default()
            .split(',')
            .map(|a| a.trim().to_lowercase())
            .filter(|a| !a.is_empty())
            .collect()
    }

    /// Everything the message says in every form, for leak checks: the raw message, every
    /// header decoded, the decoded text and HTML parts, the HTML rendered as text (entities
    /// decoded), and every other part decoded (attachments, nested messages). A value that
    /// appears in none of this appears nowhere in the email, however it was encoded.
    pub fn all_text(&self) -> String {
        let mut all = self.raw.clone();
        for (name, value) in &self.headers {
            all.push('\n');
            all.push_str(name);
            all.push_str(": ");
            all.push_str(value);
        }
        for piece in [&self.subject, &self.text]
            .into_iter()
            .chain(self.html.iter())
            .chain(self.decoded_parts.iter())
        {
            all.push('\n');
            all.push_str(piece);
        }
        if let Some(html) = &self.html {
            all.push('\n');
            all.push_str(&mail_parser::decoders::html::html_to_text(html));
        }
        all
    }
}

/// RFC 5322 unfolding: line breaks followed by white space go, the white space stays.
fn unfold(value: &str) -> String {
    value
        .replace("\r\n", "\n")
        .replace('\n', "")
        .trim()
        .to_string()
}

fn collect_parts(message: &Message<'_>, out: &mut Vec<String>) {
    for part in &message.parts {
        match &part.body {
            PartType::Text(t) | PartType::Html(t) => out.push(t.to_string()),
            PartType::Binary(b) | PartType::InlineBinary(b) => {
                out.push(String::from_utf8_lossy(b).into_owned());
            }
            PartType::Message(nested) => {
                for header in nested.parts[0].headers.iter() {
                    if let Some(text) = header.value.as_text() {
                        out.push(text.to_string());
                    }
                }
                collect_parts(nested, out);
            }
            PartType::Multipart(_) => {}
        }
    }
}

// ---------------------------------------------------------------------------------------------
// BlackHoleSmtp
// ---------------------------------------------------------------------------------------------

/// An "SMTP server" that accepts TCP connections on `127.0.0.1` and never says a word, not
/// even the greeting: a client waits until its own timeout. Connections are held open until
/// the black hole is dropped, which closes them and the listener.
pub struct BlackHoleSmtp {
    port: u16,
    stop: Arc<AtomicBool>,
    accepted: Arc<AtomicUsize>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl BlackHoleSmtp {
    /// Listens on a random loopback port (a plain thread: works in any runtime, or none).
    pub fn start() -> BlackHoleSmtp {
        let listener = StdTcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let port = listener.local_addr().expect("local address").port();
        listener
            .set_nonblocking(true)
            .expect("non-blocking listener");
        let stop = Arc::new(AtomicBool::new(false));
        let accepted = Arc::new(AtomicUsize::new(0));
        let thread = {
            let stop = stop.clone();
            let accepted = accepted.clone();
            std::thread::Builder::new()
                .name(format!("smtp-black-hole-{port}"))
                .spawn(move || {
                    let mut held: Vec<(StdTcpStream, SocketAddr)> = Vec::new();
                    while !stop.load(Ordering::SeqCst) {
                        match listener.accept() {
                            Ok(connection) => {
                                held.push(connection);
                                accepted.fetch_add(1, Ordering::SeqCst);
                            }
                            Err(e) if e.kind() == ErrorKind::WouldBlock => {
                                std::thread::sleep(Duration::from_millis(10));
                            }
                            Err(_) => std::thread::sleep(Duration::from_millis(10)),
                        }
                    }
                    // `held` and `listener` drop here: every connection is closed.
                })
                .expect("the black hole's thread")
        };
        BlackHoleSmtp {
            port,
            stop,
            accepted,
            thread: Some(thread),
        }
    }

    /// `smtp://127.0.0.1:<port>`
    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// How many connections it has accepted (and is holding open).
    pub fn connections(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }
}

impl Drop for BlackHoleSmtp {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maildir_names_sort_by_time_not_as_strings() {
        let mut names = [
            "1795656840.M617633P29847Q2.vm",
            "1795656840.M99P29847Q1.vm",
            "1795656839.M700000P29847Q1.vm",
        ]
        .map(delivery_order);
        names.sort();
        let order: Vec<&str> = names.iter().map(|(_, _, n)| n.as_str()).collect();
        assert_eq!(
            order,
            [
                "1795656839.M700000P29847Q1.vm",
                "1795656840.M99P29847Q1.vm",
                "1795656840.M617633P29847Q2.vm"
            ]
        );
    }

    #[test]
    fn parses_a_quoted_printable_alternative_with_encoded_subject() {
        let raw = "From: Candour <NoReply@Candour.test>\n\
                   To: \"Ward, Alice\" <Alice@Example.org>, bob@example.org\n\
                   Subject: =?utf-8?q?Incident_=C3=A9?=\n\
                   Message-ID: <abc.123@candour.test>\n\
                   X-Candour-Kind: =?utf-8?b?w6k=?=\n\
                   MIME-Version: 1.0\n\
                   Content-Type: multipart/alternative; boundary=\"b\"\n\
                   X-RcptTo: alice@example.org, Hidden@example.org\n\
                   \n\
                   --b\n\
                   Content-Type: text/plain; charset=utf-8\n\
                   Content-Transfer-Encoding: quoted-printable\n\
                   \n\
                   caf=C3=A9 and a long =\n\
                   line\n\
                   --b\n\
                   Content-Type: text/html; charset=utf-8\n\
                   Content-Transfer-Encoding: base64\n\
                   \n\
                   PHA+TyZhbXA7QnJpZW48L3A+\n\
                   --b--\n";
        let m = Received::parse(raw.as_bytes()).expect("parses");
        assert_eq!(m.to, ["alice@example.org", "bob@example.org"]);
        assert_eq!(m.from, "noreply@candour.test");
        assert_eq!(m.subject, "Incident é");
        assert_eq!(m.message_id, "abc.123@candour.test");
        assert!(m.text.contains("café and a long line"), "{:?}", m.text);
        assert_eq!(m.html.as_deref(), Some("<p>O&amp;Brien</p>"));
        assert_eq!(m.header("x-candour-kind"), Some("é"));
        assert_eq!(m.header("Message-ID"), Some("<abc.123@candour.test>"));
        assert_eq!(m.envelope_to(), ["alice@example.org", "hidden@example.org"]);
        let all = m.all_text();
        assert!(all.contains("café and a long line"));
        assert!(all.contains("O&Brien"));
        assert!(all.contains("Incident é"));
    }
}
