//! The two HTTP endpoints: `/metrics` and `/healthz` on their own TCP listener (127.0.0.1:9110
//! by default), and the admin API on a Unix socket (mode 0660) for `pop3-admin`.
//!
//! **Nothing served here carries a password, a message or a secret**: the admin API exposes
//! the registry's session and lock records and a kick; the metrics carry counts.

use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, Result};
use axum::extract::{Path as UrlPath, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::{Json, Router};
use pop3_admin_api::{
    API_VERSION, ApiError, KickResponse, LOCKS_PATH, LocksResponse, SESSIONS_PATH, SessionsResponse,
};
use pop3_metrics::Metrics;
use tokio::net::{TcpListener, UnixListener};

use crate::config::HttpLimits;
use crate::http_limits::Limited;
use crate::registry::Registry;

#[derive(Clone)]
struct Shared {
    registry: Arc<Registry>,
    metrics: Arc<Metrics>,
}

/// The metrics router.
fn metrics_router(registry: Arc<Registry>, metrics: Arc<Metrics>) -> Router {
    Router::new()
        .route("/metrics", get(serve_metrics))
        .route("/healthz", get(|| async { "ok\n" }))
        .with_state(Shared { registry, metrics })
}

/// OpenMetrics when the scraper asks for it (Prometheus does), else the classic text format.
async fn serve_metrics(State(shared): State<Shared>, headers: HeaderMap) -> impl IntoResponse {
    let open_metrics = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|accept| accept.contains("application/openmetrics-text"));
    let counts = shared.registry.counts();
    let (encoded, content_type) = if open_metrics {
        (
            shared.metrics.encode(counts),
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )
    } else {
        (
            shared.metrics.encode_text(counts),
            "text/plain; version=0.0.4; charset=utf-8",
        )
    };
    match encoded {
        Ok(text) => (StatusCode::OK, [(header::CONTENT_TYPE, content_type)], text).into_response(),
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

/// The admin router.
fn admin_router(registry: Arc<Registry>, metrics: Arc<Metrics>) -> Router {
    Router::new()
        .route(SESSIONS_PATH, get(list_sessions))
        .route(LOCKS_PATH, get(list_locks))
        .route("/v1/sessions/{id}/kick", post(kick))
        .fallback(|| async {
            (
                StatusCode::NOT_FOUND,
                Json(ApiError {
                    version: API_VERSION,
                    error: "no such endpoint".into(),
                }),
            )
        })
        .with_state(Shared { registry, metrics })
}

async fn list_sessions(State(shared): State<Shared>) -> Json<SessionsResponse> {
    Json(SessionsResponse {
        version: API_VERSION,
        sessions: shared.registry.sessions(),
    })
}

async fn list_locks(State(shared): State<Shared>) -> Json<LocksResponse> {
    Json(LocksResponse {
        version: API_VERSION,
        locks: shared.registry.locks(),
    })
}

async fn kick(State(shared): State<Shared>, UrlPath(id): UrlPath<u64>) -> impl IntoResponse {
    let kicked = shared.registry.kick(id);
    let status = if kicked {
        StatusCode::OK
    } else {
        StatusCode::NOT_FOUND
    };
    (
        status,
        Json(KickResponse {
            version: API_VERSION,
            session: id,
            kicked,
        }),
    )
}

/// Binds the metrics listener.
pub(crate) async fn bind_metrics(address: std::net::SocketAddr) -> Result<TcpListener> {
    TcpListener::bind(address)
        .await
        .with_context(|| format!("`metrics.address`: cannot listen on {address}"))
}

/// Binds the admin socket, mode 0660 (owner and group); see `unix_socket::bind`.
pub(crate) fn bind_admin(path: &Path) -> Result<UnixListener> {
    crate::unix_socket::bind(path, 0o660, "admin.socket")
}

/// Serves `/metrics` until the task is dropped.
pub(crate) async fn serve_metrics_on(
    listener: TcpListener,
    limits: HttpLimits,
    registry: Arc<Registry>,
    metrics: Arc<Metrics>,
) {
    let listener = Limited::new(listener, limits);
    let _ = axum::serve(listener, metrics_router(registry, metrics)).await;
}

/// Serves the admin API until the task is dropped.
pub(crate) async fn serve_admin_on(
    listener: UnixListener,
    limits: HttpLimits,
    registry: Arc<Registry>,
    metrics: Arc<Metrics>,
) {
    let listener = Limited::new(listener, limits);
    let _ = axum::serve(listener, admin_router(registry, metrics)).await;
}
