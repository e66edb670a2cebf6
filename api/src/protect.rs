//! Protection of patient identifiers at rest: NHS number validation (modulus 11), sealing
//! with AES-256-GCM under `data_key`, a keyed hash for exact look-up, and key rotation.
//!
//! A sealed value reads `v1.<key id>.<base64url(nonce || ciphertext || tag)>`. The key id
//! (8 hex digits of a hash of the key) says which key opens it, so earlier keys listed in
//! `data_key_previous` still open old rows while `candour rotate-data-key` re-seals them.
//! Each value is bound to its record and field (associated data `incident:<id>:<field>`),
//! so a sealed value copied onto another record or field does not open.
use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use hmac::{Hmac, Mac};
use rand::RngCore;
use secrecy::ExposeSecret;
use sha2::{Digest, Sha256};

use crate::config::{Environment, Settings};

type HmacSha256 = Hmac<Sha256>;

/// A valid NHS number: 10 digits whose last is the modulus-11 check digit of the others.
#[derive(Clone, PartialEq, Eq)]
pub struct NhsNumber(String);

// Never printed: an NHS number is personal data.
impl std::fmt::Debug for NhsNumber {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("NhsNumber(..)")
    }
}

impl NhsNumber {
    /// Parses an NHS number, ignoring spaces and hyphens (`943 476 5919`).
    pub fn parse(s: &str) -> Result<Self, &'static str> {
        Self::parse_why(s).map_err(|(_, message)| message)
    }

    /// Parses the NHS number given as `field`; a bad one is bad input with the reason
    /// `MALFORMED` (not ten digits) or `CHECK_DIGIT`. The message never repeats the number.
    pub fn field(field: &str, s: &str) -> crate::error::AppResult<Self> {
        Self::parse_why(s)
            .map_err(|(why, message)| crate::error::AppError::invalid(field, message).because(why))
    }

    fn parse_why(s: &str) -> Result<Self, (&'static str, &'static str)> {
        use crate::record::text::reason;
        const CHECK: (&str, &str) = (reason::CHECK_DIGIT, "not a valid NHS number (check digit)");
        let digits: String = s
            .chars()
            .filter(|c| !c.is_whitespace() && *c != '-')
            .collect();
        if digits.len() != 10 || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err((reason::MALFORMED, "an NHS number is 10 digits"));
        }
        let d: Vec<u32> = digits.bytes().map(|b| u32::from(b - b'0')).collect();
        let sum: u32 = d[..9]
            .iter()
            .enumerate()
            .map(|(i, v)| v * (10 - i as u32))
            .sum();
        let check = match 11 - (sum % 11) {
            11 => 0,
            // No valid check digit: such numbers are never issued.
            10 => return Err(CHECK),
            c => c,
        };
        if check != d[9] {
            return Err(CHECK);
        }
        Ok(Self(digits))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ProtectError {
    #[error("{0}")]
    Config(String),
    #[error("sealed value is malformed")]
    Malformed,
    #[error("no configured data key has id {0}")]
    UnknownKey(String),
    #[error("sealed value does not open (wrong key, or moved to another record)")]
    Open,
}

struct DataKey {
    id: String,
    cipher: Aes256Gcm,
    lookup: [u8; 32],
}

impl DataKey {
    fn from_bytes(bytes: &[u8]) -> Result<Self, ProtectError> {
        if bytes.len() != 32 {
            return Err(ProtectError::Config(
                "a data key is base64 of exactly 32 bytes".into(),
            ));
        }
        let digest = Sha256::new()
            .chain_update(b"candour data key id\n")
            .chain_update(bytes)
            .finalize();
        let id: String = digest[..4].iter().map(|b| format!("{b:02x}")).collect();
        // The look-up key is derived from the data key (HMAC as a KDF), so one secret is
        // configured; rotating the data key rotates the look-up hashes with it.
        let mut mac = <HmacSha256 as Mac>::new_from_slice(bytes).expect("HMAC takes any key");
        mac.update(b"candour nhs-number lookup v1");
        let lookup: [u8; 32] = mac.finalize().into_bytes().into();
        Ok(Self {
            id,
            cipher: Aes256Gcm::new_from_slice(bytes).expect("32-byte key"),
            lookup,
        })
    }

