//! A small, strict, in-process SMTP server for integration tests.
//!
//! It implements the subset of RFC 5321 that a submission client such as lettre uses
//! (EHLO/HELO, MAIL, RCPT, DATA, RSET, NOOP, QUIT), with the sequencing rules of a real
//! MTA (503 for commands out of order, 500/501/555 for malformed input), line length
//! limits (RFC 5321 §4.5.3.1), dot-unstuffing and the 8BITMIME rule (8-bit data only
//! after `BODY=8BITMIME`). It never advertises STARTTLS or AUTH.
//!
//! Every accepted message is recorded in [`SmtpServer::messages`] and queued, once per
//! recipient, for [`SmtpServer::wait_for`]. Each connection is served by its own tokio
//! task, and a connection may carry any number of transactions (connection pooling).
//! Dropping the [`SmtpServer`] stops the listener and every open connection.
#![allow(dead_code)]

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine as _;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;
use tokio::task::{JoinHandle, JoinSet};

/// Longest command line accepted, CRLF included (RFC 5321 §4.5.3.1.4).
const MAX_COMMAND_LINE: usize = 512;
/// Longest text line accepted inside DATA, CRLF included (RFC 5321 §4.5.3.1.6).
const MAX_TEXT_LINE: usize = 1000;
/// Largest message accepted (octets after dot-unstuffing).
const MAX_MESSAGE_SIZE: usize = 10 * 1024 * 1024;

/// One message accepted by the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mail {
    /// Reverse path from `MAIL FROM:<...>`, without the angle brackets (empty for `<>`).
    pub from: String,
    /// Forward paths from every accepted `RCPT TO:<...>`, without the angle brackets.
    pub to: Vec<String>,
    /// The message content exactly as received (CRLF line endings), dot-unstuffed,
    /// without the terminating `.` line.
    pub data: String,
}

impl Mail {
    /// The text of the body: everything after the header block, decoded according to
    /// its `Content-Transfer-Encoding` (7bit/8bit as is, quoted-printable, base64).
    /// For a multipart message the first `text/plain` part is returned.
    ///
    /// The last CRLF of the data is treated as part of the end-of-data sequence
    /// (`CRLF . CRLF`, which lettre always appends), so for a message built by lettre
    /// the result is exactly the body it was given, with line endings made CRLF.
    pub fn body_text(&self) -> String {
        let data = self.data.strip_suffix("\r\n").unwrap_or(&self.data);
        entity_text(data).unwrap_or_default()
    }

    /// The value of the first header field called `name` (case-insensitive), unfolded
    /// (the CRLF of each continuation line removed) and trimmed. Encoded words are left
    /// as they are; see [`Mail::decoded_header`].
    pub fn header(&self, name: &str) -> Option<String> {
        let (headers, _) = split_entity(&self.data);
        find_header(&headers, name)
    }

    /// Like [`Mail::header`], with RFC 2047 encoded words (`=?utf-8?b?...?=`,
    /// `=?utf-8?q?...?=`) decoded, as lettre uses for non-ASCII subjects and names.
    pub fn decoded_header(&self, name: &str) -> Option<String> {
        self.header(name).map(|v| decode_encoded_words(&v))
    }

    /// Whether `addr` (case-insensitive) is one of the envelope recipients.
    pub fn is_to(&self, addr: &str) -> bool {
        self.to.iter().any(|t| same_address(t, addr))
    }
}

/// The first run of exactly 6 ASCII digits that is not part of a longer run of digits.
pub fn find_code(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i].is_ascii_digit() {
            let start = i;
            while i < bytes.len() && bytes[i].is_ascii_digit() {
                i += 1;
            }
            if i - start == 6 {
                return Some(text[start..i].to_owned());
            }
        } else {
            i += 1;
        }
    }
    None
}

#[derive(Default)]
struct Shared {
    /// Every message accepted so far, in arrival order.
    messages: Mutex<Vec<Mail>>,
    /// (recipient, message) pairs not yet returned by `wait_for`.
    pending: Mutex<Vec<(String, Mail)>>,
    arrived: Notify,
    fail: AtomicBool,
    connections: AtomicUsize,
}

impl Shared {
    fn deliver(&self, mail: Mail) {
        {
            let mut pending = self.pending.lock().unwrap();
            for rcpt in &mail.to {
                pending.push((rcpt.clone(), mail.clone()));
            }
        }
        self.messages.lock().unwrap().push(mail);
        self.arrived.notify_waiters();
    }

