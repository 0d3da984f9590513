//! The counting controller: ten ticks, one second apart, as `message` and `increment` events.
//!
//! `cargo run --example counting`, then open the printed URL. `PORT` overrides 3030.
//! `cargo run --example counting -- --tls` serves it over HTTPS and HTTP/2 with a certificate
//! made at start (`--cert cert.pem --key key.pem` to use yours).
//! Ctrl-C stops the server gracefully; every open stream's `on_close` runs on the way out.

use warp::Filter;
use warp_eventstream::{event_stream, json, serve};

const PAGE: &str = include_str!("counting.html");

#[tokio::main]
async fn main() {
    // The crate logs what goes wrong (a skipped event, a panic, a lagging client) through
    // `tracing`; this prints it.
    tracing_subscriber::fmt::init();
    let counting = event_stream! {
        route "/event/counting"
        every 1s
        until 10
        event ["message", "increment"]
        on_open { println!("Start counting") }
        on_close |n| { println!("Counted to: {}", n) }
        => |i| json!({ "msg": format!("Server count: {}", i) })
    };
    let page = warp::path::end()
        .and(warp::get())
        .map(|| warp::reply::html(PAGE));

    let port: u16 = match std::env::var("PORT") {
        Ok(port) => port.parse().expect("PORT must be a port number"),
        Err(_) => 3030,
    };
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .expect("the port is free");
    let addr = listener.local_addr().expect("bound");

    // Ctrl-C: every open stream gets the close event (so its page stops instead of
    // reconnecting) and runs `on_close`; the server then returns, waiting 5 s at most.
    let server = serve(page.or(counting)).graceful(async {
        let _ = tokio::signal::ctrl_c().await;
        println!("Shutting down");
    });
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|arg| arg == "--tls") {
        #[cfg(feature = "tls")]
        {
            let tls = https::certificate(&args);
            println!("Counting page: https://{addr}/ (HTTP/2)");
            server.tls(tls).run(listener).await;
            return;
        }
        #[cfg(not(feature = "tls"))]
        {
            eprintln!("--tls needs the `tls` feature (on by default)");
            std::process::exit(1);
        }
    }
    println!("Counting page: http://{addr}/");
    server.run(listener).await;
}

#[cfg(feature = "tls")]
mod https {
    use base64::Engine;
    use warp_eventstream::Tls;

    /// `--cert` and `--key` if given, or else a self-signed certificate for `localhost` and
    /// 127.0.0.1, made now, with how to make a browser trust it.
    pub fn certificate(args: &[String]) -> Tls {
        let flag = |name: &str| {
            let at = args.iter().position(|arg| arg == name)?;
            Some(args.get(at + 1).expect("a path after the flag").clone())
        };
        if let (Some(cert), Some(key)) = (flag("--cert"), flag("--key")) {
            return Tls::from_files(&cert, &key).unwrap_or_else(|error| {
                // A clear line and a failed exit, rather than a panic's backtrace.
                eprintln!("{error}");
                std::process::exit(1)
            });
        }
        let made = rcgen::generate_simple_self_signed(vec![
            "localhost".to_owned(),
            "127.0.0.1".to_owned(),
        ])
        .expect("a self-signed certificate");
        let spki = rcgen::PublicKeyData::subject_public_key_info(&made.signing_key);
        let pin = ring::digest::digest(&ring::digest::SHA256, &spki);
        let pin = base64::engine::general_purpose::STANDARD.encode(pin.as_ref());
        println!("A self-signed certificate, made now: browsers warn about it. Either:");
        println!("  - start Chromium trusting this one certificate:");
        println!("      chromium --ignore-certificate-errors-spki-list={pin} --user-data-dir=$(mktemp -d)");
        println!("  - or pass a certificate your browser trusts (mkcert makes one):");
        println!("      cargo run --example counting -- --tls --cert cert.pem --key key.pem");
        Tls::from_pem(made.cert.pem(), made.signing_key.serialize_pem())
            .expect("the certificate just made")
    }
}
