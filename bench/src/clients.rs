//! The two kinds of client the generator drives: Natter (server functions over HTTP, events
//! on its WebSocket) and a Socket.io relay (Engine.IO v4 over a plain WebSocket).

use crate::record::Recorder;
use anyhow::{anyhow, bail, Context, Result};
use futures_util::{SinkExt, StreamExt};
use serde::Deserialize;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, watch};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::Message;

pub const PASSWORD: &str = "bench-password-1";

/// A signed-up Natter user.
#[derive(Clone)]
pub struct Account {
    pub id: String,
    /// `natter_session=...`
    pub cookie: String,
}

#[derive(Clone)]
pub struct NatterApi {
    pub base: String,
    pub http: reqwest::Client,
}

impl NatterApi {
    pub fn new(base: String) -> Result<NatterApi> {
        let http = reqwest::Client::builder()
            .pool_max_idle_per_host(1024)
            .timeout(Duration::from_secs(60))
            .build()?;
        Ok(NatterApi { base, http })
    }

    /// Calls a server function; returns the status and the body.
    pub async fn call(
        &self,
        cookie: Option<&str>,
        endpoint: &str,
        form: &[(&str, &str)],
    ) -> Result<(u16, String, Option<String>)> {
        let mut req = self
            .http
            .post(format!("{}/api/{endpoint}", self.base))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(serde_urlencoded::to_string(form)?);
        if let Some(c) = cookie {
            req = req.header("cookie", c);
        }
        let resp = req.send().await?;
        let status = resp.status().as_u16();
        let set_cookie = resp
            .headers()
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find(|v| v.starts_with("natter_session="))
            .and_then(|v| v.split(';').next())
            .map(String::from);
        Ok((status, resp.text().await?, set_cookie))
    }

    pub async fn signup(&self, username: &str) -> Result<Account> {
        let (status, body, cookie) = self
            .call(
                None,
                "signup",
                &[
                    ("username", username),
                    ("display_name", username),
                    ("password", PASSWORD),
                ],
            )
            .await?;
        if status != 200 {
            bail!("signup of {username}: {status} {body}");
        }
        #[derive(Deserialize)]
        struct User {
            id: String,
        }
        let user: User = serde_json::from_str(&body).context("signup answer")?;
        Ok(Account {
            id: user.id,
            cookie: cookie.ok_or_else(|| anyhow!("signup of {username} set no session cookie"))?,
        })
    }

    pub async fn create_group(
        &self,
        owner: &Account,
        title: &str,
        members: &[&str],
    ) -> Result<String> {
        let keys: Vec<String> = (0..members.len())
            .map(|i| format!("member_ids[{i}]"))
            .collect();
        let mut form: Vec<(&str, &str)> = vec![("title", title)];
        form.extend(keys.iter().map(String::as_str).zip(members.iter().copied()));
        let (status, body, _) = self
            .call(Some(&owner.cookie), "create_group", &form)
            .await?;
        if status != 200 {
            bail!("create_group: {status} {body}");
        }
        Ok(serde_json::from_str(&body)?)
    }

