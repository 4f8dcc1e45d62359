//! The tokio driver: rewrites every `*.eml` in a directory concurrently, writing the results
//! to another directory. A message that fails is reported and not written.
//!
//! ```text
//! cargo run --features tokio --example tokio_dir -- testdata/files testdata/messages /tmp/out
//! ```

use std::path::PathBuf;
use std::sync::Arc;

use mimeinject::{Config, FsRoot};
use tokio::fs::File;
use tokio::io::{AsyncWriteExt, BufReader, BufWriter};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<PathBuf> = std::env::args_os().skip(1).map(PathBuf::from).collect();
    let [root, input, output] = args.as_slice() else {
        return Err("usage: tokio_dir ROOT INPUT_DIR OUTPUT_DIR".into());
    };
    let files = Arc::new(FsRoot::new(root)?);
    let config = Arc::new(Config::builder().recipients(["user@example.test"]).build()?);
    tokio::fs::create_dir_all(output).await?;

    let mut tasks = tokio::task::JoinSet::new();
    let mut entries = tokio::fs::read_dir(input).await?;
    while let Some(entry) = entries.next_entry().await? {
        let path = entry.path();
        if !path.extension().is_some_and(|e| e == "eml") {
            continue;
        }
        let target = output.join(entry.file_name());
        let (files, config) = (Arc::clone(&files), Arc::clone(&config));
        tasks.spawn(async move {
            let result = async {
                let mut reader = BufReader::new(File::open(&path).await?);
                let partial = target.with_extension("eml.partial");
                let mut writer = BufWriter::new(File::create(&partial).await?);
                let rewritten =
                    mimeinject::tokio::rewrite(&config, files, &mut reader, &mut writer).await;
                match rewritten {
                    Ok(summary) => {
                        writer.shutdown().await?;
                        tokio::fs::rename(&partial, &target).await?;
                        Ok(summary.replaced)
                    }
                    Err(e) => {
                        drop(writer);
                        tokio::fs::remove_file(&partial).await?;
                        Err(Box::<dyn std::error::Error + Send + Sync>::from(e))
                    }
                }
            }
            .await;
            (path, result)
        });
    }
    let mut failed = 0;
    while let Some(joined) = tasks.join_next().await {
        let (path, result) = joined?;
        match result {
            Ok(n) => println!("{}: {n} attachment(s)", path.display()),
            Err(e) => {
                failed += 1;
                println!("{}: failed: {e}", path.display());
            }
        }
    }
    println!("{failed} failed");
    Ok(())
}