    fn take_pending(&self, to: &str) -> Option<Mail> {
        let mut pending = self.pending.lock().unwrap();
        let idx = pending
            .iter()
            .position(|(rcpt, _)| same_address(rcpt, to))?;
        Some(pending.remove(idx).1)
    }
}

/// An SMTP server listening on `127.0.0.1` on an ephemeral port.
pub struct SmtpServer {
    port: u16,
    shared: Arc<Shared>,
    task: JoinHandle<()>,
}

impl SmtpServer {
    /// Binds `127.0.0.1:0` and starts accepting connections.
    pub async fn start() -> SmtpServer {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind test SMTP server on 127.0.0.1:0");
        let port = listener.local_addr().expect("local_addr").port();
        let shared = Arc::new(Shared::default());
        let task = tokio::spawn(accept_loop(listener, shared.clone()));
        SmtpServer { port, shared, task }
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Every message accepted so far, in arrival order (not affected by `wait_for`).
    pub fn messages(&self) -> Vec<Mail> {
        self.shared.messages.lock().unwrap().clone()
    }

    /// Waits up to `timeout` for a message to `to` (case-insensitive) that no earlier
    /// `wait_for(to, ..)` call has returned, and consumes it. A message with several
    /// recipients can be returned once per recipient (like one copy per mailbox).
    pub async fn wait_for(&self, to: &str, timeout: Duration) -> Option<Mail> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let arrived = self.shared.arrived.notified();
            tokio::pin!(arrived);
            // Register interest before looking, so a delivery in between is not missed.
            arrived.as_mut().enable();
            if let Some(mail) = self.shared.take_pending(to) {
                return Some(mail);
            }
            if tokio::time::timeout_at(deadline, arrived).await.is_err() {
                return self.shared.take_pending(to);
            }
        }
    }

    /// How many connections have been accepted so far (to check connection reuse).
    pub fn connections(&self) -> usize {
        self.shared.connections.load(Ordering::SeqCst)
    }

    /// While `fail` is set, every transaction is rejected at the end of DATA with
    /// `554 5.0.0 Transaction failed` and nothing is recorded.
    pub fn set_fail(&self, fail: bool) {
        self.shared.fail.store(fail, Ordering::SeqCst);
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        // Aborting the accept loop drops its JoinSet, which aborts every connection.
        self.task.abort();
    }
}

async fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    shared.connections.fetch_add(1, Ordering::SeqCst);
                    connections.spawn(serve(stream, shared.clone()));
                }
                Err(e) => {
                    eprintln!("test SMTP server: accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
}

/// What reading one line produced.
enum Line {
    /// A complete CRLF-terminated line, CRLF stripped.
    Ok(Vec<u8>),
    /// A line longer than the limit (already consumed up to its LF).
    TooLong,
    /// A line terminated by a bare LF (or bare CR inside it).
    BareLf,
    /// End of stream (possibly after a partial line).
    Eof,
}

async fn read_line<R: AsyncRead + Unpin>(
    reader: &mut BufReader<R>,
    limit: usize,
) -> std::io::Result<Line> {
    let mut buf = Vec::new();
    let n = reader.read_until(b'\n', &mut buf).await?;
    if n == 0 || buf.last() != Some(&b'\n') {
        return Ok(Line::Eof);
    }
    if buf.len() > limit {
        return Ok(Line::TooLong);
    }
    if buf.len() < 2 || buf[buf.len() - 2] != b'\r' {
        return Ok(Line::BareLf);
    }
    buf.truncate(buf.len() - 2);
    if buf.contains(&b'\r') {
        return Ok(Line::BareLf);
    }
    Ok(Line::Ok(buf))
}

#[derive(Default)]
struct Transaction {
    from: Option<String>,
    to: Vec<String>,
    eight_bit: bool,
    smtputf8: bool,
}

async fn serve(stream: TcpStream, shared: Arc<Shared>) {
    if let Err(e) = session(stream, &shared).await {
        // A client hanging up mid-transaction is not an error worth failing a test over.
        if e.kind() != std::io::ErrorKind::ConnectionReset {
            eprintln!("test SMTP server: connection error: {e}");
        }
    }
}

async fn session(stream: TcpStream, shared: &Shared) -> std::io::Result<()> {
    // Replies are small; do not let Nagle + delayed ACK slow every exchange down.
    stream.set_nodelay(true)?;
    let (read_half, mut writer) = stream.into_split();
    let mut reader = BufReader::new(read_half);

    macro_rules! reply {
        ($($arg:tt)*) => {{
            let mut text = format!($($arg)*);
            if text.starts_with('5') || text.starts_with('4') {
                eprintln!("test SMTP server: -> {}", text.lines().last().unwrap_or(""));
            }
            text.push_str("\r\n");
            writer.write_all(text.as_bytes()).await?;
            writer.flush().await?;
        }};
    }

    reply!("220 localhost ESMTP test");
    let mut greeted = false;
    let mut tx = Transaction::default();

    loop {
        let line = match read_line(&mut reader, MAX_COMMAND_LINE).await? {
            Line::Ok(line) => line,
            Line::TooLong => {
                reply!("500 5.5.2 Line too long");
                continue;
            }
            Line::BareLf => {
                reply!("500 5.5.2 Command lines must end with CRLF");
                continue;
            }
            Line::Eof => return Ok(()),
        };
        let Ok(line) = String::from_utf8(line) else {
            reply!("500 5.5.2 Invalid UTF-8 in command");
            continue;
        };
        let (verb, arg) = match line.split_once(' ') {
            Some((verb, arg)) => (verb.to_ascii_uppercase(), arg.trim()),
            None => (line.to_ascii_uppercase(), ""),
        };

        match verb.as_str() {
            "EHLO" | "HELO" => {
                if arg.is_empty() || arg.contains(char::is_whitespace) {
                    reply!("501 5.5.4 Syntax: {verb} hostname");
                    continue;
                }
                greeted = true;
                tx = Transaction::default();
                if verb == "EHLO" {
                    reply!("250-localhost greets {arg}\r\n250-8BITMIME\r\n250 SMTPUTF8");
                } else {
                    reply!("250 localhost");
                }
            }
            "MAIL" => {
                if !greeted {
                    reply!("503 5.5.1 Send EHLO/HELO first");
                    continue;
                }
                if tx.from.is_some() {
                    reply!("503 5.5.1 Nested MAIL command");
                    continue;
                }
                let Some((path, params)) = parse_path(arg, "FROM:") else {
                    reply!("501 5.5.4 Syntax: MAIL FROM:<address>");
                    continue;
                };
                if !path.is_empty() && !valid_mailbox(&path) {
                    reply!("553 5.1.7 Bad sender address syntax");
                    continue;
                }
                let mut new_tx = Transaction::default();
                let mut bad_param = None;
                for param in params.split_whitespace() {
                    let (key, value) = match param.split_once('=') {
                        Some((k, v)) => (k.to_ascii_uppercase(), Some(v)),
                        None => (param.to_ascii_uppercase(), None),
                    };
                    match (key.as_str(), value) {
                        ("SIZE", Some(v))
                            if !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()) =>
                        {
                            if v.parse::<usize>().map_or(true, |n| n > MAX_MESSAGE_SIZE) {
                                bad_param = Some("552 5.3.4 Message size exceeds fixed limit");
                                break;
                            }
                        }
                        ("BODY", Some(v)) if v.eq_ignore_ascii_case("8BITMIME") => {
                            new_tx.eight_bit = true;
                        }
                        ("BODY", Some(v)) if v.eq_ignore_ascii_case("7BIT") => {}
                        ("SMTPUTF8", None) => new_tx.smtputf8 = true,
                        _ => {
                            bad_param = Some("555 5.5.4 Unsupported MAIL parameter");
                            break;
                        }
                    }
                }
                if let Some(err) = bad_param {
                    reply!("{err}");
                    continue;
                }
                if !path.is_ascii() && !new_tx.smtputf8 {
                    reply!("553 5.6.7 Non-ASCII sender requires SMTPUTF8");
                    continue;
                }
                new_tx.from = Some(path);
                tx = new_tx;
                reply!("250 2.1.0 Ok");
            }
            "RCPT" => {
                if tx.from.is_none() {
                    reply!("503 5.5.1 Need MAIL before RCPT");
                    continue;
                }
                let Some((path, params)) = parse_path(arg, "TO:") else {
                    reply!("501 5.5.4 Syntax: RCPT TO:<address>");
                    continue;
                };
                if !params.trim().is_empty() {
                    reply!("555 5.5.4 Unsupported RCPT parameter");
                    continue;
                }
                if !valid_mailbox(&path) {
                    reply!("553 5.1.3 Bad recipient address syntax");
                    continue;
                }
                if !path.is_ascii() && !tx.smtputf8 {
                    reply!("553 5.6.7 Non-ASCII recipient requires SMTPUTF8");
                    continue;
                }
                if tx.to.len() >= 100 {
                    reply!("452 4.5.3 Too many recipients");
                    continue;
                }
                tx.to.push(path);
                reply!("250 2.1.5 Ok");
            }
            "DATA" => {
                if !arg.is_empty() {
                    reply!("501 5.5.4 Syntax: DATA");
                    continue;
                }
                if tx.from.is_none() {
                    reply!("503 5.5.1 Need MAIL command");
                    continue;
                }
                if tx.to.is_empty() {
                    reply!("503 5.5.1 Need RCPT command");
                    continue;
                }
                reply!("354 End data with <CR><LF>.<CR><LF>");
                let result = read_data(&mut reader, tx.eight_bit).await?;
                let tx_done = std::mem::take(&mut tx);
                match result {
                    None => return Ok(()),
                    Some(Err(err)) => reply!("{err}"),
                    Some(Ok(data)) => {
                        if shared.fail.load(Ordering::SeqCst) {
                            reply!("554 5.0.0 Transaction failed");
                        } else {
                            shared.deliver(Mail {
                                from: tx_done.from.unwrap_or_default(),
                                to: tx_done.to,
                                data,
                            });
                            reply!("250 2.0.0 Ok: queued");
                        }
                    }
                }
            }
            "RSET" => {
                if !arg.is_empty() {
                    reply!("501 5.5.4 Syntax: RSET");
                    continue;
                }
                tx = Transaction::default();
                reply!("250 2.0.0 Ok");
            }
            "NOOP" => reply!("250 2.0.0 Ok"),
            "QUIT" => {
                if !arg.is_empty() {
                    reply!("501 5.5.4 Syntax: QUIT");
                    continue;
                }
                reply!("221 2.0.0 Bye");
                writer.shutdown().await.ok();
                return Ok(());
            }
            "VRFY" | "EXPN" | "HELP" | "TURN" | "STARTTLS" | "AUTH" | "BDAT" | "ETRN" => {
                reply!("502 5.5.1 Command not implemented");
            }
            _ => reply!("500 5.5.2 Command unrecognized"),
        }
    }
}

