//! A moto server (the AWS emulator, `pip install 'moto[server]'`) for tests: started once
//! per test process on a free 127.0.0.1 port, stopped when the process exits.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

/// A moto server (the AWS emulator, from pip) the adapter tests run the real SDK against,
/// started once per test process on 127.0.0.1.
pub struct Moto {
    /// `http://127.0.0.1:<port>`.
    pub endpoint: String,
    child: Mutex<Option<Child>>,
}

static MOTO: OnceLock<Result<Moto, String>> = OnceLock::new();

impl Moto {
    /// The shared emulator; an error says how to install it.
    pub fn shared() -> Result<&'static Moto, String> {
        MOTO.get_or_init(Moto::start).as_ref().map_err(Clone::clone)
    }

    fn start() -> Result<Moto, String> {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(|e| e.to_string())?
            .port();
        if Command::new("moto_server")
            .arg("--help")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_err()
        {
            return Err(
                "moto_server is not installed; install it with: pip install 'moto[server]'".into(),
            );
        }
        // The wrapper stops moto when our end of its stdin closes, i.e. when this test
        // process exits, however it exits.
        let script = format!(
            "moto_server -H 127.0.0.1 -p {port} >/dev/null 2>&1 & m=$!; cat >/dev/null; kill $m"
        );
        let child = Command::new("sh")
            .args(["-c", &script])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot start moto_server: {e}"))?;
        let moto = Moto {
            endpoint: format!("http://127.0.0.1:{port}"),
            child: Mutex::new(Some(child)),
        };
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(30) {
            if ready(port) {
                return Ok(moto);
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Err("moto_server did not become ready in 30 s".into())
    }
}

fn ready(port: u16) -> bool {
    let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
    if s.write_all(b"GET /moto-api/ HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        .is_err()
    {
        return false;
    }
    let mut buf = [0u8; 12];
    s.read_exact(&mut buf).is_ok()
        && (buf.starts_with(b"HTTP/1.1 200") || buf.starts_with(b"HTTP/1.0 200"))
}

/// Resources the emulator tests create, with the SDK calls written once.
pub mod provision {
    use aws_sdk_dynamodb::types::{
        AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
    };
    use aws_sdk_sqs::types::QueueAttributeName;

    /// A table shaped like the template's: `pk` (hash) and `sk` (range), strings.
    pub async fn table(client: &aws_sdk_dynamodb::Client, name: &str) -> Result<(), String> {
        let attr = |n: &str| {
            AttributeDefinition::builder()
                .attribute_name(n)
                .attribute_type(ScalarAttributeType::S)
                .build()
                .map_err(|e| e.to_string())
        };
        let key = |n: &str, t: KeyType| {
            KeySchemaElement::builder()
                .attribute_name(n)
                .key_type(t)
                .build()
                .map_err(|e| e.to_string())
        };
        client
            .create_table()
            .table_name(name)
            .attribute_definitions(attr("pk")?)
            .attribute_definitions(attr("sk")?)
            .key_schema(key("pk", KeyType::Hash)?)
            .key_schema(key("sk", KeyType::Range)?)
            .billing_mode(BillingMode::PayPerRequest)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| format!("create table: {e:?}"))
    }

    /// A queue; returns its URL.
    pub async fn queue(sqs: &aws_sdk_sqs::Client, name: &str) -> Result<String, String> {
        let out = sqs
            .create_queue()
            .queue_name(name)
            .send()
            .await
            .map_err(|e| format!("create queue: {e:?}"))?;
        Ok(out.queue_url().unwrap_or_default().to_owned())
    }

    /// The ARN of the queue at `url`.
    ///
    /// # Errors
    /// The SQS call failed.
    pub async fn queue_arn(sqs: &aws_sdk_sqs::Client, url: &str) -> Result<String, String> {
        let out = sqs
            .get_queue_attributes()
            .queue_url(url)
            .attribute_names(QueueAttributeName::QueueArn)
            .send()
            .await
            .map_err(|e| format!("queue attributes: {e:?}"))?;
        Ok(out
            .attributes()
            .and_then(|a| a.get(&QueueAttributeName::QueueArn).cloned())
            .unwrap_or_default())
    }
}
