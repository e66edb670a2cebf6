//! The live-events benchmark's client (bench/live.sh runs it against real servers): writers
//! reporting incidents over HTTP as fast as they are answered, and subscribers hearing of
//! them over `graphql-transport-ws`. One JSON line per phase on stdout.
//!
//!   live_bench --graphql http://127.0.0.1:8080/graphql \
//!       --subscribe ws://127.0.0.1:8080/graphql,ws://127.0.0.1:8081/graphql \
//!       --secret S --department ID --phases none,subs,subs,none \
//!       [--subscribers 100] [--writers 16] [--seconds 10] [--rate 0]
//!
//! `--rate N` paces the writers to N reports a second in all (0: as fast as answered).
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;

struct Args {
    graphql: String,
    subscribe: Vec<String>,
    secret: String,
    department: String,
    phases: Vec<String>,
    subscribers: usize,
    writers: usize,
    seconds: u64,
    /// Reports per second across all writers; 0: as fast as they are answered.
    rate: u64,
    /// The servers' process ids, to read their CPU time from /proc.
    pids: Vec<u32>,
}

fn args() -> Args {
    let mut map: HashMap<String, String> = HashMap::new();
    let mut it = std::env::args().skip(1);
    while let Some(k) = it.next() {
        let v = it.next().unwrap_or_else(|| panic!("{k} needs a value"));
        map.insert(k.trim_start_matches("--").to_string(), v);
    }
    let get = |k: &str| {
        map.get(k)
            .cloned()
            .unwrap_or_else(|| panic!("--{k} is required"))
    };
    let num = |k: &str, d: u64| {
        map.get(k)
            .map(|v| v.parse().expect("a number"))
            .unwrap_or(d)
    };
    Args {
        graphql: get("graphql"),
        subscribe: get("subscribe").split(',').map(str::to_string).collect(),
        secret: get("secret"),
        department: get("department"),
        phases: get("phases").split(',').map(str::to_string).collect(),
        subscribers: num("subscribers", 100) as usize,
        writers: num("writers", 16) as usize,
        seconds: num("seconds", 10),
        rate: num("rate", 0),
        pids: map
            .get("pids")
            .map(|p| p.split(',').filter_map(|x| x.parse().ok()).collect())
            .unwrap_or_default(),
    }
}

fn token(secret: &str, sub: &str, roles: &[&str], departments: &[&str]) -> String {
    let claims = json!({
        "sub": sub,
        "name": sub,
        "email": format!("{sub}@candour.invalid"),
        "roles": roles,
        "departments": departments,
        "exp": chrono::Utc::now().timestamp() + 7200,
    });
    jsonwebtoken::encode(
        &jsonwebtoken::Header::default(),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(secret.as_bytes()),
    )
    .expect("token")
}

/// What one subscriber heard: the delay of each event from its trail time to arrival (ms).
struct Heard {
    delays_ms: Mutex<Vec<f64>>,
    count: AtomicU64,
}

async fn subscriber(
    url: String,
    token: String,
    ready: Arc<AtomicU64>,
) -> (Arc<Heard>, tokio::task::JoinHandle<()>) {
    let heard = Arc::new(Heard {
        delays_ms: Mutex::new(Vec::new()),
        count: AtomicU64::new(0),
    });
    let mut req = url.into_client_request().expect("ws url");
    req.headers_mut().insert(
        "Sec-WebSocket-Protocol",
        "graphql-transport-ws".parse().unwrap(),
    );
    let (mut ws, _) = tokio_tungstenite::connect_async(req)
        .await
        .expect("connect");
    let send = |v: Value| Message::text(v.to_string());
    ws.send(send(
        json!({"type": "connection_init", "payload": {"authorization": format!("Bearer {token}")}}),
    ))
    .await
    .unwrap();
    ws.send(send(json!({"id": "1", "type": "subscribe", "payload": {"query":
        "subscription { incidentEvents(filter: {types: [REPORTED]}) { id occurredAt incident { reference } } }"}})))
        .await
        .unwrap();
    ws.send(send(json!({"type": "ping"}))).await.unwrap();
    let h = heard.clone();
    let task = tokio::spawn(async move {
        while let Some(Ok(m)) = ws.next().await {
            let Message::Text(t) = m else { continue };
            let v: Value = serde_json::from_str(&t).unwrap_or(Value::Null);
            match v["type"].as_str() {
                Some("connection_ack") => {}
                Some("pong") => {
                    ready.fetch_add(1, Ordering::SeqCst);
                }
                Some("ping") => {
                    let _ = ws
                        .send(Message::text(json!({"type": "pong"}).to_string()))
                        .await;
                }
                Some("next") => {
                    let at = v["payload"]["data"]["incidentEvents"]["occurredAt"]
                        .as_str()
                        .and_then(|s| chrono::DateTime::parse_from_rfc3339(s).ok());
                    if let Some(at) = at {
                        let delay = chrono::Utc::now().signed_duration_since(at);
                        h.delays_ms
                            .lock()
                            .unwrap()
                            .push(delay.num_microseconds().unwrap_or(0) as f64 / 1000.0);
                    }
                    h.count.fetch_add(1, Ordering::SeqCst);
                }
                _ => eprintln!("subscriber: unexpected {v}"),
            }
        }
    });
    (heard, task)
}

