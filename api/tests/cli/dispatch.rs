//! Email from the command line: `candour dispatch` sends what `candour serve` queued, through
//! a real SMTP server, each email once, however dispatchers die or hang.

use super::*;

// ---------------------------------------------------------------------------------------------
// Email from the command line: `candour dispatch` sends what `candour serve` queued, through a
// real SMTP server (aiosmtpd writing a Maildir), and takes over the emails of a dispatcher
// that died mid-send once their lease has run out.
// ---------------------------------------------------------------------------------------------

use std::io::{BufRead as _, BufReader, Write as _};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

/// Installs aiosmtpd with pip once per run when python3 lacks it, as the black-box suite's
/// harness does, so `cargo test --workspace` passes on a fresh machine with Python and pip.
fn ensure_aiosmtpd() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let has = |args: &[&str]| {
            Command::new("python3")
                .args(args)
                .output()
                .is_ok_and(|o| o.status.success())
        };
        if !has(&["-m", "aiosmtpd", "--version"]) {
            let pip = [
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
            ];
            assert!(
                has(&[&pip[..], &["aiosmtpd"]].concat()),
                "aiosmtpd is missing and `python3 -m pip install aiosmtpd` failed"
            );
        }
    });
}

/// A real SMTP server, `python3 -m aiosmtpd`, delivering into a Maildir; killed on drop.
struct Smtpd {
    child: Child,
    port: u16,
    maildir: PathBuf,
    _dir: tempfile::TempDir,
}

