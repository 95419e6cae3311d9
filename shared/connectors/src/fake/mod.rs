//! In-process fake vendor servers (feature `fake`), each speaking its vendor's wire format
//! from the vendor's public docs: paths, auth headers, cursors/pages, error bodies, `429`
//! with `Retry-After` or the vendor's rate-limit headers, 5xx, slow answers.
//!
//! Every fake shares [`Control`]: a script of canned answers to return before the real
//! handler (a 429 storm, a run of 503s), a delay added to every answer, and a log of
//! requests with their arrival instants (to check pacing).

pub mod bigcommerce;
pub mod bigcommerce_write;
pub mod clover;
pub mod oauth;
pub mod profile;
pub mod shopify;
pub mod shopify_write;
pub mod square;
pub mod square_write;
pub mod toast;
pub mod woocommerce;
pub mod woocommerce_write;
pub mod zettle;
pub mod zettle_write;

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};

/// An answer to give instead of the real one.
#[derive(Debug, Clone)]
pub struct Canned {
    /// HTTP status.
    pub status: u16,
    /// Extra headers (`Retry-After`, `X-Rate-Limit-Time-Reset-Ms`, …).
    pub headers: Vec<(String, String)>,
    /// Body (the vendor's error body).
    pub body: String,
}

/// One request the fake received.
#[derive(Debug, Clone)]
pub struct Logged {
    /// When it arrived.
    pub at: Instant,
    /// Method and path (`GET /v2/locations`).
    pub line: String,
    /// What the fake answered.
    pub status: u16,
}

/// The script and log shared by a fake's handlers.
#[derive(Debug, Default)]
pub struct Control {
    canned: Mutex<VecDeque<Canned>>,
    delay: Mutex<Duration>,
    log: Mutex<Vec<Logged>>,
    /// Answer every request with this, forever (a persistent outage), when set.
    always: Mutex<Option<Canned>>,
    /// Paths answered without the auth check (token endpoints authenticate by their body).
    exempt: Mutex<Vec<String>>,
}

/// Locks a fake's shared state (a handler that panicked leaves it usable).
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Control {
    /// Queues `answer` for the next `times` requests.
    pub fn push(&self, answer: Canned, times: usize) {
        let mut q = lock(&self.canned);
        for _ in 0..times {
            q.push_back(answer.clone());
        }
    }

    /// Answers every request with `answer` from now on (`None` ends the outage).
    pub fn always(&self, answer: Option<Canned>) {
        *lock(&self.always) = answer;
    }

    /// Answers requests to `path` without the auth check (a token endpoint, which
    /// authenticates the client by its body).
    pub fn exempt(&self, path: &str) {
        lock(&self.exempt).push(path.to_owned());
    }

    /// Requests so far whose line (`POST /oauth2/token`) is `line`.
    pub fn count(&self, line: &str) -> usize {
        lock(&self.log).iter().filter(|l| l.line == line).count()
    }

    /// Delays every answer by `delay` (slow vendor).
    pub fn set_delay(&self, delay: Duration) {
        *lock(&self.delay) = delay;
    }

    /// Every request so far.
    pub fn log(&self) -> Vec<Logged> {
        lock(&self.log).clone()
    }

    /// Requests so far.
    pub fn requests(&self) -> usize {
        lock(&self.log).len()
    }

    /// The most requests that arrived within any `window` (to check pacing).
    pub fn max_in_window(&self, window: Duration) -> usize {
        let times: Vec<Instant> = lock(&self.log).iter().map(|l| l.at).collect();
        let mut best = 0;
        let mut start = 0;
        for end in 0..times.len() {
            while times[end].duration_since(times[start]) >= window {
                start += 1;
            }
            best = best.max(end + 1 - start);
        }
        best
    }

    fn next_canned(&self) -> Option<Canned> {
        lock(&self.canned)
            .pop_front()
            .or_else(|| lock(&self.always).clone())
    }
}

impl Canned {
    /// A JSON answer.
    pub fn json(status: u16, body: impl Into<String>) -> Self {
        Self {
            status,
            headers: vec![("content-type".into(), "application/json".into())],
            body: body.into(),
        }
    }

