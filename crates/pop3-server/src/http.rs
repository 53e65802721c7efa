//! The two HTTP endpoints: `/metrics` and `/healthz` on their own TCP listener (127.0.0.1:9110
//! by default), and the admin API on a Unix socket (mode 0660) for `pop3-admin`.
//!
//! **Nothing served here carries a password, a message or a secret**: the admin API exposes
//! the registry's session and lock records, a kick, the overview (`overview.rs`: counts,
//! certificate expiry dates, the addresses failing to log in) and each user's recent
//! sessions (`user_history.rs`: times, addresses, counts); the metrics carry counts.

use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, Result};
use axum::extract::{Path as UrlPath, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::{Json, Router};
use pop3_admin_api::{
    API_VERSION, ApiError, KickResponse, LOCKS_PATH, LocksResponse, OVERVIEW_PATH,
    OverviewResponse, SESSIONS_PATH, SessionsResponse, UserSessionsResponse,
};
use pop3_metrics::Metrics;
use tokio::net::{TcpListener, UnixListener};

use crate::config::HttpLimits;
use crate::http_limits::Limited;
use crate::overview::Overview;
use crate::registry::Registry;

#[derive(Clone)]
struct Shared {
    registry: Arc<Registry>,
    metrics: Arc<Metrics>,
}

/// What the admin API answers from: the server's shared state and the overview.
#[derive(Clone)]
struct Admin {
    server: Arc<crate::shared::Shared>,
    overview: Arc<Overview>,
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
fn admin_router(admin: Admin) -> Router {
    Router::new()
        .route(SESSIONS_PATH, get(list_sessions))
        .route(LOCKS_PATH, get(list_locks))
        .route(OVERVIEW_PATH, get(overview))
        .route("/v1/sessions/{id}/kick", post(kick))
        .route("/v1/users/{name}/sessions", get(user_sessions))
        .fallback(|| async {
            (
                StatusCode::NOT_FOUND,
                Json(ApiError {
                    version: API_VERSION,
                    error: "no such endpoint".into(),
                }),
            )
        })
        .with_state(admin)
}

async fn list_sessions(State(admin): State<Admin>) -> Json<SessionsResponse> {
    Json(SessionsResponse {
        version: API_VERSION,
        sessions: admin.server.registry.sessions(),
    })
}

async fn list_locks(State(admin): State<Admin>) -> Json<LocksResponse> {
    Json(LocksResponse {
        version: API_VERSION,
        locks: admin.server.registry.locks(),
    })
}

async fn overview(State(admin): State<Admin>) -> Json<OverviewResponse> {
    Json(admin.overview.answer(&admin.server))
}

/// A user's recent sessions; the name is normalised as a login would (`UserName::parse`), the
/// answer names the user so normalised, and a name that could not be a user's is a 400.
async fn user_sessions(
    State(admin): State<Admin>,
    UrlPath(name): UrlPath<String>,
) -> axum::response::Response {
    match pop3_auth::UserName::parse(&name) {
        Ok(user) => Json(UserSessionsResponse {
            version: API_VERSION,
            sessions: admin.server.registry.user_sessions(user.as_str()),
            user: user.as_str().to_owned(),
        })
        .into_response(),
        Err(_) => (
            StatusCode::BAD_REQUEST,
            Json(ApiError {
                version: API_VERSION,
                error: "not a user name".into(),
            }),
        )
            .into_response(),
    }
}

async fn kick(State(admin): State<Admin>, UrlPath(id): UrlPath<u64>) -> impl IntoResponse {
    let kicked = admin.server.registry.kick(id);
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
    server: Arc<crate::shared::Shared>,
    overview: Arc<Overview>,
) {
    let listener = Limited::new(listener, limits);
    let _ = axum::serve(listener, admin_router(Admin { server, overview })).await;
}
