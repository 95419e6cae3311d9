//! An OpenAI-compatible chat-completions client: one POST per call, retried with backoff on
//! timeouts, 429 (honouring Retry-After) and 5xx, behind a circuit breaker so a failing
//! provider costs the pipeline nothing but a fast fallback.

use std::fmt;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde::Deserialize;

use crate::usage::Tokens;

/// Why a model call failed. `RateLimited`, `Timeout`, `Server` and `Transport` are retried
/// with backoff inside [`ChatClient::complete`]; what reaches the caller makes the tier fall back
/// to the offline suggestions.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum LlmError {
    /// Too many consecutive failures: calls are refused until the breaker's cooldown ends.
    #[error("the model provider failed repeatedly; calls are paused")]
    CircuitOpen,
    /// No answer within the configured timeout.
    #[error("the model call timed out")]
    Timeout,
    /// HTTP 429 (after honouring `Retry-After`).
    #[error("the model provider is rate limiting us")]
    RateLimited,
    /// HTTP 5xx, with the status.
    #[error("the model provider answered {0}")]
    Server(u16),
    /// HTTP 4xx other than 429 (bad key, bad request): not retried.
    #[error("the model provider refused the request ({0})")]
    Client(u16),
    /// The body is not a chat-completions response.
    #[error("the model provider's response is malformed: {0}")]
    Malformed(String),
    /// Connection or TLS failure.
    #[error("could not reach the model provider: {0}")]
    Transport(String),
}

/// Where the models are and how patient to be.
#[derive(Clone)]
pub struct Config {
    /// e.g. `https://api.openai.com/v1` (the client appends `/chat/completions`).
    pub base_url: String,
    /// Bearer token (never logged; `Debug` redacts it).
    pub api_key: String,
    /// Cheapest first: the tier escalates along this list.
    pub models: Vec<String>,
    /// The `provider` recorded on usage events (price lookups use the model name).
    pub provider: String,
    /// Per-request timeout.
    pub timeout: Duration,
    /// Attempts per call, including the first.
    pub attempts: u32,
    /// First backoff; doubles per retry, capped at `max_backoff`.
    pub backoff: Duration,
    /// Upper bound of one backoff wait.
    pub max_backoff: Duration,
    /// Consecutive failed calls that open the breaker, and how long it stays open.
    pub breaker_threshold: u32,
    /// How long an open breaker refuses calls.
    pub breaker_cooldown: Duration,
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("base_url", &self.base_url)
            .field("api_key", &"<redacted>")
            .field("models", &self.models)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl Config {
    /// A config with the defaults: provider `openai`, 20 s timeout, 3 attempts, backoff from
    /// 250 ms up to 4 s, breaker open after 3 failed calls for 60 s.
    pub fn new(base_url: &str, api_key: &str, models: Vec<String>) -> Self {
        Self {
            base_url: base_url.trim_end_matches('/').to_string(),
            api_key: api_key.to_string(),
            models,
            provider: "openai".into(),
            timeout: Duration::from_secs(20),
            attempts: 3,
            backoff: Duration::from_millis(250),
            max_backoff: Duration::from_secs(4),
            breaker_threshold: 3,
            breaker_cooldown: Duration::from_secs(60),
        }
    }

    /// `TILLBRIDGE_LLM_BASE_URL`, `TILLBRIDGE_LLM_API_KEY`, `TILLBRIDGE_LLM_MODELS`
    /// (comma-separated, cheapest first). None (the tier is off) unless all three are set.
    pub fn from_env() -> Option<Self> {
        Self::from_env_with_key(std::env::var("TILLBRIDGE_LLM_API_KEY").ok())
    }

    /// As [`Config::from_env`], with the API key from elsewhere (Secrets Manager in the cloud).
    pub fn from_env_with_key(key: Option<String>) -> Option<Self> {
        let base = std::env::var("TILLBRIDGE_LLM_BASE_URL").ok()?;
        let key = key?;
        let models: Vec<String> = std::env::var("TILLBRIDGE_LLM_MODELS")
            .ok()?
            .split(',')
            .map(str::trim)
            .filter(|m| !m.is_empty())
            .map(String::from)
            .collect();
        (!models.is_empty() && !base.is_empty()).then(|| Self::new(&base, &key, models))
    }
}

/// One chat completion's answer.
#[derive(Debug, Clone, PartialEq)]
pub struct Completion {
    /// The provider's id for the call (or ours when it sent none).
    pub id: String,
    /// The model that answered, as the provider names it.
    pub model: String,
    /// The assistant message text.
    pub content: String,
    /// Token usage, in our classes.
    pub tokens: Tokens,
}

#[derive(Deserialize)]
struct Wire {
    #[serde(default)]
    id: Option<String>,
    choices: Vec<Choice>,
    #[serde(default)]
    usage: Option<serde_json::Value>,
}

#[derive(Deserialize)]
struct Choice {
    message: Message,
}

#[derive(Deserialize)]
struct Message {
    #[serde(default)]
    content: Option<String>,
}

#[derive(Default)]
struct Breaker {
    failures: u32,
    open_until: Option<Instant>,
}

/// An OpenAI-compatible chat-completions client (reqwest) with retries, backoff honouring
/// `Retry-After`, timeouts and a circuit breaker.
pub struct ChatClient {
    http: reqwest::Client,
    config: Config,
    breaker: Mutex<Breaker>,
}

impl ChatClient {
    /// A client for `config`.
    ///
    /// # Errors
    /// [`LlmError::Transport`] when the HTTP client cannot be built (TLS setup).
    pub fn new(config: Config) -> Result<Self, LlmError> {
        let http = reqwest::Client::builder()
            .timeout(config.timeout)
            .build()
            .map_err(|e| LlmError::Transport(e.to_string()))?;
        Ok(Self {
            http,
            config,
            breaker: Mutex::default(),
        })
    }