impl Drop for Smtpd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Smtpd {
    /// Starts aiosmtpd on a free port and waits until it greets (220).
    fn start() -> Self {
        ensure_aiosmtpd();
        let dir = tempfile::tempdir().unwrap();
        // A path that does not exist yet: Python's Maildir makes cur/new/tmp only when it
        // creates the folder itself.
        let maildir = dir.path().join("mail");
        let port = free_port();
        let child = Command::new("python3")
            .args(["-m", "aiosmtpd", "-n", "-l"])
            .arg(format!("127.0.0.1:{port}"))
            .args(["-c", "aiosmtpd.handlers.Mailbox"])
            .arg(&maildir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("python3 -m aiosmtpd starts");
        let mut smtpd = Smtpd {
            child,
            port,
            maildir,
            _dir: dir,
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(stream) = std::net::TcpStream::connect(("127.0.0.1", port)) {
                stream
                    .set_read_timeout(Some(Duration::from_secs(5)))
                    .unwrap();
                let mut line = String::new();
                if BufReader::new(&stream).read_line(&mut line).is_ok() && line.starts_with("220") {
                    let _ = (&stream).write_all(b"QUIT\r\n");
                    break;
                }
            }
            if let Some(status) = smtpd.child.try_wait().unwrap() {
                panic!("aiosmtpd exited before it was ready: {status:?}");
            }
            assert!(Instant::now() < deadline, "aiosmtpd did not become ready");
            std::thread::sleep(Duration::from_millis(100));
        }
        smtpd
    }

    fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    /// The raw messages delivered so far (files in the Maildir's `new`).
    fn received(&self) -> Vec<String> {
        let Ok(entries) = std::fs::read_dir(self.maildir.join("new")) else {
            return Vec::new();
        };
        let mut paths: Vec<PathBuf> = entries.map(|e| e.unwrap().path()).collect();
        paths.sort();
        paths
            .iter()
            .map(|p| std::fs::read_to_string(p).unwrap())
            .collect()
    }

    /// Waits until at least `n` messages have been delivered; returns them all.
    async fn wait_for(&self, n: usize, timeout: Duration) -> Vec<String> {
        let deadline = Instant::now() + timeout;
        loop {
            let got = self.received();
            if got.len() >= n {
                return got;
            }
            assert!(
                Instant::now() < deadline,
                "{} of {n} emails delivered after {timeout:?}",
                got.len()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// A header's value from a raw message (unfolded), if present.
fn header(raw: &str, name: &str) -> Option<String> {
    let head = raw
        .split("\r\n\r\n")
        .next()
        .unwrap()
        .split("\n\n")
        .next()
        .unwrap();
    let mut found: Option<String> = None;
    for line in head.lines() {
        if line.starts_with([' ', '\t']) {
            if let Some(v) = found.as_mut() {
                v.push(' ');
                v.push_str(line.trim());
            }
            continue;
        }
        if found.is_some() {
            break;
        }
        if let Some((k, v)) = line.split_once(':') {
            if k.trim().eq_ignore_ascii_case(name) {
                found = Some(v.trim().to_string());
            }
        }
    }
    found
}

/// A TCP server that accepts connections and never says a word (an SMTP server hung before
/// its greeting); counts the connections it accepted.
struct BlackHole {
    port: u16,
    accepted: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl BlackHole {
    fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let accepted = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (accepted, stop) = (accepted.clone(), stop.clone());
            std::thread::spawn(move || {
                let mut held = Vec::new();
                while !stop.load(Ordering::SeqCst) {
                    match listener.accept() {
                        Ok((stream, _)) => {
                            held.push(stream);
                            accepted.fetch_add(1, Ordering::SeqCst);
                        }
                        Err(_) => std::thread::sleep(Duration::from_millis(20)),
                    }
                }
            })
        };
        BlackHole {
            port,
            accepted,
            stop,
            thread: Some(thread),
        }
    }

    fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    fn accepted(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }
}

impl Drop for BlackHole {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// A `candour dispatch` process; killed on drop.
struct Dispatch {
    child: Child,
}

impl Drop for Dispatch {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Dispatch {
    fn start(dir: &Path, envs: &[(&str, &str)]) -> Self {
        let child = command(dir, envs)
            .arg("dispatch")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("candour dispatch starts");
        Dispatch { child }
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Waits up to `timeout` for the process to exit.
    fn wait_exit(&mut self, timeout: Duration) -> Option<std::process::ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return Some(status);
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// Runs the binary to completion, killing it (and failing) if it is still running after
/// `timeout` (a command that should have refused to start but serves instead).
fn run_bounded(dir: &Path, envs: &[(&str, &str)], args: &[&str], timeout: Duration) -> Output {
    let mut child = command(dir, envs)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("candour runs");
    let deadline = Instant::now() + timeout;
    loop {
        if child.try_wait().unwrap().is_some() {
            return child.wait_with_output().unwrap();
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let out = child.wait_with_output().unwrap();
            panic!(
                "`candour {}` still running after {timeout:?}; stderr:\n{}",
                args.join(" "),
                stderr(&out)
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Settings for `candour serve` that queues emails but neither sends them nor raises
/// reminders, though it knows the SMTP server: sending is left to `candour dispatch`.
fn queueing_only<'a>(db: &'a str, smtp_url: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("CANDOUR_DATABASE_URL", db),
        ("CANDOUR_JWT_SECRET", SECRET),
        ("CANDOUR_SMTP_URL", smtp_url),
        ("CANDOUR_NOTIFY__DISPATCH", "false"),
        ("CANDOUR_NOTIFY__SCHEDULE", "false"),
        ("CANDOUR_NOTIFY__POLL_MS", "100"),
    ]
}

/// Queues one email: creates the cardiology department, lets its handler hana
/// (hana@candour.test) be seen, and has alice report a no-harm incident there, which
/// queues INCIDENT_REPORTED to hana. Returns the outbox as a quality lead sees it.
async fn queue_one_email(dir: &Path, base: &str) -> Value {
    let card = cardiology(dir, base).await;
    let hana = token(dir, "hana", "handler", &["CARD"]);
    let seen = me(base, &hana).await;
    assert_eq!(seen["data"]["me"]["subject"], "hana", "{seen}");
    report(dir, base, &card, json!({})).await;
    let outbox = outbox(dir, base).await;
    assert_eq!(outbox["totalCount"], 1, "one email queued: {outbox}");
    let n = &outbox["edges"][0]["node"];
    assert_eq!(n["kind"], "INCIDENT_REPORTED", "{n}");
    assert_eq!(n["recipient"], "hana@candour.test", "{n}");
    assert_eq!(n["status"], "QUEUED", "{n}");
    assert_eq!(n["attempts"], 0, "{n}");
    assert_eq!(n["deliveries"], json!([]), "{n}");
    outbox
}

/// The outbox through GraphQL, as the quality lead quinn sees it.
async fn outbox(dir: &Path, base: &str) -> Value {
    let quinn = token(dir, "quinn", "quality_lead", &[]);
    gql(
        base,
        &quinn,
        "{ notifications(first: 20) { totalCount edges { node {
             kind recipient status attempts messageId deliveries { worker outcome error } } } } }",
        json!({}),
    )
    .await["notifications"]
        .clone()
}

/// Waits (up to `timeout`) until the only email in the outbox is SENT; returns it.
async fn wait_until_sent(dir: &Path, base: &str, timeout: Duration) -> Value {
    let deadline = Instant::now() + timeout;
    loop {
        let outbox = outbox(dir, base).await;
        let n = outbox["edges"][0]["node"].clone();
        if n["status"] == "SENT" {
            assert_eq!(outbox["totalCount"], 1, "{outbox}");
            return n;
        }
        assert!(
            Instant::now() < deadline,
            "the email is not recorded as sent after {timeout:?}: {outbox}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// `lease_until` and `leased_by` of the only email in the outbox.
async fn lease(
    conn: &sea_orm::DatabaseConnection,
) -> (Option<chrono::DateTime<chrono::Utc>>, Option<String>) {
    let row = conn
        .query_one(sea_orm::Statement::from_string(
            conn.get_database_backend(),
            "SELECT lease_until, leased_by FROM notification".to_string(),
        ))
        .await
        .unwrap()
        .expect("the email");
    (
        row.try_get::<Option<chrono::DateTime<chrono::Utc>>>("", "lease_until")
            .unwrap(),
        row.try_get::<Option<String>>("", "leased_by").unwrap(),
    )
}

/// The worker label a dispatcher process writes: `host:pid:instance`.
fn worker_of(pid: u32) -> String {
    format!(":{pid}:")
}

#[tokio::test]
async fn dispatch_sends_what_serve_queued_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let db = fresh_database(dir.path()).await;
    let smtpd = Smtpd::start();
    let smtp_url = smtpd.url();
    let server = start(dir.path(), &queueing_only(&db, &smtp_url)).await;
    let outbox = queue_one_email(dir.path(), &server.base).await;
    let message_id = outbox["edges"][0]["node"]["messageId"]
        .as_str()
        .unwrap()
        .to_string();

    // The server knows the SMTP server but does not dispatch: the email waits.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(smtpd.received().is_empty(), "serve sent an email");
    assert_eq!(
        outbox_status(dir.path(), &server.base).await,
        "QUEUED",
        "still queued"
    );

    let started = Instant::now();
    let mut dispatch = Dispatch::start(
        dir.path(),
        &[
            ("CANDOUR_DATABASE_URL", &db),
            ("CANDOUR_JWT_SECRET", SECRET),
            ("CANDOUR_SMTP_URL", &smtp_url),
            ("CANDOUR_NOTIFY__POLL_MS", "100"),
        ],
    );
    let received = smtpd.wait_for(1, Duration::from_secs(30)).await;
    eprintln!(
        "dispatch delivered the email {:?} after it started",
        started.elapsed()
    );
    let raw = &received[0];
    assert_eq!(
        header(raw, "Message-ID").as_deref(),
        Some(format!("<{message_id}>").as_str()),
        "{raw}"
    );
    assert!(
        header(raw, "To")
            .unwrap_or_default()
            .contains("hana@candour.test"),
        "{raw}"
    );
    assert_eq!(
        header(raw, "Auto-Submitted").as_deref(),
        Some("auto-generated"),
        "{raw}"
    );

    let sent = wait_until_sent(dir.path(), &server.base, Duration::from_secs(10)).await;
    assert_eq!(sent["attempts"], 1, "{sent}");
    let deliveries = sent["deliveries"].as_array().unwrap();
    assert_eq!(deliveries.len(), 1, "{sent}");
    assert_eq!(deliveries[0]["outcome"], "SENT", "{sent}");
    assert!(
        deliveries[0]["worker"]
            .as_str()
            .unwrap()
            .contains(&worker_of(dispatch.pid())),
        "sent by the dispatch process: {sent}"
    );

    // SIGTERM: a prompt, clean exit.
    let pid = dispatch.pid().to_string();
    let signalled = Instant::now();
    assert!(Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());
    let status = dispatch
        .wait_exit(Duration::from_secs(10))
        .expect("dispatch did not exit within 10 s of SIGTERM");
    assert!(status.success(), "clean exit after SIGTERM: {status:?}");
    assert!(
        signalled.elapsed() < Duration::from_secs(5),
        "dispatch took {:?} to stop",
        signalled.elapsed()
    );
    assert_eq!(smtpd.received().len(), 1, "sent exactly once");
}

/// The status of the only email in the outbox.
async fn outbox_status(dir: &Path, base: &str) -> String {
    outbox(dir, base).await["edges"][0]["node"]["status"]
        .as_str()
        .unwrap()
        .to_string()
}

#[test]
fn dispatch_without_an_smtp_server_refuses_to_start_naming_smtp_url() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}/candour.db?mode=rwc", dir.path().display());
    let out = run_bounded(
        dir.path(),
        &[
            ("CANDOUR_DATABASE_URL", &db),
            ("CANDOUR_JWT_SECRET", SECRET),
        ],
        &["dispatch"],
        Duration::from_secs(30),
    );
    assert!(!out.status.success(), "{:?}", out.status);
    let err = stderr(&out);
    assert!(err.contains("smtp_url"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn dispatch_refuses_a_lease_no_longer_than_the_smtp_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}/candour.db?mode=rwc", dir.path().display());
    let out = run_bounded(
        dir.path(),
        &[
            ("CANDOUR_DATABASE_URL", &db),
            ("CANDOUR_JWT_SECRET", SECRET),
            ("CANDOUR_SMTP_URL", "smtp://127.0.0.1:1"),
            ("CANDOUR_NOTIFY__SMTP_TIMEOUT_SECS", "10"),
            ("CANDOUR_NOTIFY__LEASE_SECS", "10"),
        ],
        &["dispatch"],
        Duration::from_secs(30),
    );
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("notify.lease_secs"), "{err}");
}

#[tokio::test]
async fn an_email_taken_by_a_killed_dispatcher_is_sent_once_by_another_after_the_lease() {
    const TIMEOUT_SECS: &str = "5";
    const LEASE_SECS: &str = "10";
    let dir = tempfile::tempdir().unwrap();
    let db = fresh_database(dir.path()).await;
    let smtpd = Smtpd::start();
    let smtp_url = smtpd.url();
    let hole = BlackHole::start();
    let hole_url = hole.url();
    let server = start(dir.path(), &queueing_only(&db, &smtp_url)).await;
    let outbox = queue_one_email(dir.path(), &server.base).await;
    let message_id = outbox["edges"][0]["node"]["messageId"]
        .as_str()
        .unwrap()
        .to_string();
    let conn = connect(&db).await;

    // A takes the email and hangs on the black hole's silence; then it is killed.
    let mut a = Dispatch::start(
        dir.path(),
        &[
            ("CANDOUR_DATABASE_URL", &db),
            ("CANDOUR_JWT_SECRET", SECRET),
            ("CANDOUR_SMTP_URL", &hole_url),
            ("CANDOUR_NOTIFY__POLL_MS", "100"),
            ("CANDOUR_NOTIFY__SCHEDULE", "false"),
            ("CANDOUR_NOTIFY__SMTP_TIMEOUT_SECS", TIMEOUT_SECS),
            ("CANDOUR_NOTIFY__LEASE_SECS", LEASE_SECS),
        ],
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    while hole.accepted() == 0 {
        assert!(
            Instant::now() < deadline,
            "dispatcher A never connected to the mail server"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let (lease_until, leased_by) = lease(&conn).await;
    let lease_until = lease_until.expect("A holds a lease on the email");
    let leased_by = leased_by.expect("A holds a lease on the email");
    assert!(
        leased_by.contains(&worker_of(a.pid())),
        "leased by A (pid {}): {leased_by}",
        a.pid()
    );
    assert!(
        lease_until > chrono::Utc::now(),
        "the lease is still running: {lease_until}"
    );
    a.child.kill().unwrap();
    a.child.wait().unwrap();

    // B is up while A's lease runs: the email waits for it to expire.
    let b = Dispatch::start(
        dir.path(),
        &[
            ("CANDOUR_DATABASE_URL", &db),
            ("CANDOUR_JWT_SECRET", SECRET),
            ("CANDOUR_SMTP_URL", &smtp_url),
            ("CANDOUR_NOTIFY__POLL_MS", "100"),
            ("CANDOUR_NOTIFY__SCHEDULE", "false"),
        ],
    );
    let margin = chrono::Duration::milliseconds(50);
    let mut watched = 0;
    while chrono::Utc::now() < lease_until - margin {
        assert!(
            smtpd.received().is_empty(),
            "B sent the email at {} although A's lease runs until {lease_until}",
            chrono::Utc::now()
        );
        watched += 1;
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        watched > 10,
        "B was watched while the lease ran ({watched} looks)"
    );

    // After it, B sends it, once.
    let received = smtpd.wait_for(1, Duration::from_secs(20)).await;
    let late = (chrono::Utc::now() - lease_until)
        .to_std()
        .unwrap_or_default();
    eprintln!("B delivered the email {late:?} after A's lease ran out");
    tokio::time::sleep(Duration::from_secs(1)).await;
    let received_later = smtpd.received();
    assert_eq!(received_later.len(), 1, "sent exactly once");
    assert_eq!(
        header(&received[0], "Message-ID").as_deref(),
        Some(format!("<{message_id}>").as_str()),
        "{}",
        received[0]
    );

    let sent = wait_until_sent(dir.path(), &server.base, Duration::from_secs(10)).await;
    assert_eq!(sent["attempts"], 1, "A never recorded an attempt: {sent}");
    let deliveries = sent["deliveries"].as_array().unwrap();
    assert_eq!(deliveries.len(), 1, "one attempt, B's: {sent}");
    assert_eq!(deliveries[0]["outcome"], "SENT", "{sent}");
    let worker = deliveries[0]["worker"].as_str().unwrap();
    assert!(
        worker.contains(&worker_of(b.pid())),
        "sent by B (pid {}): {worker}",
        b.pid()
    );
    assert_eq!(
        lease(&conn).await,
        (None, None),
        "the lease is released once sent"
    );
}

#[tokio::test]
async fn a_broken_template_override_stops_the_server_at_start_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let templates = dir.path().join("templates");
    std::fs::create_dir(&templates).unwrap();
    std::fs::write(templates.join("audit_due.txt"), "{% if %}").unwrap();
    let db = fresh_database(dir.path()).await;
    let bind = format!("127.0.0.1:{}", free_port());
    let envs = [
        ("CANDOUR_DATABASE_URL", db.as_str()),
        ("CANDOUR_JWT_SECRET", SECRET),
        ("CANDOUR_BIND", bind.as_str()),
        ("CANDOUR_NOTIFY__TEMPLATES_DIR", templates.to_str().unwrap()),
    ];
    let out = run_bounded(dir.path(), &envs, &["serve"], Duration::from_secs(30));
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("audit_due.txt"), "{err}");
    assert!(!err.contains("panicked"), "{err}");

    // The dispatcher loads the same templates and stops the same way.
    let mut with_smtp = envs.to_vec();
    with_smtp.push(("CANDOUR_SMTP_URL", "smtp://127.0.0.1:1"));
    let out = run_bounded(
        dir.path(),
        &with_smtp,
        &["dispatch"],
        Duration::from_secs(30),
    );
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("audit_due.txt"), "{err}");
}

#[tokio::test]
async fn sigterm_stops_a_dispatcher_hung_mid_send_promptly_and_leaves_the_email_to_its_lease() {
    let dir = tempfile::tempdir().unwrap();
    let db = fresh_database(dir.path()).await;
    let hole = BlackHole::start();
    let hole_url = hole.url();
    let server = start(dir.path(), &queueing_only(&db, &hole_url)).await;
    queue_one_email(dir.path(), &server.base).await;
    let conn = connect(&db).await;
    let mut a = Dispatch::start(
        dir.path(),
        &[
            ("CANDOUR_DATABASE_URL", &db),
            ("CANDOUR_JWT_SECRET", SECRET),
            ("CANDOUR_SMTP_URL", &hole_url),
            ("CANDOUR_NOTIFY__POLL_MS", "100"),
            ("CANDOUR_NOTIFY__SMTP_TIMEOUT_SECS", "20"),
            ("CANDOUR_NOTIFY__LEASE_SECS", "25"),
        ],
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    while hole.accepted() == 0 {
        assert!(
            Instant::now() < deadline,
            "the dispatcher never connected to the mail server"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let (lease_until, leased_by) = lease(&conn).await;
    assert!(lease_until.is_some(), "taken under a lease");
    assert!(
        leased_by.unwrap_or_default().contains(&worker_of(a.pid())),
        "taken by the dispatcher"
    );

    // The send would hang for 20 s; SIGTERM does not wait for it.
    let pid = a.pid().to_string();
    let signalled = Instant::now();
    assert!(Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());
    let status = a
        .wait_exit(Duration::from_secs(15))
        .expect("a dispatcher hung mid-send did not exit within 15 s of SIGTERM");
    assert!(status.success(), "clean exit after SIGTERM: {status:?}");
    assert!(
        signalled.elapsed() < Duration::from_secs(5),
        "the dispatcher took {:?} to stop",
        signalled.elapsed()
    );

    // Nothing recorded: the email is still queued and still leased, for another dispatcher
    // to take once the lease runs out.
    let n = outbox(dir.path(), &server.base).await["edges"][0]["node"].clone();
    assert_eq!(n["status"], "QUEUED", "{n}");
    assert_eq!(n["attempts"], 0, "{n}");
    assert_eq!(n["deliveries"], json!([]), "{n}");
    assert_eq!(
        lease(&conn).await.0,
        lease_until,
        "the lease is left to run out"
    );
}
