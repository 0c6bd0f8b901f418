//! Where import sources come from and exports go: `s3://bucket/key` (aws-sdk-s3, honouring
//! `AWS_ENDPOINT_URL`, `AWS_REGION` and the standard credential chain), local files (`file://` URIs
//! and plain paths), and uploads kept in the database (`upload:<job>`), so that resuming a run never
//! needs the client to upload again.
//!
//! Readers are async byte streams; the CSV parsing that consumes them runs on a blocking thread
//! through [`tokio_util::io::SyncIoBridge`]. A name ending in `.gz` is decompressed on the fly.

use std::path::{Path, PathBuf};
use std::pin::Pin;

use aws_sdk_s3::Client;
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_s3::primitives::ByteStream;
use aws_smithy_http_client::tls::{self, rustls_provider::CryptoMode};
use futures::TryStreamExt;
use sqlx::PgPool;
use tokio::io::AsyncRead;
use tokio::sync::OnceCell;

use crate::error::{Error, Result};

/// A boxed async byte reader.
pub type Reader = Pin<Box<dyn AsyncRead + Send>>;

/// A parsed source or sink location.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// An S3 object.
    S3 {
        /// The bucket.
        bucket: String,
        /// The object key.
        key: String,
    },
    /// A local file (absolute or relative to the worker's working directory).
    File(PathBuf),
    /// A file uploaded with the import request, stored in the database under its job.
    Upload {
        /// The job the upload belongs to.
        job_id: i64,
        /// The client's file name.
        filename: String,
    },
}

impl Location {
    /// Parses `s3://bucket/key`, `file:///path`, `upload:<job>:<filename>` or a plain path.
    pub fn parse(uri: &str) -> Result<Location> {
        let uri = uri.trim();
        if uri.is_empty() {
            return Err(Error::Source("the source URI is empty".into()));
        }
        if let Some(rest) = uri.strip_prefix("s3://") {
            let (bucket, key) = rest.split_once('/').unwrap_or((rest, ""));
            let bucket_ok = !bucket.is_empty()
                && bucket.bytes().all(|b| {
                    b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-'
                });
            if !bucket_ok || key.is_empty() {
                return Err(Error::Source(format!("Invalid S3 URI: {uri}")));
            }
            return Ok(Location::S3 {
                bucket: bucket.to_owned(),
                key: key.to_owned(),
            });
        }
        if let Some(rest) = uri.strip_prefix("upload:") {
            let (job, filename) = rest.split_once(':').unwrap_or((rest, ""));
            let job_id = job
                .parse()
                .map_err(|_| Error::Source(format!("Invalid upload URI: {uri}")))?;
            return Ok(Location::Upload {
                job_id,
                filename: filename.to_owned(),
            });
        }
        if let Some(path) = uri.strip_prefix("file://") {
            if !path.starts_with('/') {
                return Err(Error::Source(format!(
                    "Invalid file URI (it needs an absolute path, file:///...): {uri}"
                )));
            }
            return Ok(Location::File(PathBuf::from(path)));
        }
        if uri.contains("://") {
            return Err(Error::Source(format!(
                "Unsupported source URI (use s3://, file:// or a path): {uri}"
            )));
        }
        Ok(Location::File(PathBuf::from(uri)))
    }

    /// The URI of an upload stored under `job_id`.
    pub fn upload_uri(job_id: i64, filename: &str) -> String {
        format!("upload:{job_id}:{filename}")
    }

    /// Whether the name ends in `.gz` (case-insensitive): the content is gzip-compressed.
    pub fn is_gzip(&self) -> bool {
        let name = match self {
            Location::S3 { key, .. } => key.as_str(),
            Location::File(path) => path.to_str().unwrap_or_default(),
            Location::Upload { filename, .. } => filename.as_str(),
        };
        name.to_ascii_lowercase().ends_with(".gz")
    }
}

impl std::fmt::Display for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Location::S3 { bucket, key } => write!(f, "s3://{bucket}/{key}"),
            Location::File(path) => write!(f, "{}", path.display()),
            Location::Upload { job_id, filename } => write!(f, "upload:{job_id}:{filename}"),
        }
    }
}

/// Settings of the S3 client; everything else comes from the standard AWS environment.
#[derive(Debug, Clone, Default)]
pub struct S3Settings {
    /// Address buckets as `endpoint/bucket/key` instead of `bucket.endpoint/key` (MinIO, moto,
    /// most S3-compatible servers).
    pub force_path_style: bool,
}

