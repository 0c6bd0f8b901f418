-- Renews the lease of a running attempt and records its progress. No row: the lease was lost (another
-- worker's reaper took the step over). The run's status tells the step whether it was cancelled.
UPDATE workflow_steps s
SET lease_expires_at = now() + make_interval(secs => $5),
    progress_done = $6,
    progress_total = $7,
    progress_label = $8,
    updated_at = now()
FROM workflow_runs r
WHERE s.run_id = $1 AND s.idx = $2 AND s.attempts = $3 AND s.lease_owner = $4 AND s.status = 'running'
  AND r.id = s.run_id
RETURNING r.status
