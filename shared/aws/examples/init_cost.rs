//! Where a function's init time goes (run with the Lambda-like environment of coldstart.py):
//! `cargo run --release -p tillbridge-aws --example init_cost`.

use std::time::Instant;

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let t = Instant::now();
    let lap = |what: &str, t: &mut Instant| {
        println!("{what:<28} {:>8.3} ms", t.elapsed().as_secs_f64() * 1000.0);
        *t = Instant::now();
    };
    let mut t2 = t;
    let cfg = if std::env::args().any(|a| a == "--default-chain") {
        aws_config::defaults(aws_config::BehaviorVersion::latest())
            .load()
            .await
    } else {
        tillbridge_aws::load_config().await
    };
    lap("config", &mut t2);
    let ddb = tillbridge_aws::dynamodb_client(&cfg);
    lap("dynamodb client", &mut t2);
    let s3 = tillbridge_aws::s3_client(&cfg);
    lap("s3 client", &mut t2);
    let eb = aws_sdk_eventbridge::Client::new(&cfg);
    lap("eventbridge client", &mut t2);
    let sqs = aws_sdk_sqs::Client::new(&cfg);
    lap("sqs client", &mut t2);
    let sm = aws_sdk_secretsmanager::Client::new(&cfg);
    lap("secretsmanager client", &mut t2);
    drop((ddb, s3, eb, sqs, sm));
    println!("total {:.3} ms", t.elapsed().as_secs_f64() * 1000.0);
}
