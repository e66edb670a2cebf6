//! The Python interpreter that runs the suite's real counterparts (the SMTP server, the
//! LFPSE server, the FHIR validator), and the packages they need, installed with pip when
//! missing so that `cargo test --workspace` works on a fresh machine with Python and pip.

/// `CANDOUR_TEST_PYTHON`, else `python3`.
pub fn python() -> String {
    std::env::var("CANDOUR_TEST_PYTHON")
        .ok()
        .filter(|p| !p.trim().is_empty())
        .unwrap_or_else(|| "python3".into())
}

/// Runs `python <check>`; when it fails, `python -m pip install <requirement>`, panicking
/// with pip's own words if that fails too. Call it once per package per run (a `OnceLock`).
pub fn ensure_installed(check: &[&str], requirement: &str) {
    let py = python();
    let present = std::process::Command::new(&py)
        .args(check)
        .output()
        .is_ok_and(|o| o.status.success());
    if present {
        return;
    }
    let out = std::process::Command::new(&py)
        .args([
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            requirement,
        ])
        .output();
    match out {
        Ok(o) if o.status.success() => {}
        Ok(o) => panic!(
            "{requirement} is missing and `{py} -m pip install {requirement}` failed: {}",
            String::from_utf8_lossy(&o.stderr)
        ),
        Err(e) => panic!("{requirement} is missing and {py} could not be run: {e}"),
    }
}

/// Starts the fixture `script` (a path under tests/fixtures) with `args` as a child process
/// that dies with its handle, its output going to `log`, and waits until it has written the
/// port it listens on into `port_file`; `what` names it in a failure.
pub async fn start_server(
    what: &str,
    script: &str,
    args: &[&std::ffi::OsStr],
    port_file: &std::path::Path,
    log: &std::path::Path,
) -> (tokio::process::Child, u16) {
    use std::time::{Duration, Instant};
    let out = std::fs::File::create(log).expect("a log file for a test server");
    let child = tokio::process::Command::new(python())
        .arg(script)
        .args(args)
        .env("PYTHONUNBUFFERED", "1")
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .stdin(std::process::Stdio::null())
        .stdout(out.try_clone().expect("log"))
        .stderr(out)
        .kill_on_drop(true)
        .spawn()
        .unwrap_or_else(|e| panic!("python3 {script} could not start: {e}"));
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(p) = std::fs::read_to_string(port_file)
            .ok()
            .and_then(|s| s.trim().parse::<u16>().ok())
        {
            return (child, p);
        }
        assert!(
            Instant::now() < deadline,
            "the {what} did not start within 20 s; its output:\n{}",
            std::fs::read_to_string(log).unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
