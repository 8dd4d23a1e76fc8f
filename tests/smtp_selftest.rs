//! Self-test of the in-process SMTP server used by the integration tests.

#[path = "common/smtp.rs"]
mod smtp;

use std::time::Duration;

use lettre::message::header::ContentType;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use smtp::{Mail, SmtpServer, find_code};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

const WAIT: Duration = Duration::from_secs(10);

fn mailer(server: &SmtpServer) -> AsyncSmtpTransport<Tokio1Executor> {
    AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous("127.0.0.1")
        .port(server.port())
        .timeout(Some(Duration::from_secs(10)))
        .build()
}

fn message(to: &str, subject: &str, body: &str) -> Message {
    Message::builder()
        .from("Vextra <noreply@vextra.test>".parse().unwrap())
        .to(to.parse().unwrap())
        .subject(subject)
        .header(ContentType::TEXT_PLAIN)
        .body(body.to_owned())
        .unwrap()
}

#[tokio::test]
async fn receives_a_code_mail() {
    let server = SmtpServer::start().await;
    let body = "Your verification code is 482913.\nIt expires in 15 minutes (ref 1234567).\n";
    mailer(&server)
        .send(message(
            "Alice <alice@example.com>",
            "Verify your email",
            body,
        ))
        .await
        .unwrap();

    let mail = server
        .wait_for("ALICE@example.com", WAIT)
        .await
        .expect("mail");
    assert_eq!(mail.from, "noreply@vextra.test");
    assert_eq!(mail.to, vec!["alice@example.com".to_owned()]);
    assert_eq!(mail.header("subject").as_deref(), Some("Verify your email"));
    assert_eq!(
        mail.header("TO").as_deref(),
        Some("Alice <alice@example.com>")
    );
    assert_eq!(
        mail.header("content-transfer-encoding").as_deref(),
        Some("7bit")
    );
    assert!(mail.header("X-Nope").is_none());
    let text = mail.body_text();
    assert!(
        text.starts_with("Your verification code is 482913."),
        "{text:?}"
    );
    assert!(!text.contains("Subject:"));
    assert_eq!(find_code(&text).as_deref(), Some("482913"));
    assert_eq!(server.messages(), vec![mail]);

    // Consumed: a second wait for the same recipient finds nothing.
    assert!(
        server
            .wait_for("alice@example.com", Duration::from_millis(200))
            .await
            .is_none()
    );
    // messages() still has it.
    assert_eq!(server.messages().len(), 1);
}

#[tokio::test]
async fn wait_for_waits_for_a_later_mail() {
    let server = SmtpServer::start().await;
    let port = server.port();
    let sender = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(300)).await;
        AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous("127.0.0.1")
            .port(port)
            .build()
            .send(message("late@example.com", "Late", "code 000123 here"))
            .await
            .unwrap();
    });
    let mail = server.wait_for("late@example.com", WAIT).await.unwrap();
    assert_eq!(find_code(&mail.body_text()).as_deref(), Some("000123"));
    sender.await.unwrap();
    assert!(
        server
            .wait_for("other@example.com", Duration::from_millis(100))
            .await
            .is_none()
    );
}

#[tokio::test]
async fn utf8_bodies_and_subjects() {
    let server = SmtpServer::start().await;
    let mailer = mailer(&server);

    // Mostly ASCII: lettre picks quoted-printable.
    let latin = "Bonjour Zoé, voici votre code : 735102. À bientôt, l'équipe = Vextra\n";
    mailer
        .send(message("zoe@example.com", "Vérifiez votre adresse", latin))
        .await
        .unwrap();
    let mail = server.wait_for("zoe@example.com", WAIT).await.unwrap();
    assert_eq!(
        mail.header("Content-Transfer-Encoding").as_deref(),
        Some("quoted-printable")
    );
    assert!(mail.data.is_ascii());
    assert_eq!(mail.body_text(), latin.replace('\n', "\r\n"));
    assert_eq!(
        mail.decoded_header("subject").as_deref(),
        Some("Vérifiez votre adresse")
    );
    assert_ne!(mail.header("subject"), mail.decoded_header("subject"));

    // Mostly non-ASCII: lettre picks base64.
    let cyrillic = "Здравствуйте! Ваш код подтверждения: 908172. Спасибо, что вы с нами.\n";
    mailer
        .send(message("ivan@example.com", "Подтверждение", cyrillic))
        .await
        .unwrap();
    let mail = server.wait_for("ivan@example.com", WAIT).await.unwrap();
    assert_eq!(
        mail.header("Content-Transfer-Encoding").as_deref(),
        Some("base64")
    );
    assert_eq!(mail.body_text(), cyrillic.replace('\n', "\r\n"));
    assert_eq!(find_code(&mail.body_text()).as_deref(), Some("908172"));
    assert_eq!(
        mail.decoded_header("Subject").as_deref(),
        Some("Подтверждение")
    );
}