/// Reads message content after `354` up to the lone `.` line. Returns `None` on EOF,
/// `Some(Err(reply))` if the content breaks a rule (the whole content is still
/// consumed), `Some(Ok(data))` otherwise.
async fn read_data<R: AsyncRead + Unpin>(
    reader: &mut BufReader<R>,
    eight_bit: bool,
) -> std::io::Result<Option<Result<String, &'static str>>> {
    let mut data = Vec::new();
    let mut error = None;
    loop {
        let mut line = match read_line(reader, MAX_TEXT_LINE).await? {
            Line::Ok(line) => line,
            Line::TooLong => {
                error.get_or_insert("500 5.5.2 Line longer than 1000 octets in message");
                continue;
            }
            Line::BareLf => {
                error.get_or_insert("550 5.6.0 Bare LF or CR in message");
                continue;
            }
            Line::Eof => return Ok(None),
        };
        if line == b"." {
            break;
        }
        if line.first() == Some(&b'.') {
            line.remove(0);
        }
        if !eight_bit && !line.is_ascii() {
            error.get_or_insert("554 5.6.1 8-bit data without BODY=8BITMIME");
        }
        if data.len() + line.len() + 2 > MAX_MESSAGE_SIZE {
            error.get_or_insert("552 5.3.4 Message size exceeds fixed limit");
            continue;
        }
        data.extend_from_slice(&line);
        data.extend_from_slice(b"\r\n");
    }
    Ok(Some(match error {
        Some(err) => Err(err),
        None => match String::from_utf8(data) {
            Ok(data) => Ok(data),
            Err(_) => Err("554 5.6.0 Message is not valid UTF-8"),
        },
    }))
}

