//! The shared HTTP layer under trouble, against the fake Square: 429 storms paced by the
//! limiter, Retry-After (seconds and HTTP-date), 5xx exhaustion, timeouts, the breaker.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use common::{after_throttle, at, env, fast};
use tillbridge_connectors::fake::square::{Catalog, FakeSquare, rate_limited, server_error};
use tillbridge_connectors::http::{BreakerState, RateLimit};
use tillbridge_connectors::{ConnectorError, Env, HttpConfig, SquareClient, VendorApi};
use tillbridge_domain::Secret;
use tillbridge_ports::ManualClock;

fn client(fake: &FakeSquare, token: &str, config: HttpConfig, env: &Env) -> SquareClient {
    SquareClient::new(
        Some(&fake.server.base_url),
        &Secret::new(token),
        config,
        env,
    )
    .expect("client")
}

/// A fake Square accepting `token`, a client of it with `config`, their environment and
/// its clock.
async fn start(
    token: &str,
    config: HttpConfig,
) -> (FakeSquare, SquareClient, Env, Arc<ManualClock>) {
    let fake = FakeSquare::start(token, Catalog::generated(3, 1, at(0)))
        .await
        .expect("fake starts");
    let (env, clock) = env();
    let client = client(&fake, token, config, &env);
    (fake, client, env, clock)
}

/// The breaker state of `client`'s vendor and credential.
async fn breaker(client: &SquareClient) -> BreakerState {
    client.http().breaker().state().await.expect("state")
}

#[tokio::test]
async fn a_429_storm_is_retried_and_never_exceeds_the_rate_limit() {
    let config = HttpConfig {
        rate: RateLimit::per_second(10),
        ..fast(40)
    };
    let (fake, client, _, _) = start("tok-storm", config).await;
    fake.server.control.push(rate_limited(), 25);
    let locations = client.locations().await.expect("retried through the storm");
    assert!(locations.len() == 2);
    let stats = client.stats();
    assert_eq!(stats.api_calls, 26);
    assert_eq!(stats.retries, 25);
    // Evenly spaced at 100 ms: any one-second window holds at most 10 (a little slack for
    // the scheduler's jitter at the window's edges).
    let max = fake
        .server
        .control
        .max_in_window(Duration::from_millis(980));
    assert!(max <= 10, "{max} requests within one second");
    let log = fake.server.control.log();
    let span = log.last().expect("some").at - log[0].at;
    assert!(
        span >= Duration::from_millis(2400),
        "26 calls at 10/s take ≥ 2.5 s, took {span:?}"
    );
}

#[tokio::test]
async fn retry_after_in_seconds_is_honoured_over_a_shorter_backoff() {
    let (fake, client, _, _) = start("tok-ra", fast(3)).await;
    let throttle = rate_limited().header("Retry-After", "1");
    let wait = Duration::from_secs(1);
    after_throttle(&fake.server.control, throttle, wait, client.locations())
        .await
        .expect("after the wait");
    assert_eq!(client.stats().retries, 1);
}

#[tokio::test]
async fn retry_after_as_an_http_date_is_honoured() {
    let (fake, client, _, _) = start("tok-date", fast(3)).await;
    let when = httpdate::fmt_http_date(SystemTime::now() + Duration::from_secs(2));
    let throttle = server_error(503).header("Retry-After", when);
    // HTTP-dates have one-second resolution: at least one full second is left.
    let wait = Duration::from_millis(1000);
    after_throttle(&fake.server.control, throttle, wait, client.locations())
        .await
        .expect("after the wait");
}

