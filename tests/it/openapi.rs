//! The native API's OpenAPI 3.1 document at `/api/openapi.json` and Swagger
//! UI at `/api/docs`: the document validates, lists exactly the native
//! routes, describes answers as they are; the UI loads only from this
//! server.

use std::collections::BTreeSet;
use std::process::Stdio;
use std::time::Duration;

use chatgate_e2e::TestApp;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tokio::io::AsyncWriteExt;

/// A Python with openapi-spec-validator, prepared by `.ci/run`.
const PYTHON: &str = "OPENAPI_VALIDATOR_PYTHON";

/// Every route of the native API, read from the `router()` of each file in
/// crates/api/src/native/.
const NATIVE_ROUTES: &[(&str, &str)] = &[
    // instances.rs
    ("GET", "/api/v1/instances"),
    ("POST", "/api/v1/instances"),
    ("GET", "/api/v1/instances/{id}"),
    ("DELETE", "/api/v1/instances/{id}"),
    ("PUT", "/api/v1/instances/{id}/connection"),
    // settings.rs
    ("GET", "/api/v1/instances/{id}/settings"),
    ("PATCH", "/api/v1/instances/{id}/settings"),
    ("POST", "/api/v1/instances/{id}/settings/webhook-secret"),
    ("POST", "/api/v1/instances/{id}/settings/service-secret"),
    // messages.rs
    ("POST", "/api/v1/instances/{id}/messages"),
    ("GET", "/api/v1/instances/{id}/messages/{messageId}"),
    ("GET", "/api/v1/instances/{id}/queue"),
    ("DELETE", "/api/v1/instances/{id}/queue"),
    ("GET", "/api/v1/instances/{id}/queue/count"),
    // chats.rs
    ("POST", "/api/v1/instances/{id}/chats/{contactId}/read"),
    ("POST", "/api/v1/instances/{id}/chats/{contactId}/typing"),
    ("GET", "/api/v1/instances/{id}/contacts/{contactId}"),
    // events.rs
    ("GET", "/api/v1/instances/{id}/notifications/next"),
    ("GET", "/api/v1/instances/{id}/notifications/count"),
    ("DELETE", "/api/v1/instances/{id}/notifications/{receiptId}"),
    ("GET", "/api/v1/instances/{id}/events"),
    ("POST", "/api/v1/instances/{id}/events/replay"),
    ("POST", "/api/v1/instances/{id}/events/{eventId}/redeliver"),
    ("GET", "/api/v1/instances/{id}/deliveries"),
    // sandbox.rs
    ("POST", "/api/v1/instances/{id}/sandbox/incoming"),
];

const METHODS: [&str; 8] = ["get", "put", "post", "delete", "options", "head", "patch", "trace"];

async fn document(app: &TestApp) -> Value {
    let answer = app.request(Method::GET, "/api/openapi.json", None, None).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    answer.body
}

