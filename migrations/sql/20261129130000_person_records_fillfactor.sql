-- Auto-matches and reviews stamp `matched_or_reviewed` on many records at once. The column is not indexed, so
-- with free space left on each page PostgreSQL updates those rows in place (HOT) instead of adding an entry
-- to every index of the table (three of them trigram GIN indexes). Applies to pages written from now on.
ALTER TABLE person_records SET (fillfactor = 85);