    fn from_base64(text: &str) -> Result<Self, ProtectError> {
        let bytes = STANDARD
            .decode(text.trim())
            .map_err(|_| ProtectError::Config("a data key must be base64".into()))?;
        Self::from_bytes(&bytes)
    }

    fn lookup_hash(&self, nhs: &NhsNumber) -> String {
        let mut mac = <HmacSha256 as Mac>::new_from_slice(&self.lookup).expect("any key");
        mac.update(nhs.as_str().as_bytes());
        mac.finalize()
            .into_bytes()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }
}

/// The current data key and any earlier ones still being read.
pub struct KeyRing {
    current: DataKey,
    previous: Vec<DataKey>,
}

pub const DEV_DATA_KEY_FILE: &str = ".candour-dev-data-key";

/// Base64 of 32 fresh random bytes: a new data key.
pub fn generate_key() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    STANDARD.encode(bytes)
}

impl KeyRing {
    /// The configured keys; in development without `data_key`, a generated key kept in
    /// `.candour-dev-data-key` (created and announced on first run). Production never
    /// gets one (the configuration check refuses to start without `data_key`).
    pub fn from_settings(settings: &Settings) -> Result<Self, ProtectError> {
        let current = match &settings.data_key {
            Some(k) => DataKey::from_base64(k.expose_secret())
                .map_err(|e| ProtectError::Config(format!("data_key: {e}")))?,
            None if settings.environment == Environment::Production => {
                return Err(ProtectError::Config(
                    "data_key: production needs data_key".into(),
                ))
            }
            None => DataKey::from_base64(&dev_key()?)?,
        };
        let mut previous = Vec::new();
        if let Some(list) = &settings.data_key_previous {
            for part in list
                .expose_secret()
                .split(',')
                .filter(|p| !p.trim().is_empty())
            {
                let key = DataKey::from_base64(part)
                    .map_err(|e| ProtectError::Config(format!("data_key_previous: {e}")))?;
                if key.id != current.id {
                    previous.push(key);
                }
            }
        }
        Ok(Self { current, previous })
    }

    /// A ring of explicit base64 keys (tests and tools).
    pub fn from_keys(current: &str, previous: &[&str]) -> Result<Self, ProtectError> {
        Ok(Self {
            current: DataKey::from_base64(current)?,
            previous: previous
                .iter()
                .map(|k| DataKey::from_base64(k))
                .collect::<Result<_, _>>()?,
        })
    }

    pub fn current_key_id(&self) -> &str {
        &self.current.id
    }

    fn key(&self, id: &str) -> Option<&DataKey> {
        std::iter::once(&self.current)
            .chain(self.previous.iter())
            .find(|k| k.id == id)
    }

    /// Seals `plaintext` under the current key, bound to `context` (record and field).
    pub fn seal(&self, context: &str, plaintext: &str) -> String {
        let blob = self.seal_bytes(context.as_bytes(), plaintext.as_bytes());
        format!("v1.{}.{}", self.current.id, URL_SAFE_NO_PAD.encode(blob))
    }

    /// Opens a value sealed by `seal` under any key of the ring.
    pub fn open(&self, context: &str, sealed: &str) -> Result<String, ProtectError> {
        let mut parts = sealed.splitn(3, '.');
        let (Some("v1"), Some(id), Some(body)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(ProtectError::Malformed);
        };
        if self.key(id).is_none() {
            return Err(ProtectError::UnknownKey(id.to_string()));
        }
        let blob = URL_SAFE_NO_PAD
            .decode(body)
            .map_err(|_| ProtectError::Malformed)?;
        let pt = self.open_bytes(id, context.as_bytes(), &blob)?;
        String::from_utf8(pt).map_err(|_| ProtectError::Malformed)
    }

