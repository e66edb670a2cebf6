//! A real virus scanner for the attachment tests: ClamAV's clamd from Debian's packages
//! (`apt-get install clamav-daemon`), listening on a loopback port, with a signature
//! database of its own that knows the standard EICAR test file (ClamAV's signature
//! mirrors are not reachable from test machines, and the test needs no other signature).
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::process::Child;

/// The EICAR anti-virus test file: harmless, and recognised by every scanner as a test
/// virus. Its 68 bytes are assembled here so this source file itself is not flagged.
pub fn eicar() -> Vec<u8> {
    let mut s = String::from(r"X5O!P%@AP[4\PZX54(P^)7CC)7}$");
    s.push_str("EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*");
    s.into_bytes()
}

/// The signature clamd reports for it (the name given in our database, as in ClamAV's own).
pub const EICAR_SIGNATURE: &str = "Eicar-Test-Signature";

/// A running clamd; killed when dropped.
pub struct Clamd {
    pub port: u16,
    _dir: tempfile::TempDir,
    _child: Child,
}

/// A loopback port nobody listens on (just now).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

fn clamd_binary() -> &'static str {
    for p in ["/usr/sbin/clamd", "/usr/bin/clamd"] {
        if std::path::Path::new(p).exists() {
            return p;
        }
    }
    panic!("clamd is not installed: apt-get install clamav-daemon (CI's .ci/run installs it)")
}

impl Clamd {
    /// Starts clamd on `port` and waits until it answers PING.
    pub async fn start_on(port: u16) -> Clamd {
        let dir = tempfile::Builder::new()
            .prefix("candour-clamd-")
            .tempdir()
            .expect("a temporary directory for clamd");
        let db = dir.path().join("db");
        std::fs::create_dir(&db).expect("clamd database directory");
        // MD5 and size of the EICAR file, and its name: an MD5 hash signature (.hdb).
        let digest = md5_hex(&eicar());
        std::fs::write(
            db.join("candour-test.hdb"),
            format!("{digest}:{}:{EICAR_SIGNATURE}\n", eicar().len()),
        )
        .expect("clamd signature database");
        let conf = dir.path().join("clamd.conf");
        std::fs::write(
            &conf,
            format!(
                "Foreground yes\nTCPSocket {port}\nTCPAddr 127.0.0.1\nDatabaseDirectory {}\n\
                 LogFile {}\nLogVerbose no\nStreamMaxLength 100M\nMaxFileSize 100M\nMaxScanSize 200M\n\
                 PidFile {}\nTemporaryDirectory {}\n",
                db.display(),
                dir.path().join("clamd.log").display(),
                dir.path().join("clamd.pid").display(),
                dir.path().display(),
            ),
        )
        .expect("clamd configuration");
        let out = std::fs::File::create(dir.path().join("clamd.out")).expect("clamd output");
        let child = tokio::process::Command::new(clamd_binary())
            .arg(format!("--config-file={}", conf.display()))
            .stdin(std::process::Stdio::null())
            .stdout(out.try_clone().expect("clamd output"))
            .stderr(out)
            .kill_on_drop(true)
            .spawn()
            .expect("clamd starts");
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if ping(port).await {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "clamd did not answer PING within 60 s:\n{}\n{}",
                std::fs::read_to_string(dir.path().join("clamd.out")).unwrap_or_default(),
                std::fs::read_to_string(dir.path().join("clamd.log")).unwrap_or_default()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Clamd {
            port,
            _dir: dir,
            _child: child,
        }
    }

    pub async fn start() -> Clamd {
        Self::start_on(free_port()).await
    }

    /// The address to configure as `attachments.scanner`.
    pub fn address(&self) -> String {
        format!("tcp://127.0.0.1:{}", self.port)
    }
}

async fn ping(port: u16) -> bool {
    let Ok(Ok(mut s)) = tokio::time::timeout(
        Duration::from_secs(1),
        tokio::net::TcpStream::connect(("127.0.0.1", port)),
    )
    .await
    else {
        return false;
    };
    if s.write_all(b"zPING\0").await.is_err() {
        return false;
    }
    let mut buf = [0u8; 8];
    matches!(
        tokio::time::timeout(Duration::from_secs(2), s.read(&mut buf)).await,
        Ok(Ok(n)) if buf[..n].starts_with(b"PONG")
    )
}

/// MD5 of `data` in hex, by the system's md5sum (the signature format clamd reads).
fn md5_hex(data: &[u8]) -> String {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let mut child = Command::new("md5sum")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("md5sum (coreutils)");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(data)
        .expect("md5sum input");
    let out = child.wait_with_output().expect("md5sum output");
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .next()
        .unwrap_or_default()
        .to_string()
}

/// A Word document (a zip with the parts Word writes first) that carries `inner` as a part
/// named `name`: the way malware travels in real attachments. Made by Python's zipfile.
pub fn docx_with(name: &str, inner: &[u8]) -> Vec<u8> {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let inner_path = dir.path().join("inner");
    let out = dir.path().join("out.docx");
    std::fs::write(&inner_path, inner).expect("the inner part");
    let script = r#"
import sys, zipfile
out, inner, name = sys.argv[1], sys.argv[2], sys.argv[3]
ct = '<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="xml" ContentType="application/xml"/><Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>'
rels = '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="word/document.xml"/></Relationships>'
doc = '<?xml version="1.0" encoding="UTF-8"?><w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body><w:p><w:r><w:t>Incident statement</w:t></w:r></w:p></w:body></w:document>'
with zipfile.ZipFile(out, 'w', zipfile.ZIP_DEFLATED) as z:
    z.writestr('[Content_Types].xml', ct)
    z.writestr('_rels/.rels', rels)
    z.writestr('word/document.xml', doc)
    z.write(inner, 'word/' + name)
"#;
    let status = std::process::Command::new(crate::python::python())
        .args(["-c", script])
        .arg(&out)
        .arg(&inner_path)
        .arg(name)
        .status()
        .expect("python3 runs");
    assert!(status.success(), "the document was not made");
    std::fs::read(out).expect("the document")
}
