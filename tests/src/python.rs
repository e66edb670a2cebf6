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
