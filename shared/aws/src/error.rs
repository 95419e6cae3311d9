use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use tillbridge_ports::PortError;

/// Error codes AWS services use for transient conditions.
const RETRYABLE_CODES: [&str; 14] = [
    "ThrottlingException",
    "Throttling",
    "ProvisionedThroughputExceededException",
    "RequestLimitExceeded",
    "TransactionConflictException",
    "InternalServerError",
    "InternalFailure",
    "InternalError",
    "ServiceUnavailable",
    "ServiceUnavailableException",
    "SlowDown",
    "RequestThrottled",
    "TooManyRequestsException",
    "RequestTimeout",
];

/// Maps an SDK error to a port error that keeps retryable vs permanent.
pub fn classify<E, R>(what: &str, e: SdkError<E, R>) -> PortError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    match &e {
        SdkError::ServiceError(se) => {
            let err = se.err();
            let code = err.code().unwrap_or("Unknown");
            let message = err.message().unwrap_or("");
            if code == "ConditionalCheckFailedException" {
                PortError::ConditionFailed
            } else if RETRYABLE_CODES.contains(&code) {
                PortError::Transient(format!("{what}: {code}: {message}"))
            } else {
                PortError::Permanent(format!("{what}: {code}: {message}"))
            }
        }
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => {
            PortError::Transient(format!("{what}: {}", aws_error_chain(&e)))
        }
        _ => PortError::Permanent(format!("{what}: {}", aws_error_chain(&e))),
    }
}

fn aws_error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}
