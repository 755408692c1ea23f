//! The HTTP API (same port as Socket.IO). Bodies are taken as raw bytes and
//! decoded with `pulseboard_protocol::decode_slice`, so every refusal carries a
//! readable reason in a JSON `{"error": "..."}` body.

use std::sync::Arc;

use axum::{
    body::Bytes,
    extract::{
        rejection::{BytesRejection, PathRejection, QueryRejection},
        DefaultBodyLimit, Path, Query, State,
    },
    http::StatusCode,
    middleware,
    response::{IntoResponse, Response},
    routing::{get, post, put},
    Json, Router,
};
use pulseboard_protocol::{
    decode_slice, limits, HistoryRange, HttpError, KpiHistory, Module, NewAlert, NewNotification,
    PutDashboard, PutKpis, Validate,
};
use serde::de::DeserializeOwned;

use std::time::Duration;

use axum::http::header;
use tower_http::timeout::TimeoutLayer;

use crate::{auth, auth::Right, guard, App, StorageError};

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

impl ApiError {
    /// The answer to a storage failure (counted and logged by the caller).
    fn storage(app: &App, e: StorageError) -> ApiError {
        app.storage_failed(&e);
        if e.is_unavailable() {
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "storage unavailable, retry later",
            )
        } else {
            ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal storage error")
        }
    }
}

/// The API router, without the Socket.IO layer.
///
/// Layers run outside in: rate limit (per address and token), request
/// timeout, token and role (401/403), then for writes the JSON
/// Content-Type rule (415). The Origin check wraps everything, Socket.IO
/// included (see `prepare`).
pub(crate) fn router(app: Arc<App>, request_timeout: Duration) -> Router {
    let read = Router::new()
        .route("/api/snapshot", get(snapshot))
        .route("/api/kpis/{module}/{key}/history", get(kpi_history))
        .route_layer(middleware::from_fn_with_state(
            (app.clone(), Right::View),
            auth::authorize,
        ));
    let write = Router::new()
        .route("/api/notifications", post(post_notification))
        .route("/api/alerts", post(post_alert))
        .route("/api/kpis/{module}", put(put_kpis))
        .route("/api/dashboard", put(put_dashboard))
        .route_layer(middleware::from_fn_with_state(
            app.clone(),
            guard::require_json,
        ))
        .route_layer(middleware::from_fn_with_state(
            (app.clone(), Right::Publish),
            auth::authorize,
        ));
    let api = read
        .merge(write)
        .route_layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            request_timeout,
        ))
        // The timeout answers with an empty body: give it the JSON error
        // every other refusal has.
        .route_layer(middleware::map_response(json_timeout))
        .route_layer(middleware::from_fn_with_state(
            app.clone(),
            guard::rate_limit,
        ));
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .merge(api)
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(limits::MAX_BODY_BYTES))
        .with_state(app)
}

/// 408 from the request timeout, as `{"error": "request timed out"}`.
async fn json_timeout(resp: Response) -> Response {
    if resp.status() == StatusCode::REQUEST_TIMEOUT {
        ApiError::new(StatusCode::REQUEST_TIMEOUT, "request timed out").into_response()
    } else {
        resp
    }
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

/// 200 while storage answers (a real write, and the database file writable
/// at its path, and with `--redis` the cluster channels subscribed), 503
/// otherwise. `storage` says which store (`sqlite` or `postgresql`), `redis`
/// whether the cluster's Redis is `up` or `down` (null without `--redis`).
async fn readyz(State(app): State<Arc<App>>) -> Response {
    let storage = app.storage_kind();
    let redis_state = app.redis_up().map(|up| if up { "up" } else { "down" });
    match app.ready().await {
        Ok(()) => Json(serde_json::json!({
            "status": "ready",
            "storage": storage,
            "redis": redis_state,
        }))
        .into_response(),
        Err(reason) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(serde_json::json!({
                "status": "unavailable",
                "storage": storage,
                "redis": redis_state,
                "error": reason,
            })),
        )
            .into_response(),
    }
}

async fn metrics(State(app): State<Arc<App>>) -> Response {
    (
        [(header::CONTENT_TYPE, crate::metrics::CONTENT_TYPE)],
        app.metrics_text(),
    )
        .into_response()
}

/// Unknown path: like an API route, rate-limited (429) and 401 without a
/// known token; 404 otherwise.
async fn not_found(State(app): State<Arc<App>>, req: axum::extract::Request) -> Response {
    guard::over_rate(&app, &req)
        .or_else(|| auth::unknown_token(&app, &req))
        .unwrap_or_else(|| ApiError::new(StatusCode::NOT_FOUND, "not found").into_response())
}