/// Parses `FROM:<path> params` / `TO:<path> params` (keyword case-insensitive,
/// no space allowed before `<`, as in RFC 5321).
fn parse_path(arg: &str, keyword: &str) -> Option<(String, String)> {
    if arg.len() < keyword.len() || !arg[..keyword.len()].eq_ignore_ascii_case(keyword) {
        return None;
    }
    let rest = arg[keyword.len()..].strip_prefix('<')?;
    let end = rest.find('>')?;
    let path = &rest[..end];
    let params = &rest[end + 1..];
    if !params.is_empty() && !params.starts_with(' ') {
        return None;
    }
    Some((path.to_owned(), params.trim().to_owned()))
}

fn valid_mailbox(addr: &str) -> bool {
    match addr.rsplit_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && !domain.is_empty()
                && !addr.contains(|c: char| c.is_whitespace() || c == '<' || c == '>')
        }
        None => false,
    }
}

fn same_address(a: &str, b: &str) -> bool {
    let strip = |s: &str| {
        s.trim()
            .trim_start_matches('<')
            .trim_end_matches('>')
            .to_lowercase()
    };
    strip(a) == strip(b)
}

/// Splits a MIME entity into its unfolded header fields and its body.
fn split_entity(entity: &str) -> (Vec<(String, String)>, &str) {
    let mut headers: Vec<(String, String)> = Vec::new();
    let mut pos = 0;
    let mut body_start = entity.len();
    while pos < entity.len() {
        let end = entity[pos..]
            .find('\n')
            .map_or(entity.len(), |i| pos + i + 1);
        let line = entity[pos..end].trim_end_matches(['\r', '\n']);
        pos = end;
        if line.is_empty() {
            body_start = pos;
            break;
        }
        if line.starts_with([' ', '\t']) {
            if let Some((_, value)) = headers.last_mut() {
                value.push_str(line);
            }
        } else if let Some((name, value)) = line.split_once(':') {
            headers.push((name.trim().to_owned(), value.to_owned()));
        }
    }
    for (_, value) in &mut headers {
        *value = value.trim().to_owned();
    }
    (headers, &entity[body_start..])
}

fn find_header(headers: &[(String, String)], name: &str) -> Option<String> {
    headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.clone())
}

/// The value of parameter `param` in a structured header value such as
/// `multipart/alternative; boundary="abc"`.
fn header_param(value: &str, param: &str) -> Option<String> {
    value.split(';').skip(1).find_map(|p| {
        let (k, v) = p.split_once('=')?;
        k.trim()
            .eq_ignore_ascii_case(param)
            .then(|| v.trim().trim_matches('"').to_owned())
    })
}

/// Decoded text of an entity: its own body if it is a leaf, or the first `text/plain`
/// descendant if it is multipart.
fn entity_text(entity: &str) -> Option<String> {
    let (headers, body) = split_entity(entity);
    let content_type = find_header(&headers, "Content-Type").unwrap_or_default();
    let mime = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    if mime.starts_with("multipart/") {
        let boundary = header_param(&content_type, "boundary")?;
        let delimiter = format!("--{boundary}");
        let mut parts = Vec::new();
        let mut current: Option<String> = None;
        for line in body.split_inclusive('\n') {
            let bare = line.trim_end_matches(['\r', '\n']).trim_end();
            if bare == delimiter || bare == format!("{delimiter}--") {
                if let Some(mut part) = current.take() {
                    // The line break before a delimiter belongs to the delimiter.
                    if part.ends_with('\n') {
                        part.pop();
                        if part.ends_with('\r') {
                            part.pop();
                        }
                    }
                    parts.push(part);
                }
                if bare != delimiter {
                    break;
                }
                current = Some(String::new());
            } else if let Some(part) = current.as_mut() {
                part.push_str(line);
            }
        }
        return parts.iter().find_map(|p| {
            let (h, _) = split_entity(p);
            let ct = find_header(&h, "Content-Type").unwrap_or_default();
            let ct = ct.to_ascii_lowercase();
            (ct.is_empty() || ct.starts_with("text/plain") || ct.starts_with("multipart/"))
                .then(|| entity_text(p))
                .flatten()
        });
    }
    let cte = find_header(&headers, "Content-Transfer-Encoding")
        .unwrap_or_default()
        .to_ascii_lowercase();
    Some(match cte.as_str() {
        "base64" => {
            let compact: String = body.chars().filter(|c| !c.is_ascii_whitespace()).collect();
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(compact.as_bytes())
                .expect("test SMTP server: invalid base64 body");
            String::from_utf8_lossy(&bytes).into_owned()
        }
        "quoted-printable" => String::from_utf8_lossy(&decode_quoted_printable(body)).into_owned(),
        _ => body.to_owned(),
    })
}