/// CPU time (user + system) of these processes so far, in milliseconds.
fn cpu_ms(pids: &[u32]) -> f64 {
    let tick = 100.0; // USER_HZ on Linux
    pids.iter()
        .filter_map(|p| std::fs::read_to_string(format!("/proc/{p}/stat")).ok())
        .filter_map(|s| {
            let rest = s.rsplit_once(')')?.1.split_whitespace().collect::<Vec<_>>();
            let utime: f64 = rest.get(11)?.parse().ok()?;
            let stime: f64 = rest.get(12)?.parse().ok()?;
            Some((utime + stime) * 1000.0 / tick)
        })
        .sum()
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

#[tokio::main]
async fn main() {
    let a = args();
    let client = reqwest::Client::new();
    let reporter = token(&a.secret, "bench-reporter", &["handler"], &["CARD"]);
    let body = json!({
        "query": "mutation($d: ID!) { reportIncident(input: {title: \"Infusion pump alarm failed\", description: \"Load test report\", occurredAt: \"2026-11-01T10:00:00Z\", departmentId: $d, kind: EQUIPMENT, physicalHarm: LOW}) { incident { reference } } }",
        "variables": {"d": a.department},
    })
    .to_string();
    for phase in &a.phases {
        let n_subs = if phase == "subs" { a.subscribers } else { 0 };
        let ready = Arc::new(AtomicU64::new(0));
        let mut heard = Vec::new();
        let mut listening = Vec::new();
        for i in 0..n_subs {
            let url = a.subscribe[i % a.subscribe.len()].clone();
            let t = token(
                &a.secret,
                &format!("bench-subscriber-{i}"),
                &["quality_lead"],
                &[],
            );
            let (h, task) = subscriber(url, t, ready.clone()).await;
            heard.push(h);
            listening.push(task);
        }
        while ready.load(Ordering::SeqCst) < n_subs as u64 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let reports = Arc::new(AtomicU64::new(0));
        let failures = Arc::new(AtomicU64::new(0));
        let latencies = Arc::new(Mutex::new(Vec::new()));
        let until = Instant::now() + Duration::from_secs(a.seconds);
        let started = Instant::now();
        let cpu0 = cpu_ms(&a.pids);
        let mut tasks = Vec::new();
        let every = (a.rate > 0).then(|| Duration::from_secs_f64(a.writers as f64 / a.rate as f64));
        for w in 0..a.writers {
            let (client, url, body, reporter) = (
                client.clone(),
                a.graphql.clone(),
                body.clone(),
                reporter.clone(),
            );
            // Writers paced, each a share of the interval apart.
            let mut next = every.map(|e| started + e.mul_f64(w as f64 / a.writers as f64));
            let (reports, failures, latencies) =
                (reports.clone(), failures.clone(), latencies.clone());
            tasks.push(tokio::spawn(async move {
                while Instant::now() < until {
                    if let (Some(at), Some(e)) = (next.as_mut(), every) {
                        tokio::time::sleep_until((*at).into()).await;
                        *at += e;
                        if Instant::now() >= until {
                            break;
                        }
                    }
                    let t0 = Instant::now();
                    let r = client
                        .post(&url)
                        .header("Content-Type", "application/json")
                        .header("Authorization", format!("Bearer {reporter}"))
                        .body(body.clone())
                        .send()
                        .await;
                    let ok = match r {
                        Ok(r) if r.status() == 200 => r
                            .text()
                            .await
                            .map(|t| !t.contains("\"errors\""))
                            .unwrap_or(false),
                        _ => false,
                    };
                    if ok {
                        reports.fetch_add(1, Ordering::SeqCst);
                        latencies
                            .lock()
                            .unwrap()
                            .push(t0.elapsed().as_secs_f64() * 1000.0);
                    } else {
                        failures.fetch_add(1, Ordering::SeqCst);
                    }
                }
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        let elapsed = started.elapsed().as_secs_f64();
        let made = reports.load(Ordering::SeqCst);
        // Give the last events time to arrive.
        let settle = Instant::now();
        while settle.elapsed() < Duration::from_secs(10)
            && heard.iter().any(|h| h.count.load(Ordering::SeqCst) < made)
        {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let server_cpu = cpu_ms(&a.pids) - cpu0;
        // Dropping each connection closes it.
        for task in listening {
            task.abort();
        }
        let mut lat = latencies.lock().unwrap().clone();
        lat.sort_by(f64::total_cmp);
        let mut delays: Vec<f64> = heard
            .iter()
            .flat_map(|h| h.delays_ms.lock().unwrap().clone())
            .collect();
        delays.sort_by(f64::total_cmp);
        let delivered: u64 = heard.iter().map(|h| h.count.load(Ordering::SeqCst)).sum();
        let short = heard
            .iter()
            .filter(|h| h.count.load(Ordering::SeqCst) != made)
            .count();
        println!(
            "{}",
            json!({
                "phase": phase,
                "rate": a.rate,
                "subscribers": n_subs,
                "seconds": elapsed,
                "reports": made,
                "failures": failures.load(Ordering::SeqCst),
                "reports_per_s": made as f64 / elapsed,
                "write_p50_ms": percentile(&lat, 0.5),
                "write_p99_ms": percentile(&lat, 0.99),
                "deliveries": delivered,
                "deliveries_per_s": delivered as f64 / elapsed,
                "subscribers_not_hearing_every_report": short,
                "delay_p50_ms": percentile(&delays, 0.5),
                "delay_p99_ms": percentile(&delays, 0.99),
                "delay_max_ms": delays.last().copied().unwrap_or(f64::NAN),
                "servers_cpu_ms": server_cpu,
                "servers_cpu_pct_of_machine": server_cpu / (elapsed * 1000.0 * std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1) as f64) * 100.0,
                "servers_cpu_us_per_delivery": if delivered > 0 { Some(server_cpu * 1000.0 / delivered as f64) } else { None },
            })
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}