    /// The configuration in use.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// True while the breaker refuses calls.
    pub fn is_open(&self) -> bool {
        self.breaker
            .lock()
            .map(|b| b.open_until.is_some_and(|t| Instant::now() < t))
            .unwrap_or(false)
    }

    /// Sends one chat-completions request (`body` is the serialized request for `model`),
    /// retrying transient failures. Every failure that exhausts the retries counts towards
    /// the breaker.
    pub async fn complete(&self, model: &str, body: &str) -> Result<Completion, LlmError> {
        if self.is_open() {
            return Err(LlmError::CircuitOpen);
        }
        let result = self.with_retries(model, body).await;
        if let Ok(mut b) = self.breaker.lock() {
            match &result {
                Ok(_) => *b = Breaker::default(),
                // A request we got wrong says nothing about the provider's health.
                Err(LlmError::Client(_) | LlmError::Malformed(_)) => {}
                Err(_) => {
                    b.failures += 1;
                    if b.failures >= self.config.breaker_threshold {
                        b.open_until = Some(Instant::now() + self.config.breaker_cooldown);
                        b.failures = 0;
                    }
                }
            }
        }
        result
    }

    async fn with_retries(&self, model: &str, body: &str) -> Result<Completion, LlmError> {
        let mut delay = self.config.backoff;
        let mut last = LlmError::Transport("no attempt made".into());
        for attempt in 0..self.config.attempts.max(1) {
            if attempt > 0 {
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(self.config.max_backoff);
            }
            match self.once(model, body).await {
                Ok(c) => return Ok(c),
                Err((e, retry_after)) => {
                    let transient = matches!(
                        e,
                        LlmError::Timeout
                            | LlmError::RateLimited
                            | LlmError::Server(_)
                            | LlmError::Transport(_)
                    );
                    tracing::warn!(attempt, error = %e, "model call failed");
                    if let Some(after) = retry_after {
                        delay = after.min(self.config.max_backoff);
                    }
                    last = e;
                    if !transient {
                        break;
                    }
                }
            }
        }
        Err(last)
    }

    async fn once(
        &self,
        model: &str,
        body: &str,
    ) -> Result<Completion, (LlmError, Option<Duration>)> {
        let url = format!("{}/chat/completions", self.config.base_url);
        let response = self
            .http
            .post(url)
            .bearer_auth(&self.config.api_key)
            .header("content-type", "application/json")
            .body(body.to_owned())
            .send()
            .await
            .map_err(|e| (classify(&e), None))?;
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        let text = response.text().await.map_err(|e| (classify(&e), None))?;
        match status {
            200..=299 => parse(&text, model).map_err(|e| (e, None)),
            429 => Err((LlmError::RateLimited, retry_after)),
            500..=599 => Err((LlmError::Server(status), retry_after)),
            _ => Err((LlmError::Client(status), None)),
        }
    }
}

fn classify(e: &reqwest::Error) -> LlmError {
    if e.is_timeout() {
        LlmError::Timeout
    } else {
        LlmError::Transport(e.to_string())
    }
}

fn parse(text: &str, model: &str) -> Result<Completion, LlmError> {
    let wire: Wire = serde_json::from_str(text).map_err(|e| LlmError::Malformed(e.to_string()))?;
    let content = wire
        .choices
        .into_iter()
        .next()
        .and_then(|c| c.message.content)
        .ok_or_else(|| LlmError::Malformed("no message content".into()))?;
    let usage = wire
        .usage
        .filter(|u| !u.is_null())
        .ok_or_else(|| LlmError::Malformed("no usage".into()))?;
    // Whatever vendor convention the endpoint speaks (OpenAI, a gateway passing Anthropic's
    // cache fields, Anthropic, Bedrock): converted into our additive classes.
    let (tokens, shape) = Tokens::from_usage(&usage).map_err(LlmError::Malformed)?;
    tracing::debug!(?shape, ?tokens, "model usage");
    Ok(Completion {
        id: wire.id.unwrap_or_default(),
        // Priced and recorded under the name we asked for (providers answer with dated aliases).
        model: model.to_owned(),
        content,
        tokens,
    })
}
