//! Reading a request body under a size cap and a deadline, before any
//! handler sees it: a declared length over the cap is refused without
//! reading (413), a body that grows past it is cut off (413), and one that
//! trickles in slower than the deadline is refused (408).

use std::time::Duration;

use axum::body::Body;
use axum::extract::Request;
use axum::http::{StatusCode, header};
use http_body_util::{BodyExt, LengthLimitError, Limited};

use super::refusal::Refusal;

/// The request with its body read into memory.
pub async fn buffer(req: Request, limit: usize, deadline: Duration) -> Result<Request, Refusal> {
    let too_large = || {
        Refusal::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_large",
            format!("the request body is larger than {limit} bytes"),
        )
    };
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(too_large());
    }
    let (parts, body) = req.into_parts();
    let read = Limited::new(body, limit).collect();
    let bytes = match tokio::time::timeout(deadline, read).await {
        Err(_) => {
            return Err(Refusal::new(
                StatusCode::REQUEST_TIMEOUT,
                "body_timeout",
                format!(
                    "the request body did not arrive within {} s",
                    deadline.as_secs_f64()
                ),
            ));
        }
        Ok(Err(e)) if e.downcast_ref::<LengthLimitError>().is_some() => return Err(too_large()),
        Ok(Err(e)) => {
            return Err(Refusal::new(
                StatusCode::BAD_REQUEST,
                "body",
                format!("cannot read the request body: {e}"),
            ));
        }
        Ok(Ok(collected)) => collected.to_bytes(),
    };
    Ok(Request::from_parts(parts, Body::from(bytes)))
}
