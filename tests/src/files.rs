//! `FileServer`: a real HTTP server on loopback standing in for the CDN a
//! business links its files from. It reports sizes and types without
//! sending the bytes: HEAD answers with `Content-Length`, a ranged GET with
//! `206` and `Content-Range`.

use axum::Router;
use axum::body::Body;
use axum::extract::Path;
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::Response;
use axum::routing::any;
use tokio::net::TcpListener;

/// Megabyte.
pub const MB: u64 = 1024 * 1024;

/// The files it serves: name → (size, content type, answers HEAD).
const FILES: &[(&str, u64, &str, bool)] = &[
    ("photo.jpg", 200 * 1024, "image/jpeg", true),
    ("photo.png", 3 * MB, "image/png", true),
    ("icon.ico", 10 * 1024, "image/x-icon", true),
    ("big.jpg", 9 * MB, "image/jpeg", true),
    ("page.jpg", 3000, "text/html; charset=utf-8", true),
    ("voice.mp3", 2 * MB, "audio/mpeg", true),
    ("voice.mp4", 2 * MB, "audio/mp4", true),
    ("clip.mp4", 20 * MB, "video/mp4", true),
    ("huge.mp4", 26 * MB, "video/mp4", true),
    ("rangeonly.mp4", 20 * MB, "video/mp4", false),
    ("doc.pdf", MB, "application/pdf", true),
];

/// The server.
#[derive(Debug, Clone)]
pub struct FileServer {
    /// `http://127.0.0.1:<port>`.
    pub base: String,
}

impl FileServer {
    /// Starts it.
    pub async fn start() -> FileServer {
        let app = Router::new().route("/files/{name}", any(serve));
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        FileServer { base: format!("http://127.0.0.1:{port}") }
    }

    /// The URL of a file (known or not).
    pub fn url(&self, name: &str) -> String {
        format!("{}/files/{name}", self.base)
    }
}

async fn serve(method: Method, headers: HeaderMap, Path(name): Path<String>) -> Response {
    if name == "nosize.jpg" {
        // No length anywhere: a stream of unknown size.
        let stream =
            futures::stream::iter([Ok::<_, std::io::Error>(axum::body::Bytes::from_static(b"x"))]);
        return Response::builder()
            .header(header::CONTENT_TYPE, "image/jpeg")
            .body(Body::from_stream(stream))
            .unwrap();
    }
    let Some(&(_, size, content_type, head)) = FILES.iter().find(|(n, ..)| *n == name) else {
        return Response::builder().status(StatusCode::NOT_FOUND).body(Body::empty()).unwrap();
    };
    match method {
        Method::HEAD if head => Response::builder()
            .header(header::CONTENT_TYPE, content_type)
            .header(header::CONTENT_LENGTH, size)
            .body(Body::empty())
            .unwrap(),
        Method::HEAD => {
            Response::builder().status(StatusCode::METHOD_NOT_ALLOWED).body(Body::empty()).unwrap()
        }
        Method::GET if headers.contains_key(header::RANGE) => Response::builder()
            .status(StatusCode::PARTIAL_CONTENT)
            .header(header::CONTENT_TYPE, content_type)
            .header(header::CONTENT_RANGE, format!("bytes 0-0/{size}"))
            .body(Body::from("x"))
            .unwrap(),
        _ => {
            Response::builder().status(StatusCode::METHOD_NOT_ALLOWED).body(Body::empty()).unwrap()
        }
    }
}
