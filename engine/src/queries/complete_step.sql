-- Records the success of attempt $3 of step $2 of run $1 (run by worker $4) with output $5, in one
-- statement: the step's checkpoint, its attempt row, and either the next step queued or the run finished.
-- `owned` is false when the attempt lost its lease meanwhile (nothing is written then). `next_attempts` is
-- set when the caller must enqueue the next step (in the same transaction). A cancelled run keeps the
-- checkpoint but queues nothing.
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
    SET status = 'queued', next_attempt_at = now(), updated_at = now()
    FROM run
    WHERE n.run_id = $1 AND n.idx = $2 + 1 AND run.status <> 'cancelled' AND EXISTS (SELECT 1 FROM done)
    RETURNING n.attempts
), finished AS (
    UPDATE workflow_runs r
    SET status = 'succeeded', output = $5, error = NULL, finished_at = now(), updated_at = now()
    WHERE r.id = $1 AND r.status <> 'cancelled' AND EXISTS (SELECT 1 FROM done)
      AND NOT EXISTS (SELECT 1 FROM workflow_steps x WHERE x.run_id = $1 AND x.idx = $2 + 1)
)
SELECT EXISTS (SELECT 1 FROM done) AS owned, (SELECT attempts FROM next) AS next_attempts
