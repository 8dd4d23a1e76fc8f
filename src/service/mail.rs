//! Outgoing mail. With no SMTP host configured, codes go to the log so a first run works
//! without a mail server (start-up says so loudly).

use std::time::Duration;

use lettre::{
    AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor,
    message::{Mailbox, header::ContentType},
    transport::smtp::authentication::Credentials,
};

use super::error::{Error, Result};
use crate::config::{SmtpConfig, SmtpSecurity};
use crate::model::OtpPurpose;

/// The text of a code mail; `{code}`, `{action}` and `{minutes}` are filled in.
const CODE_TEMPLATE: &str = include_str!("../../assets/mail/code.txt");

#[derive(Clone)]
pub enum Mailer {
    Smtp {
        transport: AsyncSmtpTransport<Tokio1Executor>,
        from: Mailbox,
    },
    Log,
}

impl Mailer {
    pub fn from_config(c: &SmtpConfig) -> Result<Self> {
        if c.host.is_empty() {
            return Ok(Mailer::Log);
        }
        let from: Mailbox = c
            .from
            .parse()
            .map_err(|e| Error::Internal(format!("smtp.from: {e}")))?;
        let builder = match c.security {
            SmtpSecurity::None => AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&c.host),
            SmtpSecurity::Starttls => AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&c.host)
                .map_err(|e| Error::Internal(format!("smtp: {e}")))?,
            SmtpSecurity::Tls => AsyncSmtpTransport::<Tokio1Executor>::relay(&c.host)
                .map_err(|e| Error::Internal(format!("smtp: {e}")))?,
        };
        let mut builder = builder
            .port(c.port)
            .timeout(Some(Duration::from_secs(c.timeout_secs)));
        if !c.username.is_empty() {
            builder = builder.credentials(Credentials::new(
                c.username.clone(),
                c.password.expose().to_string(),
            ));
        }
        Ok(Mailer::Smtp {
            transport: builder.build(),
            from,
        })
    }

    pub async fn send_code(
        &self,
        to: &str,
        purpose: OtpPurpose,
        code: &str,
        ttl_min: u64,
    ) -> Result<()> {
        let (subject, what) = match purpose {
            OtpPurpose::Signup => (
                "Your Vextra verification code",
                "confirm your email address",
            ),
            OtpPurpose::ResetPassword => ("Your Vextra password reset code", "reset your password"),
        };
        match self {
            Mailer::Log => {
                tracing::warn!(
                    email = to,
                    purpose = purpose.as_str(),
                    code,
                    "no SMTP server configured: one-time code written to the log"
                );
                Ok(())
            }
            Mailer::Smtp { transport, from } => {
                let to_box: Mailbox = to
                    .parse()
                    .map_err(|_| Error::Invalid("Enter a valid email address".into()))?;
                let body = CODE_TEMPLATE
                    .replace("{code}", code)
                    .replace("{action}", what)
                    .replace("{minutes}", &ttl_min.to_string());
                let msg = Message::builder()
                    .from(from.clone())
                    .to(to_box)
                    .subject(subject)
                    .header(ContentType::TEXT_PLAIN)
                    .body(body)
                    .map_err(|e| Error::Internal(format!("building mail: {e}")))?;
                transport.send(msg).await.map_err(|e| {
                    tracing::error!(error = %e, "sending mail failed");
                    Error::Unavailable(
                        "The email could not be sent. Please try again later.".into(),
                    )
                })?;
                Ok(())
            }
        }
    }
}
