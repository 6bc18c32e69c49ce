//! `GET /files/{id}/{name}`: files businesses uploaded to be sent, served
//! for the platform to fetch. The id is 128 random bits; the name is only
//! for people and platforms that look at extensions.

use axum::Router;
use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::AppState;
use crate::error::ApiError;

async fn serve(
    State(state): State<AppState>,
    Path((id, name)): Path<(String, String)>,
) -> Response {
    match state.gateway.file(&id).await {
        Ok(Some(file)) if file.name == name => (
            [
                (header::CONTENT_TYPE, file.content_type.clone()),
                (header::CONTENT_DISPOSITION, format!("inline; filename=\"{}\"", file.name)),
                (header::CACHE_CONTROL, "private, max-age=86400".to_owned()),
            ],
            file.data,
        )
            .into_response(),
        Ok(_) => ApiError::not_found("no such file").into_response(),
        Err(e) => ApiError::from(e).into_response(),
    }
}

/// The file route.
pub fn router() -> Router<AppState> {
    Router::new().route("/files/{id}/{name}", get(serve))
}
