use lettre::message::{header::ContentType, Attachment, MultiPart, SinglePart};
use lettre::Message;

/// The statement for one customer, with a stub in place of the PDF.
fn statement(to: &str) -> Result<Message, Box<dyn std::error::Error>> {
    let stub_type = r#"application/x-mimeinject; path="statements/{rcpt}/2026-03.pdf""#;
    let stub = Attachment::new("Rechnung März 2026.pdf".to_owned())
        .body(Vec::new(), ContentType::parse(stub_type)?);
    Ok(Message::builder()
        .from("Billing <billing@example.test>".parse()?)
        .to(to.parse()?)
        .subject("Ihre Rechnung 2026-03")
        .multipart(
            MultiPart::mixed()
                .singlepart(SinglePart::plain("Ihre Rechnung liegt bei.".to_owned()))
                .singlepart(stub),
        )?) // then: mailer.send(&message)
}