/// Opens sources and writes sinks. Cheap to clone; the S3 client is created on first use.
#[derive(Debug, Clone)]
pub struct Storage {
    settings: S3Settings,
    s3: std::sync::Arc<OnceCell<Client>>,
}

/// The size of one stored chunk of an upload.
pub const UPLOAD_CHUNK_BYTES: usize = 1 << 20;

impl Storage {
    /// Storage with these S3 settings.
    pub fn new(settings: S3Settings) -> Self {
        Self {
            settings,
            s3: std::sync::Arc::new(OnceCell::new()),
        }
    }

    async fn s3(&self) -> &Client {
        self.s3
            .get_or_init(|| async {
                // A ring-based rustls client: the SDK's default pulls in aws-lc.
                let http = aws_smithy_http_client::Builder::new()
                    .tls_provider(tls::Provider::Rustls(CryptoMode::Ring))
                    .build_https();
                let shared = aws_config::defaults(aws_config::BehaviorVersion::latest())
                    .http_client(http)
                    .load()
                    .await;
                let config = aws_sdk_s3::config::Builder::from(&shared)
                    .force_path_style(self.settings.force_path_style)
                    .build();
                Client::from_conf(config)
            })
            .await
    }

    /// Checks that the source exists and returns its size in bytes, if known.
    pub async fn check(&self, pool: &PgPool, location: &Location) -> Result<Option<u64>> {
        match location {
            Location::S3 { bucket, key } => {
                let head = self
                    .s3()
                    .await
                    .head_object()
                    .bucket(bucket)
                    .key(key)
                    .send()
                    .await
                    .map_err(|e| s3_error(location, e))?;
                Ok(head.content_length().and_then(|n| u64::try_from(n).ok()))
            }
            Location::File(path) => {
                let meta = tokio::fs::metadata(path)
                    .await
                    .map_err(|e| file_error(path, e))?;
                if !meta.is_file() {
                    return Err(Error::Source(format!("{} is not a file", path.display())));
                }
                Ok(Some(meta.len()))
            }
            Location::Upload { job_id, .. } => {
                let size: Option<i64> = sqlx::query_scalar(
                    "SELECT sum(octet_length(data))::bigint FROM import_upload_chunks WHERE job_id = $1",
                )
                .bind(job_id)
                .fetch_one(pool)
                .await?;
                match size {
                    Some(n) => Ok(u64::try_from(n).ok()),
                    None => Err(Error::Source(format!(
                        "the upload of job_{job_id} is not stored (it was removed after the job finished)"
                    ))),
                }
            }
        }
    }

    /// Opens the source for reading, as stored (not decompressed).
    pub async fn open(&self, pool: &PgPool, location: &Location) -> Result<Reader> {
        match location {
            Location::S3 { bucket, key } => {
                let object = self
                    .s3()
                    .await
                    .get_object()
                    .bucket(bucket)
                    .key(key)
                    .send()
                    .await
                    .map_err(|e| s3_error(location, e))?;
                Ok(Box::pin(object.body.into_async_read()))
            }
            Location::File(path) => {
                let file = tokio::fs::File::open(path)
                    .await
                    .map_err(|e| file_error(path, e))?;
                Ok(Box::pin(tokio::io::BufReader::with_capacity(1 << 20, file)))
            }
            Location::Upload { job_id, .. } => {
                let pool = pool.clone();
                let job_id = *job_id;
                let chunks = futures::stream::try_unfold(0i32, move |seq| {
                    let pool = pool.clone();
                    async move {
                        let data: Option<Vec<u8>> = sqlx::query_scalar(
                            "SELECT data FROM import_upload_chunks WHERE job_id = $1 AND seq = $2",
                        )
                        .bind(job_id)
                        .bind(seq)
                        .fetch_optional(&pool)
                        .await
                        .map_err(std::io::Error::other)?;
                        Ok::<_, std::io::Error>(data.map(|d| (bytes::Bytes::from(d), seq + 1)))
                    }
                });
                Ok(Box::pin(tokio_util::io::StreamReader::new(chunks)))
            }
        }
    }