    /// Seals bytes under the current key, bound to `aad`: nonce, ciphertext and tag. The
    /// key that sealed them is `current_key_id()`, stored beside them (attachments).
    pub fn seal_bytes(&self, aad: &[u8], plaintext: &[u8]) -> Vec<u8> {
        let mut nonce = [0u8; 12];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        let ct = self
            .current
            .cipher
            .encrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: plaintext,
                    aad,
                },
            )
            .expect("AES-GCM encryption of a value under 64 GiB cannot fail");
        let mut blob = Vec::with_capacity(12 + ct.len());
        blob.extend_from_slice(&nonce);
        blob.extend_from_slice(&ct);
        blob
    }

    /// Opens bytes sealed by `seal_bytes` under the key `key_id`.
    pub fn open_bytes(
        &self,
        key_id: &str,
        aad: &[u8],
        sealed: &[u8],
    ) -> Result<Vec<u8>, ProtectError> {
        let key = self
            .key(key_id)
            .ok_or_else(|| ProtectError::UnknownKey(key_id.to_string()))?;
        if sealed.len() < 12 + 16 {
            return Err(ProtectError::Malformed);
        }
        let (nonce, ct) = sealed.split_at(12);
        key.cipher
            .decrypt(Nonce::from_slice(nonce), Payload { msg: ct, aad })
            .map_err(|_| ProtectError::Open)
    }

    /// A keyed hash of `text` under the current key, for matching a value without storing
    /// it (the uploader of a file not yet attached).
    pub fn keyed_hash(&self, purpose: &str, text: &str) -> String {
        let mut mac =
            <HmacSha256 as Mac>::new_from_slice(&self.current.lookup).expect("HMAC takes any key");
        mac.update(purpose.as_bytes());
        mac.update(b"\n");
        mac.update(text.as_bytes());
        mac.finalize()
            .into_bytes()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    /// Whether a sealed value is under an earlier key.
    pub fn is_stale(&self, sealed: &str) -> bool {
        sealed
            .split('.')
            .nth(1)
            .is_some_and(|id| id != self.current.id)
    }

    /// The keyed hash stored for look-up, under the current key.
    pub fn lookup_hash(&self, nhs: &NhsNumber) -> String {
        self.current.lookup_hash(nhs)
    }

    /// The look-up hashes under every key of the ring: rows not yet rotated still match.
    pub fn lookup_hashes(&self, nhs: &NhsNumber) -> Vec<String> {
        std::iter::once(&self.current)
            .chain(self.previous.iter())
            .map(|k| k.lookup_hash(nhs))
            .collect()
    }
}

/// The associated data binding a sealed value to its record and field.
pub fn context(entity: &str, id: uuid::Uuid, field: &str) -> String {
    format!("{entity}:{id}:{field}")
}

fn dev_key() -> Result<String, ProtectError> {
    if let Ok(existing) = std::fs::read_to_string(DEV_DATA_KEY_FILE) {
        let existing = existing.trim().to_string();
        if DataKey::from_base64(&existing).is_ok() {
            return Ok(existing);
        }
    }
    let generated = generate_key();
    crate::auth::write_private(DEV_DATA_KEY_FILE, &generated)
        .map_err(|e| ProtectError::Config(format!("cannot write {DEV_DATA_KEY_FILE}: {e}")))?;
    eprintln!(
        "candour: no data_key configured; generated a development data key in {DEV_DATA_KEY_FILE}.\n\
         Set CANDOUR_DATA_KEY (base64 of 32 random bytes, e.g. from `candour generate-data-key`) for real use."
    );
    Ok(generated)
}

/// Patient details in the clear, only ever held in memory.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct PatientClear {
    pub nhs_number: Option<NhsNumber>,
    pub name: Option<String>,
    pub date_of_birth: Option<chrono::NaiveDate>,
}

/// Patient details as stored on an incident row.
#[derive(Clone, Default, Debug, PartialEq, Eq)]
pub struct PatientSealed {
    pub nhs_sealed: Option<String>,
    pub name_sealed: Option<String>,
    pub dob_sealed: Option<String>,
    pub nhs_hash: Option<String>,
}

