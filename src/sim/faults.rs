//! How an injected fault (queued through `POST /__sim/faults`) plays out: after an optional
//! delay it answers with its status, lets the request through (a pure latency fault), closes
//! the connection without answering (`reset`), or holds the request and then closes
//! (`timeout`). Network-level failures are what client retry and timeout code must survive,
//! and a real tenant produces them under load. The `apply_then_*` kinds handle the request
//! first (the write happens) and then lose or spoil its answer ([`spoil`]).

use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use super::state::{Fault, FaultKind};

/// How long a `timeout` fault holds the request when it gives no `latency_ms`: longer than
/// any sensible client timeout.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);

/// What the fault decided.
pub(crate) enum Outcome {
    /// Send this answer instead of handling the request.
    Answer(Response),
    /// Handle the request normally (the fault only added latency).
    PassThrough,
    /// Handle the request, then spoil its answer with [`spoil`].
    Spoil,
    /// Drop the connection without an answer; the response carries no bytes the client can
    /// read, because its body fails before the head is flushed.
    Drop(Response),
}

/// Plays `f` out; `render` builds the flavour's error answer (ZIA or SCIM shape).
pub(crate) async fn play(f: &Fault, render: fn(&Fault) -> Response) -> Outcome {
    let delay = f.latency_ms.map(Duration::from_millis);
    match f.kind {
        FaultKind::Answer => {
            if let Some(d) = delay {
                tokio::time::sleep(d).await;
            }
            match f.status {
                Some(_) => Outcome::Answer(render(f)),
                None => Outcome::PassThrough,
            }
        }
        FaultKind::Reset => {
            if let Some(d) = delay {
                tokio::time::sleep(d).await;
            }
            Outcome::Drop(broken_response())
        }
        FaultKind::Timeout => {
            tokio::time::sleep(delay.unwrap_or(DEFAULT_TIMEOUT)).await;
            Outcome::Drop(broken_response())
        }
        // The caller rewrites the request with [`without_paging`] and handles it.
        FaultKind::IgnorePaging => {
            if let Some(d) = delay {
                tokio::time::sleep(d).await;
            }
            Outcome::PassThrough
        }
        _ => Outcome::Spoil,
    }
}

/// Spoils the answer of a request that was handled (the write applied) as an `apply_then_*`
/// fault says ([`FaultKind::drops_after_applying`] tells which break the connection).
pub(crate) async fn spoil(f: &Fault, real: Response, render: fn(&Fault) -> Response) -> Response {
    let status = f
        .status
        .and_then(|s| StatusCode::from_u16(s).ok())
        .unwrap_or(real.status());
    match f.kind {
        FaultKind::ApplyThenReset => broken_response(),
        FaultKind::ApplyThenTimeout => {
            tokio::time::sleep(f.latency_ms.map_or(DEFAULT_TIMEOUT, Duration::from_millis)).await;
            broken_response()
        }
        FaultKind::ApplyThenHtml => (
            status,
            [(CONTENT_TYPE, "text/html; charset=utf-8")],
            "<!DOCTYPE html><html><head><title>Please wait</title></head><body><p>Your request is being processed.</p></body></html>",
        )
            .into_response(),
        FaultKind::ApplyThenEmpty => {
            (status, [(CONTENT_TYPE, "application/json")], Bytes::new()).into_response()
        }
        FaultKind::ApplyThenTruncated | FaultKind::ApplyThenCut => {
            let content_type = real
                .headers()
                .get(CONTENT_TYPE)
                .cloned()
                .unwrap_or(HeaderValue::from_static("application/json"));
            let body = axum::body::to_bytes(real.into_body(), usize::MAX)
                .await
                .unwrap_or_default();
            let half = body.slice(..body.len() / 2);
            let mut resp = if f.kind == FaultKind::ApplyThenCut {
                let stream = futures::stream::iter([
                    Ok::<Bytes, std::io::Error>(half),
                    Err(std::io::Error::new(
                        std::io::ErrorKind::ConnectionReset,
                        "connection cut mid-answer by the simulator",
                    )),
                ]);
                (status, Body::from_stream(stream)).into_response()
            } else {
                (status, half).into_response()
            };
            resp.headers_mut().insert(CONTENT_TYPE, content_type);
            resp
        }
        FaultKind::ApplyThenErrorBody => {
            let mut resp = render(f);
            *resp.status_mut() = status;
            resp
        }
        FaultKind::Answer
        | FaultKind::Reset
        | FaultKind::Timeout
        | FaultKind::IgnorePaging => real,
    }
}

/// The request's URI without its paging parameters (`page`, `startIndex`), for an
/// `ignore_paging` fault: the handler then answers the first page.
pub(crate) fn without_paging(uri: &axum::http::Uri) -> axum::http::Uri {
    let Some(query) = uri.query() else {
        return uri.clone();
    };
    let kept: Vec<(String, String)> = url::form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .filter(|(k, _)| k != "page" && !k.eq_ignore_ascii_case("startIndex"))
        .collect();
    let mut s = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in &kept {
        s.append_pair(k, v);
    }
    let path = uri.path();
    let rebuilt = if kept.is_empty() {
        path.to_string()
    } else {
        format!("{path}?{}", s.finish())
    };
    rebuilt.parse().unwrap_or_else(|_| uri.clone())
}

/// A response whose body errors on first poll: hyper then closes the connection instead of
/// completing the message, which the client sees as a reset / incomplete message.
fn broken_response() -> Response {
    let stream = futures::stream::once(async {
        Err::<Bytes, std::io::Error>(std::io::Error::new(
            std::io::ErrorKind::ConnectionReset,
            "connection reset injected by the simulator",
        ))
    });
    (StatusCode::INTERNAL_SERVER_ERROR, Body::from_stream(stream)).into_response()
}