/// Wrong method: on the open probes (`/healthz`, `/readyz`, `/metrics`) a
/// plain 405; elsewhere, like an API route, 429 / 401 first.
async fn method_not_allowed(State(app): State<Arc<App>>, req: axum::extract::Request) -> Response {
    let open = matches!(req.uri().path(), "/healthz" | "/readyz" | "/metrics");
    let refused = if open {
        None
    } else {
        guard::over_rate(&app, &req).or_else(|| auth::unknown_token(&app, &req))
    };
    refused.unwrap_or_else(|| {
        ApiError::new(StatusCode::METHOD_NOT_ALLOWED, "method not allowed").into_response()
    })
}

async fn snapshot(
    State(app): State<Arc<App>>,
    viewer: Option<axum::Extension<auth::Viewer>>,
) -> Result<Response, ApiError> {
    let viewer = viewer
        .map(|v| v.0)
        .unwrap_or_else(|| auth::Viewer(auth::Viewer::DEFAULT.to_string()));
    let snap = app
        .snapshot(&viewer)
        .await
        .map_err(|e| ApiError::storage(&app, e))?;
    Ok(Json(snap).into_response())
}

/// The query of `GET /api/kpis/{module}/{key}/history`.
#[derive(Debug, serde::Deserialize)]
struct HistoryParams {
    /// `1h`, `24h` or `7d` (absent: `1h`).
    range: Option<String>,
}

/// `GET /api/kpis/{module}/{key}/history?range=1h|24h|7d`: the KPI's stored
/// history, one point per bucket (see `pulseboard_protocol::history`). An
/// unknown module is 404 (as for `PUT /api/kpis/{module}`); a key the server
/// holds no history for answers 200 with no points.
async fn kpi_history(
    State(app): State<Arc<App>>,
    path: Result<Path<(String, String)>, PathRejection>,
    query: Result<Query<HistoryParams>, QueryRejection>,
) -> Result<Response, ApiError> {
    let Path((module, key)) =
        path.map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, e.body_text()))?;
    let module = module.parse::<Module>().map_err(|e| {
        app.drop_input("http", &e);
        ApiError::new(StatusCode::NOT_FOUND, e.to_string())
    })?;
    if key.is_empty() || key.chars().count() > limits::MAX_KEY {
        let e = format!("a KPI key has 1 to {} characters", limits::MAX_KEY);
        app.drop_input("http", &e);
        return Err(ApiError::new(StatusCode::BAD_REQUEST, e));
    }
    let Query(params) = query.map_err(|e| {
        app.drop_input("http", &e.body_text());
        ApiError::new(StatusCode::BAD_REQUEST, e.body_text())
    })?;
    let range = match params.range.as_deref() {
        None => HistoryRange::Hour,
        Some(r) => r.parse::<HistoryRange>().map_err(|e| {
            app.drop_input("http", &e);
            ApiError::new(StatusCode::BAD_REQUEST, e.to_string())
        })?,
    };
    let to = chrono::SubsecRound::trunc_subsecs(chrono::Utc::now(), 3);
    let from = range.start(to);
    let answer = app
        .store
        .kpi_history(module, &key, from, to, range.bucket_secs())
        .await
        .map_err(|e| ApiError::storage(&app, e))?;
    Ok(Json(KpiHistory {
        module,
        key,
        range,
        from,
        to,
        bucket_seconds: range.bucket_secs(),
        points: answer.points,
        truncated: answer.truncated,
    })
    .into_response())
}

async fn post_notification(
    State(app): State<Arc<App>>,
    raw: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let new: NewNotification = body(&app, raw)?;
    app.note_real_data().await;
    let stored = app
        .add_notification(new)
        .await
        .map_err(|e| ApiError::storage(&app, e))?;
    Ok((StatusCode::CREATED, Json(stored)).into_response())
}

async fn post_alert(
    State(app): State<Arc<App>>,
    raw: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let new: NewAlert = body(&app, raw)?;
    let alert = app
        .raise_alert(new)
        .await
        .map_err(|e| ApiError::storage(&app, e))?;
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
    app.note_real_data().await;
    Ok(Json(app.put_kpis(module, req.kpis).await).into_response())
}

async fn put_dashboard(
    State(app): State<Arc<App>>,
    raw: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let req: PutDashboard = body(&app, raw)?;
    app.note_real_data().await;
    Ok(Json(app.put_dashboard(req.summary, req.top_kpis).await).into_response())
}
