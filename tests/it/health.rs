//! `/healthz` and `/readyz`.

use chatgate_e2e::TestApp;
use reqwest::Method;

#[tokio::test]
async fn health_and_readiness_answer_without_a_token() {
    let app = TestApp::spawn().await;
    let health = app.request(Method::GET, "/healthz", None, None).await;
    assert_eq!(health.status, 200);
    assert_eq!(health.body["status"], "ok");
    let ready = app.request(Method::GET, "/readyz", None, None).await;
    assert_eq!(ready.status, 200);
    assert_eq!(ready.body["status"], "ready");
}

#[tokio::test]
async fn readiness_fails_when_the_database_is_closed() {
    let app = TestApp::spawn().await;
    app.app().store.close().await;
    let ready = app.request(Method::GET, "/readyz", None, None).await;
    assert_eq!(ready.status, 503);
    assert_eq!(ready.body["status"], "unavailable");
}