impl KeyRing {
    /// Seals an incident's patient details, each bound to the incident and its field.
    pub fn seal_patient(&self, incident: uuid::Uuid, p: &PatientClear) -> PatientSealed {
        let ctx = |f| context("incident", incident, f);
        PatientSealed {
            nhs_sealed: p
                .nhs_number
                .as_ref()
                .map(|n| self.seal(&ctx("nhsNumber"), n.as_str())),
            name_sealed: p.name.as_ref().map(|n| self.seal(&ctx("name"), n)),
            dob_sealed: p
                .date_of_birth
                .map(|d| self.seal(&ctx("dateOfBirth"), &d.format("%Y-%m-%d").to_string())),
            nhs_hash: p.nhs_number.as_ref().map(|n| self.lookup_hash(n)),
        }
    }

    /// Opens an incident's patient details.
    pub fn open_patient(
        &self,
        incident: uuid::Uuid,
        s: &PatientSealed,
    ) -> Result<PatientClear, ProtectError> {
        let ctx = |f| context("incident", incident, f);
        let open = |field, v: &Option<String>| -> Result<Option<String>, ProtectError> {
            v.as_deref().map(|v| self.open(&ctx(field), v)).transpose()
        };
        Ok(PatientClear {
            // Stored numbers were checked when reported; an older row may predate the
            // check-digit rule, so it is kept as stored.
            nhs_number: open("nhsNumber", &s.nhs_sealed)?.map(NhsNumber),
            name: open("name", &s.name_sealed)?,
            date_of_birth: open("dateOfBirth", &s.dob_sealed)?
                .map(|d| chrono::NaiveDate::parse_from_str(&d, "%Y-%m-%d"))
                .transpose()
                .map_err(|_| ProtectError::Malformed)?,
        })
    }
}