    /// One message through the real send path; Err carries the status and answer.
    pub async fn send(
        &self,
        from: &Account,
        conversation: &str,
        client_msg_id: &str,
        body: &str,
    ) -> Result<()> {
        let (status, answer, _) = self
            .call(
                Some(&from.cookie),
                "send_message",
                &[
                    ("conversation_id", conversation),
                    ("client_msg_id", client_msg_id),
                    ("body", body),
                ],
            )
            .await?;
        if status != 200 {
            bail!("send_message: {status} {answer}");
        }
        Ok(())
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Proto {
    Natter,
    SocketIo,
}

/// An open connection: what to send on it (Socket.io sends go over the socket).
pub struct Conn {
    pub out: mpsc::UnboundedSender<String>,
}

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn next_text(ws: &mut Ws) -> Result<String> {
    loop {
        match tokio::time::timeout(Duration::from_secs(30), ws.next()).await {
            Err(_) => bail!("no frame for 30 s"),
            Ok(None) => bail!("closed"),
            Ok(Some(Err(e))) => bail!("{e}"),
            Ok(Some(Ok(Message::Text(t)))) => return Ok(t.to_string()),
            Ok(Some(Ok(Message::Close(c)))) => bail!("closed: {c:?}"),
            Ok(Some(Ok(_))) => {}
        }
    }
}

/// Opens a connection, joins `rooms` (Natter: subscribes to the conversations) and waits
/// until every one is confirmed; then reads in the background until `stop`.
pub async fn open(
    proto: Proto,
    port: u16,
    cookie: Option<&str>,
    rooms: &[String],
    recorder: Arc<Recorder>,
    stop: watch::Receiver<bool>,
) -> Result<Conn> {
    let url = match proto {
        Proto::Natter => format!("ws://127.0.0.1:{port}/ws"),
        Proto::SocketIo => format!("ws://127.0.0.1:{port}/socket.io/?EIO=4&transport=websocket"),
    };
    let mut request = url.into_client_request()?;
    let origin = format!("http://127.0.0.1:{port}");
    request
        .headers_mut()
        .insert("origin", HeaderValue::from_str(&origin)?);
    if let Some(c) = cookie {
        request
            .headers_mut()
            .insert("cookie", HeaderValue::from_str(c)?);
    }
    // Small buffers, as Natter's own: tungstenite's default 128 KiB read buffer is zeroed
    // on every read and would make the generator, not the server, the thing measured.
    let config = WebSocketConfig::default()
        .read_buffer_size(4096)
        .write_buffer_size(4096);
    let (mut ws, _) =
        tokio_tungstenite::connect_async_with_config(request, Some(config), false).await?;
    match proto {
        Proto::Natter => {
            let hello = next_text(&mut ws).await?;
            if !hello.contains("\"hello\"") {
                bail!("expected hello, got {hello}");
            }
            for room in rooms {
                let frame = serde_json::json!({"type": "subscribe", "topic": format!("conversation:{room}")});
                ws.send(Message::Text(frame.to_string().into())).await?;
            }
            let mut pending = rooms.len();
            while pending > 0 {
                let frame = next_text(&mut ws).await?;
                if frame.contains("\"subscribed\"") {
                    pending -= 1;
                } else if frame.contains("\"error\"") {
                    bail!("subscribe refused: {frame}");
                }
            }
        }
        Proto::SocketIo => {
            let open = next_text(&mut ws).await?;
            if !open.starts_with('0') {
                bail!("expected an Engine.IO open packet, got {open}");
            }
            ws.send(Message::Text("40".into())).await?;
            loop {
                let frame = next_text(&mut ws).await?;
                if frame.starts_with("40") {
                    break;
                }
            }
            let join = format!("420{}", serde_json::json!(["join", rooms]));
            ws.send(Message::Text(join.into())).await?;
            loop {
                let frame = next_text(&mut ws).await?;
                if frame == "2" {
                    ws.send(Message::Text("3".into())).await?;
                } else if frame.starts_with("430") {
                    break;
                }
            }
        }
    }
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(read_loop(proto, ws, rx, recorder, stop));
    Ok(Conn { out: tx })
}

#[derive(Deserialize)]
struct NatterFrame {
    #[serde(default)]
    event: Option<NatterEvent>,
}

#[derive(Deserialize)]
struct NatterEvent {
    kind: String,
    #[serde(default)]
    message: Option<Delivered>,
}

#[derive(Deserialize)]
struct Delivered {
    #[serde(alias = "room")]
    conversation_id: String,
    seq: i64,
    body: String,
}

async fn read_loop(
    proto: Proto,
    mut ws: Ws,
    mut out: mpsc::UnboundedReceiver<String>,
    recorder: Arc<Recorder>,
    mut stop: watch::Receiver<bool>,
) {
    let mut last_seq: HashMap<String, i64> = HashMap::new();
    let mut check = |m: Delivered| {
        let last = last_seq.entry(m.conversation_id).or_insert(0);
        let in_order = m.seq == *last + 1;
        *last = m.seq.max(*last);
        recorder.delivered(&m.body, in_order);
    };
    loop {
        tokio::select! {
            frame = ws.next() => match frame {
                Some(Ok(Message::Text(text))) => match proto {
                    Proto::Natter => {
                        if let Ok(NatterFrame { event: Some(NatterEvent { kind, message: Some(m) }) }) =
                            serde_json::from_str::<NatterFrame>(&text)
                        {
                            if kind == "message_created" {
                                check(m);
                            }
                        }
                    }
                    Proto::SocketIo => {
                        if text.as_str() == "2" {
                            if ws.send(Message::Text("3".into())).await.is_err() {
                                recorder.dropped("could not answer a ping".into());
                                return;
                            }
                        } else if let Some(json) = text.strip_prefix("42") {
                            if let Ok((_, m)) = serde_json::from_str::<(String, Delivered)>(json) {
                                check(m);
                            }
                        }
                    }
                },
                Some(Ok(Message::Close(c))) => {
                    if !*stop.borrow() {
                        recorder.dropped(format!("closed by the server: {c:?}"));
                    }
                    return;
                }
                Some(Ok(_)) => {}
                Some(Err(e)) => {
                    if !*stop.borrow() {
                        recorder.dropped(format!("read failed: {e}"));
                    }
                    return;
                }
                None => {
                    if !*stop.borrow() {
                        recorder.dropped("closed".into());
                    }
                    return;
                }
            },
            Some(text) = out.recv() => {
                if let Err(e) = ws.send(Message::Text(text.into())).await {
                    recorder.dropped(format!("send failed: {e}"));
                    return;
                }
            }
            _ = stop.changed() => {
                let _ = ws.close(None).await;
                return;
            }
        }
    }
}
