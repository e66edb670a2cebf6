//! Starting and stopping `candour serve`: configuration errors name their setting, the
//! config file and environment, development secrets and minted tokens, migrations, SIGTERM,
//! and identity-provider keys from a JWKS file.

use super::*;

#[test]
fn a_short_secret_stops_the_server_with_a_message_naming_the_setting() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(
        dir.path(),
        &[("CANDOUR_JWT_SECRET", "tooshort")],
        &["serve"],
    );
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(err.contains("jwt_secret") && err.contains("32"), "{err}");
    assert!(
        !err.contains("tooshort"),
        "the secret must not be printed: {err}"
    );
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn a_malformed_number_names_its_key() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(
        dir.path(),
        &[("CANDOUR_LIMITS__MAX_DEPTH", "deep")],
        &["serve"],
    );
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(err.contains("max_depth"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn production_refuses_to_start_without_keys() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(
        dir.path(),
        &[("CANDOUR_ENVIRONMENT", "production")],
        &["serve"],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("production"), "{}", stderr(&out));
    assert!(!dir.path().join(".candour-dev-secret").exists());
}

#[tokio::test]
async fn the_config_file_is_read_and_the_environment_overrides_it() {
    let dir = tempfile::tempdir().unwrap();
    let db = fresh_database(dir.path()).await;
    std::fs::write(
        dir.path().join("candour.toml"),
        format!("jwt_secret = \"{SECRET}\"\nbind = \"127.0.0.1:1\"\n[limits]\nmax_depth = 3\n"),
    )
    .unwrap();
    // CANDOUR_BIND (set by start) overrides the file's unusable port.
    let server = start(dir.path(), &[("CANDOUR_DATABASE_URL", &db)]).await;
    let token = stdout(&run(dir.path(), &[], &["token", "--subject", "ann"]));
    assert_eq!(
        me(&server.base, &token).await["data"]["me"]["subject"],
        "ann"
    );
    // max_depth = 3 from the file applies.
    let deep: Value = reqwest::Client::new()
        .post(format!("{}/graphql", server.base))
        .bearer_auth(&token)
        .json(&json!({"query": "{ incidents { edges { node { department { name } } } } }"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        deep["errors"][0]["extensions"]["code"], "BAD_USER_INPUT",
        "{deep}"
    );
}

#[tokio::test]
async fn a_development_secret_is_generated_once_and_minted_tokens_work() {
    let dir = tempfile::tempdir().unwrap();
    let db = fresh_database(dir.path()).await;
    let server = start(dir.path(), &[("CANDOUR_DATABASE_URL", &db)]).await;
    let secret_file = dir.path().join(".candour-dev-secret");
    let secret = std::fs::read_to_string(&secret_file).expect("secret written on first run");
    let token = stdout(&run(
        dir.path(),
        &[],
        &[
            "token",
            "--subject",
            "qa",
            "--role",
            "quality_lead",
            "--lifetime",
            "5m",
        ],
    ));
    let body = me(&server.base, &token).await;
    assert_eq!(body["data"]["me"]["subject"], "qa", "{body}");
    assert!(body["data"]["me"]["roles"]
        .as_array()
        .unwrap()
        .contains(&json!("QUALITY_LEAD")));
    assert_eq!(
        std::fs::read_to_string(&secret_file).unwrap(),
        secret,
        "kept, not regenerated"
    );
}

#[tokio::test]
async fn token_link_is_a_sign_in_link_with_the_token_in_the_fragment() {
    let dir = tempfile::tempdir().unwrap();
    let db = fresh_database(dir.path()).await;
    let secret = (
        "CANDOUR_JWT_SECRET",
        "cli-test-secret-0123456789abcdef0123456789",
    );
    let server = start(dir.path(), &[("CANDOUR_DATABASE_URL", &db), secret]).await;
    let link = stdout(&run(
        dir.path(),
        &[
            secret,
            ("CANDOUR_PUBLIC_URL", "https://candour.trust.nhs.uk/"),
        ],
        &[
            "token",
            "--subject",
            "sam",
            "--name",
            "Sam Scientist",
            "--link",
        ],
    ));
    let token = link
        .strip_prefix("https://candour.trust.nhs.uk/#token=")
        .unwrap_or_else(|| panic!("not a sign-in link: {link}"));
    // Nothing before the fragment but the site: no query string a server would log.
    assert!(!link.contains('?'), "{link}");
    let body = me(&server.base, token).await;
    assert_eq!(body["data"]["me"]["subject"], "sam", "{body}");
}

#[test]
fn token_refuses_unknown_roles_and_scopes() {
    let dir = tempfile::tempdir().unwrap();
    let envs = [("CANDOUR_JWT_SECRET", SECRET)];
    let out = run(
        dir.path(),
        &envs,
        &["token", "--subject", "x", "--role", "root"],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("unknown role"));
    let out = run(
        dir.path(),
        &envs,
        &["token", "--subject", "x", "--scope", "everything"],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("unknown scope"));
}

#[tokio::test]
async fn migrate_prepares_the_database_and_the_server_is_ready() {
    let dir = tempfile::tempdir().unwrap();
    let db = fresh_database(dir.path()).await;
    let envs = [
        ("CANDOUR_DATABASE_URL", db.as_str()),
        ("CANDOUR_JWT_SECRET", SECRET),
    ];
    let out = run(dir.path(), &envs, &["migrate"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let server = start(dir.path(), &envs).await;
    let ready = reqwest::get(format!("{}/readyz", server.base))
        .await
        .unwrap();
    assert_eq!(ready.status(), 200);
}

#[tokio::test]
async fn sigterm_stops_the_server_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let db = fresh_database(dir.path()).await;
    let mut server = start(
        dir.path(),
        &[
            ("CANDOUR_DATABASE_URL", &db),
            ("CANDOUR_JWT_SECRET", SECRET),
        ],
    )
    .await;
    // Requests in flight when the signal arrives still get their answers.
    let client = reqwest::Client::new();
    let base = server.base.clone();
    let in_flight: Vec<_> = (0..8)
        .map(|_| {
            let client = client.clone();
            let url = format!("{base}/graphql");
            tokio::spawn(async move {
                client
                    .post(url)
                    .json(&json!({"query": "{ __schema { types { name fields { name } } } }"}))
                    .send()
                    .await
                    .map(|r| r.status().as_u16())
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(5)).await;
    let pid = server.child.id().to_string();
    assert!(Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());
    let mut answered = 0;
    for handle in in_flight {
        if let Ok(status) = handle.await.unwrap() {
            assert_eq!(status, 200);
            answered += 1;
        }
    }
    assert!(
        answered > 0,
        "requests sent before the signal were answered"
    );
    let deadline = Instant::now() + Duration::from_secs(35);
    let status = loop {
        if let Some(status) = server.child.try_wait().unwrap() {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "server did not stop after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "clean exit after SIGTERM: {status:?}");
    assert!(reqwest::get(format!("{}/healthz", server.base))
        .await
        .is_err());
}

#[tokio::test]
async fn identity_provider_keys_from_a_jwks_file_are_honoured() {
    let dir = tempfile::tempdir().unwrap();
    let db = fresh_database(dir.path()).await;
    let jwks = fixtures().join("jwks.json");
    let envs = [
        ("CANDOUR_DATABASE_URL", db.as_str()),
        ("CANDOUR_JWKS_FILE", jwks.to_str().unwrap()),
        ("CANDOUR_JWT_ISSUER", "https://idp.test"),
        ("CANDOUR_JWT_AUDIENCE", "candour"),
    ];
    let server = start(dir.path(), &envs).await;
    for (alg, key, kid) in [
        ("RS256", "rs256.pem", "test-rsa"),
        ("ES256", "es256.pem", "test-ec"),
    ] {
        let key = fixtures().join(key);
        let out = run(
            dir.path(),
            &envs,
            &[
                "token",
                "--subject",
                alg,
                "--private-key",
                key.to_str().unwrap(),
                "--algorithm",
                alg,
                "--kid",
                kid,
            ],
        );
        assert!(out.status.success(), "{}", stderr(&out));
        let body = me(&server.base, &stdout(&out)).await;
        assert_eq!(body["data"]["me"]["subject"], alg, "{body}");
    }
    // A token signed with a key the JWKS does not hold is refused.
    let hs = stdout(&run(
        dir.path(),
        &[
            ("CANDOUR_JWT_SECRET", SECRET),
            ("CANDOUR_JWT_ISSUER", "https://idp.test"),
            ("CANDOUR_JWT_AUDIENCE", "candour"),
        ],
        &["token", "--subject", "intruder"],
    ));
    let body = me(&server.base, &hs).await;
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "UNAUTHENTICATED",
        "{body}"
    );
    // The right key but the wrong kid is refused too.
    let out = run(
        dir.path(),
        &envs,
        &[
            "token",
            "--subject",
            "x",
            "--private-key",
            fixtures().join("rs256.pem").to_str().unwrap(),
            "--algorithm",
            "RS256",
            "--kid",
            "test-ec",
        ],
    );
    let body = me(&server.base, &stdout(&out)).await;
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "UNAUTHENTICATED",
        "{body}"
    );
}
