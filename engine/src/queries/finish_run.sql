-- Records the success of attempt $3 of the last step $2 of run $1 (run by worker $4) with output $5 and
-- finishes the run, in one statement; then, when the worker goes on ($6 true), it takes the next due task of
-- queue $8 and claims its step with a lease of $7 seconds, exactly as `claim_step.sql` claims a delivered
-- task: a busy worker goes from run to run with one commit per step and no queue round trip.
-- `owned` is false when the attempt lost its lease meanwhile (nothing is written then). A cancelled run keeps
-- the checkpoint and stays cancelled.
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
), finished AS (
    UPDATE workflow_runs r
    SET status = 'succeeded', output = $5, error = NULL, finished_at = now(), updated_at = now()
    WHERE r.id = $1 AND r.status <> 'cancelled' AND EXISTS (SELECT 1 FROM done)
      -- The engine takes the step for the last one from the workflow's definition; a run's rows, made from the
      -- same workflow version, agree, and a run is never marked succeeded with a step left.
      AND NOT EXISTS (SELECT 1 FROM workflow_steps x WHERE x.run_id = $1 AND x.idx = $2 + 1)
-- The next due task, in apalis's order (its fetch index), skipping tasks other workers are taking. Its
-- payload is a `StepTask` in JSON. It is acknowledged whether or not its step can be claimed: a task whose
-- step is not queued for exactly its attempt (or whose run is over) is stale.
), task AS (
    SELECT j.id, convert_from(j.job, 'UTF8')::jsonb AS t
    FROM apalis.jobs j
    WHERE $6 AND EXISTS (SELECT 1 FROM done)
      AND j.job_type = $8 AND j.status = 'Pending' AND j.run_at <= now()
    ORDER BY j.priority DESC, j.run_at
    LIMIT 1
    FOR UPDATE SKIP LOCKED
), ack AS (
    UPDATE apalis.jobs j
    SET status = 'Done', done_at = now(), attempts = j.attempts + 1
    FROM task
    WHERE j.id = task.id
), claim AS (
    UPDATE workflow_steps s
    SET status = 'running',
        attempts = s.attempts + 1,
        lease_owner = $4,
        lease_expires_at = now() + make_interval(secs => $7),
        started_at = COALESCE(s.started_at, now()),
        next_attempt_at = NULL,
        updated_at = now()
    FROM task, workflow_runs r
    WHERE s.run_id = (task.t ->> 'run_id')::uuid AND s.idx = (task.t ->> 'step')::int
      AND s.status = 'queued' AND s.attempts = (task.t ->> 'attempt')::int - 1 AND s.run_id <> $1
      AND r.id = s.run_id AND r.status IN ('pending', 'running')
    RETURNING s.run_id, s.idx, s.attempts, s.name, s.attempt_base
-- As in `claim_step.sql`, a cancel that committed meanwhile stays a cancel.
), claim_run AS (
    UPDATE workflow_runs r
    SET status = 'running', started_at = COALESCE(r.started_at, now()), updated_at = now()
    FROM claim
    WHERE r.id = claim.run_id AND r.status IN ('pending', 'running')
    RETURNING r.workflow, r.workflow_version, r.input, r.traceparent
), claim_attempt AS (
    INSERT INTO workflow_step_attempts (run_id, idx, attempt, worker)
    SELECT run_id, idx, attempts, $4 FROM claim
    ON CONFLICT (run_id, idx, attempt) DO NOTHING
)
-- The claimed step's columns are named as `claim_step.sql` names them (one reader for both).
SELECT EXISTS (SELECT 1 FROM done) AS owned,
       c.run_id, c.idx, c.attempts AS attempt,
       c.name, c.attempt_base, cr.workflow, cr.workflow_version, cr.traceparent,
       CASE WHEN c.idx = 0 THEN cr.input
            ELSE (SELECT p.output FROM workflow_steps p WHERE p.run_id = c.run_id AND p.idx = c.idx - 1)
       END AS input
FROM (SELECT 1) AS one
LEFT JOIN (claim c CROSS JOIN claim_run cr) ON true
