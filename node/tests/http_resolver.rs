#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The GS1 Digital Link resolver over a real HTTP port: the page a scanned label opens, its JSON
//! form, check-digit and unknown-item errors, and the public filter (no commercial data).
use std::io::{Read, Write};
use std::sync::Arc;
use tradechain_node::grpc::backend::Backend;
use tradechain_node::grpc::scenario::{self, ITEM, PALLET, Scenario};

fn get(addr: std::net::SocketAddr, path: &str, accept: &str) -> (u16, String) {
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: localhost\r\nAccept: {accept}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut buf = String::new();
    s.read_to_string(&mut buf).unwrap();
    let code = buf[9..12].parse().unwrap();
    let body = buf.split_once("\r\n\r\n").map(|x| x.1.to_string()).unwrap_or_default();
    (code, body)
}

fn serve() -> std::net::SocketAddr {
    let backend: Arc<dyn Backend> = Scenario::trade().backend;
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            tx.send(l.local_addr().unwrap()).unwrap();
            axum::serve(l, tradechain_node::resolver::router(backend))
                .await
                .unwrap();
        });
    });
    rx.recv().unwrap()
}

#[test]
fn a_scanned_label_opens_the_items_journey() {
    let addr = serve();
    let (code, html) = get(addr, &format!("/{ITEM}"), "text/html");
    assert_eq!(code, 200, "{html}");
    assert!(html.starts_with("<!doctype html>"));
    assert!(html.contains("Where this item has been"));
    assert!(html.contains(ITEM));
    assert!(html.contains("Customs:"), "{html}");
    // Nothing commercial reaches the public page.
    for private in [
        scenario::CONSIGNEE_NAME,
        scenario::CONSIGNEE_ADDRESS,
        scenario::INVOICE,
        &scenario::AMOUNT_MINOR.to_string(),
    ] {
        assert!(!html.contains(private), "{private} leaked into the page");
    }
    // The same answer as JSON, by Accept header or by GS1 link type.
    let (code, body) = get(addr, &format!("/{ITEM}"), "application/json");
    assert_eq!(code, 200);
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["goods_key"].as_str(), Some(ITEM));
    assert!(v["events"].as_array().is_some_and(|e| !e.is_empty()));
    let (code, body) = get(addr, &format!("/{ITEM}?linkType=gs1:traceability"), "*/*");
    assert_eq!(code, 200);
    assert!(body.starts_with('{'));
    // A logistic unit (SSCC) resolves too.
    let (code, _) = get(addr, &format!("/{PALLET}"), "text/html");
    assert_eq!(code, 200);
}

#[test]
fn bad_check_digits_and_unknown_items_are_named() {
    let addr = serve();
    let (code, body) = get(addr, "/01/09506000134353/21/abc", "application/json");
    assert_eq!(code, 400, "{body}");
    assert!(body.contains("check digit"), "{body}");
    let (code, body) = get(addr, "/01/09506000134352/21/unknown", "text/html");
    assert_eq!(code, 404, "{body}");
    assert!(body.contains("unknown"));
}

#[test]
fn ledger_text_is_escaped() {
    assert_eq!(
        tradechain_node::resolver::esc("<script>alert('x')</script> & \""),
        "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;"
    );
}
