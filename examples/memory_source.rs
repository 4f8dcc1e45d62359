//! An embedder's own attachment source: documents kept in memory (a stand-in for a database
//! or an object store), looked up by key, with the filter never touching the filesystem.
//!
//! ```text
//! cargo run --example memory_source
//! ```

use std::collections::HashMap;
use std::io::Cursor;
use std::sync::Arc;

use mimeinject::{rewrite, AttachmentSource, Config, Opened, SourceError};

/// Documents by id; a path `docs/<id>` names one.
struct DocumentStore {
    docs: HashMap<String, Arc<[u8]>>,
}

impl AttachmentSource for DocumentStore {
    fn open(&self, path: &str) -> Result<Opened, SourceError> {
        // A path outside docs/ can never name a document: the message is at fault (a bounce).
        // A missing document may yet be stored: the MTA should try again (a deferral).
        let id = path
            .strip_prefix("docs/")
            .ok_or_else(|| SourceError::permanent(path, "not under docs/"))?;
        let doc =
            self.docs.get(id).ok_or_else(|| SourceError::temporary(path, "no such document"))?;
        // The reader owns a handle on the bytes: nothing is copied.
        Ok(Opened { len: doc.len() as u64, reader: Box::new(Cursor::new(Arc::clone(doc))) })
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut docs = HashMap::new();
    docs.insert("42".to_owned(), Arc::from(&b"Invoice 42: 118.00 EUR\n"[..]));
    let store = DocumentStore { docs };

    let message = "\
From: billing@example.test
To: customer@example.test
Subject: Invoice 42
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary=\"b1\"

--b1
Content-Type: text/plain

Your invoice is attached.
--b1
Content-Type: application/x-mimeinject; path=\"docs/42\"; filename=\"invoice-42.txt\"

--b1--
";
    let mut out = Vec::new();
    rewrite(&Config::default(), &store, &mut message.as_bytes(), &mut out)?;
    print!("{}", String::from_utf8(out)?);

    let missing = message.replace("docs/42", "docs/43");
    let err = rewrite(&Config::default(), &store, &mut missing.as_bytes(), &mut Vec::new())
        .expect_err("no document 43");
    eprintln!("as expected: {err}");
    Ok(())
}