    /// With one more header.
    pub fn header(mut self, name: &str, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    fn into_response(self) -> Response {
        let mut response = Response::new(Body::from(self.body));
        *response.status_mut() =
            StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        for (name, value) in self.headers {
            if let (Ok(n), Ok(v)) = (
                axum::http::HeaderName::from_bytes(name.as_bytes()),
                axum::http::HeaderValue::from_str(&value),
            ) {
                response.headers_mut().insert(n, v);
            }
        }
        response
    }
}

/// Checks a request's credentials: `None` lets it through, `Some` is the vendor's refusal.
pub type AuthCheck = Arc<dyn Fn(&HeaderMap, Option<&str>) -> Option<Canned> + Send + Sync>;

/// Lets through requests carrying every `(header, value)` of `expected`, answering the rest
/// with `refusal()`.
pub fn require_headers(
    expected: Vec<(&'static str, String)>,
    refusal: impl Fn() -> Canned + Send + Sync + 'static,
) -> AuthCheck {
    Arc::new(move |headers, _| {
        let ok = expected
            .iter()
            .all(|(name, value)| headers.get(*name).and_then(|v| v.to_str().ok()) == Some(value));
        (!ok).then(&refusal)
    })
}

/// Lets through requests with `Authorization: Bearer <token>`, refusing the rest.
pub fn bearer_auth(token: &str, refusal: impl Fn() -> Canned + Send + Sync + 'static) -> AuthCheck {
    require_headers(vec![("authorization", format!("Bearer {token}"))], refusal)
}

#[derive(Clone)]
struct Gate {
    control: Arc<Control>,
    auth: AuthCheck,
}

async fn gate(State(gate): State<Gate>, request: Request, next: Next) -> Response {
    let at = Instant::now();
    let line = format!("{} {}", request.method(), request.uri().path());
    let delay = *lock(&gate.control.delay);
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    let exempt = lock(&gate.control.exempt)
        .iter()
        .any(|p| p == request.uri().path());
    let response = if let Some(canned) = gate.control.next_canned() {
        canned.into_response()
    } else if let Some(refusal) = (!exempt)
        .then(|| (gate.auth)(request.headers(), request.uri().query()))
        .flatten()
    {
        refusal.into_response()
    } else {
        next.run(request).await.into_response()
    };
    lock(&gate.control.log).push(Logged {
        at,
        line,
        status: response.status().as_u16(),
    });
    response
}

/// A fake server running on 127.0.0.1 until dropped.
pub struct Running {
    /// `http://127.0.0.1:PORT`.
    pub base_url: String,
    /// Its script and log.
    pub control: Arc<Control>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Running {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Serves `router` behind the control gate and `auth` on a free local port.
///
/// # Errors
/// The port could not be bound.
pub async fn serve(router: Router, auth: AuthCheck) -> std::io::Result<Running> {
    let control = Arc::new(Control::default());
    let app = router.layer(middleware::from_fn_with_state(
        Gate {
            control: control.clone(),
            auth,
        },
        gate,
    ));
    let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0))).await?;
    let addr = listener.local_addr()?;
    let task = tokio::spawn(async move {
        // The fake ends when its task is aborted; a serve error ends it early.
        let _ = axum::serve(listener, app).await;
    });
    Ok(Running {
        base_url: format!("http://{addr}"),
        control,
        task,
    })
}

/// A page cursor: the offset, as opaque text (vendors' cursors are opaque too).
pub(crate) fn cursor_of(offset: usize) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("offset:{offset}"))
}

/// The offset of a cursor made by [`cursor_of`]; a bad cursor reads as `None`.
pub(crate) fn offset_of(cursor: Option<&str>) -> Option<usize> {
    use base64::Engine as _;
    match cursor {
        None => Some(0),
        Some(c) => {
            let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(c)
                .ok()?;
            String::from_utf8(raw)
                .ok()?
                .strip_prefix("offset:")?
                .parse()
                .ok()
        }
    }
}
