//! Attachments as a client sends and reads them: `POST /attachments?fileName=…` with the
//! file as the body, `GET /attachments/<id>`, and the GraphQL mutations that attach and
//! remove them.
use serde_json::{json, Value};

use crate::{GqlResponse, TestApp};

/// An HTTP answer: status, headers and the bytes.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub bytes: Vec<u8>,
}

impl Answer {
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    }

    /// The answer as JSON (an upload's description or a refusal).
    #[track_caller]
    pub fn json(&self) -> GqlResponse {
        let body = serde_json::from_slice(&self.bytes).unwrap_or_else(|_| {
            panic!(
                "expected JSON, got HTTP {} {:?}",
                self.status,
                String::from_utf8_lossy(&self.bytes[..self.bytes.len().min(300)])
            )
        });
        GqlResponse {
            status: self.status,
            headers: self.headers.clone(),
            body,
        }
    }
}

/// The fields tests read of an attachment.
pub const ATTACHMENT_FIELDS: &str = "id fileName contentType size sha256 status metadataRemoved
    scannedAt malware uploadedAt uploadedBy { email } downloadUrl removedAt removalReason";

impl TestApp {
    /// `POST /attachments?fileName=<name>` with `bytes` as the body.
    pub async fn upload(&self, token: Option<&str>, name: &str, bytes: Vec<u8>) -> Answer {
        let mut req = self
            .client
            .post(self.url("/attachments"))
            .query(&[("fileName", name)])
            .body(bytes);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        let resp = req.send().await.expect("the upload is answered");
        Answer {
            status: resp.status().as_u16(),
            headers: resp.headers().clone(),
            bytes: resp.bytes().await.expect("the answer's body").to_vec(),
        }
    }

    /// An upload that must be taken: its description (`id`, `fileName`, `status`, ...).
    pub async fn upload_ok(&self, token: &str, name: &str, bytes: Vec<u8>) -> Value {
        let a = self.upload(Some(token), name, bytes).await;
        assert_eq!(
            a.status,
            201,
            "upload refused: {}",
            String::from_utf8_lossy(&a.bytes)
        );
        a.json().body["attachment"].clone()
    }

    /// `GET /attachments/<id>` (or any path given as `url`, such as a `downloadUrl`).
    pub async fn download(&self, token: Option<&str>, url_or_id: &str) -> Answer {
        let path = if url_or_id.starts_with('/') {
            url_or_id.to_string()
        } else {
            format!("/attachments/{url_or_id}")
        };
        let mut req = self.client.get(self.url(&path));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        let resp = req.send().await.expect("the download is answered");
        Answer {
            status: resp.status().as_u16(),
            headers: resp.headers().clone(),
            bytes: resp.bytes().await.expect("the file's bytes").to_vec(),
        }
    }

    /// `attachFiles` on a record.
    pub async fn attach_files(&self, token: &str, record_id: &str, ids: &[&str]) -> GqlResponse {
        self.gql(
            Some(token),
            &format!(
                "mutation($input: AttachFilesInput!) {{ attachFiles(input: $input) {{ attachments {{ {ATTACHMENT_FIELDS} }} }} }}"
            ),
            json!({ "input": { "recordId": record_id, "attachmentIds": ids } }),
        )
        .await
    }

    /// `removeAttachment`.
    pub async fn remove_attachment(&self, token: &str, id: &str, reason: &str) -> GqlResponse {
        self.gql(
            Some(token),
            &format!(
                "mutation($input: RemoveAttachmentInput!) {{ removeAttachment(input: $input) {{ attachment {{ {ATTACHMENT_FIELDS} }} }} }}"
            ),
            json!({ "input": { "attachmentId": id, "reason": reason } }),
        )
        .await
    }

    /// An incident's `attachments` as this viewer sees them (null when they may not).
    pub async fn incident_attachments(&self, token: &str, incident_id: &str) -> GqlResponse {
        self.gql(
            Some(token),
            &format!("query($id: ID!) {{ incident(id: $id) {{ attachments {{ {ATTACHMENT_FIELDS} }} }} }}"),
            json!({ "id": incident_id }),
        )
        .await
    }

    /// Waits (up to 30 s) until the attachment `id` on an incident has `status`; returns it.
    pub async fn wait_for_attachment(
        &self,
        token: &str,
        incident_id: &str,
        id: &str,
        status: &str,
    ) -> Value {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        loop {
            let resp = self.incident_attachments(token, incident_id).await;
            let found = resp.assert_ok()["incident"]["attachments"]
                .as_array()
                .and_then(|a| a.iter().find(|f| f["id"] == id).cloned())
                .unwrap_or(Value::Null);
            if found["status"] == status {
                return found;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "attachment never reached {status}: {found}"
            );
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    }
}

/// The hex SHA-256 of `bytes`, as `Attachment.sha256` gives it.
pub fn sha256_hex(bytes: &[u8]) -> String {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let mut child = Command::new("sha256sum")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("sha256sum (coreutils)");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(bytes)
        .expect("sha256sum input");
    let out = child.wait_with_output().expect("sha256sum output");
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .next()
        .unwrap_or_default()
        .to_string()
}

/// A fixture file's bytes (tests/fixtures/<name>).
pub fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(format!("{}/fixtures/{name}", env!("CARGO_MANIFEST_DIR")))
        .unwrap_or_else(|e| panic!("fixture {name}: {e}"))
}

/// A small valid PDF.
pub fn pdf(words: &str) -> Vec<u8> {
    format!(
        "%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n2 0 obj << /Type /Pages /Kids [] /Count 0 >> endobj\n% {words}\ntrailer << /Root 1 0 R >>\n%%EOF\n"
    )
    .into_bytes()
}

/// `n` bytes of a PDF: a header, then filler (for size and streaming tests).
pub fn big_pdf(n: usize) -> Vec<u8> {
    let mut v = b"%PDF-1.7\n".to_vec();
    let mut x: u32 = 12345;
    while v.len() < n {
        x = x.wrapping_mul(1_103_515_245).wrapping_add(12_345);
        v.push((x >> 16) as u8);
    }
    v.truncate(n);
    v
}