/// Every (METHOD, path) the document describes.
fn operations(doc: &Value) -> BTreeSet<(String, String)> {
    let mut out = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for method in METHODS {
            if item.get(method).is_some() {
                out.insert((method.to_uppercase(), path.clone()));
            }
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_document_is_openapi_3_1_and_the_official_validator_accepts_it() {
    let app = TestApp::spawn().await;
    let doc = document(&app).await;
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1."), "{}", doc["openapi"]);
    assert_eq!(doc["info"]["title"], "chatgate");
    assert_eq!(doc["info"]["version"], env!("CARGO_PKG_VERSION"));
    assert!(!doc["info"]["description"].as_str().unwrap().is_empty());
    for scheme in ["partnerToken", "instanceToken"] {
        let scheme = &doc["components"]["securitySchemes"][scheme];
        assert_eq!(scheme["type"], "http");
        assert_eq!(scheme["scheme"], "bearer");
    }
    let tags: BTreeSet<&str> =
        doc["tags"].as_array().unwrap().iter().map(|t| t["name"].as_str().unwrap()).collect();
    for tag in ["instances", "settings", "messages", "chats", "events", "deliveries", "sandbox"] {
        assert!(tags.contains(tag), "tag {tag} missing: {tags:?}");
    }

    let Ok(python) = std::env::var(PYTHON) else {
        assert!(
            std::env::var("CI").is_err(),
            "{PYTHON} is not set: .ci/run installs openapi-spec-validator into a virtual environment and sets it"
        );
        eprintln!(
            "\n*** SKIPPED (validation only): the OpenAPI validator needs {PYTHON} (a Python with \
             openapi-spec-validator installed); .ci/run sets it up ***\n"
        );
        return;
    };
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/python/validate_openapi.py");
    let mut child = tokio::process::Command::new(python)
        .arg(script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("the validator started");
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(&serde_json::to_vec(&doc).unwrap()).await.unwrap();
    drop(stdin);
    let output = tokio::time::timeout(Duration::from_secs(120), child.wait_with_output())
        .await
        .expect("the validator finished within 2 minutes")
        .expect("the validator ran");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "the document is not valid OpenAPI 3.1:\n{stdout}\n{stderr}");
    assert!(stdout.contains("valid OpenAPI 3.1"), "{stdout}");
    app.stop().await;
}

#[tokio::test]
async fn the_document_lists_exactly_the_native_routes_and_each_is_served() {
    let app = TestApp::spawn().await;
    let doc = document(&app).await;
    let documented = operations(&doc);
    let routed: BTreeSet<(String, String)> =
        NATIVE_ROUTES.iter().map(|(m, p)| ((*m).to_owned(), (*p).to_owned())).collect();
    let undocumented: Vec<_> = routed.difference(&documented).collect();
    let unrouted: Vec<_> = documented.difference(&routed).collect();
    assert!(undocumented.is_empty(), "routes missing from the document: {undocumented:?}");
    assert!(unrouted.is_empty(), "documented but not native routes: {unrouted:?}");

    let ids: Vec<&str> = documented
        .iter()
        .map(|(m, p)| doc["paths"][p][m.to_lowercase()]["operationId"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids.iter().collect::<BTreeSet<_>>().len(),
        ids.len(),
        "operationIds repeat: {ids:?}"
    );

    // An id no instance has: no request changes anything or long-polls.
    let absent = "9999999999";
    for (method, path) in &documented {
        let operation = &doc["paths"][path][method.to_lowercase()];
        let tag = operation["tags"][0].as_str().unwrap_or_default();
        assert!(!tag.is_empty(), "{method} {path} has no tag");
        let security = operation["security"].as_array();
        assert!(security.is_some_and(|s| !s.is_empty()), "{method} {path} has no security");
        assert!(
            operation["responses"]["401"]["content"]["application/json"]["schema"]["$ref"]
                == "#/components/schemas/Error",
            "{method} {path} does not document its 401 error envelope"
        );
        // Every {param} of the path is a documented path parameter.
        let declared: BTreeSet<&str> = operation["parameters"]
            .as_array()
            .map(|ps| {
                ps.iter()
                    .filter(|p| p["in"] == "path")
                    .map(|p| p["name"].as_str().unwrap())
                    .collect()
            })
            .unwrap_or_default();
        let in_path: BTreeSet<&str> = path
            .split('/')
            .filter_map(|s| s.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
            .collect();
        assert_eq!(declared, in_path, "{method} {path}: path parameters");

        let url = path
            .replace("{id}", absent)
            .replace("{messageId}", "0190f2c9-9999-7000-8000-000000000000")
            .replace("{eventId}", "0190f2c9-9999-7000-8000-000000000000")
            .replace("{contactId}", "17841400000000001")
            .replace("{receiptId}", "1");
        let body = if operation.get("requestBody").is_some() { Some(json!({})) } else { None };
        let method = Method::from_bytes(method.as_bytes()).unwrap();
        let answer = app.request(method.clone(), &url, Some(&app.partner_token), body).await;
        assert_ne!(
            answer.status,
            StatusCode::METHOD_NOT_ALLOWED,
            "{method} {url}: {}",
            answer.body
        );
        assert!(
            !(answer.status == StatusCode::NOT_FOUND && answer.body["detail"] == "no such route"),
            "{method} {url} is documented but not routed: {}",
            answer.body
        );
        // Past the router, every instance route stops at the absent
        // instance (the token checks run before the body is read).
        if path.contains("{id}") && !path.ends_with("/connection") {
            assert_eq!(answer.status, StatusCode::NOT_FOUND, "{method} {url}: {}", answer.body);
            assert_eq!(answer.body["detail"], "no instance has this id", "{method} {url}");
        }
    }
    app.stop().await;
}

/// A client that shows redirects instead of following them.
fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap()
}

/// The `src="…"` and `href="…"` values of an HTML page.
fn references(html: &str) -> Vec<String> {
    let mut out = Vec::new();
    for attribute in ["src=\"", "href=\""] {
        let mut rest = html;
        while let Some(at) = rest.find(attribute) {
            rest = &rest[at + attribute.len()..];
            let end = rest.find('"').unwrap();
            out.push(rest[..end].to_owned());
            rest = &rest[end..];
        }
    }
    out
}

#[tokio::test]
async fn swagger_ui_is_served_from_the_binary_and_points_at_the_document_only() {
    let app = TestApp::spawn().await;
    let client = no_redirects();
    let bare = client.get(format!("{}/api/docs", app.base)).send().await.unwrap();
    assert!(bare.status().is_redirection(), "{}", bare.status());
    assert_eq!(bare.headers()["location"], "/api/docs/");

    let page = client.get(format!("{}/api/docs/", app.base)).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    assert!(page.headers()["content-type"].to_str().unwrap().starts_with("text/html"));
    let html = page.text().await.unwrap();
    assert!(html.contains("swagger-ui"), "{html}");
    assert!(!html.contains("http://") && !html.contains("https://"), "{html}");

    let assets = references(&html);
    assert!(assets.iter().any(|a| a.ends_with("swagger-initializer.js")), "{assets:?}");
    assert!(assets.iter().any(|a| a.ends_with("swagger-ui-bundle.js")), "{assets:?}");
    for asset in &assets {
        assert!(!asset.contains("//"), "the page loads {asset} from another host");
        let name = asset.trim_start_matches("./");
        let answer = client.get(format!("{}/api/docs/{name}", app.base)).send().await.unwrap();
        assert_eq!(answer.status(), StatusCode::OK, "{asset}");
        let content_type = answer.headers()["content-type"].to_str().unwrap().to_owned();
        let text = answer.text().await.unwrap();
        assert!(!text.is_empty(), "{asset} is empty");
        // The code and styles carry links to documentation in comments
        // and defaults; what the page loads and configures must not.
        if name.ends_with(".css") && !name.contains("swagger-ui.css") {
            assert!(!text.contains("http://") && !text.contains("https://"), "{asset}");
        }
        for cdn in ["unpkg.com", "cdn.jsdelivr", "cdnjs", "googleapis"] {
            assert!(!text.contains(cdn), "{asset} ({content_type}) refers to {cdn}");
        }
    }

    let initializer = client
        .get(format!("{}/api/docs/swagger-initializer.js", app.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(initializer.contains("\"url\": \"/api/openapi.json\""), "{initializer}");
    assert!(initializer.contains("\"validatorUrl\": \"none\""), "{initializer}");
    assert!(!initializer.contains("petstore"), "{initializer}");
    assert!(!initializer.contains("http://") && !initializer.contains("https://"), "{initializer}");
    // The document itself needs no token either.
    let doc = client.get(format!("{}/api/openapi.json", app.base)).send().await.unwrap();
    assert_eq!(doc.status(), StatusCode::OK);
    app.stop().await;
}

/// Follows `$ref`s into `components`.
fn resolve<'a>(doc: &'a Value, schema: &'a Value) -> &'a Value {
    match schema["$ref"].as_str() {
        Some(reference) => {
            let name = reference.strip_prefix("#/components/schemas/").unwrap();
            resolve(doc, &doc["components"]["schemas"][name])
        }
        None => schema,
    }
}

/// Whether `value` is what `schema` describes: its JSON type, and for
/// objects exactly the documented keys (every required one present, none
/// undocumented), all the way down.
fn conforms(doc: &Value, schema: &Value, value: &Value, at: &str) -> Result<(), String> {
    let schema = resolve(doc, schema);
    for combinator in ["oneOf", "anyOf"] {
        if let Some(branches) = schema[combinator].as_array() {
            let errors: Vec<String> =
                branches.iter().filter_map(|b| conforms(doc, b, value, at).err()).collect();
            return if errors.len() < branches.len() {
                Ok(())
            } else {
                Err(format!("{at}: no branch of {combinator} fits: {errors:?}"))
            };
        }
    }
    // allOf (serde's flatten): the keys of every part together.
    let parts: Vec<&Value> = match schema["allOf"].as_array() {
        Some(parts) => parts.iter().map(|p| resolve(doc, p)).collect(),
        None => vec![schema],
    };
    let types: Vec<&str> = parts
        .iter()
        .flat_map(|p| match &p["type"] {
            Value::String(t) => vec![t.as_str()],
            Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
            _ => vec![],
        })
        .collect();
    let fits = |t: &str| match t {
        "null" => value.is_null(),
        "string" => value.is_string(),
        "boolean" => value.is_boolean(),
        "integer" => value.is_i64() || value.is_u64(),
        "number" => value.is_number(),
        "array" => value.is_array(),
        "object" => value.is_object(),
        _ => false,
    };
    if !types.is_empty() && !types.iter().any(|t| fits(t)) {
        return Err(format!("{at}: {value} is not {types:?}"));
    }
    if let (Some(items), Some(values)) = (parts[0].get("items"), value.as_array()) {
        for (i, v) in values.iter().enumerate() {
            conforms(doc, items, v, &format!("{at}[{i}]"))?;
        }
    }
    if let Some(object) = value.as_object() {
        let mut properties = serde_json::Map::new();
        let mut required = BTreeSet::new();
        for part in &parts {
            if let Some(ps) = part["properties"].as_object() {
                properties.extend(ps.clone());
            }
            for r in part["required"].as_array().into_iter().flatten() {
                required.insert(r.as_str().unwrap().to_owned());
            }
        }
        if properties.is_empty() {
            return Ok(()); // a free-form object, such as an event's data
        }
        for key in &required {
            if !object.contains_key(key) {
                return Err(format!("{at}: required key {key} is missing from {value}"));
            }
        }
        for (key, v) in object {
            let Some(property) = properties.get(key) else {
                return Err(format!("{at}: key {key} is not in the schema"));
            };
            conforms(doc, property, v, &format!("{at}.{key}"))?;
        }
    }
    Ok(())
}

fn response_schema<'a>(doc: &'a Value, method: &str, path: &str, status: u16) -> &'a Value {
    let schema = &doc["paths"][path][method]["responses"][status.to_string()]["content"]["application/json"]
        ["schema"];
    assert!(!schema.is_null(), "{method} {path} documents no {status} JSON answer");
    schema
}

#[tokio::test]
async fn the_answers_have_exactly_the_keys_and_types_their_schemas_promise() {
    let app = TestApp::spawn().await;
    let doc = document(&app).await;
    let check = |method: &str, path: &str, status: u16, value: &Value| {
        let schema = response_schema(&doc, method, path, status);
        if let Err(e) = conforms(&doc, schema, value, "$") {
            panic!("{method} {path} {status} does not match its schema: {e}");
        }
    };

    let instance = app.sandbox().await;
    check("post", "/api/v1/instances", 201, &instance.body);
    let id = instance.id;

    let shown = app
        .request(Method::GET, &format!("/api/v1/instances/{id}"), Some(&app.partner_token), None)
        .await;
    check("get", "/api/v1/instances/{id}", 200, &shown.body);
    let settings = app.get(&instance, "/settings").await;
    check("get", "/api/v1/instances/{id}/settings", 200, &settings.body);

    let accepted = app
        .send(&instance, json!({"to": {"id": "17841400000000001"}, "text": "Hello", "quickReplies": [{"title": "Yes"}]}))
        .await;
    assert_eq!(accepted.status, StatusCode::ACCEPTED, "{}", accepted.body);
    check("post", "/api/v1/instances/{id}/messages", 202, &accepted.body);
    let message_id = accepted.body["id"].as_str().unwrap();
    let queue = app.get(&instance, "/queue").await;
    check("get", "/api/v1/instances/{id}/queue", 200, &queue.body);
    app.settle().await;
    let message = app.message(&instance, message_id).await;
    assert!(message["transitions"].as_array().is_some_and(|t| t.len() > 1), "{message}");
    check("get", "/api/v1/instances/{id}/messages/{messageId}", 200, &message);

    app.customer_writes(&instance, "Do you ship to Riga?").await;
    let contact = app.get(&instance, "/contacts/17841400000000001").await;
    check("get", "/api/v1/instances/{id}/contacts/{contactId}", 200, &contact.body);
    let events = app.get(&instance, "/events").await;
    check("get", "/api/v1/instances/{id}/events", 200, &events.body);
    let next = app.get(&instance, "/notifications/next").await;
    assert_eq!(next.status, StatusCode::OK, "{}", next.body);
    check("get", "/api/v1/instances/{id}/notifications/next", 200, &next.body);
    let deliveries = app.get(&instance, "/deliveries").await;
    check("get", "/api/v1/instances/{id}/deliveries", 200, &deliveries.body);

    let wrong = app.send(&instance, json!({"to": {"id": "1"}, "text": 5})).await;
    assert_eq!(wrong.status, StatusCode::BAD_REQUEST);
    check("post", "/api/v1/instances/{id}/messages", 400, &wrong.body);
    app.stop().await;
}

/// The schema of a query parameter of an operation.
fn query_parameter<'a>(doc: &'a Value, method: &str, path: &str, name: &str) -> &'a Value {
    doc["paths"][path][method]["parameters"]
        .as_array()
        .unwrap_or_else(|| panic!("{method} {path} has no parameters"))
        .iter()
        .find(|p| p["name"] == name)
        .unwrap_or_else(|| panic!("{method} {path} has no parameter {name}"))
}

/// schemathesis found these: values the document allowed that the server
/// refuses (tests/it/schemathesis.rs, positive_data_acceptance).
#[tokio::test]
async fn the_document_states_the_bounds_the_server_enforces() {
    let app = TestApp::spawn().await;
    let doc = document(&app).await;

    let wait = query_parameter(&doc, "get", "/api/v1/instances/{id}/notifications/next", "wait");
    assert_eq!(wait["schema"]["minimum"], 5, "{wait}");
    assert_eq!(wait["schema"]["maximum"], 60, "{wait}");
    let state = query_parameter(&doc, "get", "/api/v1/instances/{id}/deliveries", "state");
    assert_eq!(state["schema"]["pattern"], "^(pending|delivered|dead)$", "{state}");
    let delay = &doc["components"]["schemas"]["SettingsPatchIn"]["properties"]["delaySendMessagesMilliseconds"];
    assert_eq!(delay["minimum"], 0, "{delay}");
    assert_eq!(delay["maximum"], 600_000, "{delay}");

    // And the server refuses what is outside them.
    let instance = app.sandbox().await;
    let outside =
        ["/notifications/next?wait=61", "/notifications/next?wait=4", "/deliveries?state="];
    for path in outside {
        let answer = app.get(&instance, path).await;
        assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{path}: {}", answer.body);
    }
    let path = format!("/api/v1/instances/{}/settings", instance.id);
    let answer = app
        .request(
            Method::PATCH,
            &path,
            Some(&instance.token),
            Some(json!({"delaySendMessagesMilliseconds": 600_001})),
        )
        .await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{}", answer.body);
    app.stop().await;
}