fn hex_val(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'A'..=b'F' => Some(b - b'A' + 10),
        b'a'..=b'f' => Some(b - b'a' + 10),
        _ => None,
    }
}

/// RFC 2045 §6.7: soft line breaks (`=` at end of line) removed, `=XX` decoded.
fn decode_quoted_printable(body: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len());
    for line in body.split_inclusive('\n') {
        let (content, eol) = match line.strip_suffix("\r\n") {
            Some(c) => (c, "\r\n"),
            None => match line.strip_suffix('\n') {
                Some(c) => (c, "\n"),
                None => (line, ""),
            },
        };
        // Transport may add trailing whitespace; it is not part of the content.
        let content = content.trim_end_matches([' ', '\t']);
        let (content, soft) = match content.strip_suffix('=') {
            Some(c) => (c, true),
            None => (content, false),
        };
        let bytes = content.as_bytes();
        let mut i = 0;
        while i < bytes.len() {
            if bytes[i] == b'='
                && let (Some(h), Some(l)) = (
                    bytes.get(i + 1).copied().and_then(hex_val),
                    bytes.get(i + 2).copied().and_then(hex_val),
                )
            {
                out.push(h << 4 | l);
                i += 3;
                continue;
            }
            out.push(bytes[i]);
            i += 1;
        }
        if !soft {
            out.extend_from_slice(eol.as_bytes());
        }
    }
    out
}

/// Decodes RFC 2047 encoded words; whitespace between adjacent encoded words is dropped.
fn decode_encoded_words(value: &str) -> String {
    let mut out = String::new();
    let mut rest = value;
    let mut pending_ws = String::new();
    let mut last_was_word = false;
    while !rest.is_empty() {
        if let Some((decoded, len)) = parse_encoded_word(rest) {
            if !last_was_word {
                out.push_str(&pending_ws);
            }
            pending_ws.clear();
            out.push_str(&decoded);
            rest = &rest[len..];
            last_was_word = true;
            continue;
        }
        let c = rest.chars().next().unwrap();
        rest = &rest[c.len_utf8()..];
        if c == ' ' || c == '\t' {
            pending_ws.push(c);
        } else {
            out.push_str(&pending_ws);
            pending_ws.clear();
            out.push(c);
            last_was_word = false;
        }
    }
    out.push_str(&pending_ws);
    out
}

/// Parses one `=?charset?enc?text?=` at the start of `s`: (decoded text, length).
fn parse_encoded_word(s: &str) -> Option<(String, usize)> {
    let inner = s.strip_prefix("=?")?;
    let (charset, inner) = inner.split_once('?')?;
    let (encoding, inner) = inner.split_once('?')?;
    let end = inner.find("?=")?;
    let text = &inner[..end];
    if text.contains([' ', '\t']) {
        return None;
    }
    let len = 2 + charset.len() + 1 + encoding.len() + 1 + end + 2;
    let bytes = match encoding {
        "B" | "b" => base64::engine::general_purpose::STANDARD
            .decode(text)
            .or_else(|_| base64::engine::general_purpose::STANDARD_NO_PAD.decode(text))
            .ok()?,
        "Q" | "q" => {
            let b = text.as_bytes();
            let mut out = Vec::new();
            let mut i = 0;
            while i < b.len() {
                match b[i] {
                    b'_' => out.push(b' '),
                    b'=' => {
                        let h = b.get(i + 1).copied().and_then(hex_val)?;
                        let l = b.get(i + 2).copied().and_then(hex_val)?;
                        out.push(h << 4 | l);
                        i += 2;
                    }
                    c => out.push(c),
                }
                i += 1;
            }
            out
        }
        _ => return None,
    };
    let charset = charset.split('*').next().unwrap_or("").to_ascii_lowercase();
    let decoded = match charset.as_str() {
        "iso-8859-1" | "latin1" => bytes.iter().map(|&b| b as char).collect(),
        _ => String::from_utf8_lossy(&bytes).into_owned(),
    };
    Some((decoded, len))
}
