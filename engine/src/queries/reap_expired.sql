-- Running attempts whose worker stopped renewing its lease (crashed, killed, partitioned). SKIP LOCKED lets
-- every worker process run the reaper without two of them taking the same step.
SELECT s.run_id, s.idx, s.attempts, s.attempt_base, s.name, r.workflow, r.status AS run_status
FROM workflow_steps s
JOIN workflow_runs r ON r.id = s.run_id
WHERE s.status = 'running' AND s.lease_expires_at < now()
ORDER BY s.lease_expires_at
LIMIT 100
FOR UPDATE OF s SKIP LOCKED
