-- A job with the status of the run doing its work: the run is the source of truth for progress and
-- failure (a step failing permanently fails the run, not the job row).
SELECT j.id,
       j.created,
       greatest(j.updated, coalesce(r.updated_at, j.updated)) AS updated,
       j.config_id,
       j.job_type,
       j.source_uri,
       CASE
           WHEN r.status IS NULL THEN j.status
           WHEN r.status = 'pending' THEN 'new'
           ELSE r.status
       END AS status,
       CASE WHEN r.status IN ('failed', 'cancelled') THEN coalesce(r.error, j.reason) ELSE j.reason END AS reason,
       j.run_id,
       j.rows_read,
       j.records_loaded,
       j.duplicates_skipped,
       j.pairs_scored,
       j.results_stored,
       j.records_auto_matched,
       j.potential_matches,
       j.plugins
FROM jobs j
LEFT JOIN workflow_runs r ON r.id = j.run_id
WHERE j.id = $1
