//! Streaming `COPY ... FROM STDIN` from a blocking producer: the producer (a CSV parser, the scorer)
//! runs on a blocking thread and sends COPY-text chunks through a small channel, so memory stays at a
//! few chunks; the COPY is finished when the producer succeeds and aborted (nothing is stored) when it
//! fails or the caller stops.

use sqlx::PgConnection;
use sqlx::postgres::PgCopyIn;
use tokio::sync::mpsc;

use crate::error::{Error, Result};

/// Chunks in flight between the producer and the database.
const CHUNKS_IN_FLIGHT: usize = 4;

/// Sends what `produce` makes into `copy`. After each chunk, `keep_going` says whether to go on (a
/// cancelled run says no: the COPY is aborted). Returns the producer's value and the rows copied.
pub(crate) async fn copy_from_blocking<T, P>(
    mut copy: PgCopyIn<&mut PgConnection>,
    producer_name: &str,
    mut keep_going: impl FnMut() -> bool,
    produce: P,
) -> Result<(T, u64)>
where
    T: Send + 'static,
    P: FnOnce(mpsc::Sender<Vec<u8>>) -> Result<T> + Send + 'static,
{
    let (sender, mut chunks) = mpsc::channel::<Vec<u8>>(CHUNKS_IN_FLIGHT);
    let producer = tokio::task::spawn_blocking(move || produce(sender));
    let mut sent = Ok(());
    let mut stopped = false;
    while let Some(chunk) = chunks.recv().await {
        if let Err(e) = copy.send(chunk).await {
            sent = Err(e);
            break;
        }
        if !keep_going() {
            stopped = true;
            break;
        }
    }
    // The producer sees the channel closed and stops.
    drop(chunks);
    let produced = producer
        .await
        .map_err(|e| Error::State(format!("{producer_name} panicked: {e}")))?;
    match (produced, sent) {
        (Err(e), _) => {
            copy.abort(e.to_string()).await?;
            Err(e)
        }
        (Ok(_), Err(e)) => Err(e.into()),
        (Ok(_), Ok(())) if stopped => {
            copy.abort("the run was cancelled").await?;
            Err(Error::State("the run was cancelled".into()))
        }
        (Ok(value), Ok(())) => Ok((value, copy.finish().await?)),
    }
}
