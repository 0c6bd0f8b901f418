-- Records the success of attempt $3 of step $2 (not the run's last: that is `finish_run.sql`) of run $1 (run
-- by worker $4) with output $5, in one statement: the step's checkpoint, its attempt row, and then either
--   * the next step claimed by the same worker ($6 true: a lease of $7 seconds, a new attempt row), so it
--     runs at once without a queue round trip (a crash before it finishes is handled like any other lost
--     lease), or
--   * the next step queued ($6 false; the caller enqueues its task in the same transaction).
-- `owned` is false when the attempt lost its lease meanwhile (nothing is written then). A cancelled run keeps
-- the checkpoint but starts nothing.
WITH run AS (
    SELECT id, status FROM workflow_runs WHERE id = $1 FOR UPDATE
), done AS (
    UPDATE workflow_steps s
    SET status = 'succeeded', output = $5, finished_at = now(), lease_owner = NULL, lease_expires_at = NULL,
        last_error = NULL, updated_at = now()
    FROM run
    WHERE s.run_id = $1 AND s.idx = $2 AND s.attempts = $3 AND s.lease_owner = $4 AND s.status = 'running'
    RETURNING s.idx
), attempt AS (
    UPDATE workflow_step_attempts
    SET status = 'succeeded', finished_at = now()
    WHERE run_id = $1 AND idx = $2 AND attempt = $3 AND EXISTS (SELECT 1 FROM done)
), next AS (
    UPDATE workflow_steps n
    SET status = CASE WHEN $6 THEN 'running' ELSE 'queued' END,
        attempts = CASE WHEN $6 THEN n.attempts + 1 ELSE n.attempts END,
        lease_owner = CASE WHEN $6 THEN $4 END,
        lease_expires_at = CASE WHEN $6 THEN now() + make_interval(secs => $7) END,
        started_at = CASE WHEN $6 THEN COALESCE(n.started_at, now()) ELSE n.started_at END,
        next_attempt_at = CASE WHEN $6 THEN NULL ELSE now() END,
        updated_at = now()
    FROM run
    WHERE n.run_id = $1 AND n.idx = $2 + 1 AND run.status <> 'cancelled' AND EXISTS (SELECT 1 FROM done)
    RETURNING n.attempts, n.name, n.attempt_base
), next_attempt AS (
    INSERT INTO workflow_step_attempts (run_id, idx, attempt, worker)
    SELECT $1, $2 + 1, attempts, $4 FROM next WHERE $6
)
SELECT EXISTS (SELECT 1 FROM done) AS owned,
       (SELECT attempts FROM next) AS next_attempts,
       (SELECT name FROM next) AS next_name,
       (SELECT attempt_base FROM next) AS next_base