impl PatientSealed {
    pub fn of(m: &entities::incident::Model) -> Self {
        Self {
            nhs_sealed: m.patient_nhs_sealed.clone(),
            name_sealed: m.patient_name_sealed.clone(),
            dob_sealed: m.patient_dob_sealed.clone(),
            nhs_hash: m.patient_nhs_hash.clone(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.nhs_sealed.is_none() && self.name_sealed.is_none() && self.dob_sealed.is_none()
    }
}

/// Seals patient details still held in the first migration's plaintext columns, and
/// empties those columns. Run at start-up; returns how many incidents it sealed.
pub async fn seal_plaintext_columns(
    db: &crate::db::Db,
    keys: &KeyRing,
) -> Result<u64, sea_orm::DbErr> {
    use sea_orm::sea_query::{Alias, Expr, Query};
    use sea_orm::ConnectionTrait;
    let (nhs, name, dob) = (
        Alias::new("patient_nhs_number"),
        Alias::new("patient_name"),
        Alias::new("patient_date_of_birth"),
    );
    let select = Query::select()
        .columns([Alias::new("id"), nhs.clone(), name.clone(), dob.clone()])
        .from(entities::incident::Entity)
        .cond_where(
            sea_orm::Condition::any()
                .add(Expr::col(nhs.clone()).is_not_null())
                .add(Expr::col(name.clone()).is_not_null())
                .add(Expr::col(dob.clone()).is_not_null()),
        )
        .to_owned();
    let backend = db.backend();
    let rows = db.conn.query_all(backend.build(&select)).await?;
    if rows.is_empty() {
        return Ok(0);
    }
    let tx = db.begin_write().await?;
    for row in &rows {
        let id: uuid::Uuid = row.try_get("", "id")?;
        let clear = PatientClear {
            nhs_number: row
                .try_get::<Option<String>>("", "patient_nhs_number")?
                .map(NhsNumber),
            name: row.try_get("", "patient_name")?,
            date_of_birth: row.try_get("", "patient_date_of_birth")?,
        };
        let sealed = keys.seal_patient(id, &clear);
        let update = Query::update()
            .table(entities::incident::Entity)
            .values([
                (Alias::new("patient_nhs_sealed"), sealed.nhs_sealed.into()),
                (Alias::new("patient_name_sealed"), sealed.name_sealed.into()),
                (Alias::new("patient_dob_sealed"), sealed.dob_sealed.into()),
                (Alias::new("patient_nhs_hash"), sealed.nhs_hash.into()),
                (nhs.clone(), Option::<String>::None.into()),
                (name.clone(), Option::<String>::None.into()),
                (dob.clone(), Option::<chrono::NaiveDate>::None.into()),
            ])
            .and_where(Expr::col(Alias::new("id")).eq(id))
            .to_owned();
        tx.execute(backend.build(&update)).await?;
    }
    tx.commit().await?;
    Ok(rows.len() as u64)
}

/// What `candour rotate-data-key` did.
#[derive(Debug, Default)]
pub struct Rotation {
    pub incidents_resealed: u64,
    pub access_events_rekeyed: u64,
    pub webhook_secrets_resealed: u64,
    pub attachments_resealed: u64,
}

/// Re-seals every incident's patient details under the current key and recomputes their
/// look-up hashes (and those in the access log). Safe to run again: rows already under the
/// current key are skipped, and a run stopped half-way resumes where it stopped.
pub async fn rotate(db: &crate::db::Db, keys: &KeyRing) -> Result<Rotation, RotateError> {
    use entities::{access_event, incident};
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
    let mut out = Rotation::default();
    let mut after: Option<uuid::Uuid> = None;
    loop {
        let mut q = incident::Entity::find()
            .filter(
                sea_orm::Condition::any()
                    .add(incident::Column::PatientNhsSealed.is_not_null())
                    .add(incident::Column::PatientNameSealed.is_not_null())
                    .add(incident::Column::PatientDobSealed.is_not_null()),
            )
            .order_by_asc(incident::Column::Id)
            .limit(500);
        if let Some(a) = after {
            q = q.filter(incident::Column::Id.gt(a));
        }
        let rows = q.all(&db.conn).await?;
        let Some(last) = rows.last() else {
            out.webhook_secrets_resealed = rotate_webhook_secrets(db, keys).await?;
            out.attachments_resealed =
                crate::attachment::store::rotate(db, keys)
                    .await
                    .map_err(|(what, e)| match e {
                        crate::attachment::store::StoreError::Db(e) => RotateError::Db(e),
                        crate::attachment::store::StoreError::Open(e) => RotateError::Open(what, e),
                    })?;
            return Ok(out);
        };
        after = Some(last.id);
        let tx = db.begin_write().await?;
        for m in &rows {
            let sealed = PatientSealed::of(m);
            let stale = [&sealed.nhs_sealed, &sealed.name_sealed, &sealed.dob_sealed]
                .into_iter()
                .flatten()
                .any(|v| keys.is_stale(v));
            let clear = keys
                .open_patient(m.id, &sealed)
                .map_err(|e| RotateError::Open(format!("incident {}", m.reference), e))?;
            let new_hash = clear.nhs_number.as_ref().map(|n| keys.lookup_hash(n));
            if !stale && new_hash == sealed.nhs_hash {
                continue;
            }
            let fresh = keys.seal_patient(m.id, &clear);
            incident::Entity::update_many()
                .col_expr(incident::Column::PatientNhsSealed, fresh.nhs_sealed.into())
                .col_expr(
                    incident::Column::PatientNameSealed,
                    fresh.name_sealed.into(),
                )
                .col_expr(incident::Column::PatientDobSealed, fresh.dob_sealed.into())
                .col_expr(
                    incident::Column::PatientNhsHash,
                    fresh.nhs_hash.clone().into(),
                )
                .filter(incident::Column::Id.eq(m.id))
                .exec(&*tx)
                .await?;
            out.incidents_resealed += 1;
            if let (Some(old), Some(new)) = (&sealed.nhs_hash, &fresh.nhs_hash) {
                if old != new {
                    let r = access_event::Entity::update_many()
                        .col_expr(access_event::Column::PatientKey, new.clone().into())
                        .filter(access_event::Column::PatientKey.eq(old.clone()))
                        .exec(&*tx)
                        .await?;
                    out.access_events_rekeyed += r.rows_affected;
                }
            }
        }
        tx.commit().await?;
    }
}

/// Re-seals webhook signing secrets under the current key (the few there are, at once).
async fn rotate_webhook_secrets(db: &crate::db::Db, keys: &KeyRing) -> Result<u64, RotateError> {
    use entities::webhook_endpoint as endpoint;
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    let tx = db.begin_write().await?;
    let mut n = 0;
    for m in endpoint::Entity::find().all(&*tx).await? {
        if !keys.is_stale(&m.secret) {
            continue;
        }
        let ctx = context("Webhook", m.id, "secret");
        let clear = keys
            .open(&ctx, &m.secret)
            .map_err(|e| RotateError::Open(format!("webhook {}", m.id), e))?;
        endpoint::Entity::update_many()
            .col_expr(endpoint::Column::Secret, keys.seal(&ctx, &clear).into())
            .filter(endpoint::Column::Id.eq(m.id))
            .exec(&*tx)
            .await?;
        n += 1;
    }
    tx.commit().await?;
    Ok(n)
}

#[derive(Debug, thiserror::Error)]
pub enum RotateError {
    #[error("database: {}", crate::error::db_error_kind(.0))]
    Db(#[from] sea_orm::DbErr),
    #[error("{0}: {1} (is the key that sealed it in data_key_previous?)")]
    Open(String, ProtectError),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nhs_numbers_are_checked_by_modulus_11() {
        assert_eq!(
            NhsNumber::parse("943 476 5919").unwrap().as_str(),
            "9434765919"
        );
        assert!(NhsNumber::parse("9434765918").is_err(), "wrong check digit");
        assert!(NhsNumber::parse("943476591").is_err(), "nine digits");
        assert!(NhsNumber::parse("94347659190").is_err(), "eleven digits");
        assert!(NhsNumber::parse("94347659a9").is_err());
        // Remainder 1 would need check digit 10: never issued.
        assert!(NhsNumber::parse("1000000010").is_err());
        // Remainder 0 gives check digit 0.
        assert!(NhsNumber::parse("2000000010").is_ok());
        assert!(NhsNumber::parse("4010232137").is_ok());
        assert!(!format!("{:?}", NhsNumber::parse("9434765919").unwrap()).contains("943"));
    }

    #[test]
    fn sealed_values_open_only_in_their_place_and_under_known_keys() {
        let k1 = generate_key();
        let k2 = generate_key();
        let ring = KeyRing::from_keys(&k1, &[]).unwrap();
        let sealed = ring.seal("incident:1:name", "Jane Doe");
        assert!(sealed.starts_with(&format!("v1.{}.", ring.current_key_id())));
        assert!(!sealed.contains("Jane"));
        assert_eq!(ring.open("incident:1:name", &sealed).unwrap(), "Jane Doe");
        assert!(matches!(
            ring.open("incident:2:name", &sealed),
            Err(ProtectError::Open)
        ));
        // Same plaintext, fresh nonce: different ciphertexts.
        assert_ne!(sealed, ring.seal("incident:1:name", "Jane Doe"));

        let rotated = KeyRing::from_keys(&k2, &[&k1]).unwrap();
        assert!(rotated.is_stale(&sealed));
        assert_eq!(
            rotated.open("incident:1:name", &sealed).unwrap(),
            "Jane Doe"
        );
        let resealed = rotated.seal("incident:1:name", "Jane Doe");
        assert!(!rotated.is_stale(&resealed));
        let only_new = KeyRing::from_keys(&k2, &[]).unwrap();
        assert!(matches!(
            only_new.open("incident:1:name", &sealed),
            Err(ProtectError::UnknownKey(_))
        ));
        let mut tampered = resealed.clone();
        tampered.pop();
        tampered.push(if resealed.ends_with('A') { 'B' } else { 'A' });
        assert!(rotated.open("incident:1:name", &tampered).is_err());
    }

    #[test]
    fn lookup_hashes_are_keyed_and_stable() {
        let k1 = generate_key();
        let k2 = generate_key();
        let nhs = NhsNumber::parse("9434765919").unwrap();
        let a = KeyRing::from_keys(&k1, &[]).unwrap();
        let b = KeyRing::from_keys(&k2, &[&k1]).unwrap();
        assert_eq!(a.lookup_hash(&nhs), a.lookup_hash(&nhs));
        assert_ne!(a.lookup_hash(&nhs), b.lookup_hash(&nhs));
        assert_eq!(
            b.lookup_hashes(&nhs),
            vec![b.lookup_hash(&nhs), a.lookup_hash(&nhs)]
        );
        assert_eq!(a.lookup_hash(&nhs).len(), 64);
    }
}