#[tokio::test]
async fn long_lines_are_wrapped_and_unwrapped() {
    let server = SmtpServer::start().await;
    let token: String = (0..300)
        .map(|i| char::from(b'a' + (i % 26) as u8))
        .collect();
    let link = format!("https://vextra.test/verify?token={token}&x=1");
    let body = format!("Click the link below to reset your password:\n{link}\n\n-- \nVextra\n");
    mailer(&server)
        .send(message("long@example.com", "Reset", &body))
        .await
        .unwrap();
    let mail = server.wait_for("long@example.com", WAIT).await.unwrap();
    assert!(
        mail.data.lines().all(|l| l.len() <= 78),
        "lettre wraps long lines"
    );
    assert!(!mail.data.contains(&link), "link is wrapped on the wire");
    let text = mail.body_text();
    assert!(text.contains(&link), "{text}");
    assert_eq!(text, body.replace('\n', "\r\n"));
}

#[tokio::test]
async fn dot_stuffing_is_undone() {
    let server = SmtpServer::start().await;
    let body = "first\n.\n..two\n.three\nlast\n";
    mailer(&server)
        .send(message("dots@example.com", "Dots", body))
        .await
        .unwrap();
    let mail = server.wait_for("dots@example.com", WAIT).await.unwrap();
    assert_eq!(mail.body_text(), body.replace('\n', "\r\n"));
}