    /// Writes a local file to the sink: an S3 object (uploaded from the file) or a local path (the
    /// file is copied next to the target and renamed, so a reader never sees half a file).
    pub async fn put_file(&self, source: &Path, sink: &Location) -> Result<()> {
        match sink {
            Location::S3 { bucket, key } => {
                let body = ByteStream::from_path(source).await.map_err(|e| Error::Io {
                    context: format!("reading {}", source.display()),
                    source: std::io::Error::other(e),
                })?;
                self.s3()
                    .await
                    .put_object()
                    .bucket(bucket)
                    .key(key)
                    .content_type("text/csv")
                    .body(body)
                    .send()
                    .await
                    .map_err(|e| s3_error(sink, e))?;
                Ok(())
            }
            Location::File(path) => {
                let tmp = path.with_extension("idem-partial");
                tokio::fs::copy(source, &tmp)
                    .await
                    .map_err(Error::io(format!("writing {}", tmp.display())))?;
                tokio::fs::rename(&tmp, path)
                    .await
                    .map_err(Error::io(format!("renaming to {}", path.display())))?;
                Ok(())
            }
            Location::Upload { .. } => Err(Error::Source("cannot write to an upload".into())),
        }
    }
}

/// Stores an upload for `job_id` in chunks, streaming: memory stays at one chunk. Idempotent per
/// job: an earlier partial upload of the job is replaced. Returns the bytes stored.
pub async fn store_upload<S, E>(
    db: &mut sqlx::PgConnection,
    job_id: i64,
    mut body: S,
) -> Result<u64>
where
    S: futures::Stream<Item = std::result::Result<bytes::Bytes, E>> + Unpin,
    E: std::error::Error + Send + Sync + 'static,
{
    sqlx::query("DELETE FROM import_upload_chunks WHERE job_id = $1")
        .bind(job_id)
        .execute(&mut *db)
        .await?;
    let mut seq = 0i32;
    let mut total = 0u64;
    let mut buf = Vec::with_capacity(UPLOAD_CHUNK_BYTES);
    loop {
        let next = body.try_next().await.map_err(|e| Error::Io {
            context: "receiving the upload".into(),
            source: std::io::Error::other(e),
        })?;
        let done = next.is_none();
        if let Some(bytes) = next {
            buf.extend_from_slice(&bytes);
        }
        while buf.len() >= UPLOAD_CHUNK_BYTES || (done && !buf.is_empty()) {
            let take = buf.len().min(UPLOAD_CHUNK_BYTES);
            let chunk: Vec<u8> = buf.drain(..take).collect();
            total += chunk.len() as u64;
            sqlx::query("INSERT INTO import_upload_chunks (job_id, seq, data) VALUES ($1, $2, $3)")
                .bind(job_id)
                .bind(seq)
                .bind(chunk)
                .execute(&mut *db)
                .await?;
            seq += 1;
        }
        if done {
            break;
        }
    }
    if seq == 0 {
        // An empty upload still exists: one empty chunk.
        sqlx::query("INSERT INTO import_upload_chunks (job_id, seq, data) VALUES ($1, 0, '')")
            .bind(job_id)
            .execute(&mut *db)
            .await?;
    }
    Ok(total)
}

fn file_error(path: &Path, e: std::io::Error) -> Error {
    match e.kind() {
        std::io::ErrorKind::NotFound => Error::Source(format!("{} does not exist", path.display())),
        std::io::ErrorKind::PermissionDenied => Error::Source(format!(
            "{} cannot be read: permission denied",
            path.display()
        )),
        _ => Error::Io {
            context: format!("opening {}", path.display()),
            source: e,
        },
    }
}

fn s3_error<E, R>(location: &Location, e: SdkError<E, R>) -> Error
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug,
{
    match &e {
        SdkError::ServiceError(service) => {
            let err = service.err();
            let code = err.code().unwrap_or("");
            let message = err.message().unwrap_or("");
            match code {
                "NoSuchKey" | "NotFound" | "NoSuchBucket" | "AccessDenied" | "Forbidden"
                | "InvalidBucketName" => Error::Source(format!(
                    "{location}: {}",
                    if message.is_empty() { code } else { message }
                )),
                _ if code.is_empty() => {
                    Error::Source(format!("{location} does not exist or cannot be read"))
                }
                _ => Error::StorageTransient(format!("{location}: {code} {message}")),
            }
        }
        _ => Error::StorageTransient(format!("{location}: {}", aws_smithy_types_display(&e))),
    }
}

/// The full error chain of an SDK error (its Display is only "dispatch failure" and the like).
fn aws_smithy_types_display(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}
