//! The HTTP API (same port as Socket.IO). Bodies are taken as raw bytes and
//! decoded with `pulseboard_protocol::decode_slice`, so every refusal carries a
//! readable reason in a JSON `{"error": "..."}` body.

use std::sync::Arc;

use axum::{
    body::Bytes,
    extract::{
        rejection::{BytesRejection, PathRejection},
        DefaultBodyLimit, Path, State,
    },
    http::StatusCode,
    middleware,
    response::{IntoResponse, Response},
    routing::{get, post, put},
    Json, Router,
};
use pulseboard_protocol::{
    decode_slice, limits, HttpError, Module, NewAlert, NewNotification, PutDashboard, PutKpis,
    Validate,
};
use serde::de::DeserializeOwned;

use crate::{auth, App, StorageError};

/// An HTTP error answer: a status and `{"error": reason}`.
#[derive(Debug)]
pub(crate) struct ApiError {
    status: StatusCode,
    reason: String,
}

impl ApiError {
    /// An error with the given status and reason.
    pub(crate) fn new(status: StatusCode, reason: impl Into<String>) -> ApiError {
        ApiError {
            status,
            reason: reason.into(),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, Json(HttpError { error: self.reason })).into_response()
    }
}

impl From<StorageError> for ApiError {
    fn from(e: StorageError) -> ApiError {
        tracing::error!(%e, "storage failure while answering a request");
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal storage error")
    }
}

/// The API router, without the Socket.IO layer.
pub(crate) fn router(app: Arc<App>) -> Router {
    let api = Router::new()
        .route("/api/snapshot", get(snapshot))
        .route("/api/notifications", post(post_notification))
        .route("/api/alerts", post(post_alert))
        .route("/api/kpis/{module}", put(put_kpis))
        .route("/api/dashboard", put(put_dashboard))
        .route_layer(middleware::from_fn_with_state(
            app.clone(),
            auth::require_token,
        ));
    Router::new()
        .route("/healthz", get(healthz))
        .merge(api)
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(limits::MAX_BODY_BYTES))
        .with_state(app)
}

/// Read and decode a body, mapping every failure to 400 or 413.
fn body<T: DeserializeOwned + Validate>(
    app: &App,
    body: Result<Bytes, BytesRejection>,
) -> Result<T, ApiError> {
    let bytes = body.map_err(|rejection| {
        let err = if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!(
                    "request body is larger than the limit of {} bytes",
                    limits::MAX_BODY_BYTES
                ),
            )
        } else {
            ApiError::new(rejection.status(), rejection.body_text())
        };
        app.drop_input("http", &err.reason);
        err
    })?;
    decode_slice(&bytes).map_err(|e| {
        app.drop_input("http", &e);
        ApiError::new(StatusCode::BAD_REQUEST, e.to_string())
    })
}

async fn healthz() -> Json<serde_json::Value> {
    Json(serde_json::json!({ "status": "ok" }))
}

async fn not_found() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "not found")
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(StatusCode::METHOD_NOT_ALLOWED, "method not allowed")
}

async fn snapshot(
    State(app): State<Arc<App>>,
    viewer: Option<axum::Extension<auth::Viewer>>,
) -> Result<Response, ApiError> {
    let viewer = viewer
        .map(|v| v.0)
        .unwrap_or_else(|| auth::Viewer(auth::Viewer::DEFAULT.to_string()));
    Ok(Json(app.snapshot(&viewer).await?).into_response())
}

async fn post_notification(
    State(app): State<Arc<App>>,
    raw: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let new: NewNotification = body(&app, raw)?;
    let stored = app.add_notification(new).await?;
    Ok((StatusCode::CREATED, Json(stored)).into_response())
}

async fn post_alert(
    State(app): State<Arc<App>>,
    raw: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let new: NewAlert = body(&app, raw)?;
    let alert = app.raise_alert(new).await?;
    Ok((StatusCode::CREATED, Json(alert)).into_response())
}

async fn put_kpis(
    State(app): State<Arc<App>>,
    module: Result<Path<String>, PathRejection>,
    raw: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let Path(module) = module.map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, e.body_text()))?;
    let module = module.parse::<Module>().map_err(|e| {
        app.drop_input("http", &e);
        ApiError::new(StatusCode::NOT_FOUND, e.to_string())
    })?;
    let req: PutKpis = body(&app, raw)?;
    Ok(Json(app.put_kpis(module, req.kpis).await).into_response())
}

async fn put_dashboard(
    State(app): State<Arc<App>>,
    raw: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let req: PutDashboard = body(&app, raw)?;
    Ok(Json(app.put_dashboard(req.summary, req.top_kpis).await).into_response())
}