#[tokio::test]
async fn set_fail_gives_a_permanent_error() {
    let server = SmtpServer::start().await;
    let mailer = mailer(&server);
    server.set_fail(true);
    let err = mailer
        .send(message("fail@example.com", "Nope", "nothing"))
        .await
        .unwrap_err();
    assert!(err.is_permanent(), "{err:?}");
    assert!(err.to_string().contains("Transaction failed"), "{err}");
    assert!(server.messages().is_empty());
    assert!(
        server
            .wait_for("fail@example.com", Duration::from_millis(100))
            .await
            .is_none()
    );

    server.set_fail(false);
    mailer
        .send(message("fail@example.com", "Now ok", "fine"))
        .await
        .unwrap();
    let mail = server.wait_for("fail@example.com", WAIT).await.unwrap();
    assert_eq!(mail.header("Subject").as_deref(), Some("Now ok"));
    assert_eq!(server.messages().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pooled_and_concurrent_sends() {
    let server = SmtpServer::start().await;
    let mailer = mailer(&server);
    // Sequential sends reuse one pooled connection (several transactions on it).
    for i in 0..5 {
        mailer
            .send(message(
                "pool@example.com",
                &format!("n{i}"),
                &format!("code {:06}", i),
            ))
            .await
            .unwrap();
    }
    // lettre returns a connection to its pool asynchronously, so a send may open a second
    // one; what matters is that connections carry several transactions.
    assert!(server.connections() < 5, "pooled connections are reused");
    // Concurrent sends use several connections.
    let mut set = tokio::task::JoinSet::new();
    for i in 0..20 {
        let mailer = mailer.clone();
        set.spawn(async move {
            mailer
                .send(message(
                    &format!("user{i}@example.com"),
                    "hi",
                    &format!("code {:06}", 100_000 + i),
                ))
                .await
                .unwrap();
        });
    }
    while let Some(r) = set.join_next().await {
        r.unwrap();
    }
    for i in 0..5 {
        let mail = server.wait_for("pool@example.com", WAIT).await.unwrap();
        assert_eq!(mail.header("subject"), Some(format!("n{i}")));
    }
    for i in (0..20).rev() {
        let mail = server
            .wait_for(&format!("USER{i}@example.com"), WAIT)
            .await
            .unwrap();
        assert_eq!(
            find_code(&mail.body_text()),
            Some(format!("{}", 100_000 + i))
        );
    }
    assert_eq!(server.messages().len(), 25);
    assert!(server.connections() > 1);
}

#[tokio::test]
async fn multiple_recipients_are_queued_per_recipient() {
    let server = SmtpServer::start().await;
    let msg = Message::builder()
        .from("noreply@vextra.test".parse().unwrap())
        .to("a@example.com".parse().unwrap())
        .to("b@example.com".parse().unwrap())
        .subject("both")
        .body("hello".to_owned())
        .unwrap();
    mailer(&server).send(msg).await.unwrap();
    let a = server.wait_for("a@example.com", WAIT).await.unwrap();
    let b = server.wait_for("b@example.com", WAIT).await.unwrap();
    assert_eq!(a, b);
    assert!(a.is_to("B@EXAMPLE.COM"));
    assert_eq!(server.messages().len(), 1);
}

// ---- raw protocol ---------------------------------------------------------------

struct Client {
    reader: BufReader<tokio::net::tcp::OwnedReadHalf>,
    writer: tokio::net::tcp::OwnedWriteHalf,
}

impl Client {
    async fn connect(server: &SmtpServer) -> (Client, String) {
        let stream = TcpStream::connect(("127.0.0.1", server.port()))
            .await
            .unwrap();
        let (r, w) = stream.into_split();
        let mut c = Client {
            reader: BufReader::new(r),
            writer: w,
        };
        let greeting = c.reply().await;
        (c, greeting)
    }

    /// Reads one (possibly multiline) reply, lines joined with '\n'.
    async fn reply(&mut self) -> String {
        let mut all = Vec::new();
        loop {
            let mut line = String::new();
            let n = tokio::time::timeout(WAIT, self.reader.read_line(&mut line))
                .await
                .unwrap()
                .unwrap();
            assert!(n > 0, "connection closed");
            assert!(line.ends_with("\r\n"), "reply without CRLF: {line:?}");
            let line = line.trim_end().to_owned();
            let more = line.as_bytes().get(3) == Some(&b'-');
            all.push(line);
            if !more {
                return all.join("\n");
            }
        }
    }

    async fn send_raw(&mut self, bytes: &[u8]) {
        self.writer.write_all(bytes).await.unwrap();
    }

    async fn cmd(&mut self, line: &str) -> String {
        self.send_raw(format!("{line}\r\n").as_bytes()).await;
        self.reply().await
    }

    async fn code(&mut self, line: &str) -> u16 {
        self.cmd(line).await[..3].parse().unwrap()
    }
}

#[tokio::test]
async fn protocol_sequencing_and_errors() {
    let server = SmtpServer::start().await;
    let (mut c, greeting) = Client::connect(&server).await;
    assert_eq!(greeting, "220 localhost ESMTP test");

    assert_eq!(c.code("MAIL FROM:<a@example.com>").await, 503);
    assert_eq!(c.code("RCPT TO:<b@example.com>").await, 503);
    assert_eq!(c.code("DATA").await, 503);
    assert_eq!(c.code("FOO bar").await, 500);
    assert_eq!(c.code("NOOP").await, 250);
    assert_eq!(c.code("EHLO").await, 501);

    let ehlo = c.cmd("EHLO client.test").await;
    let lines: Vec<&str> = ehlo.lines().collect();
    assert!(lines[0].starts_with("250-localhost"), "{ehlo}");
    assert!(lines.contains(&"250-8BITMIME"), "{ehlo}");
    assert_eq!(*lines.last().unwrap(), "250 SMTPUTF8");
    assert!(!ehlo.contains("STARTTLS") && !ehlo.contains("AUTH"));
    assert_eq!(c.code("STARTTLS").await, 502);

    assert_eq!(c.code("RCPT TO:<b@example.com>").await, 503);
    assert_eq!(c.code("MAIL FROM: <a@example.com>").await, 501);
    assert_eq!(c.code("MAIL FROM:<a@example.com> FOO=1").await, 555);
    assert_eq!(
        c.code("mail from:<a@example.com> SIZE=100 BODY=8BITMIME")
            .await,
        250
    );
    assert_eq!(c.code("MAIL FROM:<a@example.com>").await, 503);
    assert_eq!(c.code("DATA").await, 503);
    assert_eq!(c.code("RCPT TO:<not-an-address>").await, 553);
    assert_eq!(c.code("RCPT TO:<b@example.com>").await, 250);
    assert_eq!(c.code("RSET").await, 250);
    assert_eq!(c.code("DATA").await, 503);
    assert_eq!(c.code("RCPT TO:<b@example.com>").await, 503);

    // A full transaction with dot-stuffing, then a second one on the same connection.
    assert_eq!(c.code("MAIL FROM:<>").await, 250);
    assert_eq!(c.code("RCPT TO:<B@Example.com>").await, 250);
    assert_eq!(c.code("RCPT TO:<c@example.com>").await, 250);
    assert_eq!(c.code("DATA").await, 354);
    c.send_raw(b"Subject: raw\r\n  folded\r\n\r\n..leading dot\r\nbody 123456\r\n.\r\n")
        .await;
    assert_eq!(&c.reply().await[..3], "250");
    let mail = server.wait_for("b@example.com", WAIT).await.unwrap();
    assert_eq!(mail.from, "");
    assert_eq!(mail.to, vec!["B@Example.com", "c@example.com"]);
    assert_eq!(
        mail.data,
        "Subject: raw\r\n  folded\r\n\r\n.leading dot\r\nbody 123456\r\n"
    );
    assert_eq!(mail.header("subject").as_deref(), Some("raw  folded"));
    assert_eq!(mail.body_text(), ".leading dot\r\nbody 123456");

    // 8-bit data without BODY=8BITMIME is refused, as are over-long lines and bare LF.
    assert_eq!(c.code("MAIL FROM:<a@example.com>").await, 250);
    assert_eq!(c.code("RCPT TO:<d@example.com>").await, 250);
    assert_eq!(c.code("DATA").await, 354);
    c.send_raw("Subject: x\r\n\r\nh\u{e9}\r\n.\r\n".as_bytes())
        .await;
    assert_eq!(&c.reply().await[..3], "554");
    assert_eq!(c.code("DATA").await, 503, "transaction was reset");

    assert_eq!(c.code("MAIL FROM:<a@example.com>").await, 250);
    assert_eq!(c.code("RCPT TO:<d@example.com>").await, 250);
    assert_eq!(c.code("DATA").await, 354);
    let long = format!("Subject: x\r\n\r\n{}\r\n.\r\n", "x".repeat(1200));
    c.send_raw(long.as_bytes()).await;
    assert_eq!(&c.reply().await[..1], "5");

    assert_eq!(c.code("MAIL FROM:<a@example.com>").await, 250);
    assert_eq!(c.code("RCPT TO:<d@example.com>").await, 250);
    assert_eq!(c.code("DATA").await, 354);
    c.send_raw(b"Subject: x\r\n\r\nbare\nlf\r\n.\r\n").await;
    assert_eq!(&c.reply().await[..1], "5");
    assert!(
        server
            .wait_for("d@example.com", Duration::from_millis(100))
            .await
            .is_none()
    );

    // Bare LF on a command line and over-long command lines.
    c.send_raw(b"NOOP\n").await;
    assert_eq!(&c.reply().await[..3], "500");
    assert_eq!(c.code(&format!("NOOP {}", "x".repeat(600))).await, 500);

    assert_eq!(c.code("HELO again.test").await, 250);
    assert_eq!(c.cmd("QUIT").await, "221 2.0.0 Bye");
    let mut rest = String::new();
    assert_eq!(c.reader.read_line(&mut rest).await.unwrap(), 0);
    assert_eq!(server.messages().len(), 1);
}

#[test]
fn find_code_rules() {
    assert_eq!(find_code("code: 123456").as_deref(), Some("123456"));
    assert_eq!(find_code("123456").as_deref(), Some("123456"));
    assert_eq!(
        find_code("x1234567 then 654321.").as_deref(),
        Some("654321")
    );
    assert_eq!(find_code("12345 1234567").as_deref(), None);
    assert_eq!(find_code("abc098765def").as_deref(), Some("098765"));
    assert_eq!(
        find_code("2024-01-01 code 111222").as_deref(),
        Some("111222")
    );
    assert_eq!(find_code(""), None);
}

#[test]
fn body_text_decodings() {
    let qp = Mail {
        from: String::new(),
        to: vec![],
        data: "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\na=3Db caf=C3=A9 soft=\r\nbreak\r\n".into(),
    };
    assert_eq!(qp.body_text(), "a=b café softbreak");

    let b64 = Mail {
        from: String::new(),
        to: vec![],
        data: "Content-Transfer-Encoding: BASE64\r\n\r\naMOpbGxv\r\nIDEyMzQ1Ng==\r\n".into(),
    };
    assert_eq!(b64.body_text(), "héllo 123456");

    let multipart = Mail {
        from: String::new(),
        to: vec![],
        data: concat!(
            "Content-Type: multipart/alternative;\r\n boundary=\"XYZ\"\r\n\r\n",
            "--XYZ\r\nContent-Type: text/html\r\n\r\n<p>html</p>\r\n",
            "--XYZ\r\nContent-Type: text/plain; charset=utf-8\r\n",
            "Content-Transfer-Encoding: quoted-printable\r\n\r\nplain =3D text\r\n",
            "--XYZ--\r\n"
        )
        .into(),
    };
    assert_eq!(multipart.body_text(), "plain = text");
    assert_eq!(
        multipart.header("content-type").as_deref(),
        Some("multipart/alternative; boundary=\"XYZ\"")
    );
}
