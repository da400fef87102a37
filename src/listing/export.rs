//! Streaming export: every row of a listing in keyset batches, memory bounded by one batch.

use futures_util::stream::{self, Stream, TryStreamExt as _};

use super::cursor::RawValue;
use super::Listing;
use crate::entity::Entity;
use crate::error::Result;
use crate::exec::Executor;

impl<E: Entity, X: Executor> Listing<'_, E, X> {
    /// Every row of the listing as a stream of batches of `batch_size` (clamped to
    /// `1..=max_export_batch`), each fetched by a keyset page: memory is bounded by one batch
    /// and each batch costs the same.
    pub fn export_batches(&self, batch_size: usize) -> impl Stream<Item = Result<Vec<E>>> + '_ {
        let batch_size = batch_size.clamp(1, self.max_export_batch);
        stream::try_unfold(Some(Vec::<RawValue>::new()), move |state| async move {
            let Some(values) = state else { return Ok(None) };
            let statement = if values.is_empty() {
                &self.statements().first
            } else {
                self.statements().after.for_fetch(batch_size + 1)
            };
            let mut items = self.fetch(statement, &values, batch_size).await?;
            let more = items.len() > batch_size;
            items.truncate(batch_size);
            let next = match (more, items.last()) {
                (true, Some(last)) => Some(self.values_of(last)?),
                _ => None,
            };
            Ok(if items.is_empty() {
                None
            } else {
                Some((items, next))
            })
        })
    }

    /// Every row of the listing as a stream, fetched in keyset batches of `batch_size`
    /// (clamped to `1..=max_export_batch`).
    pub fn export(&self, batch_size: usize) -> impl Stream<Item = Result<E>> + '_ {
        self.export_batches(batch_size)
            .map_ok(|batch| stream::iter(batch.into_iter().map(Ok)))
            .try_flatten()
    }
}
