//! The `chatgate` binary as a user runs it.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

fn chatgate(data_dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_chatgate"))
        .args(args)
        .arg("--data-dir")
        .arg(data_dir)
        .env_remove("CHATGATE_PARTNER_TOKEN")
        .env("CHATGATE_STORE_DURABILITY", "normal")
        .output()
        .expect("run chatgate")
}

fn json_lines(output: &Output) -> Vec<Value> {
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8(output.stdout.clone())
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn instances_are_created_listed_sent_to_and_deleted_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let migrated = chatgate(dir.path(), &["migrate"]);
    assert!(migrated.status.success());
    assert!(dir.path().join("chatgate.db").exists());

    let created = &json_lines(&chatgate(
        dir.path(),
        &["instance", "create", "--name", "cli", "--delay-ms", "0"],
    ))[0];
    let id = created["id"].as_u64().unwrap().to_string();
    assert_eq!(id.len(), 10);
    assert_eq!(created["apiToken"].as_str().unwrap().len(), 50);
    assert_eq!(created["state"], "authorized");

    let listed = json_lines(&chatgate(dir.path(), &["instance", "list"]));
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["name"], "cli");
    assert!(!listed[0].to_string().contains(created["apiToken"].as_str().unwrap()));

    let sent = &json_lines(&chatgate(
        dir.path(),
        &["send", "--instance", &id, "--to", "u1", "--text", "hi", "--quick-reply", "Yes"],
    ))[0];
    assert_eq!(sent["status"], "queued");
    let listed = json_lines(&chatgate(dir.path(), &["instance", "list"]));
    assert_eq!(listed[0]["queue"], 1);

    let refused = chatgate(
        dir.path(),
        &["send", "--instance", &id, "--to", "u1", "--text", &"a".repeat(1001)],
    );
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("1000"));

    json_lines(&chatgate(dir.path(), &["instance", "delete", &id]));
    assert!(json_lines(&chatgate(dir.path(), &["instance", "list"])).is_empty());
}

#[test]
fn a_bad_configuration_stops_with_a_clear_message() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bad.toml");
    std::fs::write(&file, "[outbound]\nconcurrency = \"many\"\n").unwrap();
    let output = chatgate(dir.path(), &["migrate", "--config", file.to_str().unwrap()]);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("concurrency"), "{stderr}");
}

struct Serving {
    child: Child,
    banner: String,
}

/// Starts `chatgate serve` on port 0 and reads its banner.
fn serve(data_dir: &Path) -> Serving {
    let mut child = Command::new(env!("CARGO_BIN_EXE_chatgate"))
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(data_dir)
        .env_remove("CHATGATE_PARTNER_TOKEN")
        .env("CHATGATE_STORE_DURABILITY", "normal")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut banner = String::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    // The banner ends with the partner token line on later starts, or with
    // the curl example on the first.
    while Instant::now() < deadline {
        let Some(Ok(line)) = lines.next() else { break };
        banner.push_str(&line);
        banner.push('\n');
        if line.contains("Partner token:") || line.contains("messages/<message id>") {
            break;
        }
    }
    // Keep reading whatever else it prints, so its stdout never breaks.
    std::thread::spawn(move || lines.for_each(drop));
    Serving { child, banner }
}

fn stop(mut serving: Serving) {
    let pid = serving.child.id().to_string();
    let killed = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    assert!(killed.success());
    let status = serving.child.wait().unwrap();
    assert!(status.success(), "graceful shutdown exits 0: {status}");
}

fn listening_on(banner: &str) -> String {
    banner
        .lines()
        .find_map(|l| l.strip_prefix("chatgate is listening on "))
        .unwrap_or_else(|| panic!("no address in {banner}"))
        .to_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_first_start_creates_a_ready_sandbox_instance_and_prints_it_once() {
    let dir = tempfile::tempdir().unwrap();
    let first = serve(dir.path());
    let base = listening_on(&first.banner);
    let credentials: Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("sandbox-instance.json")).unwrap(),
    )
    .unwrap();
    let id = credentials["id"].as_u64().unwrap();
    let token = credentials["apiToken"].as_str().unwrap();
    let partner = std::fs::read_to_string(dir.path().join("partner-token")).unwrap();
    assert!(first.banner.contains(token), "the token is printed once: {}", first.banner);
    assert!(first.banner.contains(partner.trim()));
    assert!(first.banner.contains("curl -s -X POST"));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode =
            std::fs::metadata(dir.path().join("partner-token")).unwrap().permissions().mode();
        assert_eq!(mode & 0o077, 0, "only the owner may read the partner token");
    }

    // The printed example works as pasted.
    let client = reqwest::Client::new();
    let answer = client
        .post(format!("{base}/api/v1/instances/{id}/messages"))
        .bearer_auth(token)
        .json(
            &serde_json::json!({"to": {"id": "17841400000000001"}, "text": "Hello from chatgate"}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 202);
    stop(first);

    // The second start reuses everything and prints no secret.
    let second = serve(dir.path());
    assert!(!second.banner.contains(token), "{}", second.banner);
    assert!(!second.banner.contains(partner.trim()));
    stop(second);
    let listed = json_lines(&chatgate(dir.path(), &["instance", "list"]));
    assert_eq!(listed.len(), 1, "no second sandbox instance");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_second_signal_during_a_graceful_stop_exits_at_once_and_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_chatgate"))
        .args(["serve", "--listen", "127.0.0.1:0", "--log-format", "json", "--data-dir"])
        .arg(dir.path())
        .env_remove("CHATGATE_PARTNER_TOKEN")
        .env("CHATGATE_STORE_DURABILITY", "normal")
        .env("RUST_LOG", "info,tower_http=debug")
        .env("CHATGATE_SHUTDOWN_GRACE_SECS", "120")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (tx, rx) = std::sync::mpsc::channel::<Value>();
    let stderr = BufReader::new(child.stderr.take().unwrap());
    std::thread::spawn(move || {
        for line in stderr.lines() {
            let line: Value = serde_json::from_str(&line.unwrap()).expect("JSON log lines");
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let next_line_with = |text: &str| loop {
        let line = rx.recv_timeout(Duration::from_secs(30)).unwrap_or_else(|_| panic!("no {text}"));
        if line.to_string().contains(text) {
            return line;
        }
    };
    let serving = next_line_with("chatgate is serving");
    let addr = serving["fields"]["addr"].as_str().unwrap().to_owned();
    let stdout = child.stdout.take().unwrap();
    std::thread::spawn(move || BufReader::new(stdout).lines().for_each(drop));
    let credentials: Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("sandbox-instance.json")).unwrap(),
    )
    .unwrap();
    let (id, token) = (credentials["id"].as_u64().unwrap(), credentials["apiToken"].clone());

    // A request whose body never finishes keeps the graceful stop waiting
    // (a long poll would not: a stop answers those at once).
    let mut held = std::net::TcpStream::connect(&addr).unwrap();
    let head = format!(
        "POST /api/v1/instances/{id}/messages HTTP/1.1\r\nHost: {addr}\r\n\
         Authorization: Bearer {}\r\nContent-Type: application/json\r\n\
         Content-Length: 1000\r\n\r\n{{\"to\":",
        token.as_str().unwrap()
    );
    std::io::Write::write_all(&mut held, head.as_bytes()).unwrap();
    next_line_with("started processing request");
    let pid = child.id().to_string();
    assert!(Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
    next_line_with("shutting down");
    assert!(Command::new("kill").args(["-INT", &pid]).status().unwrap().success());
    let forced = next_line_with("a second signal");
    assert_eq!(forced["level"], "ERROR");
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(130), "{status}");
    drop(held);
}
