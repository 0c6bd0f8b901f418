-- Claims attempt $3 of step $2 of run $1 for worker $4 with a lease of $5 seconds, and acknowledges the
-- queue task $6 that delivered it. Returns no row when the delivery is stale (the step is not queued for
-- exactly this attempt, or the run is no longer active), so a duplicate or late queue delivery is
-- acknowledged without running anything.
--
-- The acknowledgement commits with the claim: once the step row says "attempt n running", a task for
-- attempt n is stale whatever happens next (a worker that dies mid-step loses its lease and the reaper
-- queues a new task), so the task has done its job. `ack` runs whether or not the claim matched (a
-- data-modifying WITH query always runs to completion).
WITH ack AS (
    UPDATE apalis.jobs
    SET status = 'Done', done_at = now(), attempts = attempts + 1
    WHERE id = $6 AND lock_by = $4 AND status IN ('Queued', 'Running')
), s AS (
    UPDATE workflow_steps s
    SET status = 'running',
        attempts = $3,
        lease_owner = $4,
        lease_expires_at = now() + make_interval(secs => $5),
        started_at = COALESCE(s.started_at, now()),
        next_attempt_at = NULL,
        updated_at = now()
    FROM workflow_runs r
    WHERE s.run_id = $1 AND s.idx = $2 AND s.status = 'queued' AND s.attempts = $3 - 1
      AND r.id = s.run_id AND r.status IN ('pending', 'running')
    RETURNING s.run_id, s.idx, s.name, s.attempt_base
-- The status test is repeated on the locked row: a cancel that committed meanwhile stays a cancel (the step,
-- claimed but not run, is then cancelled by the reaper when its lease expires).
), r AS (
    UPDATE workflow_runs r
    SET status = 'running', started_at = COALESCE(r.started_at, now()), updated_at = now()
    FROM s
    WHERE r.id = s.run_id AND r.status IN ('pending', 'running')
    RETURNING r.workflow, r.workflow_version, r.input, r.traceparent
), a AS (
    INSERT INTO workflow_step_attempts (run_id, idx, attempt, worker)
    SELECT run_id, idx, $3, $4 FROM s
    ON CONFLICT (run_id, idx, attempt) DO NOTHING
)
SELECT s.name, s.attempt_base, r.workflow, r.workflow_version, r.traceparent,
       CASE WHEN $2 = 0 THEN r.input
            ELSE (SELECT p.output FROM workflow_steps p WHERE p.run_id = $1 AND p.idx = $2 - 1)
       END AS input
FROM s, r
