//! A session's files (issue 15) with real Chromium over real HTTP: uploads (JSON and
//! multipart) listed with their sha256 and fetched back; set on a plain file input and through
//! the file chooser a styled button opens, read back by the page; the agent API's upload_file;
//! a PDF; and every bad input (a path for a name, a missing file, over the caps, another
//! tenant's session) refused with a clear 4xx while the session goes on.

mod common;

use base64::Engine as _;
use common::*;
use reqwest::Method;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

const HELLO: &str = "hello from pagepilot";

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

async fn upload_json(
    pp: &Pp,
    who: (&str, &str),
    id: &str,
    name: &str,
    bytes: &[u8],
) -> (u16, Value) {
    pp.send(
        Method::POST,
        &format!("/v1/sessions/{id}/files"),
        Some(who),
        Some(json!({ "name": name, "contentBase64": b64(bytes) })),
    )
    .await
}

/// A multipart/form-data body with one `file` part (as browsers and curl -F send it).
async fn upload_multipart(pp: &Pp, id: &str, filename: &str, bytes: &[u8]) -> (u16, Value) {
    let boundary = "pagepilot-test-boundary";
    let mut body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{filename}\"\r\n\
         Content-Type: application/octet-stream\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(bytes);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    let resp = pp
        .http
        .post(format!("{}/v1/sessions/{id}/files", pp.base))
        .bearer_auth(token(ALICE))
        .header(
            "content-type",
            format!("multipart/form-data; boundary={boundary}"),
        )
        .body(body)
        .send()
        .await
        .expect("sent");
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

/// What the page shows in `#out` once it starts with `start` (it reads the files
/// asynchronously, after the change event), or after 10 s whatever it shows.
async fn page_says(pp: &Pp, id: &str, start: &str) -> String {
    let _ = pp
        .eventually(std::time::Duration::from_secs(10), || async {
            pp.text(ALICE, id, "#out").await.starts_with(start)
        })
        .await;
    pp.text(ALICE, id, "#out").await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uploads_reach_file_inputs_and_pdfs_are_session_files() {
    let fx = Fixtures::start().await;
    let pp = Pp::start(pagepilot::config::Config {
        max_file_bytes: 1024 * 1024,
        max_session_files_bytes: 4 * 1024 * 1024,
        ..config()
    })
    .await;
    let id = pp
        .session_at(ALICE, json!({ "url": fx.url("/capture/upload.html") }))
        .await;

    // Upload as JSON and as multipart; the list names both with their hashes.
    let (status, up) = upload_json(&pp, ALICE, &id, "hello.txt", HELLO.as_bytes()).await;
    assert_eq!(status, 201, "{up}");
    assert_eq!(
        up["file"]["sha256"],
        hex::encode(Sha256::digest(HELLO)),
        "{up}"
    );
    assert_eq!(up["file"]["mimeType"], "text/plain");
    let (status, up) = upload_multipart(&pp, &id, "second file.csv", b"a,b\n1,2\n").await;
    assert_eq!(status, 201, "{up}");
    assert_eq!(
        up["file"]["url"],
        format!("/v1/sessions/{id}/files/second%20file.csv")
    );
    let (status, list) = pp
        .send(
            Method::GET,
            &format!("/v1/sessions/{id}/files"),
            Some(ALICE),
            None,
        )
        .await;
    assert_eq!(status, 200, "{list}");
    let names: Vec<&str> = list["files"]
        .as_array()
        .map(|f| f.iter().filter_map(|f| f["name"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(names, ["hello.txt", "second file.csv"], "{list}");
    let fetched = pp
        .http
        .get(format!("{}/v1/sessions/{id}/files/hello.txt", pp.base))
        .bearer_auth(token(ALICE))
        .send()
        .await
        .expect("fetch");
    assert_eq!(fetched.status(), 200);
    assert_eq!(
        fetched.headers()["x-content-sha256"]
            .to_str()
            .unwrap_or_default(),
        hex::encode(Sha256::digest(HELLO))
    );
    assert_eq!(fetched.text().await.unwrap_or_default(), HELLO);

    // Set on a plain input: the page reads the file back.
    let done = pp
        .ok(
            ALICE,
            &id,
            "upload",
            json!({ "selector": "#plain", "files": ["hello.txt", "second file.csv"] }),
        )
        .await;
    assert_eq!(done["via"], "input", "{done}");
    let said = page_says(&pp, &id, "plain:hello.txt").await;
    assert!(
        said.contains(&format!("plain:hello.txt:{}:{HELLO}", HELLO.len())),
        "{said}"
    );
    assert!(said.contains("plain:second file.csv:8:a,b"), "{said}");
    // Through a styled button that opens a file chooser (never shown; answered).
    let done = pp
        .ok(
            ALICE,
            &id,
            "upload",
            json!({ "selector": "#choose", "files": ["hello.txt"] }),
        )
        .await;
    assert_eq!(done["via"], "chooser", "{done}");
    assert_eq!(
        page_says(&pp, &id, "hidden:").await,
        format!("hidden:hello.txt:{}:{HELLO}", HELLO.len())
    );

    // The agent API's upload_file, by the id observe gave the input.
    let (status, obs) = pp
        .send(
            Method::POST,
            &format!("/sessions/{id}/page/observe"),
            Some(ALICE),
            Some(json!({})),
        )
        .await;
    assert_eq!(status, 200, "{obs}");
    let input = action_id(&obs, "Plain input");
    let (status, ex) = pp
        .send(
            Method::POST,
            &format!("/sessions/{id}/page/execute"),
            Some(ALICE),
            Some(json!({ "type": "upload_file", "id": input, "file_path": "second file.csv" })),
        )
        .await;
    assert_eq!((status, ex["success"].clone()), (200, json!(true)), "{ex}");
    let said = page_says(&pp, &id, "plain:second file.csv").await;
    assert!(said.starts_with("plain:second file.csv:8:"), "{said}");

    // A PDF: answered and kept as a session file.
    let pdf = pp
        .ok(
            ALICE,
            &id,
            "pdf",
            json!({ "format": "A4", "printBackground": true }),
        )
        .await;
    assert_eq!(pdf["contentType"], "application/pdf");
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(pdf["bodyBase64"].as_str().unwrap_or_default())
        .expect("base64");
    assert!(
        bytes.starts_with(b"%PDF"),
        "{:?}",
        &bytes[..bytes.len().min(8)]
    );
    assert_eq!(pdf["file"]["name"], "page.pdf", "{pdf}");
    let kept = pp
        .http
        .get(format!("{}/v1/sessions/{id}/files/page.pdf", pp.base))
        .bearer_auth(token(ALICE))
        .send()
        .await
        .expect("fetch");
    assert_eq!(kept.headers()["content-type"], "application/pdf");
    assert_eq!(
        kept.bytes().await.unwrap_or_default().as_ref(),
        bytes.as_slice()
    );
    let (status, del) = pp
        .send(
            Method::DELETE,
            &format!("/v1/sessions/{id}/files/page.pdf"),
            Some(ALICE),
            None,
        )
        .await;
    assert_eq!(status, 200, "{del}");
    pp.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_file_inputs_are_refused_and_the_session_goes_on() {
    let fx = Fixtures::start().await;
    let pp = Pp::start(pagepilot::config::Config {
        max_file_bytes: 4096,
        max_session_files_bytes: 6000,
        ..config()
    })
    .await;
    let id = pp
        .session_at(ALICE, json!({ "url": fx.url("/capture/upload.html") }))
        .await;
    let files = format!("/v1/sessions/{id}/files");
    let expect = |got: (u16, Value), status: u16, needle: &str| {
        assert_eq!(got.0, status, "{}", got.1);
        assert!(got.1.to_string().contains(needle), "{needle}: {}", got.1);
    };
    // Names are names, never paths.
    for bad in [
        "../escape.txt",
        "/etc/passwd",
        ".hidden",
        "a/b.txt",
        "",
        "x\u{0}y",
    ] {
        expect(
            upload_json(&pp, ALICE, &id, bad, b"x").await,
            400,
            "is not accepted",
        );
    }
    expect(
        upload_json(&pp, ALICE, &id, &"n".repeat(5000), b"x").await,
        400,
        "is not accepted",
    );
    // Caps: one file, then the session's total; the 413 names the setting.
    expect(
        upload_json(&pp, ALICE, &id, "big.bin", &[7u8; 4097]).await,
        413,
        "max_file_bytes",
    );
    assert_eq!(
        upload_json(&pp, ALICE, &id, "a.bin", &[1u8; 4000]).await.0,
        201
    );
    expect(
        upload_json(&pp, ALICE, &id, "b.bin", &[2u8; 4000]).await,
        413,
        "max_session_files_bytes",
    );
    // A body past the upload cap is refused on its Content-Length, before it is read: the
    // head alone gets the 413.
    {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let addr = pp.base.trim_start_matches("http://").to_string();
        let mut tcp = tokio::net::TcpStream::connect(&addr)
            .await
            .expect("connect");
        let head = format!(
            "POST {files} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {}\r\n\
             Content-Type: application/json\r\nContent-Length: 8388608\r\n\r\n",
            token(ALICE)
        );
        tcp.write_all(head.as_bytes()).await.expect("head sent");
        let mut answer = vec![0u8; 512];
        let n = tokio::time::timeout(std::time::Duration::from_secs(10), tcp.read(&mut answer))
            .await
            .expect("answered before the body")
            .expect("read");
        let answer = String::from_utf8_lossy(&answer[..n]);
        assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    }
    // Malformed uploads.
    expect(
        pp.send(
            Method::POST,
            &files,
            Some(ALICE),
            Some(json!({ "name": "x.txt", "contentBase64": "***" })),
        )
        .await,
        400,
        "contentBase64",
    );
    expect(
        pp.send(
            Method::POST,
            &files,
            Some(ALICE),
            Some(json!({ "name": "x.txt" })),
        )
        .await,
        400,
        "contentBase64",
    );
    expect(
        pp.send(
            Method::POST,
            &files,
            Some(ALICE),
            Some(json!({ "name": 5, "contentBase64": "" })),
        )
        .await,
        400,
        "name",
    );
    let resp = pp
        .http
        .post(format!("{}{files}", pp.base))
        .bearer_auth(token(ALICE))
        .header("content-type", "multipart/form-data; boundary=b")
        .body("--b\r\nContent-Disposition: form-data; name=\"other\"\r\n\r\nx\r\n--b--\r\n")
        .send()
        .await
        .expect("sent");
    assert_eq!(resp.status(), 400);
    // Actions naming files the session does not hold, or paths.
    let (status, v) = pp
        .act(
            ALICE,
            &id,
            "upload",
            json!({ "selector": "#plain", "files": ["nope.txt"] }),
        )
        .await;
    assert_eq!(status, 400, "{v}");
    assert!(
        v["error"]
            .as_str()
            .unwrap_or_default()
            .contains("no file `nope.txt`"),
        "{v}"
    );
    let (status, v) = pp
        .act(
            ALICE,
            &id,
            "upload",
            json!({ "selector": "#plain", "files": ["/etc/passwd"] }),
        )
        .await;
    assert_eq!(status, 400, "{v}");
    for payload in [
        json!({ "selector": "#plain", "files": [] }),
        json!({ "files": ["a.bin"] }),
        json!({ "selector": "#plain", "files": "a.bin" }),
        json!({ "selector": "h1", "files": ["a.bin"] }),
        json!({ "selector": "#hidden", "files": ["a.bin", "a.bin"] }),
    ] {
        let (status, v) = pp.act(ALICE, &id, "upload", payload.clone()).await;
        assert_eq!(status, 400, "{payload}: {v}");
    }
    // The download wait: numeric extremes and past its cap are named.
    for ms in [
        json!(-1),
        json!(1e300),
        json!(9223372036854775808u64),
        json!(60_001),
        json!("soon"),
    ] {
        let (status, v) = pp
            .act(
                ALICE,
                &id,
                "download",
                json!({ "selector": "#plain", "timeoutMs": ms }),
            )
            .await;
        assert_eq!(status, 400, "{ms}: {v}");
        assert!(
            v["error"]
                .as_str()
                .unwrap_or_default()
                .contains("timeoutMs"),
            "{ms}: {v}"
        );
    }
    let (status, v) = pp.act(ALICE, &id, "download", json!({})).await;
    assert_eq!(status, 400, "{v}");
    for payload in [
        json!({ "format": "b5" }),
        json!({ "pageRanges": "one" }),
        json!({ "pageRanges": 1e300 }),
        json!({ "name": "../x.pdf" }),
    ] {
        let (status, v) = pp.act(ALICE, &id, "pdf", payload.clone()).await;
        assert_eq!(status, 400, "{payload}: {v}");
    }
    // Fetching what is not there; another tenant's session is "not found", as everywhere.
    assert_eq!(
        pp.send(Method::GET, &format!("{files}/nope.txt"), Some(ALICE), None)
            .await
            .0,
        404
    );
    assert_eq!(
        pp.send(Method::GET, &format!("{files}/..%2Fetc"), Some(ALICE), None)
            .await
            .0,
        400
    );
    assert_eq!(pp.send(Method::GET, &files, Some(BOB), None).await.0, 404);
    assert_eq!(
        pp.send(Method::GET, &format!("{files}/a.bin"), Some(BOB), None)
            .await
            .0,
        404
    );
    assert_eq!(upload_json(&pp, BOB, &id, "x.txt", b"x").await.0, 404);
    assert_eq!(pp.send(Method::GET, &files, None, None).await.0, 401);
    // The session is untouched by all of it.
    let (_, rec) = pp.get(ALICE, &id).await;
    assert_eq!(rec["session"]["status"], "active", "{rec}");
    assert_eq!(
        pp.send(Method::GET, &files, Some(ALICE), None).await.1["files"][0]["name"],
        "a.bin"
    );
    // Ended: its files went with it.
    pp.delete(ALICE, &id).await;
    assert_eq!(pp.send(Method::GET, &files, Some(ALICE), None).await.0, 409);
    pp.stop().await;
}

/// What `/v1/sessions/{id}/files` lists, by name.
async fn listed(pp: &Pp, id: &str) -> Vec<Value> {
    let (_, v) = pp
        .send(
            Method::GET,
            &format!("/v1/sessions/{id}/files"),
            Some(ALICE),
            None,
        )
        .await;
    v["files"].as_array().cloned().unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn downloads_become_session_files_and_an_oversize_one_is_refused() {
    let fx = Fixtures::start().await;
    let pp = Pp::start(pagepilot::config::Config {
        max_file_bytes: 1024 * 1024,
        ..config()
    })
    .await;
    let id = pp
        .session_at(ALICE, json!({ "url": fx.url("/capture/downloads.html") }))
        .await;
    let report = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/fixtures/capture/report.csv"
    ))
    .expect("fixture");

    // A link with `download`: the action clicks it and answers the file.
    let got = pp
        .ok(ALICE, &id, "download", json!({ "selector": "#static" }))
        .await;
    let file = &got["download"]["file"];
    assert_eq!(file["name"], "report.csv", "{got}");
    assert_eq!(
        file["sha256"],
        hex::encode(Sha256::digest(&report)),
        "{got}"
    );
    assert_eq!(file["source"], "download");
    let fetched = pp
        .http
        .get(format!("{}/v1/sessions/{id}/files/report.csv", pp.base))
        .bearer_auth(token(ALICE))
        .send()
        .await
        .expect("fetch");
    assert_eq!(
        fetched.bytes().await.unwrap_or_default().as_ref(),
        report.as_slice()
    );

    // A plain click on a `Content-Disposition` answer: the file appears in the list, and an
    // answer tells of it: the click's own when the download finished while it ran, else the
    // next action's.
    let clicked = pp
        .ok(ALICE, &id, "click", json!({ "selector": "#disp" }))
        .await;
    let expected = download_bytes(2048);
    let appeared = pp
        .eventually(std::time::Duration::from_secs(15), || async {
            listed(&pp, &id)
                .await
                .iter()
                .any(|f| f["name"] == "data set.bin")
        })
        .await;
    assert!(appeared, "{:?}", listed(&pp, &id).await);
    let entry = listed(&pp, &id)
        .await
        .into_iter()
        .find(|f| f["name"] == "data set.bin")
        .unwrap_or_default();
    assert_eq!(entry["size"], 2048);
    assert_eq!(entry["sha256"], hex::encode(Sha256::digest(&expected)));
    let next = pp.ok(ALICE, &id, "title", json!({})).await;
    let told: Vec<&Value> = [&clicked, &next]
        .iter()
        .flat_map(|a| a["downloads"].as_array().into_iter().flatten())
        .collect();
    assert_eq!(told.len(), 1, "told once: {clicked} then {next}");
    assert_eq!(
        told[0]["file"]["name"], "data set.bin",
        "{clicked} then {next}"
    );

    // Past max_file_bytes: refused while it runs, said so, and the session goes on.
    let (status, v) = pp
        .act(ALICE, &id, "download", json!({ "selector": "#huge" }))
        .await;
    assert_eq!(status, 200, "{v}");
    assert!(
        v["download"]["refused"]
            .as_str()
            .unwrap_or_default()
            .contains("max_file_bytes"),
        "{v}"
    );
    assert!(listed(&pp, &id)
        .await
        .iter()
        .all(|f| f["name"] != "huge.bin"));
    let v = pp
        .ok(
            ALICE,
            &id,
            "goto",
            json!({ "url": fx.url("/capture/downloads.html") }),
        )
        .await;
    assert!(v["url"]
        .as_str()
        .unwrap_or_default()
        .ends_with("/capture/downloads.html"));
    let (_, rec) = pp.get(ALICE, &id).await;
    assert_eq!(rec["session"]["status"], "active", "{rec}");

    // The agent API's download_file, by id.
    let (_, obs) = pp
        .send(
            Method::POST,
            &format!("/sessions/{id}/page/observe"),
            Some(ALICE),
            Some(json!({})),
        )
        .await;
    let link = action_id(&obs, "Report");
    let (status, ex) = pp
        .send(
            Method::POST,
            &format!("/sessions/{id}/page/execute"),
            Some(ALICE),
            Some(json!({ "type": "download_file", "id": link })),
        )
        .await;
    assert_eq!((status, ex["success"].clone()), (200, json!(true)), "{ex}");
    assert!(listed(&pp, &id)
        .await
        .iter()
        .any(|f| f["name"] == "report-2.csv"));
    // A download action on something that downloads nothing waits, then says so.
    let (status, v) = pp
        .act(
            ALICE,
            &id,
            "download",
            json!({ "selector": "h1", "timeoutMs": 500 }),
        )
        .await;
    assert_eq!(status, 504, "{v}");
    pp.stop().await;
}