#[tokio::test]
async fn a_retry_after_beyond_the_policy_gives_up_at_once() {
    let (fake, client, _, _) = start("tok-long", fast(5)).await;
    fake.server
        .control
        .push(rate_limited().header("Retry-After", "86400"), 1);
    let started = Instant::now();
    let err = client.locations().await.expect_err("too long to wait");
    assert!(
        matches!(
            err,
            ConnectorError::Exhausted {
                last_status: Some(429),
                attempts: 1,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(1));
}

#[tokio::test]
async fn persistent_5xx_ends_exhausted_with_the_last_status() {
    let (fake, client, _, _) = start("tok-5xx", fast(3)).await;
    fake.server.control.always(Some(server_error(503)));
    let err = client.locations().await.expect_err("exhausted");
    match err {
        ConnectorError::Exhausted {
            attempts,
            last_status,
            last_reason,
            ..
        } => {
            assert_eq!((attempts, last_status), (3, Some(503)));
            assert_eq!(
                last_reason,
                "SERVICE_UNAVAILABLE: An internal error has occurred"
            );
        }
        other => panic!("expected Exhausted, got {other:?}"),
    }
    assert_eq!(client.stats().api_calls, 3);
    assert_eq!(client.stats().retries, 2);
}

#[tokio::test]
async fn a_slow_vendor_times_out_and_is_exhausted_without_a_status() {
    let config = HttpConfig {
        timeout: Duration::from_millis(150),
        ..fast(2)
    };
    let (fake, client, _, _) = start("tok-slow", config).await;
    fake.server.control.set_delay(Duration::from_millis(600));
    let err = client.locations().await.expect_err("timed out");
    assert!(
        matches!(&err, ConnectorError::Exhausted { last_status: None, attempts: 2, last_reason, .. } if last_reason == "timed out"),
        "{err:?}"
    );
}

#[tokio::test]
async fn the_breaker_opens_after_five_failures_and_half_opens_after_sixty_seconds() {
    let (fake, client, env, clock) = start("tok-breaker", fast(1)).await;
    fake.server.control.always(Some(server_error(500)));
    for _ in 0..5 {
        let err = client.locations().await.expect_err("500");
        assert!(matches!(
            err,
            ConnectorError::Exhausted {
                last_status: Some(500),
                ..
            }
        ));
    }
    assert_eq!(breaker(&client).await, BreakerState::Open { until: at(60) });
    // Open: refused without a request; another container (another client on the same
    // table and credential) sees the same state.
    let other = self::client(&fake, "tok-breaker", fast(1), &env);
    let err = other.locations().await.expect_err("open");
    assert!(
        matches!(err, ConnectorError::CircuitOpen { until, .. } if until == at(60)),
        "{err:?}"
    );
    assert_eq!(fake.server.control.requests(), 5);
    clock.advance_secs(59);
    assert!(matches!(
        client.locations().await,
        Err(ConnectorError::CircuitOpen { .. })
    ));
    clock.advance_secs(1);
    assert_eq!(breaker(&client).await, BreakerState::HalfOpen);
    // A failed trial opens it again for another 60 s.
    assert!(matches!(
        client.locations().await,
        Err(ConnectorError::Exhausted { .. })
    ));
    assert_eq!(
        breaker(&client).await,
        BreakerState::Open { until: at(120) }
    );
    clock.advance_secs(60);
    fake.server.control.always(None);
    client.locations().await.expect("the trial succeeds");
    assert_eq!(breaker(&client).await, BreakerState::Closed { failures: 0 });
    other.locations().await.expect("closed for everyone");
}

#[tokio::test]
async fn refusals_and_429s_do_not_open_the_breaker() {
    let (fake, client, _, _) = start("tok-429", fast(1)).await;
    fake.server.control.push(rate_limited(), 6);
    for _ in 0..6 {
        assert!(client.locations().await.is_err());
    }
    assert_eq!(breaker(&client).await, BreakerState::Closed { failures: 0 });
    // Four 5xx, then a 429: the vendor answered, the count starts again.
    fake.server.control.push(server_error(502), 4);
    fake.server.control.push(rate_limited(), 1);
    for _ in 0..5 {
        assert!(client.locations().await.is_err());
    }
    assert_eq!(breaker(&client).await, BreakerState::Closed { failures: 0 });
}

#[tokio::test]
async fn a_half_open_trial_answered_429_retries_and_closes_the_breaker() {
    let (fake, client, _, clock) = start("tok-trial429", fast(3)).await;
    fake.server.control.push(server_error(500), 5);
    for _ in 0..2 {
        let _ = client.locations().await;
    }
    assert!(matches!(breaker(&client).await, BreakerState::Open { .. }));
    clock.advance_secs(60);
    fake.server.control.push(rate_limited(), 1);
    client
        .locations()
        .await
        .expect("the trial's retry goes through");
    assert_eq!(breaker(&client).await, BreakerState::Closed { failures: 0 });
}
