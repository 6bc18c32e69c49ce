//! `TestReceiver`: a real HTTP server on loopback playing a consumer's
//! webhook endpoint. It records every request and answers with whatever
//! status the test sets, changeable mid-run.

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::Value;
use tokio::net::TcpListener;

/// One request the receiver got.
#[derive(Debug, Clone)]
pub struct Received {
    /// Its headers.
    pub headers: HeaderMap,
    /// Its raw body.
    pub raw: Bytes,
    /// Its body as JSON.
    pub body: Value,
}

impl Received {
    /// A header as text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

#[derive(Debug)]
struct Behaviour {
    status: u16,
    retry_after: Option<String>,
    received: Vec<Received>,
    gate: Option<crate::Gate>,
}

/// The receiver.
#[derive(Debug, Clone)]
pub struct TestReceiver {
    /// Its URL (`http://127.0.0.1:<port>/hook`).
    pub url: String,
    /// Its port.
    pub port: u16,
    state: Arc<Mutex<Behaviour>>,
}

impl TestReceiver {
    /// Starts a receiver that answers 200.
    pub async fn start() -> TestReceiver {
        let state = Arc::new(Mutex::new(Behaviour {
            status: 200,
            retry_after: None,
            received: vec![],
            gate: None,
        }));
        let app = Router::new().route("/hook", post(receive)).with_state(state.clone());
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        TestReceiver { url: format!("http://127.0.0.1:{port}/hook"), port, state }
    }

    /// Answers every following request with this status.
    pub fn respond_with(&self, status: u16) {
        self.state.lock().unwrap().status = status;
    }

    /// Adds (or stops adding) a `Retry-After` header.
    pub fn retry_after(&self, value: Option<&str>) {
        self.state.lock().unwrap().retry_after = value.map(str::to_owned);
    }

    /// Holds every later request at `gate` (recorded once it passes).
    pub fn hold(&self, gate: &crate::Gate) {
        self.state.lock().unwrap().gate = Some(gate.clone());
    }

    /// Everything received so far.
    pub fn received(&self) -> Vec<Received> {
        self.state.lock().unwrap().received.clone()
    }

    /// The bodies received so far.
    pub fn bodies(&self) -> Vec<Value> {
        self.received().into_iter().map(|r| r.body).collect()
    }
}

async fn receive(
    State(state): State<Arc<Mutex<Behaviour>>>,
    headers: HeaderMap,
    raw: Bytes,
) -> Response {
    let body = serde_json::from_slice(&raw).unwrap_or(Value::Null);
    let gate = state.lock().unwrap().gate.clone();
    if let Some(gate) = gate {
        gate.pass().await;
    }
    let mut state = state.lock().unwrap();
    state.received.push(Received { headers, raw, body });
    let status = StatusCode::from_u16(state.status).unwrap();
    let mut response = (status, "").into_response();
    if let Some(after) = &state.retry_after {
        response.headers_mut().insert("retry-after", HeaderValue::from_str(after).unwrap());
    }
    response
}
